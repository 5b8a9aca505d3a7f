"""Area "quality": profiles, checks, suggestions, reports, metric history and stored suites (REST); the
Quality tab of the table page, the Quality page and the home page's failing checks (Studio)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from mlake.server.extensions import Area, HomePanel, NavItem, TableTab, register_area

if TYPE_CHECKING:
    from mlake.lake import Lake


def _api() -> APIRouter:
    from mlake.server.api import quality

    return quality.router


def _pages() -> APIRouter:
    from mlake.server.studio import quality

    return quality.router


def _tab(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    from mlake.server.studio.quality import tab_context

    return tab_context(lake, table, params)


def _failing(lake: Lake) -> dict[str, Any] | None:
    from mlake.server.studio.quality import failing_panel

    return failing_panel(lake)


register_area(
    Area(
        name="quality",
        api=_api,
        pages=_pages,
        nav=(NavItem("Quality", "/quality", "quality", 35),),
        table_tabs=(TableTab("quality", "Quality", "quality/tab.html", _tab, 25),),
        home_panels=(HomePanel("failing-checks", "Failing checks", "quality/panel.html", _failing, 10),),
        tags=(
            {
                "name": "quality",
                "description": "Profiles, check runs, suggested suites, reports, metric history, anomalies and "
                "stored suites — as the caller may see the data.",
            },
        ),
    )
)
