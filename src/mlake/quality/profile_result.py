"""The result of a profile, as plain data: per-column figures, per-table figures, and how to show them.

Computed by :func:`mlake.quality.profile.profile`; ``to_dict()`` gives JSON for programs and the REST API,
``_repr_html_()`` an HTML fragment for notebooks and web pages.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


@dataclass
class HistogramBin:
    low: float
    high: float
    count: int


@dataclass
class ColumnProfile:
    """Everything measured about one column. Fields that do not apply to its kind are None."""

    name: str
    type: str
    kind: str
    rows: int
    non_null: int
    nulls: int
    distinct: int | None = None
    distinct_exact: bool = False
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    skewness: float | None = None
    kurtosis: float | None = None
    quantiles: dict[str, float | None] = field(default_factory=dict)
    zeros: int | None = None
    negatives: int | None = None
    nan: int | None = None
    infinite: int | None = None
    true_count: int | None = None
    empty: int | None = None
    whitespace: int | None = None
    length_min: int | None = None
    length_max: int | None = None
    length_mean: float | None = None
    patterns: dict[str, int] = field(default_factory=dict)
    histogram: list[HistogramBin] = field(default_factory=list)
    top_values: list[tuple[Any, int]] = field(default_factory=list)
    # True when the top values are the most frequent ones for certain (counted over every value); else they
    # are the most frequent values of the sample (see "Top values" in docs/quality.md), counted exactly.
    top_values_exact: bool = False
    mad: float | None = None
    outliers_iqr: int | None = None
    outliers_robust: int | None = None

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def distinct_rate(self) -> float | None:
        return None if self.distinct is None or not self.non_null else min(self.distinct / self.non_null, 1.0)

    @property
    def is_unique(self) -> bool:
        """Every non-null value distinct (exactly counted), with at least one value."""
        return self.distinct_exact and self.non_null > 0 and self.distinct == self.non_null

    def dominant_pattern(self, share: float = 0.9) -> str | None:
        """The pattern most non-empty values match, if at least ``share`` of them do."""
        base = self.non_null - (self.empty or 0)
        if not self.patterns or base <= 0:
            return None
        name, hits = max(self.patterns.items(), key=lambda kv: kv[1])
        return name if hits / base >= share else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["min"], d["max"] = _plain(self.min), _plain(self.max)
        d["top_values"] = [{"value": _plain(v), "count": c} for v, c in self.top_values]
        d["null_rate"] = self.null_rate
        d["distinct_rate"] = self.distinct_rate
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnProfile:
        """The inverse of ``to_dict`` (for clients of the REST API). Values keep their JSON form, except
        the min and max of time columns, which become dates and datetimes again."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["histogram"] = [HistogramBin(**b) for b in d.get("histogram") or []]
        fields["top_values"] = [(t["value"], t["count"]) for t in d.get("top_values") or []]
        if d.get("kind") == "temporal":
            fields["min"], fields["max"] = _when(d.get("min")), _when(d.get("max"))
        return cls(**fields)


@dataclass
class Freshness:
    column: str
    newest: datetime | date | None
    age_seconds: float | None


@dataclass
class Matrix:
    """A square matrix over columns (correlations, joint-null counts)."""

    columns: list[str]
    values: list[list[float | None]]

    def get(self, a: str, b: str) -> float | None:
        return self.values[self.columns.index(a)][self.columns.index(b)]


@dataclass
class Profile:
    """A profile of a table, snapshot or query; ``to_dict()`` for JSON, shows itself in notebooks."""

    source: str
    table: str | None
    snapshot_id: int | None
    rows: int
    columns: list[ColumnProfile]
    duplicate_rows: int
    key: list[str] = field(default_factory=list)
    duplicate_keys: int | None = None
    freshness: Freshness | None = None
    correlations: Matrix | None = None
    missing: Matrix | None = None  # joint null counts of columns that have nulls
    queries: int = 0
    seconds: float = 0.0
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def __getitem__(self, name: str) -> ColumnProfile:
        return self.column(name)

    @property
    def cells(self) -> int:
        return self.rows * len(self.columns)

    @property
    def missing_cells(self) -> int:
        return sum(c.nulls + (c.empty or 0) for c in self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "table": self.table,
            "snapshot_id": self.snapshot_id,
            "computed_at": self.computed_at.isoformat(),
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "key": self.key,
            "duplicate_keys": self.duplicate_keys,
            "freshness": None
            if self.freshness is None
            else {
                "column": self.freshness.column,
                "newest": _plain(self.freshness.newest),
                "age_seconds": self.freshness.age_seconds,
            },
            "missing_cells": self.missing_cells,
            "columns": [c.to_dict() for c in self.columns],
            "correlations": None if self.correlations is None else asdict(self.correlations),
            "missing": None if self.missing is None else asdict(self.missing),
            "queries": self.queries,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        """The inverse of ``to_dict`` (for clients of the REST API)."""
        fresh = d.get("freshness")
        return cls(
            source=d["source"],
            table=d.get("table"),
            snapshot_id=d.get("snapshot_id"),
            rows=d["rows"],
            columns=[ColumnProfile.from_dict(c) for c in d.get("columns") or []],
            duplicate_rows=d.get("duplicate_rows", 0),
            key=list(d.get("key") or []),
            duplicate_keys=d.get("duplicate_keys"),
            freshness=None
            if fresh is None
            else Freshness(fresh["column"], _when(fresh.get("newest")), fresh.get("age_seconds")),
            correlations=None if d.get("correlations") is None else Matrix(**d["correlations"]),
            missing=None if d.get("missing") is None else Matrix(**d["missing"]),
            queries=d.get("queries", 0),
            seconds=d.get("seconds", 0.0),
            computed_at=datetime.fromisoformat(d["computed_at"]),
            run_id=d["run_id"],
        )

    def _repr_html_(self) -> str:
        from mlake.quality.report import profile_html

        return profile_html(self)


def _when(value: Any) -> Any:
    """An ISO date or datetime from JSON back as one (other values as they are)."""
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        return value


def _plain(value: Any) -> Any:
    """A JSON-friendly value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
