"""Studio pages of labeling (Ground Truth's and A2I's worker and manager screens, over ``lake.labeling``).

- ``/labeling``: the projects and review loops the viewer may see, with progress and agreement;
- ``/labeling/{name}``: a project's instructions, label schema, progress, annotators (answers, accuracy on
  gold, speed, reliability from the last consolidation) and consolidated labels;
- ``/labeling/{name}/annotate``: the viewer labels items of its own queue, one task type per widget, with
  the keyboard. The page carries the first items; the script keeps a queue of prefetched items (and
  their images) so a key press shows the next item at once, and posts each answer to the REST route
  ``/api/v1/labeling/projects/{name}/answers`` behind the scenes;
- ``/labeling/{name}/review``: a review loop's items still awaiting reviewers, least confident first,
  with the model's prediction, its confidence and why the item was sent, and the overrule metrics.

Every read goes through the viewer's lake: a principal without grants gets nothing from any of them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse

from mlake.errors import PermissionDeniedError
from mlake.labeling.projects import Project
from mlake.lake import Lake
from mlake.server.state import principal_lake
from mlake.server.studio.render import render
from mlake.tables.names import TableName

Lk = Annotated[Lake, Depends(principal_lake)]
FIRST_ITEMS = 20  # items the annotate page carries; the script fetches more before they run out
SHOWN_LABELS = 100

router = APIRouter(include_in_schema=False)


@router.get("/labeling", response_class=HTMLResponse)
def projects_page(request: Request, lake: Lk) -> HTMLResponse:
    rows = [{"project": p, "progress": _progress(lake, p.name)} for p in lake.labeling.list_projects()]
    return render(request, "labeling/list.html", title="Labeling", rows=rows)


@router.get("/labeling/{name}", response_class=HTMLResponse)
def project_page(request: Request, name: str, lake: Lk) -> HTMLResponse:
    project = lake.labeling.project(name)
    progress = _progress(lake, name)
    reliability = _reliability(lake, project)
    for person in progress["annotators"] if progress else []:
        person["reliability"] = reliability.get(person["annotator"])
    return render(
        request,
        "labeling/project.html",
        title=f"Labeling {name}",
        project=project,
        progress=progress,
        labels=_consolidated(lake, project),
        schema=_schema(project),
    )


@router.post("/labeling/{name}/consolidate")
def consolidate(request: Request, name: str, lake: Lk) -> Any:
    lake.labeling.consolidate(name)
    return RedirectResponse(f"/labeling/{name}?consolidated=1", status_code=303)


@router.get("/labeling/{name}/annotate", response_class=HTMLResponse)
def annotate_page(request: Request, name: str, lake: Lk) -> HTMLResponse:
    project = lake.labeling.project(name)
    items = [{"item_id": q.item_id, "row": q.row} for q in lake.labeling.next_items(name, FIRST_ITEMS)]
    data = {
        "project": {k: v for k, v in project.to_dict().items() if k != "gold"},  # gold answers stay hidden
        "items": items,
        "image_url": f"/api/v1/objects/{project.source_table}/" if project.task == "boxes" else None,
        "keys": _schema(project)["keys"],
    }
    return render(
        request,
        "labeling/annotate.html",
        title=f"Label {name}",
        project=project,
        schema=_schema(project),
        data=json.dumps(jsonable_encoder(data)).replace("</", "<\\/"),
    )


@router.get("/labeling/{name}/review", response_class=HTMLResponse)
def review_page(request: Request, name: str, lake: Lk) -> Any:
    project = lake.labeling.project(name)
    if project.review is None:
        return RedirectResponse(f"/labeling/{name}", status_code=303)
    waiting = [
        {"item_id": q.item_id, **{k: v for k, v in q.row.items() if k != "item_id"}}
        for q in lake.labeling.next_items(name, 500)
    ]
    waiting.sort(key=lambda r: (r.get("confidence") is None, r.get("confidence") or 0.0))
    reviewed_table = f"labeling.{name}__reviewed"
    reviewed = (
        lake.sql(f"SELECT * FROM {reviewed_table} ORDER BY review_confidence LIMIT {SHOWN_LABELS}").to_pylist()
        if _readable(lake, reviewed_table)
        else []
    )
    return render(
        request,
        "labeling/review.html",
        title=f"Review {name}",
        project=project,
        waiting=waiting,
        reviewed=reviewed,
        progress=_progress(lake, name),
    )


@router.post("/labeling/{name}/review/results")
def review_results(request: Request, name: str, lake: Lk) -> Any:
    lake.labeling.review_results(name)
    return RedirectResponse(f"/labeling/{name}/review?results=1", status_code=303)


def _progress(lake: Lake, name: str) -> dict[str, Any] | None:
    """A project's progress, or None when the viewer may not read its answers (an annotator, usually)."""
    try:
        return lake.labeling.progress(name).to_dict()
    except PermissionDeniedError:
        return None


def _schema(project: Project) -> dict[str, Any]:
    """What the annotator chooses from and which key picks it (1–9; beyond nine, click)."""
    keys: list[dict[str, Any]] = [
        {"key": str(i + 1) if i < 9 else None, "label": label} for i, label in enumerate(project.labels)
    ]
    if project.task == "rating" and project.bounds is not None:
        lo, hi = project.bounds
        keys = [{"key": str(v), "label": v} for v in range(max(int(lo), 0), min(int(hi), 9) + 1) if lo <= v <= hi]
    how = {
        "classification": "Press 1–9 to pick the class, Enter to submit.",
        "multilabel": "Press 1–9 to switch classes on or off, Enter to submit (none is an answer too).",
        "text": "Type the answer; Enter submits, Shift+Enter starts a new line, Esc leaves the box for shortcuts.",
        "rating": "Press a number (or type one) and Enter to submit.",
        "spans": "Select text with the mouse, press 1–9 to label it; Backspace removes the last span; Enter submits.",
        "boxes": "Press 1–9 to choose the class, drag on the image to draw a box; Backspace removes the last; "
        "Enter submits.",
        "ranking": "Press 1–9 in order of preference (best first); Backspace undoes; Enter submits.",
    }[project.task]
    return {"keys": keys, "how": how}


def _reliability(lake: Lake, project: Project) -> dict[str, float | None]:
    """Each annotator's reliability from the last consolidation, when there was one the viewer may read."""
    table = project.annotators_table
    if not _readable(lake, table):
        return {}
    return {r["annotator"]: r["reliability"] for r in lake.table(table).to_arrow().to_pylist()}


def _consolidated(lake: Lake, project: Project) -> list[dict[str, Any]]:
    table = project.labels_table
    if not _readable(lake, table):
        return []
    rows = lake.sql(f"SELECT * FROM {table} ORDER BY confidence, item_id LIMIT {SHOWN_LABELS}").to_pylist()
    for r in rows:
        r["label"] = json.loads(r["label"])
    return rows


def _readable(lake: Lake, table: str) -> bool:
    return lake.table_exists(table) and lake.access.can("select", TableName.parse(table))
