"""REST: pipelines (:mod:`mlake.pipelines`) — definitions, schedules, runs, and the worker's calls.

Every route is one call on ``lake.pipelines`` of the caller's governed lake, which refuses anyone but a
superuser before it looks anything up (a pipeline runs Python and keeps logs that may quote data), so a
principal without that right gets the same refusal whether the pipeline or run exists or not. Runs
executed through the API run on the server, in the request, with the caller's lake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.pipelines.model import Pipeline
from mlake.server.api.params import MAX_ID
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]
PipelineName = Annotated[str, Path(max_length=200, description="A saved pipeline's name.")]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="A pipeline run's id.")]
Worker = Annotated[str, Field(max_length=200, description="The worker's name, kept on the run.")]


class PipelineIn(BaseModel):
    pipeline: str | dict[str, Any] = Field(description="The pipeline as YAML text or a JSON object.")


class ScheduleIn(BaseModel):
    cron: str = Field(max_length=200, examples=["0 3 * * *"])


class StartIn(BaseModel):
    trigger: str = Field(default="manual", max_length=64)
    trigger_key: str | None = Field(default=None, max_length=500)


class PollIn(BaseModel):
    now: datetime | None = None


class ClaimIn(BaseModel):
    worker: Worker


class ExecuteIn(BaseModel):
    worker: Worker
    heartbeat_every: float | None = Field(default=None, gt=0, le=3600)


class RequeueIn(BaseModel):
    lease_seconds: float = Field(gt=0, le=31_536_000, description="At most a year.")


router = APIRouter(tags=["pipelines"])


@router.post("/pipelines", summary="Save a pipeline (superusers)")
def save_pipeline(body: PipelineIn, lake: Lk) -> dict[str, Any]:
    given = body.pipeline if isinstance(body.pipeline, str) else Pipeline.from_dict(body.pipeline)
    return lake.pipelines.save(given).model_dump(mode="json")


@router.get("/pipelines", summary="The saved pipelines' names")
def pipeline_names(lake: Lk) -> list[str]:
    return lake.pipelines.names()


@router.post("/pipelines/poll-triggers", summary="Start the runs that triggers call for")
def poll_triggers(body: PollIn, lake: Lk) -> list[int]:
    return lake.pipelines.poll_triggers(body.now)


@router.get("/pipelines/{name}", summary="A saved pipeline")
def get_pipeline(name: PipelineName, lake: Lk) -> dict[str, Any]:
    return lake.pipelines.get(name).model_dump(mode="json")


@router.post("/pipelines/{name}/schedule", summary="Add a cron trigger (UTC) to a pipeline")
def schedule_pipeline(name: PipelineName, body: ScheduleIn, lake: Lk) -> dict[str, Any]:
    return lake.pipelines.schedule(name, body.cron).model_dump(mode="json")


@router.post("/pipelines/{name}/start", summary="A pending run (null when one with the trigger key exists)")
def start_run(name: PipelineName, body: StartIn, lake: Lk) -> int | None:
    return lake.pipelines.start(name, body.trigger, body.trigger_key)


@router.post("/pipelines/{name}/run", summary="Start a run and execute it on the server, now")
def run_pipeline(name: PipelineName, lake: Lk) -> dict[str, Any]:
    return lake.pipelines.run(name).to_dict()


@router.get("/pipelines/{name}/runs", summary="A pipeline's runs, oldest first")
def pipeline_runs(name: PipelineName, lake: Lk) -> list[dict[str, Any]]:
    return [r.to_dict() for r in lake.pipelines.runs(name)]


@router.get("/pipeline-runs/pending", summary="The pending runs' ids")
def pending_runs(lake: Lk) -> list[int]:
    return lake.pipelines.pending()


@router.post("/pipeline-runs/requeue-stale", summary="Runs whose worker stopped beating go back to pending")
def requeue_stale(body: RequeueIn, lake: Lk) -> int:
    return lake.pipelines.requeue_stale(body.lease_seconds)


@router.get("/pipeline-runs/{run_id}", summary="A run and its steps")
def run_status(run_id: RunId, lake: Lk) -> dict[str, Any]:
    return lake.pipelines.status(run_id).to_dict()


@router.post("/pipeline-runs/{run_id}/claim", summary="Take a pending run (true for exactly one worker)")
def claim_run(run_id: RunId, body: ClaimIn, lake: Lk) -> bool:
    return lake.pipelines.claim(run_id, body.worker)


@router.post("/pipeline-runs/{run_id}/execute", summary="Run a claimed run's steps on the server")
def execute_run(run_id: RunId, body: ExecuteIn, lake: Lk) -> dict[str, Any]:
    return lake.pipelines.execute(run_id, body.worker, body.heartbeat_every).to_dict()
