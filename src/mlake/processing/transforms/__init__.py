"""The built-in transforms, one module per group; importing this package registers them all."""

from mlake.processing.transforms import (
    columns,
    dates,
    encoding,
    missing,
    numeric,
    relational,
    rows,
    scaling,
    text,
    window,
)

__all__ = ["columns", "dates", "encoding", "missing", "numeric", "relational", "rows", "scaling", "text", "window"]
