"""REST: data capture — ``POST /capture/{model}`` queues a batch of requests' inputs and outputs.

The records go to the caller's :class:`~mlake.monitor.capture.CaptureLogger` for that model and version
(one per principal, model and version, kept by the app for the server's life and closed at exit), which appends them
to ``capture.<model>`` in batches as the caller. The grant is checked before anything is queued — insert on
the capture table, or alter on the ``capture`` namespace while the table does not exist yet — so a refused
caller gets 403 rather than a silent drop. The answer is 202 with the counts; ``wait=true`` flushes first
(the records are then in the table), for clients that need durability more than speed.
"""

from __future__ import annotations

import atexit
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.monitor.capture import CaptureLogger, capture_table
from mlake.server.state import principal_lake

router = APIRouter(tags=["monitoring"])
Lk = Annotated[Lake, Depends(principal_lake)]
Model = Annotated[str, PathParam(min_length=1, max_length=100, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
MAX_RECORDS = 10_000

_registries: list[dict[tuple[str, str, str], CaptureLogger]] = []  # one per app, closed at exit
_lock = threading.Lock()


class CaptureRecord(BaseModel):
    inputs: dict[str, Any] = Field(description="The model's inputs: one column each.")
    outputs: Any = Field(description="The model's outputs: a dict (one column each) or one value ('prediction').")
    request_id: str | None = Field(default=None, max_length=200, description="Default: a new id, returned.")


class CaptureIn(BaseModel):
    version: str = Field(min_length=1, max_length=100, description="The model version.")
    records: list[CaptureRecord] = Field(min_length=1, max_length=MAX_RECORDS)
    wait: bool = Field(default=False, description="Answer once the records are written.")


def _logger(request: Request, lake: Lake, model: str, version: str) -> CaptureLogger:
    """The caller's logger for this model and version, kept by this app (another app has its own lake)."""
    key = (lake.access.name or "", model, version)
    with _lock:
        loggers: dict[tuple[str, str, str], CaptureLogger] | None = getattr(request.app.state, "capture_loggers", None)
        if loggers is None:
            loggers = request.app.state.capture_loggers = {}
            _registries.append(loggers)
        logger = loggers.get(key)
        if logger is None:
            logger = loggers[key] = lake.capture(model, version)
        return logger


def _require_write(lake: Lake, model: str) -> None:
    name = capture_table(model)
    if lake.table_exists(name):
        lake.access.require("insert", name)
    else:
        lake.access.require_namespace("alter", name.namespace)


@router.post("/capture/{model}", status_code=202, summary="Capture a batch of model requests")
def capture(model: Model, body: CaptureIn, lake: Lk, request: Request) -> dict[str, Any]:
    _require_write(lake, model)
    logger = _logger(request, lake, model, body.version)
    ids = [logger.log(r.inputs, r.outputs, request_id=r.request_id) for r in body.records]
    stats = logger.flush() if body.wait else logger.stats()
    return {
        "table": str(logger.table_name),
        "accepted": len(ids),
        "request_ids": ids,
        "logger": {
            "logged": stats.logged,
            "written": stats.written,
            "dropped": stats.dropped,
            "failed": stats.failed,
            "queued": stats.queued,
            "last_error": stats.last_error,
        },
    }


@atexit.register
def _close_all() -> None:
    with _lock:
        for loggers in _registries:
            for logger in loggers.values():
                logger.close(timeout=10)
            loggers.clear()
