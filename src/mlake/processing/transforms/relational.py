"""Joins with other tables, group-by aggregates, and per-group statistics added to each row."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mlake.processing.base import Frame, Params, Scope, Transform, q

_AGGREGATES = {"sum", "avg", "mean", "min", "max", "count", "count_distinct", "median", "stddev", "first", "last"}


def _aggregate(fn: str, column: str) -> str:
    fn = fn.lower()
    if fn not in _AGGREGATES:
        raise ValueError(f"unknown aggregate {fn!r}: use one of {', '.join(sorted(_AGGREGATES))}")
    if fn == "count_distinct":
        return f"count(DISTINCT {q(column)})"
    if fn == "count" and column == "*":
        return "count(*)"
    name = {"mean": "avg", "stddev": "stddev_samp", "median": "median"}.get(fn, fn)
    return f"{name}({q(column)})"


class Join(Transform):
    """Join another lake table on key columns (``inner``, ``left``); its other columns are added,
    prefixed when their names clash."""

    op: ClassVar[str] = "join"
    group: ClassVar[str] = "joins and aggregates"
    table: str
    on: list[str]
    how: Literal["inner", "left"] = "left"
    prefix: str = ""

    def inputs(self) -> list[str]:
        return list(self.on)

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        right = frame.table_schema(self.table)
        missing = [k for k in self.on if k not in right]
        if missing:
            raise ValueError(f"the joined table {self.table} has no column {', '.join(missing)}")
        left_cols = [f"__l.{q(c)}" for c in frame.schema]
        extra = []
        for c in right:
            if c in self.on:
                continue
            name = self.prefix + c
            if name in frame.schema:
                name = f"{self.table.rsplit('.', 1)[-1]}_{c}"
            extra.append(f"__r.{q(c)} AS {q(name)}")
        cond = " AND ".join(f"__l.{q(k)} = __r.{q(k)}" for k in self.on)
        return (
            f"SELECT {', '.join(left_cols + extra)} FROM {frame.name} AS __l "
            f"{self.how.upper()} JOIN {frame.table(self.table)} AS __r ON {cond}"
        )


class GroupBy(Transform):
    """One row per group: ``aggregations: {new_column: [function, column]}`` (sum, avg, min, max,
    count, count_distinct, median, stddev, first, last)."""

    op: ClassVar[str] = "group_by"
    group: ClassVar[str] = "joins and aggregates"
    scope: ClassVar[Scope] = "key"
    keys: list[str]
    aggregations: dict[str, tuple[str, str]]

    def inputs(self) -> list[str]:
        return list(self.keys) + [c for _, c in self.aggregations.values() if c != "*"]

    def partition_keys(self) -> list[str]:
        return list(self.keys)

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        keys = ", ".join(q(k) for k in self.keys)
        aggs = ", ".join(f"{_aggregate(fn, c)} AS {q(name)}" for name, (fn, c) in self.aggregations.items())
        return f"SELECT {keys}, {aggs} FROM {frame.name} GROUP BY {keys}"


class GroupStats(Transform):
    """Per-group statistics added to every row (``<column>_<function>_by_<keys>``), e.g. a customer's
    average basket next to each of its orders."""

    op: ClassVar[str] = "group_stats"
    group: ClassVar[str] = "joins and aggregates"
    scope: ClassVar[Scope] = "key"
    by: list[str]
    column: str
    functions: list[str] = Field(default_factory=lambda: ["avg", "count"])

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        part = ", ".join(q(b) for b in self.by)
        suffix = "_by_" + "_".join(self.by)
        extra = ", ".join(
            f"{_aggregate(fn, self.column)} OVER (PARTITION BY {part}) AS {q(f'{self.column}_{fn}{suffix}')}"
            for fn in self.functions
        )
        return f"SELECT *, {extra} FROM {frame.name}"
