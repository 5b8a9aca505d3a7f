"""Area "monitoring": data capture, bias reports and monitors (REST); the Monitoring and Bias pages (Studio)."""

from __future__ import annotations

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, register_area


def _api() -> APIRouter:
    from mlake.server.api import bias, capture, monitoring

    router = APIRouter()
    for module in (capture, bias, monitoring):
        router.include_router(module.router)
    return router


def _pages() -> APIRouter:
    from mlake.server.studio import bias, monitoring

    router = APIRouter()
    router.include_router(monitoring.router)
    router.include_router(bias.router)
    return router


register_area(
    Area(
        name="monitoring",
        api=_api,
        pages=_pages,
        nav=(NavItem("Monitoring", "/monitoring", "alert", 38), NavItem("Bias", "/bias", "shield", 39)),
        tags=(
            {
                "name": "monitoring",
                "description": "Data capture of model requests, bias reports with confidence intervals, and "
                "monitors (drift, data quality, model quality, bias drift) with their violations.",
            },
        ),
    )
)
