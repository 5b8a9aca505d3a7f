"""``lake.streams``: the streams API bound to a lake — deliveries into its tables and ``status``.

:class:`LakeStreams` is :class:`~mlake.streams.Streams` (same methods, same checks) plus what needs the
lake's tables and metadata database: making deliveries that the lake knows about, and the operator's
view of a stream (throughput, every consumer's lag in records and seconds, each delivery's last error
and error-table count). It is given the lake as a small protocol; it never imports the lake.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from mlake.errors import MlakeError, PermissionDeniedError, ValidationError
from mlake.streams.base import DEFAULT_MAX_RECORD_BYTES, StreamBackend, check_stream_name
from mlake.streams.delivery import BufferHints, Delivery, TableAccess, delivered_positions, summary_value
from mlake.streams.managed import ManagedDelivery, ManagedStore
from mlake.streams.metastore import DeliveryInfo, DeliveryRegistry
from mlake.streams.models import Position, StreamDescription, to_us
from mlake.streams.service import StreamGuard, Streams

if TYPE_CHECKING:
    from mlake.streams.cdc import PostgresCapture
    from mlake.streams.query import StreamingQuery, Window

LAG_CAP = 100_000
"""Lag is counted by reading: beyond this many records per consumer it is reported as at least this."""

THROUGHPUT_WINDOW = timedelta(minutes=1)
THROUGHPUT_CAP = 1_000_000
"""A throughput history reads at most this many records; beyond, its last buckets are reported as capped."""


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    """How far one consumer (a consumer group, or a delivery) is behind the stream's newest record."""

    kind: Literal["group", "delivery", "query"]
    name: str
    positions: dict[int, int]
    """Partition -> last sequence number consumed (absent: nothing consumed yet; for a query, the records
    of windows still open count as not consumed)."""
    lag_records: int
    """Records not consumed yet (at least this many when ``lag_capped``)."""
    lag_capped: bool
    lag_seconds: float
    """Age of the oldest record not consumed yet; 0 when caught up."""

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> ConsumerLag:
        positions = {int(p): int(s) for p, s in body["positions"].items()}
        return cls(body["kind"], body["name"], positions, body["lag_records"], body["lag_capped"], body["lag_seconds"])


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    name: str
    table: str
    error_table: str
    lag: ConsumerLag
    error_rows: int | None
    """Rows in the error table (None when it cannot be read by the caller)."""
    last_flush_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> DeliveryStatus:
        return cls(
            body["name"],
            body["table"],
            body["error_table"],
            ConsumerLag.from_dict(body["lag"]),
            body["error_rows"],
            _time(body["last_flush_at"]),
            body["last_error"],
            _time(body["last_error_at"]),
        )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A stream as an operator sees it (``mlake streams status``, ``GET /streams/{name}/status``)."""

    stream: StreamDescription
    at: datetime
    records_last_minute: int
    records_per_second: float
    """Throughput over the last minute."""
    groups: list[ConsumerLag] = field(default_factory=list)
    deliveries: list[DeliveryStatus] = field(default_factory=list)
    queries: list[DeliveryStatus] = field(default_factory=list)
    """Streaming queries (their ``error_table`` is empty and ``error_rows`` None: they count bad records)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of REST and the remote client (times as ISO text)."""
        out = asdict(self)
        out["stream"] = self.stream.to_dict()
        out["at"] = self.at.isoformat()
        for d in out["deliveries"] + out["queries"]:
            for key in ("last_flush_at", "last_error_at"):
                d[key] = None if d[key] is None else d[key].isoformat()
        return out

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> StreamStatus:
        return cls(
            StreamDescription.from_dict(body["stream"]),
            datetime.fromisoformat(body["at"]),
            body["records_last_minute"],
            body["records_per_second"],
            [ConsumerLag.from_dict(g) for g in body["groups"]],
            [DeliveryStatus.from_dict(d) for d in body["deliveries"]],
            [DeliveryStatus.from_dict(d) for d in body["queries"]],
        )


@dataclass(frozen=True, slots=True)
class Throughput:
    """Records that arrived per time bucket over a window (``lake.streams.throughput``), by arrival time
    at the backend, all partitions together."""

    stream: str
    start: datetime
    """Start of the first bucket; bucket ``i`` covers [start + i·width, start + (i+1)·width)."""
    bucket_seconds: float
    counts: list[int]
    capped: bool
    """True when the read stopped at ``THROUGHPUT_CAP`` records or its time limit: the counts of the last
    buckets are then lower bounds."""

    @property
    def rates(self) -> list[float]:
        """Records per second in each bucket."""
        return [c / self.bucket_seconds for c in self.counts]

    def bucket_start(self, i: int) -> datetime:
        return self.start + timedelta(seconds=i * self.bucket_seconds)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of REST and the remote client (``start`` as ISO text)."""
        return {
            "stream": self.stream,
            "start": self.start.isoformat(),
            "bucket_seconds": self.bucket_seconds,
            "counts": list(self.counts),
            "capped": self.capped,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Throughput:
        start = datetime.fromisoformat(body["start"])
        return cls(body["stream"], start, body["bucket_seconds"], list(body["counts"]), body["capped"])


class LakeStreams(Streams):
    """The streams of a lake (``lake.streams``): access-checked, with deliveries and status."""

    def __init__(
        self,
        backend: StreamBackend,
        *,
        tables: TableAccess,
        registry: DeliveryRegistry,
        guard: StreamGuard | None = None,
        managed: ManagedStore | None = None,
        principal: str | None = None,
    ) -> None:
        super().__init__(backend, guard=guard, owns_backend=False)
        self._tables = tables
        self._registry = registry
        self._managed = managed
        self._principal = principal

    def delete(self, name: str) -> None:
        super().delete(name)
        self._registry.forget(name)

    def delivery(
        self,
        stream: str,
        into: str | None = None,
        *,
        feature_group: str | None = None,
        name: str | None = None,
        hints: BufferHints | None = None,
        error_table: str | None = None,
        changes_of: str | None = None,
        **options: Any,
    ) -> Delivery:
        """A delivery of ``stream`` into table ``into`` (see :mod:`mlake.streams.delivery`); ``run`` it.

        With ``changes_of`` (a source table of a change data capture), the stream's change records of
        that table are applied as inserts, updates and deletes, so that ``into`` mirrors it (see
        :mod:`mlake.streams.cdc`). ``options`` are the delivery's others (``transform``, ``transform_sql``,
        ``time_fields``, ``partition_by``; see :class:`~mlake.streams.delivery.Delivery`). It reads the
        stream with this handle's grants and writes the table with the lake's, and it is recorded in the
        lake so that :meth:`status` reports it.

        With ``feature_group`` instead of ``into``, the records are feature values of that group: they
        reach its offline table exactly once and its online store after each buffer (see
        :mod:`mlake.streams.features`)."""
        self._check("select", check_stream_name(stream))
        _one_target(into, feature_group, "A delivery goes")
        kind: type[Delivery] = Delivery
        if feature_group is not None:
            from mlake.streams.features import FeatureDelivery

            if changes_of is not None:
                raise ValidationError("A delivery of changes goes into a table, not a feature group")
            return FeatureDelivery(
                self._tables,
                self,
                stream,
                feature_group=feature_group,
                name=name,
                hints=hints,
                error_table=error_table,
                registry=self._registry,
                **options,
            )
        assert into is not None
        if changes_of is not None:
            from mlake.streams.cdc import ChangeDelivery

            kind = ChangeDelivery
            options["source_table"] = changes_of
        return kind(
            self._tables,
            self,
            stream,
            into,
            name=name,
            hints=hints,
            error_table=error_table,
            registry=self._registry,
            **options,
        )

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
        """Save a delivery for the long-running worker (``mlake worker``) to run, restart after a crash and
        hand over to another worker when this one dies (see :mod:`mlake.streams.managed`).

        It takes what :meth:`delivery` takes except a Python ``transform`` (code cannot be stored; use
        ``transform_sql``), is checked the same way now, and runs with the caller's grants. Saving it again
        under the same name changes it: the worker restarts it from its committed position."""
        options: dict[str, Any] = {
            "time_fields": list(time_fields),
            "partition_by": list(partition_by),
            "max_record_bytes": max_record_bytes,
        }
        if transform_sql is not None:
            options["transform_sql"] = transform_sql
        checked = self.delivery(
            stream,
            into,
            feature_group=feature_group,
            name=name,
            hints=hints,
            error_table=error_table,
            changes_of=changes_of,
            **options,
        )  # grants, names and SQL checked as for a delivery run by hand
        h = hints or BufferHints()
        spec = ManagedDelivery(
            stream=checked.stream,
            name=checked.name,
            into=into,
            feature_group=feature_group,
            changes_of=changes_of,
            error_table=error_table,
            hints={"max_records": h.max_records, "max_bytes": h.max_bytes, "max_seconds": h.max_seconds},
            options=options,
            principal=self._principal,
        )
        self._managed_store().save(spec)
        return self._managed_store().get(spec.stream, spec.name) or spec

    def managed(self) -> list[ManagedDelivery]:
        """The deliveries the worker runs, of the streams this handle may read."""
        out = []
        for d in self._managed_store().list():
            try:
                self._check("select", d.stream)
            except PermissionDeniedError:
                continue
            out.append(d)
        return out

    def unmanage(self, stream: str, name: str | None = None) -> None:
        """Stop the worker running a delivery (it writes what it buffered first) and forget its definition;
        its table and committed position stay, so managing it again resumes where it stopped."""
        self._check("select", check_stream_name(stream))
        found = self._managed_store().get(stream, name or stream)
        if found is not None and self._principal is not None and found.principal != self._principal:
            raise PermissionDeniedError(
                f"The managed delivery {found.name!r} of stream {stream!r} was made by another principal",
                hint="its maker or an administrator can remove it",
            )
        self._managed_store().remove(stream, name or stream)

    def _managed_store(self) -> ManagedStore:
        if self._managed is None:
            raise ValidationError("This streams handle has no metadata database for managed deliveries")
        return self._managed

    def query(
        self,
        stream: str,
        sql: str,
        into: str | None = None,
        *,
        event_time: str,
        window: Window,
        lateness: timedelta = timedelta(0),
        name: str | None = None,
        feature_group: str | None = None,
        start: str = "oldest",
        to_stream: str | None = None,
        key_field: str | None = None,
    ) -> StreamingQuery:
        """A continuous SQL query over windows of ``stream``'s event time, results appended to ``into``;
        ``run`` it (see :mod:`mlake.streams.query`). It reads the stream with this handle's grants and
        writes the table with the lake's. With ``feature_group`` instead of ``into``, each result row is a
        feature value of that group, as of its window's end, offline and online (a live feature; see
        :mod:`mlake.streams.features`). With ``to_stream``, the result rows are also put into that stream
        (at least once; this handle needs a write grant on it)."""
        from mlake.streams.query import StreamingQuery

        self._check("select", check_stream_name(stream))
        _one_target(into, feature_group, "A streaming query writes")
        if to_stream is not None:
            if feature_group is not None:
                raise ValidationError("A streaming query puts into a stream beside a table, not a feature group")
            self._check("insert", check_stream_name(to_stream))
        if feature_group is not None:
            from mlake.streams.features import FeatureQuery

            return FeatureQuery(
                self._tables,
                self,
                stream,
                sql,
                feature_group=feature_group,
                event_time=event_time,
                window=window,
                lateness=lateness,
                name=name,
                registry=self._registry,
                start=start,
            )
        assert into is not None
        return StreamingQuery(
            self._tables,
            self,
            stream,
            sql,
            into,
            event_time=event_time,
            window=window,
            lateness=lateness,
            name=name,
            registry=self._registry,
            start=start,
            to_stream=to_stream,
            key_field=key_field,
        )

    def capture(self, url: str, tables: list[str], stream: str, *, name: str | None = None) -> PostgresCapture:
        """Change data capture of PostgreSQL ``tables`` at ``url`` into ``stream`` (one partition; made if
        missing): ``start()`` it, then ``poll()``; see :mod:`mlake.streams.cdc`. A principal may capture only
        from the sources the lake's owner allows (``ingest_allowed``) and needs ``write`` on the stream."""
        from mlake.streams.cdc import PostgresCapture

        if self._guard is not None:
            self._guard.require_source(url)
        return PostgresCapture(url, tables, self, stream, name=name)

    def status(self, name: str) -> StreamStatus:
        """Throughput over the last minute, each consumer group's and delivery's lag, deliveries' errors."""
        description = self.describe(name)
        now = datetime.now(UTC)
        since = Position.at_time(now - THROUGHPUT_WINDOW)
        recent = sum(self._count(name, p, since)[0] for p in range(description.partitions))
        groups = [
            self._lag("group", name, g, self._backend.checkpoints(name, g), description.partitions)
            for g in self.groups(name)
        ]
        infos = self._registry.deliveries(name)
        deliveries = [self._delivery_status(i, description.partitions) for i in infos if i.kind == "delivery"]
        queries = [self._query_status(i, description.partitions) for i in infos if i.kind == "query"]
        rate = recent / THROUGHPUT_WINDOW.total_seconds()
        return StreamStatus(description, now, recent, rate, groups, deliveries, queries)

    def throughput(
        self, name: str, *, window: timedelta = timedelta(minutes=15), buckets: int = 30, end: datetime | None = None
    ) -> Throughput:
        """Records per bucket over the ``window`` before ``end`` (now), by arrival time, read from the stream
        itself — so the history needs no sampler and is the same for every viewer with a read grant."""
        description = self.describe(name)  # the grant first: a refused caller learns nothing else
        if buckets < 1 or buckets > 10_000 or window.total_seconds() <= 0:
            raise ValidationError(
                f"a throughput history needs 1..10000 buckets over a positive window (got {buckets}, {window})",
                hint="e.g. window=timedelta(minutes=15), buckets=30",
            )
        stop = end or datetime.now(UTC)
        start = stop - window
        start_us, stop_us = to_us(start), to_us(stop)
        width_us = (stop_us - start_us) / buckets
        counts = [0] * buckets
        capped = False
        read = 0
        deadline = time.monotonic() + 10.0
        for p in range(description.partitions):
            position = Position.at_time(start)
            while True:
                if read >= THROUGHPUT_CAP or time.monotonic() > deadline:
                    capped = True
                    break
                batch = self._backend.read(name, p, position, 5000)
                if not batch.records:
                    break
                read += len(batch.records)
                for r in batch.records:
                    if start_us <= r.timestamp_us < stop_us:
                        counts[min(int((r.timestamp_us - start_us) // width_us), buckets - 1)] += 1
                if batch.records[-1].timestamp_us >= stop_us:
                    break
                position = batch.next_position
        return Throughput(name, start, width_us / 1e6, counts, capped)

    def _query_status(self, info: DeliveryInfo, partitions: int) -> DeliveryStatus:
        from mlake.streams.query import QUERY_PREFIX

        starts: dict[int, Position] = {}
        try:
            if self._tables.table_exists(info.table):
                raw = summary_value(self._tables.table(info.table).iceberg, f"{QUERY_PREFIX}{info.name}")
                for p, (kind, seq) in (json.loads(raw)["resume"] if raw else {}).items():
                    starts[int(p)] = Position.at(seq) if kind == "at" else Position.after(seq)
        except PermissionDeniedError:
            starts = {}
        lag = self._lag_from("query", info.stream, info.name, starts, partitions)
        return DeliveryStatus(
            info.name, info.table, "", lag, None, info.last_flush_at, info.last_error, info.last_error_at
        )

    def delivery_lag(
        self, name: str, delivery: str, *, window: timedelta = timedelta(hours=1), cap: int = LAG_CAP
    ) -> list[tuple[datetime, int]]:
        """A delivery's lag in records just after each commit of the last ``window``, read back from its
        table's snapshots (each records the stream position it reached) and the stream's arrival times —
        a lag history that needs no sampler. Empty when the caller may not read the table."""
        from mlake.streams.lag_history import lag_at_commits

        description = self.describe(name)
        info = next((i for i in self._registry.deliveries(name) if i.name == delivery and i.kind == "delivery"), None)
        if info is None:
            raise ValidationError(
                f"stream {name!r} has no delivery {delivery!r}", hint="see lake.streams.status(name).deliveries"
            )
        try:
            if not self._tables.table_exists(info.table):
                return []
            iceberg = self._tables.table(info.table).iceberg
        except PermissionDeniedError:
            return []
        key = f"mlake.delivery.{info.name}"
        chain = []
        snapshot = iceberg.current_snapshot()
        while snapshot is not None:
            chain.append(snapshot)
            parent = snapshot.parent_snapshot_id
            snapshot = iceberg.snapshot_by_id(parent) if parent is not None else None
        since_us = to_us(datetime.now(UTC) - window)
        commits: list[tuple[int, dict[int, int]]] = []
        for snap in reversed(chain):  # oldest first; a snapshot without the key keeps the last position
            raw = (snap.summary.additional_properties if snap.summary else {}).get(key)
            if raw is None:
                continue
            commits.append((snap.timestamp_ms * 1000, {int(p): int(q) for p, q in json.loads(raw).items()}))
        commits = [c for c in commits if c[0] >= since_us]
        if not commits:
            return []
        arrivals: dict[int, list[tuple[int, int]]] = {}
        for p in range(description.partitions):
            done = min((c[1].get(p, -1) for c in commits), default=-1)
            position = Position.after(done) if done >= 0 else Position.oldest()
            seen: list[tuple[int, int]] = []
            while len(seen) < cap:
                batch = self._backend.read(name, p, position, min(5000, cap - len(seen)))
                if not batch.records or batch.records[0].timestamp_us > commits[-1][0]:
                    break
                seen.extend((r.sequence, r.timestamp_us) for r in batch.records)
                position = batch.next_position
            arrivals[p] = seen
        lags = lag_at_commits(commits, arrivals)
        return [(datetime.fromtimestamp(t / 1e6, UTC), lag) for (t, _), lag in zip(commits, lags, strict=True)]

    def _delivery_status(self, info: DeliveryInfo, partitions: int) -> DeliveryStatus:
        try:
            positions = (
                delivered_positions(self._tables.table(info.table).iceberg, f"mlake.delivery.{info.name}")
                if self._tables.table_exists(info.table)
                else {}
            )
        except PermissionDeniedError:
            positions = {}  # the caller may not read the table: lag from the start, no error counts
        errors: int | None = None
        try:
            if self._tables.table_exists(info.error_table):
                errors = self._tables.table(info.error_table).count()
            elif self._tables.table_exists(info.table):
                errors = 0
        except MlakeError:
            errors = None
        return DeliveryStatus(
            info.name,
            info.table,
            info.error_table,
            self._lag("delivery", info.stream, info.name, positions, partitions),
            errors,
            info.last_flush_at,
            info.last_error,
            info.last_error_at,
        )

    def _lag(
        self, kind: Literal["group", "delivery"], stream: str, name: str, positions: dict[int, int], partitions: int
    ) -> ConsumerLag:
        starts = {p: Position.after(s) for p, s in positions.items()}
        return self._lag_from(kind, stream, name, starts, partitions, positions)

    def _lag_from(
        self,
        kind: Literal["group", "delivery", "query"],
        stream: str,
        name: str,
        starts: dict[int, Position],
        partitions: int,
        positions: dict[int, int] | None = None,
    ) -> ConsumerLag:
        total = 0
        capped = False
        oldest_us: int | None = None
        for p in range(partitions):
            start = starts.get(p, Position.oldest())
            n, first_us, more = self._count(stream, p, start, LAG_CAP - total)
            total += n
            capped = capped or more
            if first_us is not None:
                oldest_us = first_us if oldest_us is None else min(oldest_us, first_us)
        age = 0.0 if oldest_us is None else max(0.0, (to_us(datetime.now(UTC)) - oldest_us) / 1e6)
        consumed = dict(positions) if positions is not None else {}
        return ConsumerLag(kind, name, consumed, total, capped, age)

    def _count(self, stream: str, partition: int, start: Position, cap: int = LAG_CAP) -> tuple[int, int | None, bool]:
        """(records from ``start``, arrival of the first of them, whether the count stopped at ``cap``)."""
        n = 0
        first: int | None = None
        position = start
        deadline = time.monotonic() + 5.0
        while n < cap and time.monotonic() < deadline:
            batch = self._backend.read(stream, partition, position, min(5000, max(cap - n, 1)))
            if not batch.records:
                return n, first, False
            if first is None:
                first = batch.records[0].timestamp_us
            n += len(batch.records)
            position = batch.next_position
        return n, first, True


def _one_target(into: str | None, feature_group: str | None, what: str) -> None:
    if (into is None) == (feature_group is None):
        raise ValidationError(
            f"{what} into one table or one feature group",
            hint="give either into='ns.table' or feature_group='name'",
        )
