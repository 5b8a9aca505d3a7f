"""Area "labeling": labeling projects and human review loops — REST routes and Studio pages (project list,
project page, keyboard-driven annotation per task type, review loop page)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from mlake.server.extensions import Area, NavItem, register_area


def _api() -> APIRouter:
    from mlake.server.api import labeling

    return labeling.router


def _pages() -> APIRouter:
    from mlake.server.studio import labeling

    return labeling.router


register_area(
    Area(
        name="labeling",
        api=_api,
        pages=_pages,
        nav=(NavItem("Labeling", "/labeling", "tag", 42),),
        static=Path(__file__).resolve().parents[1] / "static" / "areas" / "labeling",
        tags=(
            {
                "name": "labeling",
                "description": "Labeling projects (queue, answers, consolidation, auto-labeling, Label Studio/COCO) "
                "and human review loops. Annotators are principals: select on the source, insert on the answers.",
            },
        ),
    )
)
