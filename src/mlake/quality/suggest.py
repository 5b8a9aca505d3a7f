"""Suggested checks: a suite written from a profile, for a person to read, edit and keep.

The rules follow Deequ's constraint suggestion, adapted to mlake's check types:

- **schema** — the columns and types as they are now (extra columns allowed).
- **complete if complete** — a column without nulls gets ``not_null``.
- **retain completeness** — a column with some nulls gets ``not_null`` with a threshold just below its
  present completeness (the lower end of a 3-sigma binomial interval), as a warning.
- **unique if unique** — an integer or text column, mostly non-null, whose values are all distinct
  (counted exactly) gets ``unique``; floating-point measurements are not keys.
- **categorical range** — a column with few distinct values gets ``in_set`` of them; when a long tail of
  rare values exists, ``in_set`` of the values covering 99% of rows, with that threshold.
- **non-negative** — a numeric column whose minimum is not below zero gets ``in_range`` with ``min: 0``.
- **min/max** — a numeric column gets ``in_range`` of its observed bounds, as a warning.
- **retain type** — a text column whose values all look like numbers or dates gets a ``type`` check,
  and one whose values all look like emails, URLs or UUIDs gets a ``regex`` check.
- **not empty** — the table has at least one row.

Freshness is not suggested: the cadence a table should be updated at is not in its data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlake.quality.checks import Check, InRange, InSet, NotNull, Regex, RowCount, SchemaContract, TypeCheck, Unique
from mlake.quality.profile import PATTERNS, ColumnProfile, Profile
from mlake.quality.source import BOOLEAN, NUMERIC, STRING, is_float
from mlake.quality.suite import Suite

MAX_CATEGORIES = 30  # in_set is suggested for columns with at most this many distinct values
COVERAGE = 0.99  # ... or for the most frequent values covering this share of rows


@dataclass
class SuggestedSuite:
    """A suite with the reason for each check; ``yaml`` is the file to save and edit."""

    suite: Suite
    reasons: list[str] = field(default_factory=list)

    @property
    def yaml(self) -> str:
        return self.suite.to_yaml(dict(enumerate(self.reasons)))

    def save(self, path: Any) -> None:
        from pathlib import Path

        Path(path).write_text(self.yaml)

    def to_dict(self) -> dict[str, Any]:
        d = self.suite.to_dict()
        for check, reason in zip(d["checks"], self.reasons, strict=True):
            check["reason"] = reason
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "suggested suite") -> SuggestedSuite:
        """The inverse of ``to_dict`` (for clients of the REST API)."""
        data = {**d, "checks": [dict(c) for c in d["checks"]]}
        reasons = [str(c.pop("reason", "")) for c in data["checks"]]
        return cls(Suite.from_dict(data, origin), reasons)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.yaml)}</pre>"


def suggest(p: Profile, name: str | None = None) -> SuggestedSuite:
    """Suggest checks from a profile (see the module docstring for the rules)."""
    checks: list[Check] = []
    reasons: list[str] = []

    def add(check: Check, reason: str) -> None:
        checks.append(check)
        reasons.append(reason)

    if p.columns:
        add(
            SchemaContract(columns_expected={c.name: c.type.lower() for c in p.columns}, allow_extra=True),
            "retain schema: these columns with these types (other columns may be added)",
        )
    add(RowCount(min=1), f"not empty: the table has {p.rows:,} rows")
    if not p.rows:
        return SuggestedSuite(Suite(checks, name=name or "suggested", table=p.table), reasons)
    for c in p.columns:
        _completeness(c, p.rows, add)
        if c.is_unique and c.kind in (NUMERIC, STRING) and not is_float(c.type) and c.non_null > max(1, p.rows // 2):
            add(Unique(c.name), f"unique if unique: all {c.non_null:,} values of {c.name} are distinct")
        _categorical(c, add)
        is_key = c.is_unique and not is_float(c.type)
        if c.kind == NUMERIC and c.min is not None and c.max is not None and not is_key:
            lo, hi = float(c.min), float(c.max)
            if lo >= 0:
                add(InRange(c.name, min=0), f"non-negative: the smallest {c.name} is {_n(lo)}")
            if hi > lo and not _few_values(c):
                add(
                    InRange(c.name, min=_round_down(lo), max=_round_up(hi), severity="warn"),
                    f"min/max: {c.name} ranges from {_n(lo)} to {_n(hi)} (mean {_n(c.mean)}, std {_n(c.std)})",
                )
        if c.kind == STRING:
            _retain_type(c, add)
    return SuggestedSuite(Suite(checks, name=name or "suggested", table=p.table), reasons)


def _completeness(c: ColumnProfile, rows: int, add: Any) -> None:
    if c.nulls == 0:
        add(NotNull(c.name), f"complete if complete: {c.name} has no nulls in {rows:,} rows")
        return
    completeness = c.non_null / rows
    if completeness < 0.5:
        return  # a mostly empty column: nothing worth retaining
    sigma = math.sqrt(completeness * (1 - completeness) / rows)
    threshold = max(0.0, math.floor((completeness - 3 * sigma) * 10000) / 10000)
    add(
        NotNull(c.name, threshold=threshold, severity="warn"),
        f"retain completeness: {c.name} is {completeness:.2%} complete ({c.nulls:,} nulls)",
    )


def _few_values(c: ColumnProfile) -> bool:
    return c.distinct_exact and (c.distinct or 0) <= MAX_CATEGORIES and c.kind != NUMERIC


def _categorical(c: ColumnProfile, add: Any) -> None:
    if c.kind not in (STRING, NUMERIC, BOOLEAN) or not c.distinct_exact or not c.top_values or c.kind == BOOLEAN:
        return
    if c.kind == NUMERIC and (c.distinct or 0) > 10:
        return  # a numeric column with many values is a measurement, not a code
    distinct = c.distinct or 0
    if distinct < 2 or c.non_null < 4 * distinct:
        return
    if distinct <= MAX_CATEGORIES and len(c.top_values) >= distinct:
        values = sorted((v for v, _ in c.top_values), key=str)
        add(InSet(c.name, values=values), f"categorical range: {c.name} takes {distinct} values")
        return
    covered, chosen = 0, []
    for value, count in c.top_values:
        chosen.append(value)
        covered += count
        if covered / c.non_null >= COVERAGE:
            break
    share = covered / c.non_null
    if share >= COVERAGE and len(chosen) <= MAX_CATEGORIES:
        threshold = math.floor(share * 1000) / 1000
        add(
            InSet(c.name, values=sorted(chosen, key=str), threshold=threshold, severity="warn"),
            f"categorical range: {len(chosen)} of {c.name}'s {distinct} values cover {share:.2%} of rows",
        )


def _retain_type(c: ColumnProfile, add: Any) -> None:
    pattern = c.dominant_pattern(share=1.0)
    if pattern is None:
        return
    base = c.non_null - (c.empty or 0)
    if pattern == "number":
        add(TypeCheck(c.name, cast_to="double"), f"retain type: all {base:,} non-empty {c.name} values are numbers")
    elif pattern == "date":
        add(TypeCheck(c.name, cast_to="timestamp"), f"retain type: all {base:,} non-empty {c.name} values are dates")
    else:
        add(
            Regex(c.name, pattern=PATTERNS[pattern][1]),
            f"retain pattern: all {base:,} non-empty {c.name} are {pattern}s",
        )


def _n(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):,.6g}"


def _round_down(x: float) -> float | int:
    return math.floor(x) if abs(x) >= 10 or float(x).is_integer() else x


def _round_up(x: float) -> float | int:
    return math.ceil(x) if abs(x) >= 10 or float(x).is_integer() else x
