"""Area "storage": Studio pages for storage usage and lifecycle policies, the source registry, and the
table page's Storage and Provenance tabs (the REST routes are the catalog area's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, TableTab, register_area

if TYPE_CHECKING:
    from mlake.lake import Lake


def _pages() -> APIRouter:
    from mlake.server.studio import storage

    return storage.router


def _storage_tab(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    from mlake.server.studio.storage import storage_tab

    return storage_tab(lake, table, params)


def _provenance_tab(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    from mlake.server.studio.storage import provenance_tab

    return provenance_tab(lake, table, params)


register_area(
    Area(
        name="storage",
        pages=_pages,
        nav=(NavItem("Storage", "/storage", "catalog", 85), NavItem("Sources", "/sources", "pin", 86)),
        table_tabs=(
            TableTab("provenance", "Provenance", "tabs/provenance.html", _provenance_tab, 45),
            TableTab("storage", "Storage", "tabs/storage.html", _storage_tab, 50),
        ),
    )
)
