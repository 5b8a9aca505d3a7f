"""Studio: the Gallery tab of an object table — thumbnails of images, the start of texts, a player for
audio. Every byte shown comes from ``lake.objects`` of the viewer's lake (select on the table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlake.objects.metadata import is_text
from mlake.objects.service import OBJECT_COLUMNS

if TYPE_CHECKING:
    from mlake.lake import Lake

PAGE = 48
PREVIEW_CHARS = 400


def gallery_context(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The objects of one page of the gallery, each with how to show it (image, text, audio, file)."""
    if not set(OBJECT_COLUMNS) <= set(lake.table(table).columns):
        return {"object_table": False}
    offset = max(0, int(params.get("offset", "0") or 0))
    rows = lake.objects.list(table, limit=offset + PAGE + 1).to_pylist()[offset:]
    items = []
    for row in rows[:PAGE]:
        media = str(row["media_type"] or "")
        kind = "file"
        preview = None
        if row["error"] or not row["uri"]:
            kind = "error"
        elif media.startswith("image/"):
            kind = "image"
        elif media.startswith("audio/"):
            kind = "audio"
        elif is_text(media):
            kind = "text"
            _, chunks = lake.objects.stream(table, row["id"], chunk_size=PREVIEW_CHARS * 4)
            head = next(chunks, b"")  # only the start of the text is read, however long it is
            preview = head.decode("utf-8", errors="replace")[:PREVIEW_CHARS]
        items.append({**row, "kind": kind, "preview": preview, "name": str(row["path"]).rsplit("/", 1)[-1]})
    return {
        "object_table": True,
        "items": items,
        "offset": offset,
        "next_offset": offset + PAGE if len(rows) > PAGE else None,
        "prev_offset": max(0, offset - PAGE) if offset else None,
    }
