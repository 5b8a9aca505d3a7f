"""REST: monitors — list, read, run, runs and violations (``lake.monitoring`` of the caller's lake).

Creating monitors stays in Python and the CLI for now (its configuration is a nested object); a caller
sees and runs the monitors whose target it may read in full, as in :mod:`mlake.monitor.monitors`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam

from mlake.lake import Lake
from mlake.server.rows import json_value
from mlake.server.state import principal_lake

router = APIRouter(tags=["monitoring"])
Lk = Annotated[Lake, Depends(principal_lake)]
Name = Annotated[str, PathParam(min_length=1, max_length=200)]


@router.get("/monitors", summary="The monitors whose target you may read")
def list_monitors(lake: Lk) -> list[dict[str, Any]]:
    return [m.to_dict() for m in lake.monitoring.list()]


@router.get("/monitors/{name}", summary="A monitor and its recent runs")
def get_monitor(name: Name, lake: Lk) -> dict[str, Any]:
    monitor = lake.monitoring.get(name)
    return {"monitor": monitor.to_dict(), "runs": [r.to_dict() for r in lake.monitoring.runs(name, limit=20)]}


@router.post("/monitors/{name}/run", summary="Run a monitor once")
def run_monitor(name: Name, lake: Lk) -> dict[str, Any]:
    result: dict[str, Any] = json_value(lake.monitoring.run(name).to_dict())
    return result


@router.get("/monitors/{name}/violations", summary="A monitor's violations, oldest first")
def violations(name: Name, lake: Lk, run_id: str | None = None) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in row.items()} for row in lake.monitoring.violations(name, run_id).to_pylist()]
