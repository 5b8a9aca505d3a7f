"""Area "streams": streams, the producer endpoint, reads and status (REST), and a page per stream (Studio)."""

from __future__ import annotations

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, register_area


def _api() -> APIRouter:
    from mlake.server.api import streams

    return streams.router


def _pages() -> APIRouter:
    from mlake.server.studio import streams

    return streams.router


register_area(
    Area(
        name="streams",
        api=_api,
        pages=_pages,
        nav=(NavItem("Streams", "/streams", "play", 45),),
        tags=(
            {
                "name": "streams",
                "description": "Durable partitioned streams: batch put (per-record results), reads, status. "
                "Needs grants on stream:NAME.",
            },
        ),
    )
)
