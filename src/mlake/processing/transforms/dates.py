"""Dates and times: parse with formats, extract parts, cyclical encoding, differences, truncation."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mlake.processing.base import Frame, Params, Transform, lit, q, with_columns

Part = Literal["year", "quarter", "month", "day", "dayofweek", "dayofyear", "week", "hour", "minute", "second"]
DEFAULT_PARTS: tuple[Part, ...] = ("year", "month", "day", "dayofweek")


class ParseDate(Transform):
    """Parse text into a timestamp, trying each strptime format in turn (null when none matches)."""

    op: ClassVar[str] = "parse_date"
    group: ClassVar[str] = "dates"
    needs: ClassVar[Literal["text"]] = "text"
    columns: list[str]
    formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d"])
    as_date: bool = False

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        def expr(c: str) -> str:
            parsed = f"coalesce({', '.join(f'try_strptime({q(c)}, {lit(f)})' for f in self.formats)})"
            return f"CAST({parsed} AS DATE)" if self.as_date else parsed

        return with_columns(frame.name, frame.schema, {c: expr(c) for c in self.columns})


class DateParts(Transform):
    """Add a column per part (``<column>_<part>``): year, month, day, dayofweek (Monday=0), hour ..."""

    op: ClassVar[str] = "date_parts"
    group: ClassVar[str] = "dates"
    needs: ClassVar[Literal["temporal"]] = "temporal"
    column: str
    parts: list[Part] = Field(default_factory=lambda: list(DEFAULT_PARTS))

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        c = q(self.column)
        exprs = {}
        for p in self.parts:
            exprs[f"{self.column}_{p}"] = (
                f"CAST(isodow({c}) - 1 AS BIGINT)" if p == "dayofweek" else f"CAST(date_part({lit(p)}, {c}) AS BIGINT)"
            )
        return with_columns(frame.name, frame.schema, exprs)


class Cyclical(Transform):
    """Encode a periodic number (hour of day, month) as ``sin`` and ``cos`` of ``2π x / period``."""

    op: ClassVar[str] = "cyclical"
    group: ClassVar[str] = "dates"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    column: str
    period: float
    drop: bool = False

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        angle = f"2 * pi() * CAST({q(self.column)} AS DOUBLE) / {lit(float(self.period))}"
        schema = {k: v for k, v in frame.schema.items() if not (self.drop and k == self.column)}
        return with_columns(
            frame.name, schema, {f"{self.column}_sin": f"sin({angle})", f"{self.column}_cos": f"cos({angle})"}
        )


class DateDiff(Transform):
    """``end - start`` in a unit (days, hours, ...), as a new column."""

    op: ClassVar[str] = "date_diff"
    group: ClassVar[str] = "dates"
    start: str
    end: str
    unit: Literal["second", "minute", "hour", "day", "week", "month", "year"] = "day"
    name: str

    def inputs(self) -> list[str]:
        return [self.start, self.end]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        expr = f"date_diff({lit(self.unit)}, {q(self.start)}, {q(self.end)})"
        return with_columns(frame.name, frame.schema, {self.name: expr})


class DateTrunc(Transform):
    """Truncate timestamps to a unit (day, week, month ...)."""

    op: ClassVar[str] = "date_trunc"
    group: ClassVar[str] = "dates"
    needs: ClassVar[Literal["temporal"]] = "temporal"
    columns: list[str]
    unit: Literal["minute", "hour", "day", "week", "month", "quarter", "year"] = "day"

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(
            frame.name, frame.schema, {c: f"date_trunc({lit(self.unit)}, {q(c)})" for c in self.columns}
        )


class IsWeekend(Transform):
    """1 when the date falls on a Saturday or Sunday."""

    op: ClassVar[str] = "is_weekend"
    group: ClassVar[str] = "dates"
    needs: ClassVar[Literal["temporal"]] = "temporal"
    column: str
    name: str | None = None

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        expr = f"CAST(isodow({q(self.column)}) >= 6 AS INTEGER)"
        return with_columns(frame.name, frame.schema, {self.name or f"{self.column}_weekend": expr})


class EpochSeconds(Transform):
    """Seconds since 1970-01-01 (UTC) as a number, for models that need numbers."""

    op: ClassVar[str] = "epoch_seconds"
    group: ClassVar[str] = "dates"
    needs: ClassVar[Literal["temporal"]] = "temporal"
    columns: list[str]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(frame.name, frame.schema, {c: f"epoch({q(c)})" for c in self.columns})
