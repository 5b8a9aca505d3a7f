"""What a monitor's pictures show, computed from its runs and violations, and the pictures themselves.

Every series is one figure over the monitor's runs (oldest first) with the limit it is judged against and
the runs where it was a violation:

- ``dataset_drift``: the share of drifted features, against ``drift_share``;
- ``drift``: a feature's drift score, against its method's threshold — one series per feature *and*
  method, because the method (and so the kind of score: a p-value, drifting below its threshold, or a
  distance, drifting at or above it) follows the batch size and must not be drawn on one line;
- ``model_quality``: a metric, against the worst value its tolerance allows (:func:`quality_limit`);
- ``bias_drift``: a bias metric, with the band of its baseline value ± the tolerance.

The violation marks come from the violations table (what the runs reported), not from re-deciding here.
Only run records and violation rows are read: drawing a monitor reads no data of its target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlake import charts
from mlake.monitor.checks import quality_limit
from mlake.monitor.monitors import Monitor, MonitorRun
from mlake.monitor.stattests import METHODS, P_VALUE


@dataclass(frozen=True)
class MetricSeries:
    """One figure of a monitor over its runs, with its limit and the runs that violated it."""

    check: str  # dataset_drift | drift | model_quality | bias_drift
    name: str  # the feature or metric ("*" for the dataset)
    method: str | None  # the drift test, for drift series
    values: tuple[float | None, ...]  # one per run, oldest first (None: not computed in that run)
    threshold: float | None
    band: tuple[float, float] | None
    violated: tuple[int, ...]  # indexes of runs with a violation of this check on this name
    note: str

    @property
    def label(self) -> str:
        if self.check == "dataset_drift":
            return "share of drifted features"
        if self.check == "drift":
            return f"{self.name} · {self.method}"
        return self.name


def violated_runs(violations: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(run_id, check, feature) of every violation row."""
    return {(str(v["run_id"]), str(v["check_name"]), str(v["feature"])) for v in violations}


def run_series(
    monitor: Monitor, runs: Sequence[MonitorRun], violations: Iterable[Mapping[str, Any]]
) -> list[MetricSeries]:
    """Every series of ``runs`` (oldest first): dataset drift, drift per feature and method, model
    quality, bias — in that order, each group sorted by name."""
    seen = violated_runs(violations)

    def marks(check: str, feature: str, present: Sequence[float | None] | None = None) -> tuple[int, ...]:
        return tuple(
            i
            for i, r in enumerate(runs)
            if (r.run_id, check, feature) in seen and (present is None or present[i] is not None)
        )

    options = monitor.config.drift_opts()
    out: list[MetricSeries] = []
    shares = tuple(_float(r.summary.get("share_drifted")) for r in runs)
    if any(v is not None for v in shares):
        out.append(
            MetricSeries(
                "dataset_drift",
                "*",
                None,
                shares,
                options.drift_share,
                None,
                marks("dataset_drift", "*"),
                f"the dataset drifts when at least {options.drift_share:.0%} of its features drift",
            )
        )
    pairs = sorted({(f, d["method"]) for r in runs for f, d in (r.summary.get("drift") or {}).items() if d})
    for feature, method in pairs:
        values = tuple(
            _float(d["score"]) if (d := (r.summary.get("drift") or {}).get(feature)) and d["method"] == method else None
            for r in runs
        )
        kind = METHODS.get(method)
        note = "p-value: drift below the threshold" if kind == P_VALUE else "distance: drift at or above the threshold"
        out.append(
            MetricSeries(
                "drift", feature, method, values, options.threshold(method), None, marks("drift", feature, values), note
            )
        )
    base_quality = monitor.baseline_metrics.get("quality", {})
    for metric in sorted({k for r in runs for k in (r.summary.get("quality") or {})}):
        values = tuple(_float((r.summary.get("quality") or {}).get(metric)) for r in runs)
        tol = monitor.config.quality_tolerance.get(metric)
        base = base_quality.get(metric)
        limit = quality_limit(metric, base, tol) if tol is not None and base is not None else None
        note = f"baseline {base:.4g}" if base is not None else "no baseline value"
        out.append(
            MetricSeries("model_quality", metric, None, values, limit, None, marks("model_quality", metric), note)
        )
    bias = monitor.config.bias
    base_bias = monitor.baseline_metrics.get("bias", {})
    for code in sorted({k for r in runs for k in (r.summary.get("bias") or {})}):
        values = tuple(_float((r.summary.get("bias") or {}).get(code)) for r in runs)
        base = base_bias.get(code)
        band = (base - bias.tolerance, base + bias.tolerance) if bias is not None and base is not None else None
        feature = f"{code}[{bias.facet().label}]" if bias is not None else code
        note = f"baseline {base:.4g} ± {bias.tolerance:g}" if band and bias else "no baseline value"
        out.append(MetricSeries("bias_drift", code, None, values, None, band, marks("bias_drift", feature), note))
    return out


def drift_gauges(monitor: Monitor, run: MonitorRun) -> list[charts.Gauge]:
    """Per feature of ``run``, its drift score and threshold (flagged: drifted), in the run's order.

    p-values and distances are drawn on one scale from zero: both live in [0, 1] for the default tests
    (PSI can exceed it), and each row carries its own threshold tick and says which way drift lies."""
    options = monitor.config.drift_opts()
    rows = []
    for feature, d in (run.summary.get("drift") or {}).items():
        if not d:
            continue
        threshold = options.threshold(d["method"])
        score = _float(d.get("score"))
        kind = "p-value" if METHODS.get(d["method"]) == P_VALUE else "distance"
        way = "below" if kind == "p-value" else "at or above"
        shown = "—" if score is None else f"{score:.4g}"
        rows.append(
            charts.Gauge(
                feature,
                score,
                threshold,
                bool(d.get("drifted")),
                f"{feature}: {d['method']} {kind} {shown}; drift {way} {threshold:g}"
                + (" — drifted" if d.get("drifted") else ""),
            )
        )
    return rows


def latest_with_drift(runs: Sequence[MonitorRun]) -> MonitorRun | None:
    """The newest of ``runs`` (oldest first) that computed drift."""
    return next((r for r in reversed(runs) if r.summary.get("drift")), None)


def series_svg(series: MetricSeries, runs: Sequence[MonitorRun], *, width: float = 300, height: float = 64) -> str:
    """A line of the series over the runs, its threshold dashed (or its band shaded), violations in red."""
    titles = [
        f"{r.run_at:%Y-%m-%d %H:%M} · {series.label}: " + ("—" if v is None else f"{v:.4g}")
        for r, v in zip(runs, series.values, strict=True)
    ]
    return charts.line(
        list(series.values),
        titles=titles,
        marks=series.violated,
        width=width,
        height=height,
        threshold=series.threshold,
        band=series.band,
        cls="chart m-line",
        label=f"{series.label} over {len(runs)} runs",
    )


def gauges_svg(gauges: Sequence[charts.Gauge]) -> str:
    return charts.threshold_bars(
        gauges, width=560, cls="chart m-drift-bars", label="drift score per feature with thresholds"
    )


def attribution_pair(monitor: Monitor, runs: Sequence[MonitorRun]) -> tuple[dict[str, float], dict[str, float]] | None:
    """(baseline, newest run's) mean |SHAP| per feature, when the monitor checks attribution drift and a run
    computed it."""
    baseline = monitor.baseline_metrics.get("attribution")
    for r in reversed(runs):
        current = r.summary.get("attribution")
        if isinstance(current, dict) and baseline:
            return dict(baseline), {str(k): float(v) for k, v in current.items()}
    return None


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def headline(monitor: Monitor, runs: Sequence[MonitorRun]) -> MetricSeries | None:
    """The one series the list of monitors shows per monitor: the share of drifted features against the
    dataset-drift share (or, without drift, the violation count per run), every run that had any violation
    marked — so a glance says "how far from the line, and when did it fail"."""
    failed = tuple(i for i, r in enumerate(runs) if r.status == "violations")
    shares = tuple(_float(r.summary.get("share_drifted")) for r in runs)
    if any(v is not None for v in shares):
        share = monitor.config.drift_opts().drift_share
        return MetricSeries("dataset_drift", "*", None, shares, share, None, failed, "share of drifted features")
    counts = tuple(float(r.summary.get("violation_count", 0)) for r in runs if r.status != "no_data")
    if not counts:
        return None
    kept = [r for r in runs if r.status != "no_data"]
    failed = tuple(i for i, r in enumerate(kept) if r.status == "violations")
    return MetricSeries("violations", "*", None, counts, None, None, failed, "violations per run")
