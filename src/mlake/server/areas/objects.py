"""Area "objects": object tables over REST (add, list, bytes, thumbnails) and the Gallery tab of an object
table's page (Studio)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from mlake.server.extensions import Area, TableTab, register_area

if TYPE_CHECKING:
    from mlake.lake import Lake


def _api() -> APIRouter:
    from mlake.server.api import objects

    return objects.router


def _gallery(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    from mlake.server.studio.objects import gallery_context

    return gallery_context(lake, table, params)


def _is_object_table(lake: Lake, table: str) -> bool:
    from mlake.objects.service import OBJECT_COLUMNS

    return set(OBJECT_COLUMNS) <= set(lake.table(table).columns)


register_area(
    Area(
        name="objects",
        api=_api,
        table_tabs=(TableTab("gallery", "Gallery", "objects/gallery.html", _gallery, 15, _is_object_table),),
        tags=(
            {
                "name": "objects",
                "description": "Object tables (images, text, audio, any file): add, list, stream bytes, "
                "thumbnails. Reading needs select on the object table.",
            },
        ),
    )
)
