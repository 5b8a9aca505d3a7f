"""Area "processing": Studio's recipe editor and pipeline pages (the REST routes live with the catalog)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, register_area


def _pages() -> APIRouter:
    from mlake.server.studio import pipelines, recipes

    r = APIRouter(include_in_schema=False)
    r.include_router(recipes.router)
    r.include_router(pipelines.router)
    return r


register_area(
    Area(
        name="processing",
        pages=_pages,
        nav=(
            NavItem("Recipes", "/recipes", "recipe", 35),
            NavItem("Pipelines", "/pipelines", "pipeline", 36, superuser_only=True),
        ),
        static=Path(__file__).resolve().parents[1] / "static" / "areas" / "processing",
    )
)
