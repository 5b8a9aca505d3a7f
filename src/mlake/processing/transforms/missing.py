"""Missing values: drop, fill (constant, mean, median, mode, forward), and indicator columns."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from mlake.processing.base import Frame, Params, Scope, Transform, as_float, lit, q, with_columns


class DropMissing(Transform):
    """Drop rows where any (or all) of the columns is null."""

    op: ClassVar[str] = "drop_missing"
    group: ClassVar[str] = "missing values"
    columns: list[str] = Field(default_factory=list)  # empty: every column
    how: Literal["any", "all"] = "any"

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        cols = self.columns or list(frame.schema)
        joiner = " OR " if self.how == "any" else " AND "
        cond = joiner.join(f"{q(c)} IS NULL" for c in cols)
        return f"SELECT * FROM {frame.name} WHERE NOT ({cond})"


class FillConstant(Transform):
    """Replace nulls in the columns with a constant."""

    op: ClassVar[str] = "fill_constant"
    group: ClassVar[str] = "missing values"
    columns: list[str]
    value: Any

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(frame.name, frame.schema, {c: f"coalesce({q(c)}, {lit(self.value)})" for c in self.columns})


class _FillFitted(Transform):
    group: ClassVar[str] = "missing values"
    fitted: ClassVar[bool] = True
    columns: list[str]
    aggregate: ClassVar[str] = ""

    def fit(self, frame: Frame) -> Params | None:
        row = frame.rows(f"SELECT {', '.join(self.aggregate.format(q(c)) for c in self.columns)} FROM {frame.name}")[0]
        return {c: as_float(v) for c, v in zip(self.columns, row, strict=True)}

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        p = params or {}
        return with_columns(frame.name, frame.schema, {c: f"coalesce({q(c)}, {lit(p.get(c))})" for c in self.columns})


class FillMean(_FillFitted):
    """Replace nulls with the column's mean on the fit data."""

    op: ClassVar[str] = "fill_mean"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    aggregate: ClassVar[str] = "avg({})"


class FillMedian(_FillFitted):
    """Replace nulls with the column's median on the fit data (linear interpolation, as pandas)."""

    op: ClassVar[str] = "fill_median"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    aggregate: ClassVar[str] = "quantile_cont({}, 0.5)"


class FillMode(Transform):
    """Replace nulls with the most frequent value on the fit data (ties: the smallest value)."""

    op: ClassVar[str] = "fill_mode"
    group: ClassVar[str] = "missing values"
    fitted: ClassVar[bool] = True
    columns: list[str]

    def fit(self, frame: Frame) -> Params | None:
        out: Params = {}
        for c in self.columns:
            rows = frame.rows(
                f"SELECT {q(c)} FROM {frame.name} WHERE {q(c)} IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
            value = rows[0][0] if rows else None
            out[c] = value if isinstance(value, bool | int | float | str) or value is None else str(value)
        return out

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        p = params or {}
        return with_columns(
            frame.name,
            frame.schema,
            {c: f"coalesce({q(c)}, CAST({lit(p.get(c))} AS {frame.schema[c]}))" for c in self.columns},
        )


class ForwardFill(Transform):
    """Replace nulls with the last non-null value before them, per key, in time order."""

    op: ClassVar[str] = "forward_fill"
    group: ClassVar[str] = "missing values"
    scope: ClassVar[Scope] = "key"
    columns: list[str]
    by: list[str] = Field(default_factory=list)
    order_by: str

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        part = f"PARTITION BY {', '.join(q(b) for b in self.by)} " if self.by else ""
        window = f"({part}ORDER BY {q(self.order_by)} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        return with_columns(
            frame.name, frame.schema, {c: f"last_value({q(c)} IGNORE NULLS) OVER {window}" for c in self.columns}
        )

    def partition_keys(self) -> list[str]:
        return list(self.by)


class BackwardFill(Transform):
    """Replace nulls with the next non-null value after them, per key, in time order."""

    op: ClassVar[str] = "backward_fill"
    group: ClassVar[str] = "missing values"
    scope: ClassVar[Scope] = "key"
    columns: list[str]
    by: list[str] = Field(default_factory=list)
    order_by: str

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        part = f"PARTITION BY {', '.join(q(b) for b in self.by)} " if self.by else ""
        window = f"({part}ORDER BY {q(self.order_by)} ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)"
        return with_columns(
            frame.name, frame.schema, {c: f"first_value({q(c)} IGNORE NULLS) OVER {window}" for c in self.columns}
        )


class MissingIndicator(Transform):
    """Add a 0/1 column per column saying whether the value was null (before filling it)."""

    op: ClassVar[str] = "missing_indicator"
    group: ClassVar[str] = "missing values"
    columns: list[str]
    suffix: str = "_missing"

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(
            frame.name, frame.schema, {f"{c}{self.suffix}": f"CAST({q(c)} IS NULL AS INTEGER)" for c in self.columns}
        )
