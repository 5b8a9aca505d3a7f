"""Quality dimensions: one score per dimension that ML data guides name, each from a documented metric.

Every score is in [0, 1] (1 is best) and comes with the counts it was computed from, so a person can
see *why* a dataset scored as it did. A dimension that cannot be measured without more information (a
reference table, an expected age) is reported as not measured, with what to pass to measure it.

- **completeness**: 1 − empty values / cells; empty = NULL or empty string.
- **uniqueness**: 1 − duplicate rows / rows (or duplicate keys / rows when a key is given, whichever is
  more).
- **validity**: 1 − error-to-data ratio. With a suite: failing rows of its row-level checks / rows
  checked. Without one: values breaking their column's dominant pattern (email, URL, UUID, date,
  number), NaN/infinite floats and space-padded strings / values checked.
- **accuracy**: cells equal to a trusted reference table's, joined on a key (``reference=``, ``key=``) /
  cells compared; or rows satisfying a rule (``rule=``, SQL true for accurate rows) / rows.
- **timeliness**: 1 when the newest event is at most ``max_age`` old, else ``max_age / age``.
- **schema compatibility**: expected columns present with the expected type / expected columns;
  expected = ``expected_schema`` or the schema of the table's previous snapshot.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mlake.errors import ValidationError
from mlake.quality.checks import CHECK_TYPES, duckdb_type_name, human_duration, parse_duration
from mlake.quality.profile import Profile
from mlake.quality.source import NUMERIC, STRING, Source, q, resolve
from mlake.quality.suite import SuiteResult

if TYPE_CHECKING:
    from mlake.lake import Lake

DIMENSIONS = ("completeness", "uniqueness", "validity", "accuracy", "timeliness", "schema_compatibility")


@dataclass
class DimensionScore:
    dimension: str
    score: float | None
    metric: str
    numerator: float | None = None
    denominator: float | None = None
    detail: str = ""

    @property
    def measured(self) -> bool:
        return self.score is not None


@dataclass
class QualityDimensions:
    source: str
    scores: list[DimensionScore] = field(default_factory=list)

    @property
    def overall(self) -> float | None:
        measured = [s.score for s in self.scores if s.score is not None]
        return sum(measured) / len(measured) if measured else None

    def __getitem__(self, dimension: str) -> DimensionScore:
        for s in self.scores:
            if s.dimension == dimension:
                return s
        raise KeyError(dimension)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "overall": self.overall,
            "scores": [asdict(s) | {"measured": s.measured} for s in self.scores],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QualityDimensions:
        """The inverse of ``to_dict`` (for clients of the REST API)."""
        fields = DimensionScore.__dataclass_fields__
        return cls(d["source"], [DimensionScore(**{k: v for k, v in s.items() if k in fields}) for s in d["scores"]])

    def _repr_html_(self) -> str:
        from mlake.quality.report import dimensions_html

        return f"<div><b>Quality dimensions of {html.escape(self.source)}</b>{dimensions_html(self)}</div>"


def score_dimensions(
    lake: Lake,
    source: Source,
    profile: Profile,
    *,
    checks: SuiteResult | None = None,
    reference: str | None = None,
    key: list[str] | None = None,
    rule: str | None = None,
    max_age: str | timedelta | None = None,
    expected_schema: dict[str, str] | None = None,
) -> QualityDimensions:
    """Score every dimension of ``source`` (see the module docstring)."""
    out = QualityDimensions(source.label)
    out.scores.append(_completeness(profile))
    out.scores.append(_uniqueness(profile))
    out.scores.append(_validity(profile, checks))
    out.scores.append(_accuracy(lake, source, reference, key, rule))
    out.scores.append(_timeliness(profile, max_age))
    out.scores.append(_schema(lake, source, expected_schema))
    return out


def _ratio_score(bad: float, total: float) -> float:
    return 1.0 - bad / total if total else 1.0


def _completeness(p: Profile) -> DimensionScore:
    missing = p.missing_cells
    worst = sorted(p.columns, key=lambda c: -(c.nulls + (c.empty or 0)))[:3]
    detail = ", ".join(f"{c.name}: {c.nulls + (c.empty or 0):,}" for c in worst if c.nulls + (c.empty or 0))
    return DimensionScore(
        "completeness",
        _ratio_score(missing, p.cells),
        "1 - empty values (NULL or '') / cells",
        missing,
        p.cells,
        f"{missing:,} empty value(s) in {p.cells:,} cells" + (f"; most in {detail}" if detail else ""),
    )


def _uniqueness(p: Profile) -> DimensionScore:
    bad = max(p.duplicate_rows, p.duplicate_keys or 0)
    detail = f"{p.duplicate_rows:,} duplicate row(s)"
    if p.duplicate_keys is not None:
        detail += f", {p.duplicate_keys:,} duplicate key(s) on {', '.join(p.key)}"
    metric = "1 - duplicate rows / rows" + (" (or duplicate keys, whichever is more)" if p.key else "")
    return DimensionScore("uniqueness", _ratio_score(bad, p.rows), metric, bad, p.rows, detail)


def _validity(p: Profile, checks: SuiteResult | None) -> DimensionScore:
    if checks is not None:
        row_level = [r for r in checks.results if r.kind in _ROW_LEVEL and r.rows_checked]
        failing = sum(r.failing_rows or 0 for r in row_level)
        checked = sum(r.rows_checked or 0 for r in row_level)
        detail = f"{failing:,} failing row(s) over {len(row_level)} row-level check(s) of {checks.suite}"
        return DimensionScore(
            "validity",
            _ratio_score(failing, checked),
            "1 - failing rows / rows checked (error-to-data ratio)",
            failing,
            checked,
            detail,
        )
    bad = 0
    total = 0
    notes = []
    for c in p.columns:
        if c.kind == STRING and c.non_null:
            base = c.non_null - (c.empty or 0)
            pattern = c.dominant_pattern()
            if pattern:
                off = base - c.patterns[pattern]
                bad += off
                total += base
                if off:
                    notes.append(f"{c.name}: {off:,} not {pattern}")
            if c.whitespace:
                bad += c.whitespace
                total += 0 if pattern else base
                notes.append(f"{c.name}: {c.whitespace:,} padded with spaces")
        elif c.kind == NUMERIC and (c.nan is not None):
            odd = (c.nan or 0) + (c.infinite or 0)
            bad += odd
            total += c.non_null
            if odd:
                notes.append(f"{c.name}: {odd:,} NaN/infinite")
    return DimensionScore(
        "validity",
        _ratio_score(bad, total),
        "1 - values breaking their column's dominant pattern, NaN/infinite or space-padded / values checked",
        bad,
        total,
        "; ".join(notes[:5]) or "no inconsistent values found (pass a suite to measure validity against rules)",
    )


_ROW_LEVEL = {k for k, c in CHECK_TYPES.items() if c.row_level} | {"sql"}


def _accuracy(
    lake: Lake, source: Source, reference: str | None, key: list[str] | None, rule: str | None
) -> DimensionScore:
    if reference is None and rule is None:
        return DimensionScore(
            "accuracy",
            None,
            "share of values matching a reference or a rule",
            detail="not measured: pass reference= and key= (a trusted table) or rule= (SQL true for accurate rows)",
        )
    if rule is not None:
        rows = source.fetch(f"SELECT count(*), count_if({rule}) FROM {source.from_clause()}")
        total, ok = int(rows[0][0]), int(rows[0][1])
        return DimensionScore(
            "accuracy",
            ok / total if total else 1.0,
            "rows satisfying the rule / rows",
            ok,
            total,
            f"{total - ok:,} of {total:,} row(s) break the rule {rule}",
        )
    if not key:
        raise ValidationError("Accuracy against a reference needs key= (the column(s) joining the two)")
    assert reference is not None
    ref = resolve(lake, reference)
    ref_cols = set(ref.column_names())
    compared = [c for c in source.column_names() if c in ref_cols and c not in key]
    if not compared:
        raise ValidationError(f"{reference} shares no column with {source.label} besides the key")
    join = " AND ".join(f"a.{q(k)} = b.{q(k)}" for k in key)
    equal = " + ".join(f"(a.{q(c)} IS NOT DISTINCT FROM b.{q(c)})::BIGINT" for c in compared)
    rows = source.fetch(f"SELECT count(*), sum({equal}) FROM ({source.sql}) AS a JOIN ({ref.sql}) AS b ON {join}")
    matched_rows, equal_cells = int(rows[0][0]), int(rows[0][1] or 0)
    cells = matched_rows * len(compared)
    return DimensionScore(
        "accuracy",
        equal_cells / cells if cells else None,
        "cells equal to the reference / cells compared",
        equal_cells,
        cells,
        f"{cells - equal_cells:,} of {cells:,} value(s) differ from {reference} over {matched_rows:,} matched row(s) "
        f"and {len(compared)} column(s)",
    )


def _timeliness(p: Profile, max_age: str | timedelta | None) -> DimensionScore:
    metric = "1 if the newest event is at most max_age old, else max_age / age"
    if p.freshness is None or p.freshness.age_seconds is None:
        return DimensionScore("timeliness", None, metric, detail="not measured: the data has no date/time column")
    age = p.freshness.age_seconds
    age_text = human_duration(age)
    if max_age is None:
        return DimensionScore(
            "timeliness",
            None,
            metric,
            age,
            None,
            f"newest {p.freshness.column} is {age_text} old; pass max_age= (e.g. 1d) to score it",
        )
    limit = parse_duration(max_age).total_seconds()
    score = 1.0 if age <= limit else limit / age
    return DimensionScore(
        "timeliness",
        score,
        metric,
        age,
        limit,
        f"newest {p.freshness.column} is {age_text} old (max {human_duration(limit)})",
    )


def _schema(lake: Lake, source: Source, expected: dict[str, str] | None) -> DimensionScore:
    metric = "expected columns present with the expected type / expected columns"
    actual = dict(source.columns)
    against = "the expected schema"
    if expected is None:
        expected = _previous_schema(lake, source)
        against = "the previous snapshot"
        if expected is None:
            return DimensionScore(
                "schema_compatibility",
                None,
                metric,
                detail="not measured: no previous snapshot to compare with; pass expected_schema=",
            )
    problems = []
    for col, want in expected.items():
        have = actual.get(col)
        if have is None:
            problems.append(f"{col} missing")
        elif duckdb_type_name(want) != have.upper():
            problems.append(f"{col} is {have}, was {want}")
    ok = len(expected) - len(problems)
    return DimensionScore(
        "schema_compatibility",
        ok / len(expected) if expected else 1.0,
        metric,
        ok,
        len(expected),
        f"compared with {against}: " + ("; ".join(problems) if problems else "compatible"),
    )


def _previous_schema(lake: Lake, source: Source) -> dict[str, str] | None:
    if source.kind != "table" or source.table is None or source.snapshot_id is None:
        return None
    ice = lake.table(source.table).iceberg
    snap = ice.snapshot_by_id(source.snapshot_id)
    if snap is None or snap.parent_snapshot_id is None:
        return None
    parent = ice.snapshot_by_id(snap.parent_snapshot_id)
    if parent is None:
        return None
    from mlake.tables.types import duckdb_type

    schema = ice.schemas().get(parent.schema_id) if parent.schema_id is not None else None
    if schema is None:
        return None
    return {f.name: duckdb_type(f.field_type) for f in schema.fields}
