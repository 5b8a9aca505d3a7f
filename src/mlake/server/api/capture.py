"""REST: data capture — ``POST /capture/{model}`` queues a batch of requests' inputs and outputs.

The records go to the caller's :class:`~mlake.monitor.capture.CaptureLogger` for that model and version
(one per principal, model and version, kept for the server's life and closed at exit), which appends them
to ``capture.<model>`` in batches as the caller. The grant is checked before anything is queued — insert on
the capture table, or alter on the ``capture`` namespace while the table does not exist yet — so a refused
caller gets 403 rather than a silent drop. The answer is 202 with the counts; ``wait=true`` flushes first
(the records are then in the table), for clients that need durability more than speed.
"""

from __future__ import annotations

import atexit
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.monitor.capture import CaptureLogger, capture_table
from mlake.server.state import principal_lake

router = APIRouter(tags=["monitoring"])
Lk = Annotated[Lake, Depends(principal_lake)]
Model = Annotated[str, PathParam(min_length=1, max_length=100, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
MAX_RECORDS = 10_000

_loggers: dict[tuple[str, str, str], CaptureLogger] = {}
_lock = threading.Lock()


class CaptureRecord(BaseModel):
    inputs: dict[str, Any] = Field(description="The model's inputs: one column each.")
    outputs: Any = Field(description="The model's outputs: a dict (one column each) or one value ('prediction').")
    request_id: str | None = Field(default=None, max_length=200, description="Default: a new id, returned.")


class CaptureIn(BaseModel):
    version: str = Field(min_length=1, max_length=100, description="The model version.")
    records: list[CaptureRecord] = Field(min_length=1, max_length=MAX_RECORDS)
    wait: bool = Field(default=False, description="Answer once the records are written.")


def _logger(lake: Lake, model: str, version: str) -> CaptureLogger:
    key = (lake.access.name or "", model, version)
    with _lock:
        logger = _loggers.get(key)
        if logger is None:
            logger = _loggers[key] = lake.capture(model, version)
        return logger


def _require_write(lake: Lake, model: str) -> None:
    name = capture_table(model)
    if lake.table_exists(name):
        lake.access.require("insert", name)
    else:
        lake.access.require_namespace("alter", name.namespace)


@router.post("/capture/{model}", status_code=202, summary="Capture a batch of model requests")
def capture(model: Model, body: CaptureIn, lake: Lk) -> dict[str, Any]:
    _require_write(lake, model)
    logger = _logger(lake, model, body.version)
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
        for logger in _loggers.values():
            logger.close(timeout=10)
        _loggers.clear()
