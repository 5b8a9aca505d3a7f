"""``Streams``: the one streams API users hold, the same over every backend.

It does what must not differ between backends: checking names and arguments, encoding values, choosing
each record's partition from its key, turning a bad record into a per-record error instead of failing
the whole batch, and keeping consumer groups' cursors. The backend only stores and reads.

It is also where access to streams is checked: ``lake.streams`` of a principal's lake carries a
:class:`StreamGuard`, and every method asks it first (read needs ``select``, put ``insert``, delete
``alter``, create ``alter`` on ``stream:*``), before the backend is touched, so a refusal reads the same
whether or not the stream exists. The owner's streams carry no guard.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any, Literal, Protocol, Self

import xxhash

from mlake.errors import MlakeError, ValidationError
from mlake.streams.base import (
    MAX_KEY_CHARS,
    MAX_PARTITIONS,
    StreamBackend,
    StreamNotFoundError,
    check_limit,
    check_partition,
    check_stream_name,
    partition_for,
)
from mlake.streams.models import (
    PartitionedRecord,
    Position,
    PositionKind,
    PutBatchResult,
    PutRecord,
    PutResult,
    ReadBatch,
    Record,
    StreamDescription,
)


class PutError(MlakeError):
    """A single put failed (a batch put reports failures per record instead of raising)."""

    code = "put_failed"
    http_status = 422


StreamPrivilege = Literal["select", "insert", "alter", "admin"]


class StreamGuard(Protocol):
    """One actor's access to streams (the lake implements it over its governance; see module doc)."""

    def require(self, privilege: StreamPrivilege, stream: str) -> None:
        """Raise PermissionDeniedError unless the actor holds ``privilege`` on ``stream`` (``*``: all)."""
        ...

    def sees(self, stream: str) -> bool:
        """Whether the actor holds any grant on ``stream`` (and may learn that it exists)."""
        ...

    def created(self, stream: str) -> None:
        """The actor created ``stream``: it becomes its owner (``admin`` on it)."""
        ...

    def deleted(self, stream: str) -> None:
        """``stream`` is gone: grants on it are forgotten, so a new stream of the name starts clean."""
        ...

    def audited(self, action: str, stream: str, detail: str | None = None) -> AbstractContextManager[Any]:
        """Records the outcome of the block in the audit log (for principals)."""
        ...

    def require_source(self, url: str) -> None:
        """Raise PermissionDeniedError unless the actor may read from ``url`` (a database to capture)."""
        ...


class Streams:
    """Durable, partitioned streams of records on one backend (see :func:`mlake.streams.open_streams`)."""

    def __init__(
        self,
        backend: StreamBackend,
        *,
        max_record_bytes: int | None = None,
        guard: StreamGuard | None = None,
        owns_backend: bool = True,
    ) -> None:
        self._backend = backend
        self._guard = guard
        self._owns_backend = owns_backend
        self.max_record_bytes = min(max_record_bytes or backend.max_record_bytes, backend.max_record_bytes)
        self._partitions: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> StreamBackend:
        """The raw backend: it bypasses access control, so it is the owner's only."""
        if self._guard is not None:
            self._guard.require("admin", "*")
        return self._backend

    def _check(self, privilege: StreamPrivilege, name: str) -> None:
        if self._guard is not None:
            self._guard.require(privilege, name)

    def _audited(self, action: str, name: str, detail: str | None = None) -> AbstractContextManager[Any]:
        return self._guard.audited(action, name, detail) if self._guard is not None else nullcontext()

    # -- streams -----------------------------------------------------------------------------------

    def create(
        self, name: str, *, partitions: int = 1, retention: timedelta = timedelta(hours=24)
    ) -> StreamDescription:
        """Create a stream of ``partitions`` partitions that keeps records for ``retention``.

        More partitions let more consumers read in parallel; order is kept per key, not across keys.
        """
        check_stream_name(name)
        self._check("alter", "*")
        if not isinstance(partitions, int) or not 1 <= partitions <= MAX_PARTITIONS:
            raise ValidationError(
                f"A stream has 1..{MAX_PARTITIONS} partitions, not {partitions!r}",
                hint="one partition per expected parallel consumer is a good start",
            )
        if not isinstance(retention, timedelta) or retention <= timedelta(0):
            raise ValidationError(
                f"The retention period must be a positive timedelta, not {retention!r}",
                hint="e.g. timedelta(days=7)",
            )
        with self._audited("stream.create", name, f"{partitions} partitions, retention {retention}"):
            description = self._backend.create_stream(name, partitions, retention)
            if self._guard is not None:
                self._guard.created(name)
        with self._lock:
            self._partitions[name] = partitions
        return description

    def describe(self, name: str) -> StreamDescription:
        self._check("select", check_stream_name(name))
        return self._backend.describe_stream(name)

    def exists(self, name: str) -> bool:
        """Whether the stream exists (refused, for a principal, without a read grant on it)."""
        self._check("select", check_stream_name(name))
        return name in self._backend.list_streams()

    def list_streams(self) -> list[str]:
        """Names of the streams, sorted; a principal sees those it holds a grant on."""
        names = self._backend.list_streams()
        guard = self._guard
        return names if guard is None else [n for n in names if guard.sees(n)]

    def delete(self, name: str) -> None:
        """Delete the stream with its records and consumer groups."""
        with self._audited("stream.delete", check_stream_name(name)):
            self._check("alter", name)
            self._backend.delete_stream(name)
            if self._guard is not None:
                self._guard.deleted(name)
        with self._lock:
            self._partitions.pop(name, None)

    def partition_of(self, name: str, key: str) -> int:
        """The partition records with ``key`` go to."""
        if self._guard is not None and not self._guard.sees(check_stream_name(name)):
            self._guard.require("select", name)
        return partition_for(key, self._partition_count(name))

    # -- putting -----------------------------------------------------------------------------------

    def put(self, name: str, value: Any, *, key: str) -> PutResult:
        """Put one record; returns its result, or raises :class:`PutError` saying why it was not stored."""
        result = self.put_batch(name, [PutRecord(key, value)])[0]
        if not result.ok:
            raise PutError(
                f"The record with key {key!r} was not stored in stream {name!r}: {result.error}",
                hint="put it again" if result.retryable else None,
            )
        return result

    def put_batch(self, name: str, records: Iterable[PutRecord | tuple[str, Any]]) -> PutBatchResult:
        """Put many records at once; one result per record, in order.

        A record that cannot be stored (too large, a bad key, not JSON-encodable, a broker error) gets an
        error result while the others are stored: check ``failed_indices`` and put those again. Records
        of one key are stored in the order given; a record put again lands after records put meanwhile.
        """
        if self._guard is not None:
            with self._audited("stream.put", check_stream_name(name)):
                self._check("insert", name)
                return self._put_batch(name, records)
        return self._put_batch(name, records)

    def _put_batch(self, name: str, records: Iterable[PutRecord | tuple[str, Any]]) -> PutBatchResult:
        partitions = self._partition_count(name)
        limit = self.max_record_bytes
        failures: dict[int, PutResult] = {}
        outgoing: list[PartitionedRecord] = []
        hash64 = xxhash.xxh3_64_intdigest
        # The loop is the producer's hot path: checks are inlined (see partition_for for the hash).
        i = -1
        try:
            for i, (key, value) in enumerate(records):
                if type(value) is bytes:
                    data = value
                else:
                    data, failure = encode_value(value)
                    if failure is not None:
                        failures[i] = failure
                        continue
                if type(key) is not str or not key or len(key) > MAX_KEY_CHARS:
                    failures[i] = bad_key(key)
                elif len(data) > limit:
                    failures[i] = PutResult(
                        None,
                        error=f"the record is {len(data):,} bytes, more than this stream's limit of {limit:,}",
                        error_code="record_too_large",
                    )
                else:
                    outgoing.append(PartitionedRecord(hash64(key.encode()) % partitions, key, data))
        except (TypeError, ValueError) as exc:  # before anything was stored: the batch is refused whole
            raise ValidationError(
                f"Cannot put record {i + 1} of the batch into stream {name!r}: "
                "a record is a PutRecord or a (key, value) pair",
            ) from exc
        try:
            stored = self._backend.append(name, outgoing) if outgoing else []
        except StreamNotFoundError:
            with self._lock:  # deleted elsewhere: a stream made again under the name may differ
                self._partitions.pop(name, None)
            raise
        if not failures:
            return PutBatchResult(stored)
        merged: list[PutResult] = []
        it = iter(stored)
        for n in range(len(stored) + len(failures)):
            merged.append(failures[n] if n in failures else next(it))
        return PutBatchResult(merged)

    # -- reading -----------------------------------------------------------------------------------

    def read(self, name: str, partition: int, position: Position | None = None, *, limit: int = 1000) -> ReadBatch:
        """Up to ``limit`` records of one partition from ``position`` (default: the oldest retained)."""
        self._check("select", check_stream_name(name))
        check_limit(limit)
        check_partition(name, partition, self._partition_count(name))
        return self._backend.read(name, partition, position or Position.oldest(), limit)

    def group(self, name: str, group: str, *, start: Position | None = None) -> ConsumerGroup:
        """A named consumer group: it reads every partition on from its checkpoints.

        ``start`` is where partitions without a checkpoint begin: the oldest record (default) or
        ``Position.latest()``. Groups are independent: each has its own checkpoints.
        """
        self._check("select", check_stream_name(name))
        check_stream_name(group, "consumer group")
        group_starts = (PositionKind.OLDEST, PositionKind.LATEST, PositionKind.AT_TIMESTAMP)
        if start is not None and start.kind not in group_starts:
            raise ValidationError(
                "A consumer group starts at the oldest record, the latest, or a timestamp",
                hint="to start at a sequence number, commit a checkpoint before it",
            )
        return ConsumerGroup(self, name, group, start or Position.oldest())

    def groups(self, name: str) -> list[str]:
        self._check("select", check_stream_name(name))
        return self._backend.list_groups(name)

    def delete_group(self, name: str, group: str) -> None:
        """Forget a group's checkpoints (it is a reader's own state: ``select`` on the stream suffices)."""
        self._check("select", check_stream_name(name))
        self._backend.delete_group(name, check_stream_name(group, "consumer group"))

    def close(self) -> None:
        """Close the backend, when this object owns it (a lake's streams leave it to the lake)."""
        if self._owns_backend:
            self._backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _partition_count(self, name: str) -> int:
        """Partition counts never change, so they are remembered after the first look."""
        with self._lock:
            known = self._partitions.get(name)
        if known is not None:
            return known
        count = self._backend.describe_stream(check_stream_name(name)).partitions
        with self._lock:
            self._partitions[name] = count
        return count


class ConsumerGroup:
    """A group's cursor over every partition of a stream, resumed from its durable checkpoints.

    ``poll`` moves the cursor in memory; ``commit`` makes it durable. A consumer that stops between the
    two reads the uncommitted records again when the group is opened next (at-least-once delivery; a
    consumer that commits together with its output, as deliveries do, gets exactly once).
    """

    def __init__(self, streams: Streams, stream: str, name: str, start: Position) -> None:
        self._streams = streams
        self.stream = stream
        self.name = name
        self.start = start
        self.partitions = streams._partition_count(stream)
        committed = streams._backend.checkpoints(stream, name)
        self._cursor: dict[int, Position] = {}
        for p in range(self.partitions):
            if p in committed:
                self._cursor[p] = Position.after(committed[p])
            elif start.kind is PositionKind.LATEST:  # pinned now: records put from here on are the group's
                self._cursor[p] = streams._backend.read(stream, p, start, 1).next_position
            else:
                self._cursor[p] = start
        self._uncommitted: dict[int, int] = {}

    def poll(self, *, limit: int = 1000, partitions: Sequence[int] | None = None) -> list[Record]:
        """The next records of the group: up to ``limit`` in all, partition by partition, each in order."""
        check_limit(limit)
        records: list[Record] = []
        for p in partitions if partitions is not None else range(self.partitions):
            if len(records) >= limit:
                break
            batch = self._streams.read(self.stream, p, self._cursor[p], limit=limit - len(records))
            self._cursor[p] = batch.next_position
            if batch.records:
                records.extend(batch.records)
                self._uncommitted[p] = batch.records[-1].sequence
        return records

    def commit(self) -> dict[int, int]:
        """Checkpoint everything polled so far; returns the checkpoints written."""
        done = dict(self._uncommitted)
        for p, seq in done.items():
            self._streams._backend.commit_checkpoint(self.stream, self.name, p, seq)
        self._uncommitted.clear()
        return done

    def checkpoint(self, partition: int, sequence: int) -> None:
        """Checkpoint one partition explicitly (e.g. after processing part of a poll)."""
        check_partition(self.stream, partition, self.partitions)
        self._streams._backend.commit_checkpoint(self.stream, self.name, partition, sequence)
        self._uncommitted.pop(partition, None)

    def checkpoints(self) -> dict[int, int]:
        """The durable checkpoints (what a restarted consumer resumes after)."""
        return self._streams._backend.checkpoints(self.stream, self.name)

    @property
    def cursor(self) -> dict[int, Position]:
        """Where the next poll of each partition starts (moved by ``poll``, in memory until ``commit``)."""
        return dict(self._cursor)


def bad_key(key: object) -> PutResult:
    """The result of a record whose key cannot be a partition key (shared with the remote client)."""
    return PutResult(
        None,
        error=f"a partition key must be a non-empty string of at most {MAX_KEY_CHARS} characters, not {key!r}",
        error_code="invalid_key",
    )


def encode_value(value: Any) -> tuple[bytes, PutResult | None]:
    """Bytes stay bytes; anything else becomes compact JSON (a value JSON cannot encode fails alone).

    The remote client encodes with this too, so a record stores the same bytes whichever way it is put."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), None
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(), None
    except (TypeError, ValueError) as exc:
        return b"", PutResult(None, error=f"the value cannot be encoded as JSON: {exc}", error_code="not_json")
