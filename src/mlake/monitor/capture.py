"""Data capture: log a model's inputs and outputs into a lake table without slowing the model down.

    logger = lake.capture("churn", "v3")                     # table capture.churn by default
    logger.log({"amount": 12.5, "region": "north"}, {"prediction": 1, "probability": 0.81}, request_id="r-17")
    ...
    logger.close()                                           # flushes what is queued
    labeled = logger.join_ground_truth("crm.outcomes")       # captured rows with their labels, by request id

SageMaker Model Monitor's data capture, on the lake. ``log`` only puts a dict on a bounded queue
(``max_queue`` records) and returns; a background thread takes records off the queue and appends them to
the capture table in batches — when ``batch_rows`` records are waiting or ``flush_seconds`` passed since
the first of them. One Iceberg commit per batch keeps the table's snapshot count low at high rates.

Memory is bounded by ``max_queue`` records waiting plus the batch being collected or written
(``batch_rows``). **When the queue is full** (the writer cannot keep up, or the table is unreachable)
``log`` never waits: the record is dropped and counted (``stats().dropped``), a warning is logged once
per logger, and ``flush`` and ``close`` return the counts, so a caller who must lose nothing can check
them. ``on_full="block"`` makes ``log`` wait for room instead (for batch jobs rather than request paths).
A batch whose write fails is counted in ``failed`` (with the error in ``last_error``); the logger keeps going.

Rows of the capture table: ``request_id``, ``model``, ``model_version``, ``captured_at`` (UTC), then the
inputs' keys and the outputs' keys as columns (an output that is not a dict is the column ``prediction``),
so a monitor can watch the capture table with a baseline built from the training table's same columns.
New keys become new columns (the table's schema evolves); the writes go through ``Table.append`` as the
caller, who needs the insert grant on the table (and create on its namespace for the first write).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import ValidationError
from mlake.tables.frames import as_arrow
from mlake.tables.names import TableName, check_part

if TYPE_CHECKING:
    from mlake.api import LakeAPI

log = logging.getLogger(__name__)

META_COLUMNS = ("request_id", "model", "model_version", "captured_at")
CAPTURE_NAMESPACE = "capture"
_RESERVED = frozenset(META_COLUMNS)


@dataclass(frozen=True)
class CaptureStats:
    """Counts since the logger started: logged = written + failed + dropped + still queued."""

    logged: int
    written: int
    dropped: int
    failed: int
    queued: int
    batches: int
    last_error: str | None


class _Flush:
    """A marker on the queue: the writer sets it once everything before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


def capture_table(model: str, table: str | None = None) -> TableName:
    """The capture table of ``model``: ``table`` when given, else ``capture.<model>``."""
    if table is not None:
        return TableName.parse(table)
    return TableName(CAPTURE_NAMESPACE, check_part(model.replace("-", "_").lower(), "model"))


class CaptureLogger:
    """Logs inputs and outputs of one model version; see the module docstring for the guarantees."""

    def __init__(
        self,
        lake: LakeAPI,
        model: str,
        version: str,
        *,
        table: str | None = None,
        max_queue: int = 100_000,
        batch_rows: int = 10_000,
        flush_seconds: float = 1.0,
        on_full: str = "drop",
    ) -> None:
        if on_full not in ("drop", "block"):
            raise ValidationError(f"unknown on_full policy {on_full!r}", hint="use 'drop' or 'block'")
        if max_queue < 1 or batch_rows < 1 or flush_seconds <= 0:
            raise ValidationError("max_queue and batch_rows must be at least 1 and flush_seconds positive")
        self.lake = lake
        self.model = model
        self.version = str(version)
        self.table_name = capture_table(model, table)
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.on_full = on_full
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._lock = threading.Lock()
        self._logged = self._written = self._dropped = self._failed = self._batches = 0
        self._last_error: str | None = None
        self._warned = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"mlake-capture-{model}", daemon=True)
        self._thread.start()

    # --- the caller's side --------------------------------------------------------------------------

    def log(self, inputs: Mapping[str, Any], outputs: Any, request_id: str | None = None) -> str:
        """Queue one request's inputs and outputs; returns its request id (a new one when not given).

        Never waits with the default policy: a full queue drops the record and counts it."""
        if self._closed:
            raise ValidationError(
                f"the capture logger of {self.model} is closed", hint="open a new one with lake.capture"
            )
        rid = request_id if request_id is not None else uuid.uuid4().hex
        outs = outputs if isinstance(outputs, Mapping) else {"prediction": outputs}
        if not inputs.keys().isdisjoint(outs) or not _RESERVED.isdisjoint(inputs) or not _RESERVED.isdisjoint(outs):
            clash = sorted((set(inputs) & set(outs)) | (_RESERVED & (set(inputs) | set(outs))))
            raise ValidationError(
                f"capture of {self.model}: {', '.join(map(repr, clash))} given twice or reserved",
                hint=f"rename the field: inputs and outputs share one row, beside {', '.join(META_COLUMNS)}",
            )
        for key in (*inputs, *outs):
            if not isinstance(key, str) or not key.strip() or not key.isprintable():
                raise ValidationError(
                    f"capture of {self.model}: {key!r} cannot name a column",
                    hint="use non-empty printable text for input and output names",
                )
        record = (rid, time.time(), inputs, outs)
        with self._lock:
            self._logged += 1
        try:
            if self.on_full == "block":
                self._queue.put(record)
            else:
                self._queue.put_nowait(record)
        except queue.Full:
            with self._lock:
                self._dropped += 1
                warn = not self._warned
                self._warned = True
            if warn:
                log.warning(
                    "capture queue of %s is full (%d records): dropping records", self.model, self._queue.maxsize
                )
        return rid

    def flush(self, timeout: float | None = 60.0) -> CaptureStats:
        """Write everything logged so far; waits at most ``timeout`` seconds. Returns the counts."""
        marker = _Flush()
        self._queue.put(marker)
        marker.done.wait(timeout)
        return self.stats()

    def close(self, timeout: float | None = 60.0) -> CaptureStats:
        """Flush, stop the writer thread, and return the final counts."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout)
        return self.stats()

    def __enter__(self) -> CaptureLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> CaptureStats:
        with self._lock:
            return CaptureStats(
                logged=self._logged,
                written=self._written,
                dropped=self._dropped,
                failed=self._failed,
                queued=self._queue.qsize(),
                batches=self._batches,
                last_error=self._last_error,
            )

    # --- ground truth ---------------------------------------------------------------------------------

    def join_ground_truth(self, truth: Any, *, key: str = "request_id", into: str | None = None) -> pa.Table:
        """The captured rows that have ground truth, joined with it by request id.

        ``truth`` is a table name or rows (Arrow, pandas, polars, list of dicts) with a ``key`` column (the
        request id) and the label column(s). With ``into``, the result is also written (overwritten) to that
        table, e.g. as a monitor's labelled target. Reads go through the caller's grants."""
        self.flush()
        labels = self.lake.table(truth).query().to_arrow() if isinstance(truth, str) else as_arrow(truth)
        if key not in labels.column_names:
            raise ValidationError(f"the ground truth has no {key!r} column", hint="give the request id of each label")
        if key != "request_id":
            labels = labels.rename_columns(["request_id" if c == key else c for c in labels.column_names])
        captured = self.lake.table(self.table_name).query().to_arrow()
        clash = [c for c in labels.column_names if c != "request_id" and c in captured.column_names]
        if clash:
            labels = labels.rename_columns([f"{c}_truth" if c in clash else c for c in labels.column_names])
        if pa.types.is_string(labels.schema.field("request_id").type) is False:
            labels = labels.set_column(
                labels.column_names.index("request_id"), "request_id", labels.column("request_id").cast(pa.string())
            )
        joined = captured.join(labels, "request_id", join_type="inner").sort_by("captured_at")
        if into is not None:
            target = self.lake.table(into)
            if self.lake.table_exists(into):
                target.overwrite(joined, command=f"ground truth of {self.table_name}")
            else:
                self.lake.create_table(into, joined)
        return joined

    # --- the writer thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[tuple[str, float, Any, Any]] = []
        deadline: float | None = None
        while True:
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, tuple):
                pending.append(item)
                if deadline is None:
                    deadline = time.monotonic() + self.flush_seconds
                if len(pending) < self.batch_rows:
                    continue
            if pending:
                self._write(pending)
                pending, deadline = [], None
            if isinstance(item, _Flush):
                item.done.set()
            elif item is _STOP:
                return

    def _write(self, records: list[tuple[str, float, Any, Any]]) -> None:
        try:
            data = self._rows(records)
            if not self.lake.table_exists(self.table_name):
                if self.table_name.namespace not in self.lake.namespaces():
                    try:
                        self.lake.create_namespace(self.table_name.namespace, exist_ok=True)
                    except Exception:  # another writer created it at the same moment (the catalog races)
                        if self.table_name.namespace not in self.lake.namespaces():
                            raise
                self.lake.create_table(
                    self.table_name,
                    data,
                    description=f"Data capture of model {self.model}: inputs and outputs of each request.",
                    exist_ok=True,
                )
            else:
                self.lake.table(self.table_name).append(data, command=f"capture {self.model} {self.version}")
            with self._lock:
                self._written += len(records)
                self._batches += 1
        except Exception as exc:  # the writer thread must outlive any failure: count the batch as failed, go on
            with self._lock:
                self._failed += len(records)
                self._last_error = str(exc)
            log.warning("capture of %s: a batch of %d records failed: %s", self.model, len(records), exc)

    def _rows(self, records: list[tuple[str, float, Any, Any]]) -> pa.Table:
        """One column per key seen in the batch (a record without a key has a null there)."""
        columns: dict[str, list[Any]] = {
            "request_id": [str(r[0]) for r in records],
            "model": [self.model] * len(records),
            "model_version": [self.version] * len(records),
        }
        n = len(records)
        for i, (_, _, inputs, outs) in enumerate(records):
            for part in (inputs, outs):
                for k, v in part.items():
                    column = columns.get(k)
                    if column is None:
                        column = columns[k] = [None] * n
                    column[i] = v
        data = pa.table({k: _column(v) for k, v in columns.items()})
        at = pa.array([int(r[1] * 1_000_000) for r in records], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        return data.add_column(3, "captured_at", at)


def _column(values: list[Any]) -> pa.Array:
    """One column of a batch. Values of mixed types (1 here, "n/a" there) are kept as JSON text rather than
    failing the whole batch; the append then widens or refuses the column as for any other write."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([v if v is None or isinstance(v, str) else json.dumps(v, default=str) for v in values])
