"""Studio pages: the dashboards list and one dashboard (tiles refresh in the browser)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from mlake.lake import Lake
from mlake.server.api.params import RecordId
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

Lk = Annotated[Lake, Depends(principal_lake)]


router = APIRouter(include_in_schema=False)


@router.get("/dashboards", response_class=HTMLResponse)
def dashboards(request: Request, lake: Lk) -> HTMLResponse:
    store = lake.dashboards
    return render(
        request, "dashboards.html", title="Dashboards", dashboards=store.dashboards(), queries=store.queries()
    )


@router.get("/dashboards/{dashboard_id}", response_class=HTMLResponse)
def dashboard(request: Request, dashboard_id: RecordId, lake: Lk) -> HTMLResponse:
    store = lake.dashboards
    board = store.dashboard(dashboard_id)
    return render(request, "dashboard.html", title=board.name, board=board, queries=store.queries())
