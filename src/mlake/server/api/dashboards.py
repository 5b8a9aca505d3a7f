"""REST: saved queries (SQL + chart) and dashboards of them. Queries run as the viewer."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mlake.dashboards import DashboardStore
from mlake.lake import Lake
from mlake.server.api.params import IdField, RecordId
from mlake.server.rows import table_json
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]


class Chart(BaseModel):
    type: Literal["table", "bar", "line", "area", "scatter"] = "table"
    x: str | None = Field(default=None, max_length=200)
    y: list[str] = Field(default_factory=list, max_length=20)


class QueryIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    sql: str = Field(min_length=1, max_length=100_000)
    chart: Chart = Field(default_factory=Chart)


class QueryPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    sql: str | None = Field(default=None, min_length=1, max_length=100_000)
    chart: Chart | None = None


class DashboardIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    refresh_seconds: int = Field(default=60, ge=0, le=86_400, description="0: never refresh.")


class DashboardPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    refresh_seconds: int | None = Field(default=None, ge=0, le=86_400)


class TileIn(BaseModel):
    query_id: IdField
    width: int = Field(default=1, ge=1, le=3)


def store(lake: Lake) -> DashboardStore:
    return lake.dashboards


def run_saved(lake: Lake, sql: str, limit: int = 5000) -> dict[str, Any]:
    started = time.perf_counter()
    result = lake.sql(sql)
    head = result.preview(limit + 1)
    out = table_json(head.slice(0, limit))
    out.update(truncated=head.num_rows > limit, elapsed_ms=round((time.perf_counter() - started) * 1000, 2))
    return out


router = APIRouter(tags=["dashboards"])


@router.get("/queries", summary="Saved queries")
def queries(lake: Lk) -> list[dict[str, Any]]:
    return [q.to_dict() for q in store(lake).queries()]


@router.post("/queries", status_code=201, summary="Save a query with its chart")
def save_query(body: QueryIn, lake: Lk) -> dict[str, Any]:
    return store(lake).save_query(body.name, body.sql, body.chart.model_dump()).to_dict()


@router.get("/queries/{query_id}", summary="A saved query")
def get_query(query_id: RecordId, lake: Lk) -> dict[str, Any]:
    return store(lake).query(query_id).to_dict()


@router.patch("/queries/{query_id}", summary="Change a saved query (its owner)")
def update_query(query_id: RecordId, body: QueryPatch, lake: Lk) -> dict[str, Any]:
    chart = body.chart.model_dump() if body.chart else None
    q = store(lake).update_query(query_id, name=body.name, sql=body.sql, chart=chart)
    return q.to_dict()


@router.delete("/queries/{query_id}", status_code=204, summary="Delete a saved query (and its tiles)")
def delete_query(query_id: RecordId, lake: Lk) -> Response:
    store(lake).delete_query(query_id)
    return Response(status_code=204)


@router.post("/queries/{query_id}/run", summary="Run a saved query as the caller")
def run_query(query_id: RecordId, lake: Lk) -> dict[str, Any]:
    q = store(lake).query(query_id)
    return {**run_saved(lake, q.sql), "query": q.to_dict()}


@router.get("/dashboards", summary="Dashboards")
def dashboards(lake: Lk) -> list[dict[str, Any]]:
    return [d.to_dict() for d in store(lake).dashboards()]


@router.post("/dashboards", status_code=201, summary="Create a dashboard")
def create_dashboard(body: DashboardIn, lake: Lk) -> dict[str, Any]:
    d = store(lake).create_dashboard(body.name, body.description, body.refresh_seconds)
    return d.to_dict()


@router.get("/dashboards/{dashboard_id}", summary="A dashboard and its tiles")
def get_dashboard(dashboard_id: RecordId, lake: Lk) -> dict[str, Any]:
    return store(lake).dashboard(dashboard_id).to_dict()


@router.patch("/dashboards/{dashboard_id}", summary="Change a dashboard (its owner)")
def update_dashboard(dashboard_id: RecordId, body: DashboardPatch, lake: Lk) -> dict[str, Any]:
    d = store(lake).update_dashboard(
        dashboard_id, name=body.name, description=body.description, refresh_seconds=body.refresh_seconds
    )
    return d.to_dict()


@router.delete("/dashboards/{dashboard_id}", status_code=204, summary="Delete a dashboard")
def delete_dashboard(dashboard_id: RecordId, lake: Lk) -> Response:
    store(lake).delete_dashboard(dashboard_id)
    return Response(status_code=204)


@router.post("/dashboards/{dashboard_id}/tiles", status_code=201, summary="Pin a saved query to a dashboard")
def pin(dashboard_id: RecordId, body: TileIn, lake: Lk) -> dict[str, Any]:
    return store(lake).pin(dashboard_id, body.query_id, width=body.width).to_dict()


@router.delete("/dashboards/{dashboard_id}/tiles/{tile_id}", summary="Unpin a tile")
def unpin(dashboard_id: RecordId, tile_id: RecordId, lake: Lk) -> dict[str, Any]:
    return store(lake).unpin(dashboard_id, tile_id).to_dict()
