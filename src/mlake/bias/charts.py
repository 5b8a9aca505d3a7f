"""The pictures of a bias report and of feature attributions, drawn with mlake's chart kit.

Used by Studio's Bias page and by the self-contained HTML report (``mlake bias report --html``), so both
show the same thing:

- :func:`metric_chart`: every metric as a bar from its ideal value, with its bootstrap interval as a
  whisker and the **acceptable band** shaded (:func:`acceptable_band`) — red when the value is outside;
- :func:`facet_chart`: per facet, the share of positive labels (and predicted labels) with a Wilson 95%
  interval; facet *d*'s rows carry the four-fifths band around facet *a*'s rate;
- :func:`attribution_chart`: mean |SHAP| per feature, most important first.

Clarify publishes no thresholds for its metrics, so the acceptable bands are mlake's stated defaults: the
four-fifths rule (the US EEOC's rule of thumb for adverse impact) for DI, ±``tolerance`` around the ideal
value for the signed differences, and [0, ``tolerance``] for the divergences, which cannot be negative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlake import charts
from mlake.bias.report import BiasReport, MetricResult

FOUR_FIFTHS = 0.8
DEFAULT_TOLERANCE = 0.1
NON_NEGATIVE = frozenset({"KL", "JS", "LP", "TVD", "KS", "GE"})
Z95 = 1.959963984540054


def acceptable_band(code: str, ideal: float, tolerance: float = DEFAULT_TOLERANCE) -> tuple[float, float]:
    """The range of values of metric ``code`` read as "no material bias" (see the module docstring)."""
    if code == "DI":
        return (FOUR_FIFTHS, 1 / FOUR_FIFTHS)
    if code in NON_NEGATIVE:
        return (ideal, ideal + tolerance)
    return (ideal - tolerance, ideal + tolerance)


def metric_intervals(report: BiasReport, tolerance: float = DEFAULT_TOLERANCE) -> list[charts.Interval]:
    """One chart row per metric of ``report``: value, interval, ideal and acceptable band."""
    return [_metric_row(m, tolerance) for m in report.metrics]


def _metric_row(m: MetricResult, tolerance: float) -> charts.Interval:
    band = acceptable_band(m.code, m.ideal, tolerance)
    low = m.ci.low if m.ci is not None else None
    high = m.ci.high if m.ci is not None else None
    ci = "" if low is None or high is None else f", 95% interval [{low:.4g}, {high:.4g}]"
    value = m.value if math.isfinite(m.value) else None
    return charts.Interval(
        label=m.code,
        value=value,
        low=low,
        high=high,
        reference=m.ideal,
        band=band,
        title=f"{m.code} ({m.name}): {'undefined' if value is None else f'{value:.4g}'}{ci}; ideal {m.ideal:g}, "
        f"acceptable [{band[0]:.4g}, {band[1]:.4g}]",
    )


def metric_chart(report: BiasReport, tolerance: float = DEFAULT_TOLERANCE) -> str:
    return charts.interval_rows(
        metric_intervals(report, tolerance), width=640, cls="chart b-metric-chart", label="bias metrics with intervals"
    )


@dataclass(frozen=True)
class OutcomeRate:
    """The share of positive outcomes of one facet, with its Wilson score interval."""

    facet: str  # "a" or "d"
    outcome: str  # "label" or "predicted"
    positives: int
    rows: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(positives: int, rows: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (good for small groups and rates near 0 or 1)."""
    if rows <= 0:
        return None
    p = positives / rows
    denom = 1 + z * z / rows
    centre = (p + z * z / (2 * rows)) / denom
    half = z * math.sqrt(p * (1 - p) / rows + z * z / (4 * rows * rows)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def outcome_rates(report: BiasReport) -> list[OutcomeRate]:
    """Per facet (a, then d), the positive-label rate and, with a predicted label, the positive-prediction
    rate, each with its 95% Wilson interval."""
    out: list[OutcomeRate] = []
    outcomes = ["label"] + (["predicted"] if report.predicted_label else [])
    for outcome in outcomes:
        for g in sorted(report.groups, key=lambda g: g.facet):
            positives = g.label_positive if outcome == "label" else g.predicted_positive
            if positives is None:
                continue
            ci = wilson(positives, g.rows)
            rate = positives / g.rows if g.rows else None
            out.append(
                OutcomeRate(g.facet, outcome, positives, g.rows, rate, ci[0] if ci else None, ci[1] if ci else None)
            )
    return out


def facet_intervals(report: BiasReport) -> list[charts.Interval]:
    """Chart rows of :func:`outcome_rates`. Facet d's row is shaded with the four-fifths band around facet
    a's rate (its rate over a's is DI for predictions) and has a's rate as its reference."""
    rates = outcome_rates(report)
    favoured = {r.outcome: r.rate for r in rates if r.facet == "a"}
    rows = []
    for r in rates:
        ref = favoured.get(r.outcome) if r.facet == "d" else None
        band = (ref * FOUR_FIFTHS, min(ref / FOUR_FIFTHS, 1.0)) if ref is not None else None
        who = "facet d (" + report.facet + ")" if r.facet == "d" else "facet a (the rest)"
        what = "positive labels" if r.outcome == "label" else "positive predictions"
        ci = "" if r.low is None or r.high is None else f", 95% interval [{r.low:.3f}, {r.high:.3f}]"
        rows.append(
            charts.Interval(
                label=f"{r.facet} · {'label' if r.outcome == 'label' else 'predicted'}",
                value=r.rate,
                low=r.low,
                high=r.high,
                reference=ref,
                band=band,
                title=f"{who}: {what} {r.positives:,} of {r.rows:,}"
                + ("" if r.rate is None else f" = {r.rate:.3f}")
                + ci,
            )
        )
    return rows


def facet_chart(report: BiasReport) -> str:
    return charts.interval_rows(
        facet_intervals(report),
        domain=(0.0, 1.0),
        width=640,
        value_text=lambda v: f"{v:.1%}",
        cls="chart b-facet-chart",
        label="positive rates per facet",
    )


def attribution_chart(
    importance: Mapping[str, float], *, baseline: Mapping[str, float] | None = None, top: int = 30
) -> str:
    """Mean |SHAP| per feature as horizontal bars, most important first (at most ``top``); with
    ``baseline``, each title also gives the baseline's value and rank."""
    items = sorted(((f, float(v)) for f, v in importance.items() if math.isfinite(float(v))), key=lambda t: -t[1])
    items = items[:top]
    ranks = {f: i + 1 for i, (f, _) in enumerate(sorted(baseline.items(), key=lambda t: -t[1]))} if baseline else {}
    titles: Sequence[str] = [
        f"{f}: mean |SHAP| {v:.4g}, rank {i + 1}"
        + (f"; baseline {baseline[f]:.4g}, rank {ranks[f]}" if baseline and f in baseline else "")
        for i, (f, v) in enumerate(items)
    ]
    return charts.hbars(items, titles=titles, width=420, cls="chart b-attributions", label="mean |SHAP| per feature")
