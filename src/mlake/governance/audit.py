"""The audit log: who did what, when, to which tables, with what outcome — an Iceberg table.

Each event becomes one row of a small metastore table (``mlake_audit_pending``). Embedded use commits
each event before the action returns. A server (after :meth:`AuditLog.start`) queues events in memory and
one writer thread commits them in batches every few milliseconds — one transaction, one disk sync for many
requests — so a request does not wait for a disk sync; :meth:`AuditLog.stop` (the server's shutdown) and
every flush write what is queued first, and a batch whose commit fails stays queued and is retried, so no
event is dropped. What a hard kill (SIGKILL, power loss) can lose is the last few milliseconds of events;
``start(wait=True)`` makes each request wait for its event's commit instead (durable before the answer).

Appending each event to Iceberg directly would make one snapshot, one manifest list and one metadata file
per request — slow, and a table of millions of tiny commits. Instead a flusher moves
pending events into the Iceberg table ``mlake.audit_log`` in batches (every few seconds in a server, and
before every read of the log), so the log is queryable with SQL like any table and stays compact.

A flush is exactly-once without locks: the highest event id flushed is a property of the Iceberg table,
set in the same commit as the appended rows. A flusher that lost a commit race reloads the table, sees
the new high-water mark, and drops what the winner already wrote; pending rows at or below the mark are
deleted afterwards (and on the next flush, if the process died in between).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa
from pyiceberg.table import Table as IcebergTable

from mlake.governance.model import AuditEvent, Outcome
from mlake.governance.store import audit_pending_table
from mlake.tables.names import TableName
from mlake.tables.types import quote_literal
from mlake.tables.writer import remove_files, with_retries, write_arrow

if TYPE_CHECKING:
    from mlake.core import LakeHandle as Lake

_log = logging.getLogger("mlake.audit")
AUDIT_TABLE = TableName("mlake", "audit_log")
_HIGH_WATER = "mlake.audit.last-event-id"
_BATCH = 10_000

AUDIT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("principal", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("tables", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("message", pa.string()),
        pa.field("client", pa.string()),
        pa.field("duration_ms", pa.float64()),
    ]
)


class AuditLog:
    """Records audit events and serves them back."""

    table_name = AUDIT_TABLE

    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        self._engine = lake._core.metadata_engine
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._queue: list[tuple[dict[str, Any], _Waiter | None]] = []
        self._queue_cond = threading.Condition()
        self._commit_lock = threading.Lock()  # one committer of queued events at a time, in queue order
        self._wait = True

    # --- recording --------------------------------------------------------------------------------

    def record(
        self,
        *,
        principal: str,
        action: str,
        tables: Sequence[str] = (),
        detail: str | None = None,
        outcome: Outcome = "ok",
        message: str | None = None,
        client: str | None = None,
        duration_ms: float | None = None,
    ) -> None:
        """Record one event. Embedded, this returns once the event is committed to the metastore.

        In a server (after :meth:`start`) the event is queued and committed by the writer thread together
        with other requests' events within milliseconds (group commit); with ``start(wait=True)`` each
        caller waits for its own event's commit.
        """
        row = {
            "at": datetime.now(UTC),
            "principal": principal,
            "action": action,
            "tables": ",".join(tables) or None,
            "detail": (detail or None) and detail[:20_000],
            "outcome": outcome,
            "message": (message or None) and message[:2000],
            "client": client,
            "duration_ms": duration_ms,
        }
        if self._writer is None:
            with self._engine.begin() as conn:
                conn.execute(audit_pending_table.insert(), [row])
            return
        waiter = _Waiter() if self._wait else None
        with self._queue_cond:
            self._queue.append((row, waiter))
            self._queue_cond.notify()
        if self._writer is None:  # stopped meanwhile: the writer may be gone, commit it here
            self._commit_queued(raise_errors=True)
            return
        if waiter is None:
            return
        if not waiter.done.wait(timeout=60):
            raise RuntimeError("the audit log writer did not answer within 60 s")
        if waiter.error is not None:
            raise waiter.error

    def _write_batches(self) -> None:
        while True:
            with self._queue_cond:
                while not self._queue and not self._stop.is_set():
                    self._queue_cond.wait(0.5)
                if not self._queue and self._stop.is_set():
                    return
            if not self._commit_queued(raise_errors=False) and not self._stop.is_set():
                self._stop.wait(0.2)  # the metastore refused: the events stay queued; retry shortly

    def _commit_queued(self, *, raise_errors: bool) -> bool:
        """Commit every queued event in one transaction; False (or the error, with ``raise_errors``) when
        the commit failed — the events are then queued again, ahead of newer ones."""
        with self._commit_lock:
            with self._queue_cond:
                batch, self._queue = self._queue, []
            if not batch:
                return True
            try:
                with self._engine.begin() as conn:
                    conn.execute(audit_pending_table.insert(), [row for row, _ in batch])
            except Exception as exc:
                _log.warning("Audit events stay queued: the metastore refused them (%s); retrying", exc)
                with self._queue_cond:
                    self._queue[:0] = [(row, None) for row, _ in batch]
                for _, waiter in batch:  # a waiting caller learns that its event was not recorded
                    if waiter is not None:
                        waiter.error = exc
                        waiter.done.set()
                if raise_errors:
                    raise
                return False
            for _, waiter in batch:
                if waiter is not None:
                    waiter.done.set()
            return True

    def queued(self) -> int:
        """Events recorded but not yet committed to the metastore (a server's writer commits them within
        milliseconds)."""
        with self._queue_cond:
            return len(self._queue)

    def pending(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(audit_pending_table)).scalar() or 0)

    # --- flushing ---------------------------------------------------------------------------------

    def _ensure_table(self) -> IcebergTable:
        if not self._lake.table_exists(AUDIT_TABLE):
            from mlake.errors import AlreadyExistsError

            try:
                self._lake.create_table(
                    AUDIT_TABLE,
                    schema=AUDIT_SCHEMA,
                    partition_by=["month(at)"],
                    description="Audit log: who did what, when, to which tables, with what outcome.",
                    owner="mlake",
                    tags={"system": "audit"},
                )
            except AlreadyExistsError:
                pass
        return self._lake.table(AUDIT_TABLE).iceberg

    def flush(self) -> int:
        """Move pending events into the Iceberg table; returns how many were written by this call. Events
        still queued in memory are committed first, so the log shows every event recorded so far."""
        self._commit_queued(raise_errors=True)
        with self._flush_lock:
            written = 0
            while True:
                n = self._flush_batch()
                written += n
                if n < _BATCH:
                    return written

    def _flush_batch(self) -> int:
        with self._engine.connect() as conn:
            rows = list(
                conn.execute(sa.select(audit_pending_table).order_by(audit_pending_table.c.event_id).limit(_BATCH))
            )
        if not rows:
            return 0
        ice = self._ensure_table()
        mark = int(ice.properties.get(_HIGH_WATER, "0"))
        rows = [r for r in rows if r.event_id > mark]
        if rows:
            data = pa.Table.from_pylist(
                [
                    {
                        "event_id": r.event_id,
                        "at": r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
                        "principal": r.principal,
                        "action": r.action,
                        "tables": r.tables,
                        "detail": r.detail,
                        "outcome": r.outcome,
                        "message": r.message,
                        "client": r.client,
                        "duration_ms": r.duration_ms,
                    }
                    for r in rows
                ],
                schema=AUDIT_SCHEMA,
            )
            files = write_arrow(ice, data)
            top = rows[-1].event_id
            first = rows[0].event_id
            committed = {"done": False}

            def attempt(tbl: IcebergTable) -> None:
                if int(tbl.properties.get(_HIGH_WATER, "0")) >= first:
                    return  # another flusher won the race with these events
                with tbl.transaction() as tx:
                    tx.set_properties({_HIGH_WATER: str(top)})
                    with tx.update_snapshot(
                        snapshot_properties={"mlake.operation": "audit-flush", "mlake.actor": "mlake"}
                    ).fast_append() as fa:
                        for f in files:
                            fa.append_data_file(f)
                committed["done"] = True

            try:
                with_retries(
                    self._lake._core.catalog, AUDIT_TABLE.identifier, attempt, self._lake.settings.commit_retries
                )
            finally:
                if not committed["done"]:
                    remove_files(f.file_path for f in files)
            mark = (
                max(mark, top)
                if committed["done"]
                else int(self._lake.table(AUDIT_TABLE).iceberg.properties.get(_HIGH_WATER, "0"))
            )
        with self._engine.begin() as conn:
            conn.execute(audit_pending_table.delete().where(audit_pending_table.c.event_id <= mark))
        return len(rows)

    def start(self, interval: float = 5.0, *, wait: bool = False) -> None:
        """Group-commit events from a writer thread and flush them to Iceberg every ``interval`` s
        (servers call this; embedded use commits each event itself and flushes on read). ``wait``: each
        :meth:`record` waits for its event's commit (durable before the action answers)."""
        if self._thread is not None:
            return
        self._wait = wait
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.flush()
                except Exception:  # pragma: no cover - retried on the next tick; events stay pending
                    continue

        self._writer = threading.Thread(target=self._write_batches, name="mlake-audit-writer", daemon=True)
        self._writer.start()
        self._thread = threading.Thread(target=run, name="mlake-audit-flush", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background threads (after writing every queued event) and flush what is pending."""
        self._stop.set()
        with self._queue_cond:
            self._queue_cond.notify_all()
        for thread in (self._writer, self._thread):
            if thread is not None:
                thread.join(timeout=30)
        self._writer = self._thread = None
        self.flush()  # commits what the writer left queued (raising if the metastore refuses it)

    # --- reading ----------------------------------------------------------------------------------

    def events(
        self,
        *,
        principal: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        table: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Events, newest first, after flushing what is pending."""
        self.flush()
        if not self._lake.table_exists(AUDIT_TABLE):
            return []
        conditions = []
        if principal:
            conditions.append(f"principal = {quote_literal(principal)}")
        if action:
            conditions.append(f"action LIKE {quote_literal(action.replace('%', '') + '%')}")
        if outcome:
            conditions.append(f"outcome = {quote_literal(outcome)}")
        if table:
            conditions.append(f"list_contains(string_split(tables, ','), {quote_literal(table)})")
        view = self._lake.engine.view_for(AUDIT_TABLE)
        sql = f"SELECT * FROM {view}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += f" ORDER BY event_id DESC LIMIT {int(limit)} OFFSET {int(offset)}"
        return [_event(r) for r in self._lake.engine.run_internal(sql).to_pylist()]


class _Waiter:
    """One caller waiting for its event's group commit."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


def _event(row: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        principal=row["principal"],
        action=row["action"],
        at=row["at"],
        tables=[t for t in (row["tables"] or "").split(",") if t],
        detail=row["detail"],
        outcome=row["outcome"],
        message=row["message"],
        client=row["client"],
        duration_ms=row["duration_ms"],
        event_id=row["event_id"],
    )
