"""Window features per key over time: rolling aggregates (by rows or a time range), lags,
differences, cumulative sums and ranks."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mlake.processing.base import Frame, Params, Scope, Transform, lit, q, with_columns


class _PerKey(Transform):
    group: ClassVar[str] = "window features"
    scope: ClassVar[Scope] = "key"
    column: str
    by: list[str] = Field(default_factory=list)
    order_by: str
    name: str | None = None

    def over(self, frame_clause: str = "") -> str:
        part = f"PARTITION BY {', '.join(q(b) for b in self.by)} " if self.by else ""
        return f"OVER ({part}ORDER BY {q(self.order_by)}{' ' + frame_clause if frame_clause else ''})"


class Rolling(_PerKey):
    """A rolling aggregate per key: over the last ``rows`` rows, or over a time ``range`` such as
    ``'7 days'`` before each row (the row included)."""

    op: ClassVar[str] = "rolling"
    function: Literal["avg", "sum", "count", "min", "max", "stddev"] = "avg"
    rows: int | None = 3
    range: str | None = None

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        if self.range:
            clause = f"RANGE BETWEEN INTERVAL {lit(self.range)} PRECEDING AND CURRENT ROW"
            label = self.range.replace(" ", "")
        else:
            clause = f"ROWS BETWEEN {int(self.rows or 1) - 1} PRECEDING AND CURRENT ROW"
            label = str(self.rows)
        fn = "stddev_samp" if self.function == "stddev" else self.function
        expr = f"{fn}({q(self.column)}) {self.over(clause)}"
        return with_columns(frame.name, frame.schema, {self.name or f"{self.column}_{self.function}_{label}": expr})


class Lag(_PerKey):
    """The value ``periods`` rows earlier for the same key (null for the first rows)."""

    op: ClassVar[str] = "lag"
    periods: int = 1

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        expr = f"lag({q(self.column)}, {int(self.periods)}) {self.over()}"
        return with_columns(frame.name, frame.schema, {self.name or f"{self.column}_lag{self.periods}": expr})


class Lead(_PerKey):
    """The value ``periods`` rows later for the same key (null for the last rows)."""

    op: ClassVar[str] = "lead"
    periods: int = 1

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        expr = f"lead({q(self.column)}, {int(self.periods)}) {self.over()}"
        return with_columns(frame.name, frame.schema, {self.name or f"{self.column}_lead{self.periods}": expr})


class Diff(_PerKey):
    """The change since ``periods`` rows earlier for the same key."""

    op: ClassVar[str] = "diff"
    periods: int = 1

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        expr = f"{q(self.column)} - lag({q(self.column)}, {int(self.periods)}) {self.over()}"
        return with_columns(frame.name, frame.schema, {self.name or f"{self.column}_diff{self.periods}": expr})


class CumulativeSum(_PerKey):
    """The running total per key in time order."""

    op: ClassVar[str] = "cumulative_sum"

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        expr = f"sum({q(self.column)}) {self.over('ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW')}"
        return with_columns(frame.name, frame.schema, {self.name or f"{self.column}_cumsum": expr})


class RowNumber(_PerKey):
    """The position of each row within its key in time order (1, 2, ...)."""

    op: ClassVar[str] = "row_number"
    column: str = ""

    def inputs(self) -> list[str]:
        return [*self.by, self.order_by]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(frame.name, frame.schema, {self.name or "row_number": f"row_number() {self.over()}"})
