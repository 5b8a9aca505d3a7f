"""Metric history: every profile, check and gate run, kept in an Iceberg table, and anomalies across runs.

Runs append rows (one per metric) to the lake table ``mlake.quality_metrics``, so the history is data
like any other — ``select * from mlake.quality_metrics where target = 'shop.orders'`` — with time travel
and lineage. Anomaly detection reads a target's series (one per column and metric) and flags a run whose
value jumps against the runs before it, without anyone writing a rule for that column:

- **rate of change**: the relative change from the previous run is at least ``relative_change`` and, for
  rates (null_rate, duplicate_rate, ...), the absolute change at least ``min_rate_change``;
- **z-score**: with at least ``min_history`` earlier runs, ``|value - mean| / std`` of the last
  ``window`` runs is at least ``z``;
- **seasonal** (``seasonal_period=p``): the expected value is the mean of the runs at the same phase
  (every ``p``-th run before this one), so a weekly pattern in daily runs is not an anomaly. The spread is
  not taken from those few same-phase runs (a standard deviation of 2 or 3 points is so noisy that 1 in 20
  clean runs crossed z = 4): it is the pooled within-phase deviation of the last
  ``max(ceil(window / p), 3)`` seasons — every phase's runs around their own phase mean, with ``n - p``
  degrees of freedom — and the z-score allows for the uncertainty of the phase mean
  (``(value - mean) / (s * sqrt(1 + 1/k))`` with ``k`` same-phase runs). It needs three full seasons
  (before that, only the plain z-score applies). On Gaussian noise the false-alarm rate at ``z = 4`` is
  about 0.1% per run for a period of 12 (measured in tests/quality/test_history.py), as without seasons.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.quality.profile import Profile
from mlake.quality.source import NUMERIC, STRING
from mlake.quality.suite import SuiteResult
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.lake import Lake

METRICS_TABLE = TableName("mlake", "quality_metrics")
TABLE_LEVEL = ""  # column_name of table-level metrics

METRICS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("run_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # profile | check | gate
        pa.field("target", pa.string(), nullable=False),  # table name, or query:<hash>
        pa.field("snapshot_id", pa.int64()),
        pa.field("suite", pa.string()),
        pa.field("check_name", pa.string()),
        pa.field("column_name", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("passed", pa.bool_()),
        pa.field("actor", pa.string()),
    ]
)

# Metrics whose natural growth is not news: they are stored but not watched for anomalies.
UNWATCHED = {"freshness_age_seconds", "distinct", "min", "max"}


def profile_metrics(p: Profile) -> list[tuple[str, str, float | None]]:
    """(column, metric, value) rows of a profile: the figures worth following over time."""
    out: list[tuple[str, str, float | None]] = [
        (TABLE_LEVEL, "rows", float(p.rows)),
        (TABLE_LEVEL, "duplicate_rows", float(p.duplicate_rows)),
        (TABLE_LEVEL, "duplicate_rate", p.duplicate_rows / p.rows if p.rows else 0.0),
        (TABLE_LEVEL, "missing_cell_rate", p.missing_cells / p.cells if p.cells else 0.0),
    ]
    if p.duplicate_keys is not None:
        out.append((TABLE_LEVEL, "duplicate_key_rate", p.duplicate_keys / p.rows if p.rows else 0.0))
    if p.freshness is not None and p.freshness.age_seconds is not None:
        out.append((TABLE_LEVEL, "freshness_age_seconds", p.freshness.age_seconds))
    for c in p.columns:
        out.append((c.name, "null_rate", c.null_rate))
        out.append((c.name, "distinct", None if c.distinct is None else float(c.distinct)))
        out.append((c.name, "distinct_rate", c.distinct_rate))
        if c.kind == NUMERIC and c.non_null:
            out += [
                (c.name, "mean", c.mean),
                (c.name, "std", c.std),
                (c.name, "min", _f(c.min)),
                (c.name, "max", _f(c.max)),
                (c.name, "median", c.quantiles.get("0.5")),
                (c.name, "zero_rate", (c.zeros or 0) / c.non_null),
                (c.name, "negative_rate", (c.negatives or 0) / c.non_null),
                (c.name, "outlier_rate", (c.outliers_iqr or 0) / c.non_null),
            ]
        if c.kind == STRING and c.non_null:
            out += [
                (c.name, "empty_rate", (c.empty or 0) / c.non_null),
                (c.name, "length_mean", c.length_mean),
            ]
            for name, hits in c.patterns.items():
                if hits:
                    out.append((c.name, f"pattern_rate:{name}", hits / c.non_null))
        if c.true_count is not None and c.non_null:
            out.append((c.name, "true_rate", c.true_count / c.non_null))
    return out


def _f(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def record_profile(lake: Lake, p: Profile, key: str, actor: str | None = None) -> None:
    """Keep a profile's metrics under ``key``; ``actor`` (default: the lake's user) is who ran it."""
    who = actor or lake.settings.user
    rows = [
        _row(p.run_id, p.computed_at, "profile", key, p.snapshot_id, None, None, col, metric, value, None, who)
        for col, metric, value in profile_metrics(p)
    ]
    _append(lake, rows)


def record_suite(lake: Lake, r: SuiteResult, key: str, kind: str = "check", actor: str | None = None) -> None:
    """Keep a suite run's metrics under ``key``; ``actor`` (default: the lake's user) is who ran it."""
    who = actor or lake.settings.user
    rows = []
    for c in r.results:
        col = ",".join(c.columns)
        value = c.value if isinstance(c.value, int | float) and not isinstance(c.value, bool) else None
        args = (r.run_id, r.computed_at, kind, key, r.snapshot_id, r.suite, c.check, col)
        rows.append(_row(*args, c.metric, _f(value), c.passed, who))
        if c.failing_share is not None:
            rows.append(_row(*args, "failing_share", c.failing_share, c.passed, who))
    head = (r.run_id, r.computed_at, kind, key, r.snapshot_id, r.suite, None, TABLE_LEVEL)
    rows.append(_row(*head, "rows", float(r.rows), r.passed, who))
    _append(lake, rows)


def _row(
    run_id: str,
    at: datetime,
    kind: str,
    target: str,
    snapshot_id: int | None,
    suite: str | None,
    check: str | None,
    column: str,
    metric: str,
    value: float | None,
    passed: bool | None,
    actor: str,
) -> dict[str, Any]:
    if value is not None and not math.isfinite(value):
        value = None
    return {
        "run_id": run_id,
        "run_at": at,
        "kind": kind,
        "target": target,
        "snapshot_id": snapshot_id,
        "suite": suite,
        "check_name": check,
        "column_name": column,
        "metric": metric,
        "value": value,
        "passed": passed,
        "actor": actor,
    }


def _append(lake: Lake, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    data = pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)
    if not lake.table_exists(METRICS_TABLE):
        lake.create_table(
            METRICS_TABLE,
            schema=METRICS_SCHEMA,
            description="Quality metric history: one row per metric of every profile, check and gate run.",
            owner="mlake",
            exist_ok=True,
        )
    lake.table(METRICS_TABLE).append(data, command="quality metrics")


def load_history(
    lake: Lake, target: str, *, metric: str | None = None, column: str | None = None, kind: str | None = None
) -> pa.Table:
    """The stored metrics of ``target`` (oldest first), optionally of one metric / column / run kind."""
    if not lake.table_exists(METRICS_TABLE):
        return METRICS_SCHEMA.empty_table()
    conds = ["target = $target"]
    params: dict[str, Any] = {"target": target}
    for name, value in (("metric", metric), ("column_name", column), ("kind", kind)):
        if value is not None:
            conds.append(f"{name} = ${name}")
            params[name] = value
    sql = f"SELECT * FROM {METRICS_TABLE} WHERE {' AND '.join(conds)} ORDER BY run_at, column_name, metric"
    return lake.sql(sql, params=params).to_arrow()


def load_recent(lake: Lake, since: datetime) -> pa.Table:
    """Every target's stored metrics, for the targets with a run since ``since`` (their whole history, so
    that their newest runs can be compared with what came before)."""
    if not lake.table_exists(METRICS_TABLE):
        return METRICS_SCHEMA.empty_table()
    sql = (
        f"SELECT * FROM {METRICS_TABLE} WHERE target IN (SELECT DISTINCT target FROM {METRICS_TABLE} "
        "WHERE run_at >= $since) ORDER BY target, run_at, column_name, metric"
    )
    return lake.sql(sql, params={"since": since}).to_arrow()


@dataclass
class AnomalyRules:
    """When a metric's newest value counts as an anomaly (see the module docstring)."""

    relative_change: float = 0.5
    min_rate_change: float = 0.01
    z: float = 4.0
    min_history: int = 5
    window: int = 30
    seasonal_period: int | None = None


@dataclass
class Anomaly:
    target: str
    column: str
    metric: str
    run_at: datetime
    run_id: str
    value: float
    previous: float | None
    previous_at: datetime | None
    expected: float | None
    z: float | None
    relative_change: float | None
    rule: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["run_at"] = self.run_at.isoformat()
        d["previous_at"] = self.previous_at.isoformat() if self.previous_at else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Anomaly:
        """The inverse of ``to_dict`` (for clients of the REST API)."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["run_at"] = datetime.fromisoformat(d["run_at"])
        fields["previous_at"] = datetime.fromisoformat(d["previous_at"]) if d.get("previous_at") else None
        return cls(**fields)


def _fmt(metric: str, value: float) -> str:
    if _is_rate(metric):
        return f"{value:.2%}" if abs(value) >= 0.001 or value == 0 else f"{value:.3%}"
    return f"{value:,.6g}"


def detect_series(
    points: list[tuple[datetime, str, float]], metric: str, rules: AnomalyRules, only_last: bool = True
) -> list[tuple[int, str, float | None, float | None, float | None]]:
    """Anomalous points of one series: (index, rule, expected, z, relative change).

    A z-score is used when there is enough history for one (the same phase's runs when seasonal);
    before that, the rate of change against the previous run.
    """
    found = []
    is_rate = _is_rate(metric)

    def big_enough(delta: float) -> bool:
        return not is_rate or abs(delta) >= rules.min_rate_change

    period = rules.seasonal_period or 0
    for i in range(max(len(points) - 1 if only_last else 1, 1), len(points)):
        value, prev = points[i][2], points[i - 1][2]
        rel = (value - prev) / abs(prev) if prev else (math.inf if value != prev else 0.0)
        seasonal = period > 0 and i >= _MIN_SEASONS * period
        ref = [v for _, _, v in points[max(0, i - rules.window) : i]]
        z = expected = None
        rule = ""
        if seasonal or len(ref) >= rules.min_history:
            expected, sd = _seasonal_expectation(points, i, period, rules.window) if seasonal else _plain(ref)
            noise = 1e-9 * abs(expected)  # a constant history's float noise (sums of equal values) is no spread
            if sd > noise:
                z = (value - expected) / sd
                if abs(z) >= rules.z and big_enough(value - expected):
                    rule = "seasonal z-score" if seasonal else "z-score"
            elif abs(value - expected) > noise and big_enough(value - expected):
                z = math.inf
                rule = "change after a constant history"
        elif not period and abs(rel) >= rules.relative_change and big_enough(value - prev):
            rule = "rate of change"
        if rule:
            found.append((i, rule, expected, z, rel if math.isfinite(rel) else None))
    return found


_MIN_SEASONS = 3


def _plain(ref: list[float]) -> tuple[float, float]:
    return statistics.fmean(ref), statistics.stdev(ref)


def _seasonal_expectation(
    points: list[tuple[datetime, str, float]], i: int, period: int, window: int
) -> tuple[float, float]:
    """The mean of point ``i``'s phase and the standard deviation of a new point around it: the pooled
    within-phase deviation of the last seasons (see the module docstring), widened for the phase mean's
    own uncertainty."""
    seasons = max(-(-window // period), _MIN_SEASONS)
    phases: dict[int, list[float]] = defaultdict(list)
    for j in range(max(0, i - seasons * period), i):
        phases[(i - j) % period].append(points[j][2])
    means = {phase: statistics.fmean(values) for phase, values in phases.items()}
    squares = sum((v - means[phase]) ** 2 for phase, values in phases.items() for v in values)
    dof = sum(len(values) for values in phases.values()) - len(phases)
    own = phases[0]
    return means[0], math.sqrt(squares / dof) * math.sqrt(1 + 1 / len(own))


def _is_rate(metric: str) -> bool:
    return metric.endswith("_rate") or metric.startswith("pattern_rate") or metric == "failing_share"


def detect(history: pa.Table, rules: AnomalyRules | None = None, only_last: bool = True) -> list[Anomaly]:
    """Anomalies in a target's metric history (only in its newest run unless ``only_last=False``)."""
    rules = rules or AnomalyRules()
    series: dict[tuple[str, str, str, str], list[tuple[datetime, str, float]]] = defaultdict(list)
    for row in history.to_pylist():
        if row["value"] is None or row["metric"] in UNWATCHED:
            continue
        # Each suite's runs (and a suite's gate runs, which measure batches, not the table) form their own
        # series: two suites may hold checks of the same name with other bounds.
        suite = row["suite"] or ""
        kind = "profile" if row["kind"] == "profile" else f"{row['kind']}:{suite}"
        name = row["check_name"] or ""
        where = f" [{suite}: {name}]" if name and suite else (f" [{name}]" if name else "")
        series[(row["target"], kind, row["column_name"] + where, row["metric"])].append(
            (row["run_at"], row["run_id"], float(row["value"]))
        )
    newest_run: dict[tuple[str, str], datetime] = {}
    for (target, kind, _, _), pts in series.items():
        newest_run[(target, kind)] = max(newest_run.get((target, kind), pts[-1][0]), pts[-1][0])
    out = []
    for (target, kind, column, metric), pts in series.items():
        pts.sort(key=lambda p: p[0])
        if only_last and pts[-1][0] != newest_run[(target, kind)]:
            continue  # this series has no value in the newest run
        for i, rule, expected, z, rel in detect_series(pts, metric, rules, only_last):
            at, run_id, value = pts[i]
            prev_at, _, prev = pts[i - 1]
            where = f"{column} " if column else ""
            message = (
                f"{where}{metric} went from {_fmt(metric, prev)} to {_fmt(metric, value)} "
                f"since {prev_at:%Y-%m-%d %H:%M} UTC"
            )
            if z is not None and math.isfinite(z):
                message += f" (z = {z:+.1f})"
            out.append(
                Anomaly(target, column, metric, at, run_id, value, prev, prev_at, expected, z, rel, rule, message)
            )
    out.sort(key=lambda a: (a.run_at, a.column, a.metric))
    return out
