"""REST: labeling projects and human review loops under ``/api/v1/labeling``.

Every route is one call into ``lake.labeling`` of the caller's lake, so annotators are principals: the
queue needs ``select`` on the project's source table, submitting needs ``insert`` on its answers table,
and a project the caller may not use is refused with the same words whether or not it exists.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Body, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from mlake.lake import Lake
from mlake.server.downloads import arrow_response
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]
router = APIRouter(tags=["labeling"])


class ProjectIn(BaseModel):
    name: str = Field(max_length=48)
    source_table: str
    id_column: str
    task: Literal["classification", "multilabel", "text", "rating", "spans", "boxes", "ranking"] = "classification"
    labels: list[Any] = Field(default_factory=list)
    instructions: str = ""
    annotators_per_item: int = Field(default=1, ge=1, le=9)
    gold: dict[str, Any] = Field(default_factory=dict)
    bounds: tuple[float, float] | None = None


class AnswerIn(BaseModel):
    item_id: str
    answer: Any = Field(description="In the project's form: a class, a list of classes, spans or boxes, a number.")
    seconds: float | None = Field(default=None, ge=0)


class ReviewLoopIn(BaseModel):
    name: str = Field(max_length=48)
    predictions_table: str
    id_column: str
    prediction_column: str
    confidence_column: str
    threshold: float | dict[str, float] = 0.5
    where: str | None = None
    audit_percent: float = Field(default=0.0, ge=0, le=100)
    reviewers: int = Field(default=1, ge=1, le=9)
    expires_in_seconds: float | None = Field(default=None, gt=0, le=10 * 365 * 86_400)
    expires_at: AwareDatetime | None = Field(default=None, description="Instead of expires_in_seconds: when.")
    labels: list[Any] | None = None
    seed: int = 0
    instructions: str = Field(default="", max_length=20_000)


@router.get("/labeling/projects", summary="List labeling projects and review loops the caller may see")
def list_projects(lake: Lk) -> list[dict[str, Any]]:
    return [p.to_dict() for p in lake.labeling.list_projects()]


@router.post("/labeling/projects", status_code=201, summary="Create a labeling project over a table's rows")
def create_project(body: ProjectIn, lake: Lk) -> dict[str, Any]:
    options = body.model_dump()
    return lake.labeling.create_project(**options).to_dict()


@router.get("/labeling/projects/{name}", summary="A project's definition")
def get_project(name: str, lake: Lk) -> dict[str, Any]:
    return lake.labeling.project(name).to_dict()


@router.get("/labeling/projects/{name}/next", summary="The caller's next items to answer (gold items mixed in)")
def next_items(
    name: str,
    lake: Lk,
    n: Annotated[int, Query(ge=1, le=500)] = 10,
    annotator: Annotated[str | None, Query(max_length=200, description="Another's queue (superusers).")] = None,
) -> list[dict[str, Any]]:
    # ``gold`` is no secret from the caller: the project's definition (GET .../{name}) lists the gold items
    return [
        {"item_id": q.item_id, "row": q.row, "gold": q.gold}
        for q in lake.labeling.next_items(name, n, annotator=annotator)
    ]


@router.post("/labeling/projects/{name}/answers", status_code=201, summary="Submit the caller's answer to an item")
def submit(name: str, body: AnswerIn, lake: Lk) -> dict[str, Any]:
    return lake.labeling.submit(name, body.item_id, body.answer, seconds=body.seconds).to_dict()


@router.get("/labeling/projects/{name}/answers", summary="The project's answers (as the caller may read them)")
def answers(name: str, lake: Lk, format: Literal["json", "arrow"] = "json") -> Any:
    table = lake.labeling.answers(name)
    if format == "arrow":
        return arrow_response(table)
    return [{**r, "submitted_at": r["submitted_at"].isoformat()} for r in table.to_pylist()]


def _ipc(table: pa.Table) -> str:
    return base64.b64encode(bytes(arrow_response(table).body)).decode()


@router.post(
    "/labeling/projects/{name}/answers/batch",
    summary="Submit several of the caller's answers in one commit; each is saved or refused on its own",
)
def submit_many(name: str, body: Annotated[list[AnswerIn], Body(max_length=1000)], lake: Lk) -> list[dict[str, Any]]:
    return lake.labeling.submit_many(name, [a.model_dump() for a in body])


@router.post("/labeling/projects/{name}/consolidate", summary="Consolidate answers into the labels table")
def consolidate(
    name: str,
    lake: Lk,
    method: str | None = None,
    format: Annotated[
        Literal["json", "arrow"], Query(description="arrow: each table as a base64 Arrow IPC stream, types kept.")
    ] = "json",
) -> dict[str, Any]:
    result = lake.labeling.consolidate(name, method=method)
    if format == "arrow":
        return {"method": result.method, "labels": _ipc(result.labels), "annotators": _ipc(result.annotators)}
    return result.to_dict()


@router.get("/labeling/projects/{name}/progress", summary="Items done, agreement, per-annotator gold accuracy")
def progress(name: str, lake: Lk) -> dict[str, Any]:
    return lake.labeling.progress(name).to_dict()


@router.post("/labeling/projects/{name}/auto", summary="Run one auto-labeling round to an accuracy target")
def auto_label(
    name: str,
    lake: Lk,
    target_accuracy: Annotated[float, Query(gt=0, lt=1)] = 0.95,
    min_human: Annotated[int, Query(ge=10)] = 1250,
    features: Annotated[list[str] | None, Query(description="Feature columns (default: the numeric ones).")] = None,
    random_state: int = 0,
    embed: Annotated[str | None, Query(max_length=100, description="A built-in embedding (image_pixels).")] = None,
    detail: Annotated[bool, Query(description="The whole round (items, labels, queue, curve), not a summary.")] = False,
) -> dict[str, Any]:
    r = lake.labeling.auto_label(
        name,
        target_accuracy=target_accuracy,
        min_human=min_human,
        features=features,
        random_state=random_state,
        embed=embed,
    )
    if detail:
        return r.to_dict()
    return {
        "round": r.round,
        "status": r.status,
        "reason": r.reason,
        "threshold": r.threshold,
        "held_out_accuracy": r.held_out_accuracy,
        "held_out_lower_bound": r.held_out_lower_bound,
        "auto_labeled": len(r.auto_items),
        "queued": len(r.queue),
        "model": asdict(r.model) if r.model is not None else None,
    }


@router.get("/labeling/projects/{name}/export", summary="Answers or labels as Label Studio JSON or COCO")
def export(
    name: str,
    lake: Lk,
    format: Literal["label_studio", "coco"] = "label_studio",
    what: Literal["answers", "labels"] = "answers",
) -> Any:
    return lake.labeling.export(name, format, what=what)


@router.post("/labeling/projects/{name}/import", summary="Import answers from Label Studio JSON or COCO")
def import_answers(
    name: str, body: Annotated[Any, Body()], lake: Lk, format: Literal["label_studio", "coco"] = "label_studio"
) -> dict[str, int]:
    return {"imported": lake.labeling.import_answers(name, body, format)}


@router.post("/labeling/review-loops", status_code=201, summary="Create a human review loop over predictions")
def create_review_loop(body: ReviewLoopIn, lake: Lk) -> dict[str, Any]:
    options = body.model_dump(exclude={"expires_in_seconds", "expires_at"})
    expires: datetime | timedelta | None = body.expires_at
    if body.expires_in_seconds:
        expires = timedelta(seconds=body.expires_in_seconds)
    return lake.labeling.create_review_loop(**options, expires=expires).to_dict()


@router.post("/labeling/review-loops/{name}/activate", summary="Send the rows the loop's rules pick to reviewers")
def activate(name: str, lake: Lk) -> dict[str, Any]:
    added = lake.labeling.activate(name)
    return {"added": added.num_rows, "items": added.to_pylist()}


@router.post("/labeling/review-loops/{name}/results", summary="Join reviews back to predictions; overrule metrics")
def review_results(name: str, lake: Lk) -> dict[str, Any]:
    return lake.labeling.review_results(name).to_dict()
