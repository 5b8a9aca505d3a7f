"""``remote.streams``: the streams of :mod:`mlake.streams` on an mlake server, over ``/api/v1/streams``.

The same calls and return types as ``lake.streams`` (:class:`~mlake.streams.lake_streams.LakeStreams`):
descriptions, per-record put results, read batches of :class:`~mlake.streams.models.Record` with their
exact bytes, consumer groups with durable checkpoints, and the operator's status. The server applies the
caller's grants on ``stream:NAME`` with the same words as in process.

Values are encoded here exactly as in process (:func:`~mlake.streams.service.encode_value`) and sent as
bytes, so a record stores the same bytes whichever way it was put; a record that cannot be encoded or
has a bad key fails alone, here, as it would in process. Larger batches than the server takes in one
request are split (in order), and reads larger than it returns at once are continued, so ``limit`` means
the same on both sides. Deliveries, streaming queries and change data captures run in process beside the
lake (their loops write tables with the lake's own handle), so they have no remote twin: to start a
delivery from a client, save it for the server's worker with ``manage``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from mlake.errors import ValidationError
from mlake.streams.base import (
    DEFAULT_MAX_RECORD_BYTES,
    MAX_KEY_CHARS,
    check_limit,
    check_partition,
    check_stream_name,
)
from mlake.streams.delivery import BufferHints
from mlake.streams.lake_streams import LAG_CAP, StreamStatus, Throughput
from mlake.streams.managed import ManagedDelivery
from mlake.streams.models import (
    Position,
    PutBatchResult,
    PutRecord,
    PutResult,
    ReadBatch,
    Record,
    StreamDescription,
    to_us,
)
from mlake.streams.service import PutError, bad_key, encode_value

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake

REQUEST_BYTES = 4 * 1024 * 1024
"""A put request carries at most about this many bytes of records (and the server's ``max_batch``)."""


class RemoteStreams:
    """Streams on the server (``remote.streams``): the calls of ``lake.streams`` that run on a server."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _path(self, name: str, tail: str = "") -> str:
        return f"/streams/{quote(check_stream_name(name), safe='')}{tail}"

    @cached_property
    def _limits(self) -> dict[str, int]:
        found: dict[str, int] = self._lake._json("GET", "/stream-limits")
        return found

    @property
    def max_record_bytes(self) -> int:
        """The largest record the server's streams store."""
        return int(self._limits["max_record_bytes"])

    # -- streams -----------------------------------------------------------------------------------

    def create(
        self, name: str, *, partitions: int = 1, retention: timedelta = timedelta(hours=24)
    ) -> StreamDescription:
        """Create a stream of ``partitions`` partitions that keeps records for ``retention``."""
        check_stream_name(name)
        if not isinstance(retention, timedelta) or retention <= timedelta(0):
            raise ValidationError(
                f"The retention period must be a positive timedelta, not {retention!r}",
                hint="e.g. timedelta(days=7)",
            )
        body = {"name": name, "partitions": partitions, "retention_seconds": retention.total_seconds()}
        return StreamDescription.from_dict(self._lake._json("POST", "/streams", json=body))

    def describe(self, name: str) -> StreamDescription:
        return StreamDescription.from_dict(self._lake._json("GET", self._path(name)))

    def exists(self, name: str) -> bool:
        """Whether the stream exists (refused, for a principal, without a read grant on it)."""
        return bool(self._lake._json("GET", self._path(name, "/exists"))["exists"])

    def list_streams(self) -> list[str]:
        """Names of the streams, sorted; a principal sees those it holds a grant on."""
        found: list[str] = self._lake._json("GET", "/streams")
        return found

    def delete(self, name: str) -> None:
        """Delete the stream with its records and consumer groups."""
        self._lake._json("DELETE", self._path(name))

    def partition_of(self, name: str, key: str) -> int:
        """The partition records with ``key`` go to."""
        return int(self._lake._json("GET", self._path(name, "/partition"), params={"key": key})["partition"])

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
        """Put many records at once; one result per record, in order (see ``Streams.put_batch``)."""
        path = self._path(name, "/records")
        results: list[PutResult | None] = []
        pending: list[tuple[int, dict[str, str]]] = []  # (index in the batch, wire record)
        i = -1
        try:
            for i, (key, value) in enumerate(records):
                data, failure = (value, None) if type(value) is bytes else encode_value(value)
                if failure is None and (type(key) is not str or not key or len(key) > MAX_KEY_CHARS):
                    failure = bad_key(key)
                results.append(failure)
                if failure is None:
                    pending.append((i, {"key": key, "data_base64": base64.b64encode(data).decode()}))
        except (TypeError, ValueError) as exc:  # before anything was sent: the batch is refused whole
            raise ValidationError(
                f"Cannot put record {i + 1} of the batch into stream {name!r}: "
                "a record is a PutRecord or a (key, value) pair",
            ) from exc
        chunks: list[list[tuple[int, dict[str, str]]]] = [[]]
        size = 0
        for entry in pending:
            wire = len(entry[1]["data_base64"]) + len(entry[1]["key"])
            if chunks[-1] and (len(chunks[-1]) >= self._limits["max_batch"] or size + wire > REQUEST_BYTES):
                chunks.append([])
                size = 0
            chunks[-1].append(entry)
            size += wire
        for chunk in chunks:  # an empty batch is still sent: the server checks the caller's grant
            body = self._lake._json("POST", path, json={"records": [wire for _, wire in chunk]})
            for (index, _), r in zip(chunk, body["records"], strict=True):
                results[index] = PutResult(r["partition"], r["sequence"], r["error"], r["error_code"], r["retryable"])
        return PutBatchResult([r for r in results if r is not None])

    # -- reading -----------------------------------------------------------------------------------

    def read(self, name: str, partition: int, position: Position | None = None, *, limit: int = 1000) -> ReadBatch:
        """Up to ``limit`` records of one partition from ``position`` (default: the oldest retained)."""
        check_limit(limit)
        path = self._path(name, "/records")
        records: list[Record] = []
        at = position or Position.oldest()
        while True:
            ask = min(limit - len(records), self._limits["max_read"])
            params = {"partition": partition, "from": at.text(), "limit": ask, "encoding": "base64"}
            body = self._lake._json("GET", path, params=params)
            got = [_record(name, r) for r in body["records"]]
            records.extend(got)
            at = Position.parse(body["next_position"])
            if len(got) < ask or len(records) >= limit:
                return ReadBatch(records, at)

    def group(self, name: str, group: str, *, start: Position | None = None) -> RemoteConsumerGroup:
        """A named consumer group: it reads every partition on from its checkpoints (see ``Streams.group``)."""
        return RemoteConsumerGroup(self, name, group, start or Position.oldest())

    def groups(self, name: str) -> list[str]:
        found: list[str] = self._lake._json("GET", self._path(name, "/groups"))
        return found

    def delete_group(self, name: str, group: str) -> None:
        """Forget a group's checkpoints (``select`` on the stream suffices)."""
        check_stream_name(group, "consumer group")
        self._lake._json("DELETE", self._path(name, f"/groups/{quote(group, safe='')}"))

    # -- deliveries run by the server's worker ---------------------------------------------------

    def manage(
        self,
        stream: str,
        into: str | None = None,
        *,
        feature_group: str | None = None,
        name: str | None = None,
        hints: BufferHints | None = None,
        error_table: str | None = None,
        changes_of: str | None = None,
        transform_sql: str | None = None,
        time_fields: Sequence[str] = (),
        partition_by: Sequence[str] = (),
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> ManagedDelivery:
        """Save a delivery for the server's worker (``mlake worker``) to run (see ``LakeStreams.manage``):
        checked now on the server with the caller's grants, and run with them."""
        h = hints
        body = {
            "stream": stream,
            "into": into,
            "feature_group": feature_group,
            "name": name,
            "hints": None
            if h is None
            else {"max_records": h.max_records, "max_bytes": h.max_bytes, "max_seconds": h.max_seconds},
            "error_table": error_table,
            "changes_of": changes_of,
            "transform_sql": transform_sql,
            "time_fields": list(time_fields),
            "partition_by": list(partition_by),
            "max_record_bytes": max_record_bytes,
        }
        return ManagedDelivery.from_dict(self._lake._json("POST", "/managed-deliveries", json=body))

    def managed(self) -> list[ManagedDelivery]:
        """The deliveries the server's workers run, of the streams the caller may read."""
        return [ManagedDelivery.from_dict(d) for d in self._lake._json("GET", "/managed-deliveries")]

    def unmanage(self, stream: str, name: str | None = None) -> None:
        """Stop the worker running a delivery and forget its definition (its table and position stay)."""
        params = {"name": name} if name is not None else {}
        self._lake._json("DELETE", f"/managed-deliveries/{quote(check_stream_name(stream), safe='')}", params=params)

    def throughput(
        self, name: str, *, window: timedelta = timedelta(minutes=15), buckets: int = 30, end: datetime | None = None
    ) -> Throughput:
        """Records per bucket over the ``window`` before ``end`` (now), by arrival time, read on the server."""
        params: dict[str, Any] = {"window_seconds": window.total_seconds(), "buckets": buckets}
        if end is not None:
            params["end"] = (end if end.tzinfo else end.replace(tzinfo=UTC)).isoformat()
        return Throughput.from_dict(self._lake._json("GET", self._path(name, "/throughput"), params=params))

    def delivery_lag(
        self, name: str, delivery: str, *, window: timedelta = timedelta(hours=1), cap: int = LAG_CAP
    ) -> list[tuple[datetime, int]]:
        """A delivery's lag in records just after each commit of the last ``window`` (see
        ``LakeStreams.delivery_lag``); empty when the caller may not read its table."""
        path = self._path(name, f"/deliveries/{quote(delivery, safe='')}/lag")
        found = self._lake._json("GET", path, params={"window_seconds": window.total_seconds(), "cap": cap})
        return [(datetime.fromisoformat(at), int(n)) for at, n in found]

    def status(self, name: str) -> StreamStatus:
        """Throughput over the last minute, each consumer group's and delivery's lag, deliveries' errors."""
        return StreamStatus.from_dict(self._lake._json("GET", self._path(name, "/status")))

    def close(self) -> None:
        """Nothing to close: the connection is the remote lake's."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteConsumerGroup:
    """A group's cursor over every partition of a stream on the server, resumed from its durable
    checkpoints; ``poll`` moves the cursor here, ``commit`` makes it durable on the server (see
    :class:`~mlake.streams.service.ConsumerGroup`: at-least-once, the same rules)."""

    def __init__(self, streams: RemoteStreams, stream: str, name: str, start: Position) -> None:
        self._streams = streams
        self.stream = stream
        self.name = name
        self.start = start
        opened = streams._lake._json("POST", self._path("/open"), json={"start": start.text()})
        self.partitions = int(opened["partitions"])
        self._cursor = {int(p): Position.parse(text) for p, text in opened["cursor"].items()}
        self._uncommitted: dict[int, int] = {}

    def _path(self, tail: str) -> str:
        group = quote(check_stream_name(self.name, "consumer group"), safe="")
        return self._streams._path(self.stream, f"/groups/{group}{tail}")

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
        if done:
            self._streams._lake._json("POST", self._path("/checkpoints"), json={"checkpoints": done})
        self._uncommitted.clear()
        return done

    def checkpoint(self, partition: int, sequence: int) -> None:
        """Checkpoint one partition explicitly (e.g. after processing part of a poll)."""
        check_partition(self.stream, partition, self.partitions)
        self._streams._lake._json("POST", self._path("/checkpoints"), json={"checkpoints": {partition: sequence}})
        self._uncommitted.pop(partition, None)

    def checkpoints(self) -> dict[int, int]:
        """The durable checkpoints (what a restarted consumer resumes after)."""
        return {int(p): int(s) for p, s in self._streams._lake._json("GET", self._path("/checkpoints")).items()}

    @property
    def cursor(self) -> dict[int, Position]:
        """Where the next poll of each partition starts (moved by ``poll``, in memory until ``commit``)."""
        return dict(self._cursor)


def _record(stream: str, r: dict[str, Any]) -> Record:
    data = base64.b64decode(r["data_base64"])
    return Record(stream, r["partition"], r["sequence"], r["key"], data, to_us(datetime.fromisoformat(r["timestamp"])))
