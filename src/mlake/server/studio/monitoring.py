"""Studio: the Monitoring page (the monitors the viewer may see, with their last run) and a monitor's page
(per-feature drift over its recent runs, model quality and bias over time, the violations list).

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

from mlake.lake import Lake
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


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, lake: Lk) -> HTMLResponse:
    rows = [MonitorRow(m, next(iter(lake.monitoring.runs(m.name, limit=1)), None)) for m in lake.monitoring.list()]
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
    violations = lake.monitoring.violations(name).to_pylist()[-VIOLATIONS_SHOWN:][::-1]  # newest first
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
    )
