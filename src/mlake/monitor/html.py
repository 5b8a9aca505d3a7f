"""A monitor's report as one self-contained HTML page: every series over its runs with its limit and
violations, the drift of the newest run per feature, attributions, the violations list and the runs.

Inline SVG and an inline stylesheet, no script, no external file: the page opens anywhere, offline, and
can be mailed. Built from the public monitoring API only (``get``, ``runs``, ``violations``), so
``mlake monitor report`` writes the same page for a local lake and a remote one, and the server serves
it as the caller (``GET /api/v1/monitors/{name}/report``, Studio's download link).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from mlake.bias.charts import attribution_chart
from mlake.monitor.charts import (
    attribution_pair,
    drift_gauges,
    gauges_svg,
    latest_with_drift,
    run_series,
    series_svg,
)
from mlake.monitor.monitors import Monitor, MonitorRun

if TYPE_CHECKING:
    from mlake.api import MonitoringAPI

REPORT_RUNS = 50
REPORT_VIOLATIONS = 1000

STYLE = """body{font:14px system-ui,sans-serif;color:#1b1f29;margin:24px;max-width:1200px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px} h3{font-size:13px;margin:0 0 2px}
table{border-collapse:collapse;margin:8px 0} td,th{padding:4px 10px;border-bottom:1px solid #e4e7ec;text-align:left}
.num{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#667085} .bad{color:#d64545;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px 20px}
svg text{fill:#667085;font-family:system-ui,sans-serif}"""


def monitor_report_html(monitoring: MonitoringAPI, name: str, *, runs: int = REPORT_RUNS) -> str:
    """The report of monitor ``name`` over its last ``runs`` runs, read through ``monitoring`` (as its
    caller: a monitor the caller may not see is "not found" here as everywhere)."""
    monitor = monitoring.get(name)
    shown = list(reversed(monitoring.runs(name, limit=runs)))  # oldest first
    violations = monitoring.violations(name).to_pylist()
    return render_report(monitor, shown, violations)


def render_report(monitor: Monitor, runs: list[MonitorRun], violations: list[dict[str, Any]]) -> str:
    """The page from what :func:`monitor_report_html` read (runs oldest first, violations oldest first)."""
    run_ids = {r.run_id for r in runs}
    in_range = [v for v in violations if v["run_id"] in run_ids]
    series = run_series(monitor, runs, in_range)
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Monitor {escape(monitor.name)}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Monitor {escape(monitor.name)}</h1>",
        f"<p class='muted'>Target {escape(monitor.target)} · baseline {escape(monitor.baseline_source)} "
        f"({monitor.baseline.rows:,} rows, {len(monitor.baseline.columns)} features) · owner {escape(monitor.owner)} · "
        f"{len(runs)} run(s) shown, {len(in_range)} violation(s) · written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>",
    ]
    latest = latest_with_drift(runs)
    if latest is not None:
        parts.append(
            f"<h2>Drift per feature, newest run ({latest.run_at:%Y-%m-%d %H:%M} UTC)</h2>"
            "<p class='muted'>Bar: the test's score; dashed tick: its threshold; red: drifted. A p-value drifts "
            "below its threshold, a distance at or above it.</p>" + gauges_svg(drift_gauges(monitor, latest))
        )
    if series:
        parts.append(
            "<h2>Over time</h2><p class='muted'>Oldest run left. Dashed red: the threshold; green: the "
            "acceptable band; red dots: runs with a violation.</p><div class='grid'>"
        )
        for s in series:
            parts.append(
                f"<div><h3>{escape(s.check)} · {escape(s.label)} <span class='muted'>{escape(s.note)}</span></h3>"
                f"{series_svg(s, runs)}</div>"
            )
        parts.append("</div>")
    pair = attribution_pair(monitor, runs)
    if pair is not None:
        baseline, current = pair
        parts.append(
            "<h2>Feature attributions</h2><div class='grid'><div><h3>Baseline (mean |SHAP|)</h3>"
            f"{attribution_chart(baseline)}</div><div><h3>Newest run</h3>"
            f"{attribution_chart(current, baseline=baseline)}</div></div>"
        )
    parts.append(f"<h2>Violations ({len(in_range)})</h2>")
    if in_range:
        rows = "".join(
            f"<tr><td>{v['run_at']:%Y-%m-%d %H:%M:%S}</td><td class='bad'>{escape(str(v['check_name']))}</td>"
            f"<td>{escape(str(v['feature']))}</td><td class='num'>{_num(v['statistic'])}</td>"
            f"<td class='num'>{_num(v['threshold'])}</td><td>{escape(str(v['detail'] or ''))}</td></tr>"
            for v in reversed(in_range[-REPORT_VIOLATIONS:])
        )
        parts.append(
            "<table><thead><tr><th>When (UTC)</th><th>Check</th><th>Feature</th><th>Statistic</th><th>Threshold</th>"
            f"<th>Detail</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    else:
        parts.append("<p class='muted'>No violations.</p>")
    run_rows = "".join(
        f"<tr><td>{r.run_at:%Y-%m-%d %H:%M:%S}</td><td>{escape(r.actor)}</td><td>{escape(r.status)}</td>"
        f"<td class='num'>{r.rows:,}</td><td class='num'>{int(r.summary.get('violation_count', 0)):,}</td></tr>"
        for r in reversed(runs)
    )
    parts.append(
        "<h2>Runs</h2><table><thead><tr><th>When (UTC)</th><th>By</th><th>Status</th><th>Rows</th>"
        f"<th>Violations</th></tr></thead><tbody>{run_rows}</tbody></table></body></html>"
    )
    return "".join(parts)


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.4g}"
