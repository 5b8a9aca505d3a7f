"""Area "labeling": labeling projects and human review loops (REST; the Studio pages are not built yet)."""

from __future__ import annotations

from fastapi import APIRouter

from mlake.server.extensions import Area, register_area


def _api() -> APIRouter:
    from mlake.server.api import labeling

    return labeling.router


register_area(
    Area(
        name="labeling",
        api=_api,
        tags=(
            {
                "name": "labeling",
                "description": "Labeling projects (queue, answers, consolidation, auto-labeling, Label Studio/COCO) "
                "and human review loops. Annotators are principals: select on the source, insert on the answers.",
            },
        ),
    )
)
