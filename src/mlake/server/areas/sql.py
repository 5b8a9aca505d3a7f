"""Area "sql": run SQL (REST) and the SQL editor (Studio)."""

from __future__ import annotations

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, register_area


def _api() -> APIRouter:
    from mlake.server.api import sql

    return sql.router


def _pages() -> APIRouter:
    from mlake.server.studio import sql

    return sql.router


register_area(
    Area(
        name="sql",
        api=_api,
        pages=_pages,
        nav=(NavItem("SQL", "/sql", "sql", 20),),
        tags=({"name": "sql", "description": "Sandboxed SQL over the tables the caller may read."},),
    )
)
