"""Rows: filter, deduplicate (exact, or by key keeping the latest), sample, stratified split, sort."""

from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator

from mlake.processing.base import Frame, Params, Scope, Transform, lit, q, row_hash


class Filter(Transform):
    """Keep the rows where a SQL condition holds (DuckDB syntax, e.g. ``amount > 0 AND country = 'FR'``)."""

    op: ClassVar[str] = "filter"
    group: ClassVar[str] = "rows"
    condition: str

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return f"SELECT * FROM {frame.name} WHERE {self.condition}"


class Dedupe(Transform):
    """Drop exact duplicate rows."""

    op: ClassVar[str] = "dedupe"
    group: ClassVar[str] = "rows"
    scope: ClassVar[Scope] = "key"

    def partition_keys(self) -> list[str]:
        return ["*"]  # every column: equal rows hash alike

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return f"SELECT DISTINCT * FROM {frame.name}"


class DedupeByKey(Transform):
    """Keep one row per key: the latest by ``order_by`` (or the earliest with ``keep: first``)."""

    op: ClassVar[str] = "dedupe_by_key"
    group: ClassVar[str] = "rows"
    scope: ClassVar[Scope] = "key"
    keys: list[str]
    order_by: str
    keep: str = "latest"

    def partition_keys(self) -> list[str]:
        return list(self.keys)

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        direction = "DESC" if self.keep in ("latest", "last") else "ASC"
        keys = ", ".join(q(k) for k in self.keys)
        # ties on the order column are broken by the row's hash, so every engine keeps the same row
        return (
            f"SELECT * FROM {frame.name} QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY "
            f"{q(self.order_by)} {direction} NULLS LAST, {row_hash(frame.schema)}) = 1"
        )


class Sample(Transform):
    """A deterministic sample of about ``fraction`` of the rows (by row hash and ``seed``)."""

    op: ClassVar[str] = "sample"
    group: ClassVar[str] = "rows"
    fraction: float
    seed: int = 0

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        keep = int(self.fraction * 1_000_000)
        return f"SELECT * FROM {frame.name} WHERE {row_hash(frame.schema, self.seed)} % 1000000 < {keep}"


class StratifiedSplit(Transform):
    """Add a ``split`` column (train / validation / test) keeping each stratum's share in every split.

    Within each value of ``by``, rows are ordered by their hash (and ``seed``) and the first
    ``train`` share goes to train, the next ``validation`` share to validation, the rest to test."""

    op: ClassVar[str] = "stratified_split"
    group: ClassVar[str] = "rows"
    scope: ClassVar[Scope] = "key"
    by: list[str]
    train: float = 0.8
    validation: float = 0.1
    seed: int = 0
    name: str = "split"

    @model_validator(mode="after")
    def _shares(self) -> StratifiedSplit:
        if not (self.train >= 0 and self.validation >= 0 and self.train + self.validation <= 1):
            raise ValueError("train and validation must be shares with train + validation <= 1")
        return self

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        part = ", ".join(q(b) for b in self.by)
        h = row_hash(frame.schema, self.seed)
        r = f"row_number() OVER (PARTITION BY {part} ORDER BY {h})"
        n = f"count(*) OVER (PARTITION BY {part})"
        split = (
            f"CASE WHEN {r} <= round({n} * {lit(self.train)}) THEN 'train' "
            f"WHEN {r} <= round({n} * {lit(self.train + self.validation)}) THEN 'validation' ELSE 'test' END"
        )
        cols = ", ".join(q(c) for c in frame.schema if c != self.name)
        return f"SELECT {cols}, {split} AS {q(self.name)} FROM {frame.name}"


class Sort(Transform):
    """Order the rows (``order_by`` is a SQL ORDER BY list, e.g. ``ts DESC, id``)."""

    op: ClassVar[str] = "sort"
    group: ClassVar[str] = "rows"
    scope: ClassVar[Scope] = "global"
    order_by: str

    def inputs(self) -> list[str]:
        return []

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return f"SELECT * FROM {frame.name} ORDER BY {self.order_by}"
