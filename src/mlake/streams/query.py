"""Streaming SQL: a continuous query over a stream, by windows of event time (the Kinesis Data Analytics role).

A :class:`StreamingQuery` reads a stream's JSON records, places each in the windows its event time falls
in — tumbling (``Window(size)``) or sliding (``Window(size, slide)``) — and, when a window closes, runs
the query's SQL over that window's records (the table ``records``) and appends the result, with
``window_start`` and ``window_end`` columns first, to a table.

**Event time and lateness.** The watermark is the largest event time seen minus the allowed lateness. A
window ``[start, end)`` closes when the watermark reaches ``end``; a record arriving for windows that
closed already is late: it is counted (``stats.late``) and left out. So when no record arrives later
than the lateness bound, each window's result equals the same SQL run in batch over the records whose
event time falls in it, whatever the order the records came in (the test checks this with hypothesis).

**Exactly once.** Results are appended with, in the same snapshot summary, the stream position to resume
from (the oldest record of a window still open, per partition), the last window end emitted and the
watermark. A query killed and restarted re-reads the open windows' records, skips the windows it
emitted, and emits each window once.

**Results into a stream.** With ``to_stream``, each result row is also put, as a JSON record (times in
ISO 8601) keyed by its ``key_field`` (default: its window's end), into another stream, after the rows are
committed to the table. What was put is recorded with the next commit (``forwarded_end``), so a query
killed between its commit and its puts puts those windows' rows again when it restarts: *at least once*
into the stream (as Kinesis Data Analytics' stream outputs), exactly once into the table. A consumer
that must not see a row twice keys on (``window_start``, ``window_end``, the row's key).

The SQL runs in a private in-memory DuckDB with external access off: it sees the window's records and
nothing else (no lake tables, no files).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import MlakeError, SqlError, ValidationError
from mlake.streams.base import check_stream_name
from mlake.streams.delivery import (
    TableAccess,
    check_select,
    parse_time,
    rows_to_arrow,
    sandbox,
    sandboxed_sql,
    summary_value,
)
from mlake.streams.models import Position, PositionKind, Record, from_us, to_us
from mlake.streams.service import Streams

if TYPE_CHECKING:
    from mlake.streams.metastore import DeliveryRegistry

QUERY_PREFIX = "mlake.query."


@dataclass(frozen=True, slots=True)
class Window:
    """Windows of event time: tumbling (``slide`` None: ``size`` apart) or sliding (every ``slide``).

    Windows are aligned to the Unix epoch, as ``time_bucket`` does: a 10-minute window starts at :00, :10…"""

    size: timedelta
    slide: timedelta | None = None

    def __post_init__(self) -> None:
        step = self.slide or self.size
        if self.size <= timedelta(0) or step <= timedelta(0) or step > self.size:
            raise ValidationError(
                f"A window needs a positive size and a slide no larger than it, not {self}",
                hint="e.g. Window(timedelta(minutes=10)) or Window(timedelta(hours=1), slide=timedelta(minutes=5))",
            )
        if (self.size // step) * step != self.size:
            raise ValidationError(f"A window's size must be a whole number of slides: {self}")

    def of(self, event_us: int) -> Iterator[tuple[int, int]]:
        """The windows ``(start, end)`` in microseconds that contain ``event_us``, oldest first."""
        size = _us(self.size)
        step = _us(self.slide or self.size)
        last = event_us - event_us % step
        start = last - size + step
        for s in range(start, last + 1, step):
            if s <= event_us < s + size:
                yield s, s + size


@dataclass(slots=True)
class QueryStats:
    records: int = 0
    windows: int = 0
    rows_written: int = 0
    late: int = 0
    """Records whose windows had all closed when they arrived (left out)."""
    errors: int = 0
    """Records that are not JSON objects with a readable event time (left out)."""


@dataclass(slots=True)
class _State:
    emitted_end: int = -(2**62)
    max_event: int = -(2**62)
    windows: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    needs: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)
    """Per open window, the smallest sequence number per partition of its records (to resume from)."""
    ready: list[tuple[tuple[int, int], list[dict[str, Any]]]] = field(default_factory=list)
    """Windows the watermark closed, not written yet."""
    read: dict[int, int] = field(default_factory=dict)
    """The last sequence number read per partition."""
    replayed: dict[int, int] = field(default_factory=dict)
    """Per partition, the last sequence number a run before a restart had read: a record up to it is read
    again only for its open windows, and was counted (late or not) the first time."""


class StreamingQuery:
    """A continuous SQL query over windows of a stream, results appended to a table; ``run`` it."""

    def __init__(
        self,
        lake: TableAccess,
        streams: Streams,
        stream: str,
        sql: str,
        into: str,
        *,
        event_time: str,
        window: Window,
        lateness: timedelta = timedelta(0),
        name: str | None = None,
        registry: DeliveryRegistry | None = None,
        start: str = "oldest",
        to_stream: str | None = None,
        key_field: str | None = None,
    ) -> None:
        """``to_stream`` also puts each result row, as a JSON record keyed by its ``key_field`` (default:
        its window's end), into another stream after the rows are committed to ``into`` (module doc,
        *Results into a stream*). ``start`` is where a query with no state yet begins: ``oldest`` (the
        stream's oldest records) or ``latest`` (the records put from now on: the end of each partition is
        taken here, when the query is made, as Kinesis Data Analytics' ``NOW``). A query with state
        resumes from it."""
        if start not in ("oldest", "latest"):
            raise ValidationError(f"A streaming query starts at oldest or latest, not {start!r}")
        if lateness < timedelta(0):
            raise ValidationError(f"The allowed lateness must be zero or more, not {lateness}")
        self.lake = lake
        self.registry = registry
        self.streams = streams
        self.stream = check_stream_name(stream)
        self.sql = sql
        self.table_name = into
        self.event_time = event_time
        self.window = window
        self.lateness = lateness
        self.name = check_stream_name(name or f"{stream}-query", "streaming query")
        self.key = f"{QUERY_PREFIX}{self.name}"
        self.partitions = streams.describe(stream).partitions
        self.to_stream = None if to_stream is None else check_stream_name(to_stream)
        if self.to_stream == self.stream:
            raise ValidationError("A streaming query cannot put its results into the stream it reads")
        self.key_field = key_field
        self._forwarded_end: int | None = None
        self._check_sql()
        self._start: dict[str, list[Any]] = {}
        if start == "latest":
            for p in range(self.partitions):
                end = streams.read(self.stream, p, Position.latest(), limit=1).next_position
                if end.sequence is not None:
                    self._start[str(p)] = ["at" if end.kind is PositionKind.AT_SEQUENCE else "after", end.sequence]

    # -- the loop -------------------------------------------------------------------------------------

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        idle_timeout: float | None = None,
        poll_seconds: float = 0.05,
        drain: bool = False,
    ) -> QueryStats:
        """Run until ``stop`` is set or nothing arrived for ``idle_timeout`` seconds. With ``drain`` the
        input is taken as ended at the stop: every open window is closed and emitted (later records for
        them will be late). With a registry, the query is recorded there (``status`` reports it)."""
        if self.registry is None:
            return self._run(stop, idle_timeout, poll_seconds, drain)
        self.registry.register(self.stream, self.name, self.table_name, "", kind="query")
        try:
            return self._run(stop, idle_timeout, poll_seconds, drain)
        except Exception as exc:
            message = exc.message if isinstance(exc, MlakeError) else f"{type(exc).__name__}: {exc}"
            self.registry.failed(self.stream, self.name, message)
            raise

    def _run(
        self, stop: threading.Event | None, idle_timeout: float | None, poll_seconds: float, drain: bool
    ) -> QueryStats:
        stats = QueryStats()
        state, cursor, committed = self._restore()
        if self.to_stream is not None:
            committed = self._forward_backlog(committed)
        last_seen = time.monotonic()
        while not (stop is not None and stop.is_set()):
            got = False
            for p in range(self.partitions):
                batch = self.streams.read(self.stream, p, cursor[p], limit=5000)
                cursor[p] = batch.next_position
                for r in batch.records:
                    got = True
                    state.read[p] = r.sequence
                    self._add(state, r, stats)
            committed = self._emit(state, committed, stats)
            if got:
                last_seen = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last_seen >= idle_timeout:
                break
            else:
                time.sleep(poll_seconds)
        if drain:
            self._close(state, None)
            committed = self._emit(state, committed, stats)
        if self.to_stream is not None and committed and self._forwarded_end != committed.get("forwarded_end"):
            self._commit_marker(committed)
        return stats

    def _add(self, state: _State, record: Record, stats: QueryStats) -> None:
        stats.records += 1
        try:
            value = json.loads(record.data)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            event_us = _event_us(value[self.event_time])
        except (ValueError, KeyError, TypeError, OverflowError):
            stats.errors += 1
            return
        state.max_event = max(state.max_event, event_us)
        placed = False
        for w in self.window.of(event_us):
            if w[1] <= state.emitted_end:
                continue  # emitted already (before a restart, or closed by the watermark)
            placed = True
            state.windows.setdefault(w, []).append(value)
            need = state.needs.setdefault(w, {})
            need[record.partition] = min(need.get(record.partition, record.sequence), record.sequence)
        if not placed and record.sequence > state.replayed.get(record.partition, -1):
            stats.late += 1
        self._close(state, state.max_event - _us(self.lateness))

    def _close(self, state: _State, watermark: int | None) -> None:
        """Close the windows that end at or before ``watermark`` (None: every open window), oldest first;
        from then on a record for them is late."""
        closing = sorted(
            (w for w in state.windows if watermark is None or w[1] <= watermark), key=lambda w: (w[1], w[0])
        )
        for w in closing:
            state.ready.append((w, state.windows.pop(w)))
            state.needs.pop(w, None)
            state.emitted_end = max(state.emitted_end, w[1])

    def _emit(self, state: _State, committed: dict[str, Any], stats: QueryStats) -> dict[str, Any]:
        """Run the SQL over every closed window and append the results with the state to resume from."""
        if not state.ready:
            return committed
        con = sandbox()
        try:
            results = [self._window_result(w, rows, con) for w, rows in state.ready]
        finally:
            con.close()
        data = pa.concat_tables(results, promote_options="permissive")
        data = self._shape(data)
        read = {str(p): s for p, s in (state.replayed | state.read).items()}
        new = {
            "resume": self._resume(state),
            "emitted_end": state.emitted_end,
            "max_event": state.max_event,
            "read": read,
        }
        if self.to_stream is not None:  # what was put into the stream before this commit
            new["forwarded_end"] = self._forwarded_end if self._forwarded_end is not None else -(2**62)
        if self.lake.table_exists(self.table_name):
            table = self.lake.table(self.table_name)
        else:
            table = self.lake.create_table(self.table_name, schema=data.schema, exist_ok=True)
        table.append(
            data,
            command=f"streaming query {self.name} over stream {self.stream}",
            properties={self.key: json.dumps(new)},
            precondition=_state_is(self.key, committed, self.table_name),
        )
        if self.registry is not None:
            self.registry.flushed(self.stream, self.name)
        self._after_emit()
        if self.to_stream is not None:
            self._forward(data)
            self._forwarded_end = state.emitted_end
        stats.windows += len(state.ready)
        stats.rows_written += data.num_rows
        state.ready.clear()
        return new

    def _forward(self, data: pa.Table) -> None:
        """Put result rows into ``to_stream``, in window order; a record refused is retried, then raises
        (the rows are committed: a restart puts them again)."""
        assert self.to_stream is not None
        from mlake.streams.models import PutRecord

        rows = data.to_pylist()
        records = [
            PutRecord(str(row.get(self.key_field) if self.key_field else row["window_end"].isoformat()), _jsonable(row))
            for row in rows
        ]
        for attempt in range(3):
            if not records:
                return
            result = self.streams.put_batch(self.to_stream, records)
            failed = result.failed_indices
            if not failed:
                return
            if not all(result.results[i].retryable for i in failed):
                break
            records = [records[i] for i in failed]
            time.sleep(0.1 * (attempt + 1))
        raise MlakeError(
            f"The streaming query {self.name!r} could not put {len(records)} result row(s) into stream "
            f"{self.to_stream!r}: {result.results[failed[0]].error}",
            hint="run the query again: the rows are committed to its table and put into the stream again",
        )

    def _forward_backlog(self, committed: dict[str, Any]) -> dict[str, Any]:
        """Put the windows committed but not put into ``to_stream`` before a crash (at least once)."""
        if not committed:
            return committed
        emitted = int(committed["emitted_end"])
        # A query that ran before without to_stream starts putting from now, not its whole history.
        done = int(committed.get("forwarded_end", emitted))
        self._forwarded_end = done
        if done < emitted:
            import pyarrow.compute as pc

            data = self.lake.table(self.table_name).to_arrow()
            ends = pc.cast(data.column("window_end"), pa.int64())  # µs since the epoch, UTC
            keep = pc.greater(ends, pa.scalar(done, pa.int64()))
            self._forward(data.filter(keep).sort_by([("window_end", "ascending"), ("window_start", "ascending")]))
            self._forwarded_end = emitted
            committed = self._commit_marker(committed)
        return committed

    def _commit_marker(self, committed: dict[str, Any]) -> dict[str, Any]:
        """Record what was put into ``to_stream`` (an empty snapshot with the state)."""
        new = {**committed, "forwarded_end": self._forwarded_end}
        table = self.lake.table(self.table_name)
        table.append(
            table.schema.as_arrow().empty_table(),
            command=f"streaming query {self.name}: results put into stream {self.to_stream}",
            properties={self.key: json.dumps(new)},
            precondition=_state_is(self.key, committed, self.table_name),
        )
        return new

    def _shape(self, data: pa.Table) -> pa.Table:
        """The closed windows' results as the rows to append (a feature group's query reshapes them)."""
        return data

    def _after_emit(self) -> None:
        """Called after each commit of results (a feature group's query updates its online store)."""

    def _resume(self, state: _State) -> dict[str, list[Any]]:
        """Per partition, where a restart reads from: the oldest record of a window still open, else after
        the last record read (a partition not read yet starts at its oldest record)."""
        out: dict[str, list[Any]] = {}
        for p in range(self.partitions):
            needed = [need[p] for need in state.needs.values() if p in need]
            if needed:
                out[str(p)] = ["at", min(needed)]
            elif p in state.read:
                out[str(p)] = ["after", state.read[p]]
            elif p in state.replayed:  # nothing read from it since the restart
                out[str(p)] = ["after", state.replayed[p]]
            elif str(p) in self._start:
                out[str(p)] = self._start[str(p)]
        return out

    def _window_result(self, window: tuple[int, int], rows: list[dict[str, Any]], con: Any) -> pa.Table:
        try:
            result = sandboxed_sql(self.sql, rows_to_arrow(rows), con)
        except SqlError as exc:
            raise SqlError(
                f"The streaming query {self.name!r} failed on window {_window_text(window)}: {exc.message}",
                hint=exc.hint,
            ) from exc
        start = pa.array([from_us(window[0])] * result.num_rows, pa.timestamp("us", tz="UTC"))
        end = pa.array([from_us(window[1])] * result.num_rows, pa.timestamp("us", tz="UTC"))
        return pa.table({"window_start": start, "window_end": end, **{n: result[n] for n in result.column_names}})

    def resume_positions(self) -> dict[int, Position]:
        """Where a restarted query reads each partition from (the oldest record of a window still open)."""
        return self._restore()[1]

    def _restore(self) -> tuple[_State, dict[int, Position], dict[str, Any]]:
        state = _State()
        committed: dict[str, Any] = {}
        if self.lake.table_exists(self.table_name):
            raw = summary_value(self.lake.table(self.table_name).iceberg, self.key)
            committed = json.loads(raw) if raw is not None else {}
        if committed:
            state.emitted_end = int(committed["emitted_end"])
            state.max_event = int(committed["max_event"])
            state.replayed = {int(p): int(s) for p, s in committed.get("read", {}).items()}
        resume: dict[str, list[Any]] = committed.get("resume", self._start)
        cursor: dict[int, Position] = {}
        for p in range(self.partitions):
            kind, seq = resume.get(str(p), ["oldest", None])
            cursor[p] = (
                Position.at(seq) if kind == "at" else Position.after(seq) if kind == "after" else Position.oldest()
            )
        return state, cursor, committed

    def _check_sql(self) -> None:
        """Refuse SQL that is not one query over ``records`` before any record is read."""
        check_select(self.sql, "A streaming query")


def _state_is(key: str, expected: dict[str, Any], table: str) -> Any:
    from mlake.streams.delivery import DeliveryConflictError

    def check(tbl: Any) -> None:
        raw = summary_value(tbl, key)
        found = json.loads(raw) if raw is not None else {}
        if found != expected:
            raise DeliveryConflictError(
                f"The state {key!r} of table {table} moved under this streaming query: another process runs it",
                hint="run each streaming query in one process only; restart this one to resume from the table",
            )

    return check


def _event_us(value: Any) -> int:
    """An event time (see :func:`mlake.streams.delivery.parse_time`) in microseconds since the epoch."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value * 1_000_000)
    return to_us(parse_time(value))


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A result row as JSON-encodable values: times as ISO 8601, decimals (DuckDB's sums of integers) as
    integers when whole, else as floats."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, Decimal):
            v = int(v) if v == v.to_integral_value() else float(v)
        elif hasattr(v, "isoformat"):
            v = v.isoformat()
        out[k] = v
    return out


def _us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _window_text(window: tuple[int, int]) -> str:
    return f"[{from_us(window[0]).isoformat()}, {from_us(window[1]).isoformat()})"
