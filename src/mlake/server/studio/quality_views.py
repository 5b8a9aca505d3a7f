"""What Studio's quality pages show: profiles, check results and metric history made ready to render.

The templates stay simple (they cannot format numbers beyond ``number``): this module turns a
:class:`~mlake.quality.profile.Profile`, a suite run (``SuiteResult.to_dict()`` or a stored suite's last
result) and a metric history into small view objects with formatted text and inline SVG charts, drawn
with :mod:`mlake.charts` (Studio's stylesheet gives them its look through their classes). Nothing here
reads data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from mlake import charts

if TYPE_CHECKING:
    import pyarrow as pa

    from mlake.quality.history import Anomaly
    from mlake.quality.profile import ColumnProfile, Profile

CATEGORICAL_MAX = 12  # numeric columns with at most this many values are drawn by value, not as a histogram
MAX_SERIES = 12


# --- formatting ------------------------------------------------------------------------------------


def num(value: Any) -> str:
    """A number for people: thousands separated, about four significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        a = abs(value)
        if a == 0:
            return "0"
        if a >= 1e9 or a < 1e-3:
            return f"{value:.3g}"
        if a >= 1000:
            return f"{value:,.0f}"
        if a >= 100:
            return f"{value:,.1f}"
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) > 19 and value[4:5] == "-" and value[10:11] == "T":
        return value[:16].replace("T", " ")  # an ISO time from JSON
    text = str(value)
    return text if len(text) <= 48 else text[:47] + "…"


def datum(value: Any) -> str:
    """A value of the data (a minimum, a median, a frequent value): as :func:`num`, but never with thousands
    separators, which would turn a year into ``2,009`` and an id into ``1,234,567``; counts use :func:`num`."""
    if isinstance(value, bool) or value is None or not isinstance(value, int | float):
        return num(value)
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return num(value).replace(",", "")


def pct(share: float | None) -> str:
    if share is None:
        return "—"
    if share == 0:
        return "0%"
    if share < 0.001:
        return "<0.1%"
    if share > 0.999 and share < 1:
        return ">99.9%"
    return f"{share:.1%}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for limit, div, unit in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
        if seconds < limit:
            return f"{seconds / div:.0f} {unit}"
    return f"{seconds / 86400:.0f} d"


def _when(epoch: float, kind: str) -> str:
    if kind != "temporal":
        return datum(epoch)
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


# --- charts --------------------------------------------------------------------------------------------


def meter(share: float | None, tone: str = "") -> Markup:
    """A thin horizontal bar showing a share (0..1); ``tone`` is a class (``warn``, ``bad``)."""
    return Markup(charts.meter(share, tone))


def diverging_meter(r: float) -> Markup:
    """A bar from the middle: right for a positive correlation, left for a negative one."""
    return Markup(charts.diverging_meter(r))


def histogram_svg(col: ColumnProfile) -> Markup:
    """Bars of a column's histogram; the tail bins (below the 0.5% / above the 99.5% quantile) are lighter."""
    bins = col.histogram
    total = sum(b.count for b in bins) or 1
    inner = bins[1].high - bins[1].low if len(bins) > 3 else 0.0
    # the profile's outer bins may gather the tails beyond the 0.5% / 99.5% quantiles: drawn lighter
    tails = [
        "tail" if i in (0, len(bins) - 1) and inner > 0 and abs((b.high - b.low) - inner) > 1e-6 * inner else ""
        for i, b in enumerate(bins)
    ]
    titles = [
        f"{_when(b.low, col.kind)} – {_when(b.high, col.kind)}: {b.count:,} rows ({pct(b.count / total)})" for b in bins
    ]
    return Markup(
        charts.histogram(
            [b.count for b in bins],
            titles,
            classes=tails,
            width=300,
            height=72,
            min_height=2.5,  # a rare value stays visible
            rx=1.5,
            cls="q-hist",
            label=f"histogram of {col.name}",
            stretch=True,
            sized=False,
        )
    )


def line_svg(values: list[float | None], times: list[datetime], marks: set[int], rate: bool) -> Markup:
    """A small line chart of one metric over runs; ``marks`` are anomalous runs (drawn red)."""
    titles = [
        f"{times[i].strftime('%Y-%m-%d %H:%M')}: {'' if v is None else (pct(v) if rate else num(v))}"
        for i, v in enumerate(values)
    ]
    return Markup(
        charts.line(
            values,
            titles=titles,
            marks=marks,
            width=300,
            height=64,
            pad=5,
            area=True,
            from_zero=rate,
            cls="q-line",
            label="metric over runs",
            sized=False,
        )
    )


def heatmap_svg(m: Any, diverging: bool) -> Markup:
    """A profile's matrix (correlations, joint nulls) as a heatmap."""
    return Markup(charts.heatmap(m.columns, m.values, diverging=diverging, cell=20, value_text=datum))


# --- profile ------------------------------------------------------------------------------------------


@dataclass
class TopValue:
    label: str
    count: str
    share: float
    bar: Markup


@dataclass
class ColumnView:
    name: str
    type: str
    kind: str
    missing: str
    missing_share: float
    missing_bar: Markup
    distinct: str
    chart: Markup | None = None
    axis: tuple[str, str] | None = None
    top: list[TopValue] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (text, tone)


@dataclass
class ProfileView:
    table: str | None
    snapshot_id: int | None
    rows: str
    columns: list[ColumnView]
    kpis: list[tuple[str, str, str]]  # (label, value, tone)
    missing: list[tuple[str, str, Markup]]  # columns with missing values: (name, share, bar)
    correlated: list[tuple[str, str, str, Markup]]  # strongest pairs: (a, b, r, bar)
    correlations: Markup | None
    co_missing: Markup | None
    computed_at: datetime
    seconds: str
    queries: int


def _alerts(c: ColumnProfile) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if c.rows and c.non_null == 0:
        return [("all missing", "bad")]
    if c.null_rate >= 0.2:
        out.append((f"{pct(c.null_rate)} missing", "bad"))
    elif c.null_rate >= 0.01:
        out.append((f"{pct(c.null_rate)} missing", "warn"))
    if c.distinct == 1 and c.non_null > 1:
        out.append(("constant", "warn"))
    elif c.is_unique and c.non_null > 1:
        out.append(("unique", "ok"))
    if c.empty:
        out.append((f"{c.empty:,} empty", "warn"))
    if c.skewness is not None and abs(c.skewness) >= 2:
        out.append(("skewed", "warn"))
    if c.outliers_robust:
        out.append((f"{c.outliers_robust:,} outliers", "warn"))
    if c.negatives and c.min is not None and c.non_null and c.negatives / c.non_null < 0.05:
        out.append((f"{c.negatives:,} negative", "warn"))
    if c.nan or c.infinite:
        out.append(("NaN/∞", "bad"))
    return out


def _facts(c: ColumnProfile) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if c.kind == "numeric" and c.non_null:
        q = c.quantiles
        facts += [
            ("min", datum(c.min)),
            ("median", datum(q.get("0.5"))),
            ("max", datum(c.max)),
            ("mean", datum(c.mean)),
            ("std", datum(c.std)),
            ("zeros", num(c.zeros)),
        ]
        if c.negatives:
            facts.append(("negatives", num(c.negatives)))
        if c.outliers_iqr:
            facts.append(("outliers (IQR)", num(c.outliers_iqr)))
    elif c.kind == "temporal" and c.non_null:
        facts += [("earliest", num(c.min)), ("latest", num(c.max))]
    elif c.kind == "string" and c.non_null:
        facts.append(("length", f"{num(c.length_min)} – {num(c.length_max)} (mean {num(c.length_mean)})"))
        found = [f"{name} {num(hits)}" for name, hits in c.patterns.items() if hits]
        if found:
            facts.append(("patterns", ", ".join(found)))
        if c.whitespace:
            facts.append(("space-padded", num(c.whitespace)))
    elif c.kind == "boolean" and c.true_count is not None and c.non_null:
        facts.append(("true", f"{num(c.true_count)} ({pct(c.true_count / c.non_null)})"))
    return facts


def column_view(c: ColumnProfile) -> ColumnView:
    missing = c.nulls + (c.empty or 0)
    share = missing / c.rows if c.rows else 0.0
    view = ColumnView(
        name=c.name,
        type=c.type,
        kind=c.kind,
        missing=f"{num(missing)} ({pct(share)})",
        missing_share=share,
        missing_bar=meter(share, "bad" if share >= 0.2 else "warn" if share > 0 else ""),
        distinct=("≈" if not c.distinct_exact and c.distinct is not None else "") + num(c.distinct),
        facts=_facts(c),
        alerts=_alerts(c),
    )
    categorical = c.top_values and (c.kind not in ("numeric", "temporal") or (c.distinct or 0) <= CATEGORICAL_MAX)
    if c.histogram and len(c.histogram) > 1 and not categorical:
        view.chart = histogram_svg(c)
        view.axis = (_when(c.histogram[0].low, c.kind), _when(c.histogram[-1].high, c.kind))
    elif c.top_values:
        peak = max(n for _, n in c.top_values) or 1
        for value, n in c.top_values[:8]:
            label = "(null)" if value is None else ("(empty)" if value == "" else datum(value))
            view.top.append(TopValue(label, num(n), n / c.non_null if c.non_null else 0.0, meter(n / peak)))
    return view


def profile_view(p: Profile) -> ProfileView:
    missing_share = p.missing_cells / p.cells if p.cells else 0.0
    dup_share = p.duplicate_rows / p.rows if p.rows else 0.0
    kpis = [
        ("Rows", num(p.rows), ""),
        ("Columns", num(len(p.columns)), ""),
        ("Missing cells", pct(missing_share), "warn" if missing_share > 0 else ""),
        ("Duplicate rows", num(p.duplicate_rows), "warn" if dup_share > 0 else ""),
    ]
    if p.duplicate_keys is not None:
        kpis.append((f"Duplicate {', '.join(p.key)}", num(p.duplicate_keys), "bad" if p.duplicate_keys else ""))
    if p.freshness is not None and p.freshness.newest is not None:
        kpis.append((f"Newest {p.freshness.column}", duration(p.freshness.age_seconds) + " ago", ""))
    with_missing = sorted((c for c in p.columns if c.nulls or c.empty), key=lambda c: -(c.nulls + (c.empty or 0)))
    shares = [(c.name, (c.nulls + (c.empty or 0)) / p.rows) for c in with_missing[:20]] if p.rows else []
    missing = [(name, pct(share), meter(share, "bad")) for name, share in shares]
    corr = p.correlations
    pairs: list[tuple[float, str, str]] = []
    if corr is not None:
        for i, a in enumerate(corr.columns):
            for j in range(i + 1, len(corr.columns)):
                v = corr.values[i][j]
                if v is not None and math.isfinite(v):
                    pairs.append((v, a, corr.columns[j]))
    pairs.sort(key=lambda t: -abs(t[0]))
    return ProfileView(
        table=p.table,
        snapshot_id=p.snapshot_id,
        rows=num(p.rows),
        columns=[column_view(c) for c in p.columns],
        kpis=kpis,
        missing=missing,
        correlated=[(a, b, f"{v:+.2f}", diverging_meter(v)) for v, a, b in pairs[:8]],
        correlations=heatmap_svg(corr, True) if corr is not None and len(corr.columns) > 3 else None,
        co_missing=heatmap_svg(p.missing, False) if p.missing is not None and len(p.missing.columns) > 1 else None,
        computed_at=p.computed_at,
        seconds=f"{p.seconds:.2f}s",
        queries=p.queries,
    )


# --- check results ------------------------------------------------------------------------------------


@dataclass
class CheckView:
    status: str  # pass | fail | warn
    check: str
    type: str
    columns: str
    severity: str
    metric: str
    value: str
    threshold: str
    failing: str
    failing_bar: Markup | None
    message: str
    sample_columns: list[str] = field(default_factory=list)
    sample_rows: list[list[str]] = field(default_factory=list)


@dataclass
class ResultView:
    suite: str
    passed: bool
    rows: str
    snapshot_id: int | None
    computed_at: datetime | None
    seconds: str
    actor: str | None
    counts: dict[str, int]
    checks: list[CheckView]
    kept: bool | None = None


def _threshold(threshold: float | None, has_rows: bool) -> str:
    if threshold is None or not has_rows:
        return "—"
    return "every row" if threshold >= 1 else f"≥ {pct(threshold)} pass"


def result_view(run: dict[str, Any], kept: bool | None = None) -> ResultView:
    """A suite run as ``SuiteResult.to_dict()`` gives it (or a stored last result, without samples)."""
    checks = []
    order = {"fail": 0, "warn": 1, "pass": 2}
    for r in sorted(run.get("results", []), key=lambda r: order.get(str(r.get("status")), 3)):
        failing, checked = r.get("failing_rows"), r.get("rows_checked")
        share = r.get("failing_share")
        if failing is None:
            failing_text = "—"
        elif checked:
            failing_text = f"{num(failing)} of {num(checked)} ({pct(share)})"
        else:
            failing_text = num(failing)
        samples = r.get("samples") or []
        checked = [c for c in r.get("columns") or [] if samples and c in samples[0]]
        columns = checked + [c for c in (samples[0] if samples else []) if c not in checked]  # checked ones first
        checks.append(
            CheckView(
                status=str(r.get("status", "pass" if r.get("passed") else "fail")),
                check=str(r.get("check", "")),
                type=str(r.get("type", "")),
                columns=", ".join(r.get("columns") or []),
                severity=str(r.get("severity", "error")),
                metric=str(r.get("metric", "")).replace("_", " "),
                value=num(r.get("value")),
                threshold=_threshold(r.get("threshold"), failing is not None),
                failing=failing_text,
                failing_bar=meter(share, "bad" if r.get("status") == "fail" else "warn") if share else None,
                message=str(r.get("message", "")),
                sample_columns=columns,
                sample_rows=[[datum(s.get(c)) if s.get(c) is not None else "null" for c in columns] for s in samples],
            )
        )
    counts = {s: sum(c.status == s for c in checks) for s in ("pass", "fail", "warn")}
    at = run.get("computed_at")
    return ResultView(
        suite=str(run.get("suite", "")),
        passed=bool(run.get("passed")),
        rows=num(run.get("rows")),
        snapshot_id=run.get("snapshot_id"),
        computed_at=datetime.fromisoformat(at) if isinstance(at, str) else at,
        seconds=f"{float(run.get('seconds') or 0):.2f}s",
        actor=run.get("actor"),
        counts=counts,
        checks=checks,
        kept=kept,
    )


# --- metric history -------------------------------------------------------------------------------------


@dataclass
class SeriesView:
    title: str
    latest: str
    change: str
    chart: Markup
    anomalous: bool
    message: str = ""


@dataclass
class SuiteRunsView:
    suite: str
    runs: list[tuple[bool, str]]  # (passed, tooltip), oldest first
    latest_passed: bool


@dataclass
class HistoryView:
    profile_runs: int
    check_runs: int
    series: list[SeriesView]
    suites: list[SuiteRunsView]
    anomalies: list[Anomaly]


HEADLINE = ("rows", "missing_cell_rate", "duplicate_rate", "duplicate_key_rate")


def _is_rate(metric: str) -> bool:
    return metric.endswith("_rate") or metric.startswith("pattern_rate") or metric == "failing_share"


def history_view(history: pa.Table, anomalies: list[Anomaly]) -> HistoryView:
    """Headline metrics and columns' null rates over profile runs (anomalous ones first), and each suite's
    pass/fail over its runs."""
    profile_series: dict[tuple[str, str], dict[str, tuple[datetime, float | None]]] = {}
    runs: dict[str, datetime] = {}
    suite_runs: dict[str, dict[str, tuple[datetime, bool, int]]] = {}
    for row in history.to_pylist():
        if row["kind"] == "profile":
            runs[row["run_id"]] = row["run_at"]
            profile_series.setdefault((row["column_name"], row["metric"]), {})[row["run_id"]] = (
                row["run_at"],
                row["value"],
            )
        elif row["kind"] in ("check", "gate"):
            name = f"{row['suite'] or 'checks'}{' (gate)' if row['kind'] == 'gate' else ''}"
            entry = suite_runs.setdefault(name, {})
            at, passed, failed = entry.get(row["run_id"], (row["run_at"], True, 0))
            if row["check_name"] is None and row["metric"] == "rows":
                passed = bool(row["passed"])
            elif row["check_name"] is not None and row["passed"] is False and row["metric"] != "failing_share":
                failed += 1
            entry[row["run_id"]] = (at, passed, failed)
    order = sorted(runs, key=lambda r: runs[r])
    times = [runs[r] for r in order]
    flagged = {(a.column, a.metric): a for a in anomalies if "[" not in a.column}
    wanted = [k for k in profile_series if k in flagged or (k[0] == "" and k[1] in HEADLINE)]
    wanted += sorted(
        k
        for k, pts in profile_series.items()
        if k[1] == "null_rate" and k not in wanted and any(v for _, v in pts.values())
    )
    wanted.sort(key=lambda k: (k not in flagged, k[0] != "", HEADLINE.index(k[1]) if k[1] in HEADLINE else 9, k))
    series = []
    for key in wanted[:MAX_SERIES]:
        values = [profile_series[key].get(r, (None, None))[1] for r in order]
        present = [v for v in values if v is not None]
        if not present:
            continue
        rate = _is_rate(key[1])
        anomaly = flagged.get(key)
        marks = {len(values) - 1} if anomaly else set()
        change = ""
        if len(present) >= 2:
            delta = present[-1] - present[-2]
            change = ("+" if delta >= 0 else "−") + (pct(abs(delta)) if rate else num(abs(delta)))
        title = f"{key[0]} · {key[1].replace('_', ' ')}" if key[0] else key[1].replace("_", " ")
        series.append(
            SeriesView(
                title=title,
                latest=pct(present[-1]) if rate else num(present[-1]),
                change=change,
                chart=line_svg(values, times, marks, rate),
                anomalous=anomaly is not None,
                message=anomaly.message if anomaly else "",
            )
        )
    suites = []
    for name, entry in sorted(suite_runs.items()):
        ordered = sorted(entry.values(), key=lambda e: e[0])[-40:]
        strip = [
            (ok, f"{at:%Y-%m-%d %H:%M} — {'passed' if ok else 'failed'}" + (f", {n} check(s) failing" if n else ""))
            for at, ok, n in ordered
        ]
        suites.append(SuiteRunsView(name, strip, ordered[-1][1]))
    return HistoryView(
        profile_runs=len(runs),
        check_runs=sum(len(e) for e in suite_runs.values()),
        series=series,
        suites=suites,
        anomalies=list(anomalies),
    )
