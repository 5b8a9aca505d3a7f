"""Area "features": the feature store — groups, search, online reads, training sets (REST and Studio)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from mlake.server.extensions import Area, HomePanel, NavItem, register_area

if TYPE_CHECKING:
    from mlake.lake import Lake


def _api() -> APIRouter:
    from mlake.server.api import features

    return features.router


def _pages() -> APIRouter:
    from mlake.server.studio import features

    return features.router


def _panel(lake: Lake) -> dict[str, Any] | None:
    """The groups the viewer may see and the newest training sets; hidden when there are none."""
    groups = lake.features.groups()
    if not groups:
        return None
    return {"groups": groups[:8], "more": max(len(groups) - 8, 0), "training_sets": lake.features.training_sets()[:5]}


register_area(
    Area(
        name="features",
        api=_api,
        pages=_pages,
        nav=(NavItem("Features", "/features", "features", 40),),
        home_panels=(HomePanel("features", "Feature store", "panels/features.html", _panel, 40),),
        static=Path(__file__).resolve().parents[1] / "static" / "areas" / "features",
        tags=(
            {
                "name": "features",
                "description": "Feature groups, search, online reads, writes, materialization and point-in-time "
                "training sets; access follows the grants, masks and row filters on features.<group>.",
            },
        ),
    )
)
