"""Area "dashboards": saved queries with charts, pinned to dashboards that refresh."""

from __future__ import annotations

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, register_area


def _api() -> APIRouter:
    from mlake.server.api import dashboards

    return dashboards.router


def _pages() -> APIRouter:
    from mlake.server.studio import dashboards

    return dashboards.router


register_area(
    Area(
        name="dashboards",
        api=_api,
        pages=_pages,
        nav=(NavItem("Dashboards", "/dashboards", "dashboard", 30),),
        tags=({"name": "dashboards", "description": "Saved queries and dashboards; queries run as the viewer."},),
    )
)
