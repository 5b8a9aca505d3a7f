"""What every transform is: a small pydantic model that compiles to one DuckDB ``SELECT``.

A transform reads the relation the previous step produced (a CTE name) and returns SQL over it. A
transform that *learns* something (a mean, the categories of a column, quantile edges) does so in
:meth:`Transform.fit`, with SQL only, over the data it is fitted on; the parameters it returns are
plain JSON, saved with the recipe, and :meth:`Transform.sql` applies exactly those — so a recipe
fitted on training data transforms test or serving data with the training statistics, never with
statistics of the data it is applied to.

Transforms also say how they may be split across workers (:attr:`Transform.scope`): ``row`` steps
see one row at a time, ``key`` steps need every row of a key together (a window per customer, a
dedupe by id), ``global`` steps need all rows (a sort).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from mlake.errors import MlakeError
from mlake.tables.types import quote_ident, quote_literal

Schema = dict[str, str]  # column name -> DuckDB type, in order
Params = dict[str, Any]  # JSON-serialisable fitted parameters
Scope = Literal["row", "key", "global"]

_NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*)$", re.IGNORECASE)
_TEXT = re.compile(r"^(VARCHAR|TEXT|STRING)$", re.IGNORECASE)
_TEMPORAL = re.compile(r"^(DATE|TIMESTAMP.*|TIME)$", re.IGNORECASE)


class ProcessingError(MlakeError):
    """A recipe or a transform cannot run as given."""

    code = "processing_error"


class RecipeValidationError(ProcessingError):
    """A step of a recipe does not fit the data it reads (an unknown column, a wrong type)."""

    code = "recipe_invalid"

    def __init__(self, message: str, *, step: int, op: str, hint: str | None = None) -> None:
        super().__init__(f"Step {step} ({op}): {message}", hint=hint)
        self.step = step
        self.op = op


@dataclass(frozen=True)
class Frame:
    """The relation a step reads: its name in the SQL (a CTE), its columns, and how to run SQL on it.

    ``fetch`` runs a query in which ``name`` is defined (the runner prefixes the CTE chain); ``table``
    turns another table's name (a join's right side) into a SQL reference pinned for this run, and
    ``table_schema`` gives that table's columns."""

    name: str
    schema: Schema
    fetch: Callable[[str], list[tuple[Any, ...]]]
    table: Callable[[str], str]
    table_schema: Callable[[str], Schema]

    def rows(self, select: str) -> list[tuple[Any, ...]]:
        return self.fetch(select)


def q(name: str) -> str:
    """A quoted identifier."""
    return quote_ident(name)


def lit(value: Any) -> str:
    """A SQL literal for a JSON value (fitted parameters are JSON)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "'inf'::DOUBLE" if value == math.inf else "'-inf'::DOUBLE" if value == -math.inf else repr(value)
    return quote_literal(str(value))


def with_columns(src: str, schema: Schema, exprs: dict[str, str], where: str | None = None) -> str:
    """``SELECT`` every column of ``src``, replacing those named in ``exprs`` in place and appending new ones."""
    parts = [f"{exprs[c]} AS {q(c)}" if c in exprs else q(c) for c in schema]
    parts += [f"{e} AS {q(c)}" for c, e in exprs.items() if c not in schema]
    return f"SELECT {', '.join(parts) or '*'} FROM {src}" + (f" WHERE {where}" if where else "")


def row_hash(schema: Schema, seed: int = 0) -> str:
    """A deterministic hash of a whole row (same value on every engine and worker)."""
    cols = ", ".join(q(c) for c in schema)
    return f"hash({seed}, {cols})"


def is_numeric(t: str) -> bool:
    return bool(_NUMERIC.match(t.strip()))


def is_text(t: str) -> bool:
    return bool(_TEXT.match(t.strip()))


def is_temporal(t: str) -> bool:
    return bool(_TEMPORAL.match(t.strip()))


def as_float(v: Any) -> float | None:
    return None if v is None else float(v)


REGISTRY: dict[str, type[Transform]] = {}


class Transform(BaseModel):
    """One step of a recipe. Subclasses set ``op`` (its name in YAML), ``group`` and, for checks,
    ``needs`` (the kind of column their ``columns`` must be)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: ClassVar[str] = ""
    group: ClassVar[str] = ""
    scope: ClassVar[Scope] = "row"
    needs: ClassVar[Literal["any", "numeric", "text", "temporal"]] = "any"
    fitted: ClassVar[bool] = False  # learns parameters in fit()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("op"):
            if cls.op in REGISTRY:
                raise TypeError(f"transform {cls.op!r} is registered twice")
            REGISTRY[cls.op] = cls

    # --- what a step reads ----------------------------------------------------------------------

    def inputs(self) -> list[str]:
        """The columns of the input this step reads (checked before running)."""
        cols = getattr(self, "columns", None)
        out: list[str] = []
        if isinstance(cols, str):
            out.append(cols)
        elif isinstance(cols, Sequence):
            out.extend(cols)
        for attr in ("column", "by", "order_by", "target", "keys"):
            v = getattr(self, attr, None)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, Sequence):
                out.extend(v)
        return out

    def typed_inputs(self) -> list[str]:
        """The columns that must be of kind :attr:`needs`."""
        cols = getattr(self, "columns", None)
        if isinstance(cols, str):
            return [cols]
        if isinstance(cols, Sequence):
            return list(cols)
        col = getattr(self, "column", None)
        return [col] if isinstance(col, str) else []

    def partition_keys(self) -> list[str]:
        """For ``key`` scope: the columns whose rows must be computed together."""
        by = getattr(self, "by", None)
        return [by] if isinstance(by, str) else list(by or [])

    # --- fitting and SQL ------------------------------------------------------------------------

    def fit(self, frame: Frame) -> Params | None:
        """Learn parameters from ``frame`` (SQL only); None for stateless transforms."""
        return None

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        """The ``SELECT`` over ``frame.name`` applying this step. ``fitting`` is true when the data is
        the data the step was fitted on (out-of-fold encoders use it)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, **self.model_dump(exclude_defaults=True)}

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def parse_step(data: dict[str, Any] | Transform, index: int = 0) -> Transform:
    """A transform from its dict form (``{"op": "standard_scale", "columns": [...]}``)."""
    if isinstance(data, Transform):
        return data
    if not isinstance(data, dict) or "op" not in data:
        raise ProcessingError(f"Step {index} must be a mapping with an 'op' key, got {data!r}")
    body = dict(data)
    op = str(body.pop("op"))
    cls = REGISTRY.get(op)
    if cls is None:
        close = difflib.get_close_matches(op, list(REGISTRY), n=3)
        raise RecipeValidationError(
            "unknown transform",
            step=index,
            op=op,
            hint=f"did you mean {' or '.join(close)}?" if close else "`mlake recipes transforms` lists them",
        )
    from pydantic import ValidationError as PydanticError

    try:
        return cls.model_validate(body)
    except PydanticError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or op}: {e['msg']}" for e in exc.errors())
        raise RecipeValidationError(problems, step=index, op=op, hint=f"see `{op}` in docs/processing.md") from exc


__all__ = [
    "REGISTRY",
    "Frame",
    "Params",
    "ProcessingError",
    "RecipeValidationError",
    "Schema",
    "Scope",
    "Transform",
    "parse_step",
]
