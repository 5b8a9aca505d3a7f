"""mlake: a local-first data lake for machine-learning projects.

``lake = mlake.connect()`` opens the embedded lake in ``./.mlake``; everything else hangs off ``lake``.
"""

from __future__ import annotations

from mlake.errors import MlakeError

# Not `from typing import TYPE_CHECKING`: the CLI's catalog commands import this package, and without
# cached bytecode `typing` alone costs tens of milliseconds to compile.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mlake.connection import connect
    from mlake.lake import Lake
    from mlake.results import Result
    from mlake.settings import Settings
    from mlake.tables.table import Table

__version__ = "0.1.0"

__all__ = ["Lake", "MlakeError", "Result", "Settings", "Table", "__version__", "connect"]

# Imported on first use: the lake's dependencies (pyiceberg, pyarrow.dataset, pandas, SQLAlchemy, DuckDB)
# take about 3 s to import, which `mlake --help` and a mistyped command should not pay.
_LAZY = {
    "Lake": "mlake.lake",
    "connect": "mlake.connection",
    "Result": "mlake.results",
    "Settings": "mlake.settings",
    "Table": "mlake.tables.table",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlake' has no attribute {name!r}")
