"""Delivery of a stream into a table, exactly once (the Kinesis Data Firehose role).

A delivery reads every partition of a stream, buffers records until one of its hints is reached (a
number of records, of bytes, or seconds since the first buffered record), decodes them as JSON objects
and appends them to a table as one Iceberg snapshot. The stream position reached (the last sequence
number per partition) goes into that snapshot's summary, under ``mlake.delivery.<name>``, in the same
commit as the data. Restarted, a delivery resumes after the position found in the table's newest
snapshot that carries it, so a delivery killed at any moment neither loses nor duplicates a record.

The commit is a compare-and-set: it goes through only if the position in the table is still the one
the batch started from, so two processes running the same delivery by mistake cannot both write a
batch (the second gets a :class:`DeliveryConflictError` and should stop).

Records that cannot become rows — not JSON, not a JSON object, or a value that does not fit the
table's column — go to an error table (``<table>_errors`` by default) with the reason and the raw
bytes, and good records keep flowing. The error table carries the position too, so error rows written
just before a crash are not written again after the restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from mlake.errors import MlakeError, SchemaError, ValidationError
from mlake.streams.base import DEFAULT_MAX_RECORD_BYTES, check_stream_name
from mlake.streams.models import Position, Record
from mlake.streams.service import Streams

if TYPE_CHECKING:
    from pyiceberg.table import Table as IcebergTable

    from mlake.streams.metastore import DeliveryRegistry
    from mlake.tables.table import Table

POSITION_PREFIX = "mlake.delivery."


class DeliveryConflictError(MlakeError):
    """The table's delivery position moved under this delivery: another process runs the same delivery."""

    code = "delivery_conflict"
    http_status = 409


class TableAccess(Protocol):
    """What a delivery needs of the lake (the Lake implements it)."""

    def table(self, name: str) -> Table: ...

    def table_exists(self, name: str) -> bool: ...

    def create_table(
        self,
        name: str,
        data: Any = None,
        *,
        schema: Any = None,
        exist_ok: bool = False,
        partition_by: Sequence[str] = (),
    ) -> Table: ...


@dataclass(frozen=True, slots=True)
class BufferHints:
    """When a delivery writes its buffer: whichever limit is reached first (as Firehose's hints)."""

    max_records: int = 10_000
    max_bytes: int = 8 * 1024 * 1024
    max_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.max_records < 1 or self.max_bytes < 1 or not self.max_seconds > 0:
            raise ValidationError(f"Buffer hints must be positive: {self}")


@dataclass(slots=True)
class DeliveryStats:
    """What one run of a delivery did."""

    flushes: int = 0
    records: int = 0
    rows_written: int = 0
    errors: int = 0
    filtered: int = 0
    """Records the transform left out (it returned None)."""
    positions: dict[int, int] = field(default_factory=dict)
    """The position committed last (partition -> last delivered sequence number)."""


def summary_value(table: IcebergTable, key: str) -> str | None:
    """The value under ``key`` in the newest snapshot summary (walking back from the current one) that has it."""
    snapshot = table.current_snapshot()
    while snapshot is not None:
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        raw = props.get(key)
        if raw is not None:
            return raw
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return None


def delivered_positions(table: IcebergTable, key: str) -> dict[int, int]:
    """The position under ``key`` in the newest snapshot (walking back from the current one) that has it."""
    raw = summary_value(table, key)
    return {} if raw is None else {int(p): int(s) for p, s in json.loads(raw).items()}


class Delivery:
    """Delivers one stream into one table; ``run`` it in the foreground or on a thread."""

    def __init__(
        self,
        lake: TableAccess,
        streams: Streams,
        stream: str,
        table: str,
        *,
        name: str | None = None,
        hints: BufferHints | None = None,
        error_table: str | None = None,
        registry: DeliveryRegistry | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        transform_sql: str | None = None,
        time_fields: Sequence[str] = (),
        partition_by: Sequence[str] = (),
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        """``transform`` is called with each record's JSON object and returns the row (None: leave the
        record out, counted in ``stats.filtered``); a record it raises on goes to the error table.
        ``transform_sql`` is one SELECT over the table ``records`` (the buffer's rows), run in a sandboxed
        DuckDB that sees nothing else. ``time_fields`` are read as timestamps (ISO 8601, UTC unless they
        say, or epoch seconds), so that ``partition_by`` (``day(event_time)``, ``country``) can use them
        when the table is created. A record larger than ``max_record_bytes`` (default 1 MiB, the put
        limit; a broker's other clients may write larger ones) goes to the error table unparsed."""
        if max_record_bytes < 1:
            raise ValidationError(f"max_record_bytes must be positive, not {max_record_bytes}")
        self.max_record_bytes = max_record_bytes
        if transform_sql is not None:
            check_select(transform_sql, "transform_sql")
        self.transform = transform
        self.transform_sql = transform_sql
        self.time_fields = tuple(time_fields)
        self.partition_by = tuple(partition_by)
        self.lake = lake
        self.registry = registry
        self.streams = streams
        self.stream = check_stream_name(stream)
        self.table_name = table
        self.name = check_stream_name(name or stream, "delivery")
        self.key = f"{POSITION_PREFIX}{self.name}"
        self.hints = hints or BufferHints()
        self.error_table_name = error_table or f"{table}_errors"
        self.partitions = streams.describe(stream).partitions

    def positions(self) -> dict[int, int]:
        """The position committed in the table: what a restarted delivery resumes after."""
        if not self.lake.table_exists(self.table_name):
            return {}
        return delivered_positions(self.lake.table(self.table_name).iceberg, self.key)

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        max_flushes: int | None = None,
        idle_timeout: float | None = None,
    ) -> DeliveryStats:
        """Deliver until ``stop`` is set, ``max_flushes`` buffers were written, or nothing new arrived for
        ``idle_timeout`` seconds; what is buffered when it stops is written first.

        With a registry, the delivery is recorded there (``status`` finds it) with its last flush and, when
        the run fails, its error."""
        if self.registry is None:
            return self._run(stop, max_flushes, idle_timeout)
        self.registry.register(self.stream, self.name, self.table_name, self.error_table_name)
        try:
            return self._run(stop, max_flushes, idle_timeout)
        except Exception as exc:
            message = exc.message if isinstance(exc, MlakeError) else f"{type(exc).__name__}: {exc}"
            self.registry.failed(self.stream, self.name, message)
            raise

    def _run(self, stop: threading.Event | None, max_flushes: int | None, idle_timeout: float | None) -> DeliveryStats:
        stats = DeliveryStats()
        committed = self.positions()
        stats.positions = dict(committed)
        cursor = {
            p: Position.after(committed[p]) if p in committed else Position.oldest() for p in range(self.partitions)
        }
        buffer: list[Record] = []
        size = 0
        first_at = 0.0
        last_seen = time.monotonic()
        while True:
            if stop is not None and stop.is_set():
                break
            if max_flushes is not None and stats.flushes >= max_flushes:
                return stats
            got = False
            for p in range(self.partitions):
                room = self.hints.max_records - len(buffer)
                if room <= 0:
                    break
                batch = self.streams.read(self.stream, p, cursor[p], limit=min(room, 5000))
                cursor[p] = batch.next_position
                if batch.records:
                    if not buffer:
                        first_at = time.monotonic()
                    got = True
                    buffer.extend(batch.records)
                    size += sum(len(r.data) for r in batch.records)
            now = time.monotonic()
            if got:
                last_seen = now
            due = buffer and (
                len(buffer) >= self.hints.max_records
                or size >= self.hints.max_bytes
                or now - first_at >= self.hints.max_seconds
            )
            if due:
                while buffer:  # a read may bring more than the hints allow: write them in pieces
                    n = self._fitting(buffer)
                    self._flush(buffer[:n], committed, stats)
                    buffer = buffer[n:]
                    if len(buffer) < self.hints.max_records and sum(len(r.data) for r in buffer) < self.hints.max_bytes:
                        break
                size = sum(len(r.data) for r in buffer)
                first_at = time.monotonic()
            elif not got and idle_timeout is not None and now - last_seen >= idle_timeout:
                break  # idle: this read brought nothing (with a timeout of 0, a delivery stops at the stream's end)
            elif not got:
                time.sleep(0.02)
        while buffer:
            n = self._fitting(buffer)
            self._flush(buffer[:n], committed, stats)
            buffer = buffer[n:]
        return stats

    def _fitting(self, buffer: list[Record]) -> int:
        """How many of the buffer's first records fit the hints (at least one)."""
        size = 0
        for n, r in enumerate(buffer[: self.hints.max_records]):
            size += len(r.data)
            if size > self.hints.max_bytes:
                return max(n, 1)
        return min(len(buffer), self.hints.max_records)

    # -- one buffer ----------------------------------------------------------------------------------

    def _flush(self, records: list[Record], committed: dict[int, int], stats: DeliveryStats) -> None:
        reached = dict(committed)
        for r in records:
            reached[r.partition] = max(reached.get(r.partition, -1), r.sequence)
        rows, errors = _decode(records, self.max_record_bytes)
        rows = self._transform(rows, errors, stats)
        table = self.lake.table(self.table_name) if self.lake.table_exists(self.table_name) else None
        data, more_errors = self._rows(rows, table)
        errors.extend(more_errors)
        if errors:
            self._write_errors(errors, reached)
        if table is None and data.num_rows:
            table = self.lake.create_table(
                self.table_name, schema=data.schema, exist_ok=True, partition_by=self.partition_by
            )
        if table is not None:
            if not data.num_rows:  # only bad records: the position still moves on, in an empty snapshot
                data = table.schema.as_arrow().empty_table()
            expected = dict(committed)
            table.append(
                data,
                command=f"deliver stream {self.stream}",
                properties={self.key: position_json(reached)},
                precondition=position_is(self.key, expected, self.table_name),
            )
        self._flushed(
            stats, committed, reached if table is not None else None, len(records), data.num_rows, len(errors)
        )
        self._after_commit()

    def _rows(
        self, rows: list[tuple[Record, dict[str, Any]]], table: Table | None
    ) -> tuple[pa.Table, list[tuple[Record, str]]]:
        """The buffer's rows as the data to append, and the records that cannot become rows."""
        return _to_arrow(rows, table)

    def _after_commit(self) -> None:
        """Called after each buffer is committed (a feature group's delivery updates its online store)."""

    def _transform(
        self, rows: list[tuple[Record, dict[str, Any]]], errors: list[tuple[Record, str]], stats: DeliveryStats
    ) -> list[tuple[Record, dict[str, Any]]]:
        """The Python transform, the time fields, then the SQL transform; a record that fails one becomes
        an error row with the reason, and the others go on."""
        out: list[tuple[Record, dict[str, Any]]] = []
        for record, value in rows:
            try:
                if self.transform is not None:
                    changed = self.transform(value)
                    if changed is None:
                        stats.filtered += 1
                        continue
                    if not isinstance(changed, dict) or not changed:
                        raise TypeError(f"it returned {type(changed).__name__}, not a dict of fields")
                    value = changed
            except Exception as exc:
                errors.append((record, f"the transform raised {type(exc).__name__}: {exc}"))
                continue
            try:
                for name in self.time_fields:
                    if value.get(name) is not None:
                        value = {**value, name: parse_time(value[name])}
            except (TypeError, ValueError, OverflowError) as exc:
                errors.append((record, f"field {name!r} is not a time: {exc}"))
                continue
            out.append((record, value))
        if self.transform_sql is None or not out:
            return out
        try:
            result = sandboxed_sql(self.transform_sql, rows_to_arrow([v for _, v in out])).to_pylist()
        except (MlakeError, pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. a field of two types in the buffer
            result = None
        if result is not None:
            if len(result) == len(out):  # a projection: each row is still its record's
                return [(record, row) for (record, _), row in zip(out, result, strict=True)]
            return [(out[-1][0], row) for row in result]  # an aggregate: rows belong to the buffer
        kept: list[tuple[Record, dict[str, Any]]] = []
        for record, value in out:  # the batch failed: find the records it fails on
            try:
                kept.extend(
                    (record, row) for row in sandboxed_sql(self.transform_sql, rows_to_arrow([value])).to_pylist()
                )
            except (MlakeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                reason = exc.message if isinstance(exc, MlakeError) else str(exc)
                errors.append((record, f"the SQL transform failed: {reason}"))
        return kept

    def _flushed(
        self,
        stats: DeliveryStats,
        committed: dict[int, int],
        reached: dict[int, int] | None,
        records: int,
        rows: int,
        errors: int,
    ) -> None:
        """Account for a written buffer: the committed position moves to ``reached`` (None: it did not move)."""
        if reached is not None:
            committed.clear()
            committed.update(reached)
            stats.positions = dict(reached)
        if self.registry is not None:
            self.registry.flushed(self.stream, self.name)
        stats.flushes += 1
        stats.records += records
        stats.rows_written += rows
        stats.errors += errors

    def _write_errors(self, errors: list[tuple[Record, str]], reached: dict[int, int]) -> None:
        """Error rows not yet in the error table (a crash may have come between its commit and the data's)."""
        exists = self.lake.table_exists(self.error_table_name)
        table = self.lake.table(self.error_table_name) if exists else None
        done = delivered_positions(table.iceberg, self.key) if table is not None else {}
        fresh = [(r, reason) for r, reason in errors if r.sequence > done.get(r.partition, -1)]
        if not fresh:
            return
        now = datetime.now(UTC)
        rows = pa.table(
            {
                "stream": pa.array([r.stream for r, _ in fresh], pa.string()),
                "partition": pa.array([r.partition for r, _ in fresh], pa.int32()),
                "sequence": pa.array([r.sequence for r, _ in fresh], pa.int64()),
                "key": pa.array([r.key for r, _ in fresh], pa.string()),
                "data": pa.array([r.data for r, _ in fresh], pa.binary()),
                "reason": pa.array([reason for _, reason in fresh], pa.string()),
                "arrival_time": pa.array([r.timestamp for r, _ in fresh], pa.timestamp("us", tz="UTC")),
                "delivered_at": pa.array([now] * len(fresh), pa.timestamp("us", tz="UTC")),
            }
        )
        if table is None:
            table = self.lake.create_table(self.error_table_name, schema=rows.schema, exist_ok=True)
        # Per partition the further of the two: after a restart, the first buffer may end earlier in some
        # partition than the buffer whose error rows were committed before the crash (one busy partition
        # can fill it alone), and moving the error table's position back there would let that
        # partition's next buffer write its error rows a second time.
        table.append(
            rows,
            command=f"deliver stream {self.stream}: records that failed",
            properties={self.key: position_json(furthest(done, reached))},
            precondition=position_is(self.key, done, self.error_table_name),
        )


def furthest(a: dict[int, int], b: dict[int, int]) -> dict[int, int]:
    """Per partition, the later of two positions (a partition in one only keeps its sequence)."""
    return {p: max(a.get(p, -1), b.get(p, -1)) for p in sorted(a.keys() | b.keys())}


def position_json(positions: dict[int, int]) -> str:
    return json.dumps({str(p): s for p, s in sorted(positions.items())})


def position_is(key: str, expected: dict[int, int], table: str) -> Callable[[IcebergTable], None]:
    def check(tbl: IcebergTable) -> None:
        found = delivered_positions(tbl, key)
        if found != expected:
            raise DeliveryConflictError(
                f"The delivery position {key!r} of table {table} is {found}, not {expected} as this delivery "
                "expected: another process delivered meanwhile",
                hint="run each delivery in one process only; restart this one to resume from the table",
            )

    return check


def check_select(sql: str, what: str) -> None:
    """Refuse SQL that is not one SELECT (over the table ``records``) before any record is read."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ValidationError(f"Cannot read the SQL of {what}: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise ValidationError(
            f"{what} is one SELECT over the table records, not {sql!r}",
            hint="e.g. SELECT user_id, lower(page) AS page FROM records WHERE page IS NOT NULL",
        )


def sandbox() -> Any:
    """A private in-memory DuckDB connection that reaches no file, URL or table (close it after use)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_external_access = false")
    return con


def sandboxed_sql(sql: str, records: pa.Table, con: Any = None) -> pa.Table:
    """``sql`` over the table ``records`` in a private in-memory DuckDB that reaches no file, URL or table:
    ``con`` (from :func:`sandbox`, reused for many calls: opening one costs more than a small query), or a
    new one."""
    import duckdb

    from mlake.errors import SqlError

    own = con is None
    con = sandbox() if own else con
    try:
        con.register("records", records)
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise SqlError(f"{exc}", hint="the SQL reads the table records: one row per JSON record") from exc
    finally:
        if own:
            con.close()
        else:
            con.unregister("records")


def parse_time(value: Any) -> datetime:
    """An event time: an ISO 8601 string (with a zone, or taken as UTC) or seconds since the epoch."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    raise TypeError(f"cannot read {value!r} as a time")


def _decode(
    records: list[Record], max_bytes: int
) -> tuple[list[tuple[Record, dict[str, Any]]], list[tuple[Record, str]]]:
    rows: list[tuple[Record, dict[str, Any]]] = []
    errors: list[tuple[Record, str]] = []
    for r in records:
        if len(r.data) > max_bytes:
            errors.append(
                (
                    r,
                    f"record of {len(r.data):,} bytes is larger than the delivery's limit of {max_bytes:,} bytes "
                    "(max_record_bytes): kept here unparsed",
                )
            )
            continue
        try:
            value = json.loads(r.data)
        except (ValueError, UnicodeDecodeError) as exc:
            errors.append((r, f"not JSON: {exc}"))
            continue
        if not isinstance(value, dict) or not value:
            errors.append((r, f"not a JSON object with fields but {type(value).__name__}: a row needs named fields"))
            continue
        rows.append((r, value))
    return rows, errors


def _to_arrow(
    rows: list[tuple[Record, dict[str, Any]]], table: Table | None
) -> tuple[pa.Table, list[tuple[Record, str]]]:
    """The rows as one Arrow table that fits the table's schema (with safe evolution); rows that do not
    fit (a value of another type than its column, or than the same new field in earlier rows) are errors.

    The whole batch is tried first; only when it fails is each row checked on its own."""
    from mlake.tables.frames import plan_schema

    schema = table.schema if table is not None else None
    values = [v for _, v in rows]
    try:
        data = rows_to_arrow(values)
        if schema is not None:
            plan_schema(schema, data.schema)
        return data, []
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, SchemaError):
        pass
    good: list[dict[str, Any]] = []
    errors: list[tuple[Record, str]] = []
    seen: dict[str, pa.DataType] = {}  # the type of each field in the rows kept so far
    for record, value in rows:
        try:
            one = rows_to_arrow([value])
            if schema is not None:
                plan_schema(schema, one.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, SchemaError) as exc:
            errors.append((record, f"does not fit the table: {exc}"))
            continue
        clash = next(
            (
                f
                for f in one.schema
                if not pa.types.is_null(f.type) and f.name in seen and not _compatible(seen[f.name], f.type)
            ),
            None,
        )
        if clash is not None:
            errors.append(
                (record, f"field {clash.name!r} is {clash.type} here but {seen[clash.name]} in earlier records")
            )
            continue
        for f in one.schema:
            if not pa.types.is_null(f.type):
                seen.setdefault(f.name, f.type)
        good.append(value)
    return rows_to_arrow(good), errors


def rows_to_arrow(rows: list[dict[str, Any]]) -> pa.Table:
    """Columns for every field any row has (``Table.from_pylist`` takes the first row's fields only)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table({name: pa.array([row.get(name) for row in rows]) for name in names})


def _compatible(a: pa.DataType, b: pa.DataType) -> bool:
    if a.equals(b):
        return True
    numeric = (pa.types.is_integer, pa.types.is_floating)
    return any(t(a) for t in numeric) and any(t(b) for t in numeric)
