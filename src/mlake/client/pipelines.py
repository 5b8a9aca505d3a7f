"""``remote.pipelines``: pipelines of :mod:`mlake.pipelines` on an mlake server (superusers only).

The same calls and return types as :class:`~mlake.pipelines.service.Pipelines`: pipelines travel as
their pydantic model, runs as :class:`~mlake.pipelines.service.PipelineRun` rebuilt from ``to_dict()``.
Runs started through the client execute on the server (``run``, ``execute``), with the server's Python
modules for ``python`` steps; the server refuses every call from a principal that is not a superuser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from mlake.pipelines.model import Pipeline
from mlake.pipelines.service import PipelineRun

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


class RemotePipelines:
    """Save pipelines, start runs (by hand or by triggers), run them, read their records — on the server."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _path(self, name: str) -> str:
        return f"/pipelines/{quote(name, safe='')}"

    def save(self, pipeline: Pipeline | str) -> Pipeline:
        given = pipeline if isinstance(pipeline, str) else pipeline.model_dump(mode="json")
        return Pipeline.model_validate(self._lake._json("POST", "/pipelines", json={"pipeline": given}))

    def get(self, name: str) -> Pipeline:
        return Pipeline.model_validate(self._lake._json("GET", self._path(name)))

    def schedule(self, name: str, cron: str) -> Pipeline:
        """Add a cron trigger (five fields, UTC) to a saved pipeline; the server's workers start its runs."""
        return Pipeline.model_validate(self._lake._json("POST", f"{self._path(name)}/schedule", json={"cron": cron}))

    def names(self) -> list[str]:
        found: list[str] = self._lake._json("GET", "/pipelines")
        return found

    def start(self, name: str, trigger: str = "manual", trigger_key: str | None = None) -> int | None:
        """A pending run (its id), or None when a run with ``trigger_key`` already exists."""
        body = {"trigger": trigger, "trigger_key": trigger_key}
        run_id = self._lake._json("POST", f"{self._path(name)}/start", json=body)
        return int(run_id) if run_id is not None else None

    def poll_triggers(self, now: datetime | None = None) -> list[int]:
        at = (now if now.tzinfo else now.replace(tzinfo=UTC)).isoformat() if now is not None else None
        return [int(i) for i in self._lake._json("POST", "/pipelines/poll-triggers", json={"now": at})]

    def run(self, name: str) -> PipelineRun:
        """Start a run and execute it on the server, now."""
        return PipelineRun.from_dict(self._lake._json("POST", f"{self._path(name)}/run"))

    def claim(self, run_id: int, worker: str) -> bool:
        return bool(self._lake._json("POST", f"/pipeline-runs/{int(run_id)}/claim", json={"worker": worker}))

    def pending(self) -> list[int]:
        return [int(i) for i in self._lake._json("GET", "/pipeline-runs/pending")]

    def requeue_stale(self, lease_seconds: float) -> int:
        body = {"lease_seconds": lease_seconds}
        return int(self._lake._json("POST", "/pipeline-runs/requeue-stale", json=body))

    def execute(self, run_id: int, worker: str, heartbeat_every: float | None = None) -> PipelineRun:
        """Run the claimed run's steps on the server (the request lasts as long as the run)."""
        body = {"worker": worker, "heartbeat_every": heartbeat_every}
        return PipelineRun.from_dict(self._lake._json("POST", f"/pipeline-runs/{int(run_id)}/execute", json=body))

    def status(self, run_id: int) -> PipelineRun:
        return PipelineRun.from_dict(self._lake._json("GET", f"/pipeline-runs/{int(run_id)}"))

    def runs(self, name: str) -> list[PipelineRun]:
        return [PipelineRun.from_dict(r) for r in self._lake._json("GET", f"{self._path(name)}/runs")]
