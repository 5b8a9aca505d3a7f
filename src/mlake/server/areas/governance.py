"""Area "governance": principals, roles, tokens, grants, filters, masks and the audit log."""

from __future__ import annotations

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, register_area


def _api() -> APIRouter:
    from mlake.server.api import governance

    return governance.router


def _pages() -> APIRouter:
    from mlake.server.studio import governance

    return governance.router


register_area(
    Area(
        name="governance",
        api=_api,
        pages=_pages,
        nav=(NavItem("Access", "/access", "shield", 80), NavItem("Audit log", "/audit", "audit", 90)),
        tags=({"name": "governance", "description": "Principals, tokens, grants, row filters, column masks, audit."},),
    )
)
