"""REST: monitors — list, read, run, runs and violations (``lake.monitoring`` of the caller's lake).

A caller sees and runs the monitors whose target it may read in full, as in :mod:`mlake.monitor.monitors`;
``POST /monitors`` takes the configuration as ``MonitorConfig``'s fields in JSON (attribution drift, which
needs the model object, is Python only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.monitor.checks import MonitorConfig
from mlake.server.downloads import arrow_response
from mlake.server.rows import json_value
from mlake.server.state import principal_lake

router = APIRouter(tags=["monitoring"])
Lk = Annotated[Lake, Depends(principal_lake)]
Name = Annotated[str, PathParam(min_length=1, max_length=200)]


@router.get("/monitors", summary="The monitors whose target you may read")
def list_monitors(lake: Lk) -> list[dict[str, Any]]:
    return [m.to_dict() for m in lake.monitoring.list()]


@router.get("/monitoring/due", summary="Monitors whose target has a snapshot their last run did not see")
def due_monitors(lake: Lk) -> list[dict[str, Any]]:
    return [json_value(m.to_wire()) for m in lake.monitoring.due()]


@router.post("/monitoring/run-due", summary="Run every due monitor")
def run_due(lake: Lk, now: datetime | None = None) -> list[dict[str, Any]]:
    return [json_value(r.to_dict()) for r in lake.monitoring.run_due(now=now)]


@router.get("/monitors/{name}", summary="A monitor and its recent runs")
def get_monitor(name: Name, lake: Lk) -> dict[str, Any]:
    monitor = lake.monitoring.get(name)
    return {"monitor": monitor.to_dict(), "runs": [r.to_dict() for r in lake.monitoring.runs(name, limit=20)]}


@router.get("/monitors/{name}/definition", summary="A monitor with its baseline (what a client rebuilds)")
def monitor_definition(name: Name, lake: Lk) -> dict[str, Any]:
    found: dict[str, Any] = json_value(lake.monitoring.get(name).to_wire())
    return found


@router.get("/monitors/{name}/runs", summary="A monitor's runs, newest first")
def monitor_runs(name: Name, lake: Lk, limit: Annotated[int, Query(ge=1, le=10_000)] = 50) -> list[dict[str, Any]]:
    return [json_value(r.to_dict()) for r in lake.monitoring.runs(name, limit)]


@router.post("/monitors/{name}/run", summary="Run a monitor once")
def run_monitor(name: Name, lake: Lk, now: datetime | None = None) -> dict[str, Any]:
    result: dict[str, Any] = json_value(lake.monitoring.run(name, now=now).to_dict())
    return result


@router.get("/monitors/{name}/violations", summary="A monitor's violations, oldest first", response_model=None)
def violations(
    name: Name, lake: Lk, run_id: str | None = None, format: Literal["json", "arrow"] = "json"
) -> list[dict[str, Any]] | Response:
    """As JSON rows, or (``format=arrow``) as the Arrow IPC stream of the table, types kept."""
    if format == "arrow":
        return arrow_response(lake.monitoring.violations(name, run_id))
    return [{k: json_value(v) for k, v in row.items()} for row in lake.monitoring.violations(name, run_id).to_pylist()]


class MonitorIn(BaseModel):
    """A monitor to create: the target, the baseline, and a ``MonitorConfig`` as JSON (its field names)."""

    name: str = Field(min_length=1, max_length=200)
    target: str = Field(min_length=3, max_length=400)
    baseline: str | None = Field(default=None, max_length=400, description="The baseline table (default: target).")
    baseline_snapshot_id: int | None = None
    columns: list[str] | None = Field(default=None, max_length=2000, description="Features to watch.")
    categorical: list[str] | None = Field(default=None, max_length=2000)
    config: dict[str, Any] = Field(default_factory=dict, description="MonitorConfig fields (rows, labels, bias, ...).")
    replace: bool = False


@router.get(
    "/monitors/{name}/report",
    summary="The monitor's self-contained HTML report (charts, violations, runs)",
    response_class=HTMLResponse,
)
def monitor_report(name: Name, lake: Lk, runs: Annotated[int, Query(ge=1, le=1000)] = 50) -> HTMLResponse:
    from mlake.monitor.html import monitor_report_html

    return HTMLResponse(monitor_report_html(lake.monitoring, name, runs=runs))


@router.post("/monitors", status_code=201, summary="Create a monitor (computes its baseline)")
def create_monitor(body: MonitorIn, lake: Lk) -> dict[str, Any]:
    if body.config.get("attribution") is not None:
        raise ValidationError("attribution drift needs the model object", hint="create it with lake.monitoring.create")
    monitor = lake.monitoring.create(
        body.name,
        target=body.target,
        baseline=body.baseline,
        baseline_snapshot_id=body.baseline_snapshot_id,
        config=MonitorConfig.from_dict(body.config),
        columns=body.columns,
        categorical=body.categorical,
        replace=body.replace,
    )
    result: dict[str, Any] = json_value(monitor.to_dict())
    return result


@router.delete("/monitors/{name}", status_code=204, summary="Delete a monitor (its owner or a superuser)")
def delete_monitor(name: Name, lake: Lk) -> None:
    lake.monitoring.delete(name)
