"""Area "streams": streams, the producer endpoint, reads and status (REST)."""

from __future__ import annotations

from fastapi import APIRouter

from mlake.server.extensions import Area, register_area


def _api() -> APIRouter:
    from mlake.server.api import streams

    return streams.router


register_area(
    Area(
        name="streams",
        api=_api,
        tags=(
            {
                "name": "streams",
                "description": "Durable partitioned streams: batch put (per-record results), reads, status. "
                "Needs grants on stream:NAME.",
            },
        ),
    )
)
