"""Area "catalog": namespaces and tables (REST), home, catalog browser and table page (Studio), uploads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from mlake.server.extensions import Area, HomePanel, NavItem, TableTab, register_area

if TYPE_CHECKING:
    from mlake.lake import Lake


def _api() -> APIRouter:
    from mlake.server.api import catalog, ingest, pipelines, recipes, sources, storage, tables

    r = APIRouter()
    r.include_router(catalog.router)
    r.include_router(tables.router)
    r.include_router(ingest.router())
    r.include_router(sources.router)
    r.include_router(storage.router)
    r.include_router(recipes.router)
    r.include_router(pipelines.router)
    return r


def _pages() -> APIRouter:
    from mlake.server.studio import catalog

    return catalog.router


def _overview(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    return {}


def _data(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    snapshot = params.get("snapshot")
    chosen = None
    if snapshot and snapshot.isdigit():
        history = lake.table(table).history()
        chosen = next((s for s in history if s.snapshot_id == int(snapshot)), None)
    return {"snapshot": chosen}


def _history(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    return {"history": list(reversed(lake.table(table).history()))}


def _lineage(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    from mlake.server.studio.lineage_svg import lineage_svg

    graph = lake.lineage(table, max_depth=4)
    return {"graph": graph, "svg": lineage_svg(graph)}


def _activity(lake: Lake) -> dict[str, Any] | None:
    return {"writes": lake.recent_writes(limit=12)}


register_area(
    Area(
        name="catalog",
        api=_api,
        pages=_pages,
        nav=(NavItem("Home", "/", "home", 0), NavItem("Catalog", "/catalog", "catalog", 10)),
        table_tabs=(
            TableTab("overview", "Overview", "tabs/overview.html", _overview, 10),
            TableTab("data", "Data", "tabs/data.html", _data, 20),
            TableTab("history", "History", "tabs/history.html", _history, 30),
            TableTab("lineage", "Lineage", "tabs/lineage.html", _lineage, 40),
        ),
        home_panels=(HomePanel("activity", "Recent activity", "panels/activity.html", _activity, 50),),
        tags=(
            {"name": "catalog", "description": "Namespaces, tables, schema, history, lineage, rows and exports."},
            {"name": "ingest", "description": "Upload files into tables; bad rows are quarantined."},
            {"name": "sources", "description": "Where data came from, under which license; provenance and uses."},
            {"name": "storage", "description": "Storage usage and growth, lifecycle policies, snapshot pins, runs."},
            {"name": "recipes", "description": "Saved, versioned recipes of transforms: preview, run, export."},
            {"name": "pipelines", "description": "DAGs of steps with recorded runs (superusers only)."},
            {"name": "server", "description": "Health, the caller, the areas of this server."},
        ),
    )
)
