"""Studio: the Monitoring page (the monitors the viewer may see, with their last run and a chart of their
recent runs) and a monitor's page (drift per feature of the newest run against its thresholds, every
series over the recent runs with its threshold and violations marked, attributions, the violations list),
and the monitor's self-contained HTML report as a download.

Server-rendered from ``lake.monitoring`` of the viewer's governed lake — a monitor whose target the viewer
cannot read in full is "not found" here as in the API. Nothing is computed on the page: the figures are
the run records' summaries, so opening it reads no lake data but the violations table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from mlake.bias.charts import attribution_chart
from mlake.lake import Lake
from mlake.monitor import charts as mcharts
from mlake.monitor.html import monitor_report_html
from mlake.monitor.monitors import Monitor, MonitorRun
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

router = APIRouter(include_in_schema=False)
Lk = Annotated[Lake, Depends(principal_lake)]
RUNS_SHOWN = 20
VIOLATIONS_SHOWN = 200


@dataclass(frozen=True)
class MonitorRow:
    monitor: Monitor
    last: MonitorRun | None
    chart: Markup | None = None


def _row(monitor: Monitor, runs: list[MonitorRun]) -> MonitorRow:
    """A monitor with its newest run and the chart of its headline series (``runs`` newest first)."""
    oldest_first = list(reversed(runs))
    series = mcharts.headline(monitor, oldest_first)
    chart = None
    if series is not None:
        shown = oldest_first if series.check == "dataset_drift" else [r for r in oldest_first if r.status != "no_data"]
        chart = Markup(mcharts.series_svg(series, shown, width=180, height=34))  # the chart kit escapes its text
    return MonitorRow(monitor, runs[0] if runs else None, chart)


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, lake: Lk) -> HTMLResponse:
    rows = [_row(m, lake.monitoring.runs(m.name, limit=RUNS_SHOWN)) for m in lake.monitoring.list()]
    order = {"violations": 0, "no_data": 1, "ok": 2, None: 3}
    rows.sort(key=lambda r: (order[r.last.status if r.last else None], r.monitor.name))
    counts = {
        "monitors": len(rows),
        "failing": sum(1 for r in rows if r.last is not None and r.last.status == "violations"),
        "never": sum(1 for r in rows if r.last is None),
    }
    return render(request, "monitoring/page.html", title="Monitoring", rows=rows, counts=counts)


def drift_matrix(runs: list[MonitorRun]) -> tuple[list[str], list[list[dict[str, Any] | None]]]:
    """Features (rows) × runs (columns, oldest first) of drift scores from the run summaries."""
    features: list[str] = []
    for r in runs:
        for f in r.summary.get("drift") or {}:
            if f not in features:
                features.append(f)
    cells = [[(r.summary.get("drift") or {}).get(f) for r in runs] for f in features]
    return features, cells


@router.get("/monitoring/{name}", response_class=HTMLResponse)
def monitor_page(request: Request, lake: Lk, name: Annotated[str, PathParam(max_length=200)]) -> HTMLResponse:
    monitor = lake.monitoring.get(name)
    runs = list(reversed(lake.monitoring.runs(name, limit=RUNS_SHOWN)))  # oldest first, as a time axis
    features, cells = drift_matrix(runs)
    quality_metrics = sorted({k for r in runs for k in (r.summary.get("quality") or {})})
    bias_metrics = sorted({k for r in runs for k in (r.summary.get("bias") or {})})
    every = lake.monitoring.violations(name).to_pylist()
    violations = every[-VIOLATIONS_SHOWN:][::-1]  # newest first
    run_ids = {r.run_id for r in runs}
    series = mcharts.run_series(monitor, runs, [v for v in every if v["run_id"] in run_ids])
    charts = [(s, Markup(mcharts.series_svg(s, runs))) for s in series]  # the chart kit escapes its text
    latest = mcharts.latest_with_drift(runs)
    gauges = Markup(mcharts.gauges_svg(mcharts.drift_gauges(monitor, latest))) if latest else None
    pair = mcharts.attribution_pair(monitor, runs)
    attributions = (
        (Markup(attribution_chart(pair[0])), Markup(attribution_chart(pair[1], baseline=pair[0]))) if pair else None
    )
    return render(
        request,
        "monitoring/monitor.html",
        title=f"Monitor {monitor.name}",
        monitor=monitor,
        runs=runs,
        features=features,
        cells=cells,
        quality_metrics=quality_metrics,
        bias_metrics=bias_metrics,
        violations=violations,
        charts=charts,
        gauges=gauges,
        latest=latest,
        attributions=attributions,
    )


@router.get("/monitoring/{name}/report.html", response_class=HTMLResponse)
def monitor_report(lake: Lk, name: Annotated[str, PathParam(max_length=200)]) -> HTMLResponse:
    """The monitor's self-contained report, as a file to save (the same page as ``mlake monitor report``)."""
    page = monitor_report_html(lake.monitoring, name, runs=RUNS_SHOWN * 5)
    disposition = f'attachment; filename="monitor-{lake.monitoring.get(name).name}.html"'
    return HTMLResponse(page, headers={"Content-Disposition": disposition})
