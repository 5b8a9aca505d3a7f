"""``mlake streams ...``: create, list, describe, delete, put, tail, deliver and status of streams.

Each command is one call into ``lake.streams`` (see :mod:`mlake.streams`); this module parses options
and prints results.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from mlake.cli.context import console, err_console, state
from mlake.cli.render import print_json, rich_table
from mlake.errors import ValidationError

app = typer.Typer(
    help="Streams: durable, partitioned logs of records, and deliveries into tables.", no_args_is_help=True
)


def _duration(text: str) -> Any:
    from mlake.quality.checks import parse_duration

    return parse_duration(text)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Stream name: lower-case letters, digits, '_' and '-'.")],
    partitions: Annotated[int, typer.Option(help="Number of partitions (order is kept per key).")] = 1,
    retention: Annotated[str, typer.Option(help="How long records are kept: 90s, 12h, 7d ...")] = "24h",
) -> None:
    """Create a stream."""
    d = state.lake().streams.create(name, partitions=partitions, retention=_duration(retention))
    console.print(f"created stream [bold]{escape(d.name)}[/bold]: {d.partitions} partition(s), retention {d.retention}")


@app.command("list")
def list_streams(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the streams (a principal sees those it holds a grant on)."""
    names = state.lake().streams.list_streams()
    if as_json:
        print_json(names)
    elif not names:
        console.print("no streams; create one with: mlake streams create NAME")
    else:
        for n in names:
            console.print(escape(n))


@app.command("describe")
def describe(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Partitions, retention, creation time and backend of a stream, and its consumer groups."""
    streams = state.lake().streams
    d = streams.describe(name)
    info = {**asdict(d), "retention": str(d.retention), "groups": streams.groups(name)}
    if as_json:
        print_json(info)
        return
    console.print(rich_table(["field", "value"], [[k, str(v)] for k, v in info.items()], title=f"stream {name}"))


@app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a stream with its records and consumer groups (tables it was delivered into stay)."""
    if not yes:
        typer.confirm(f"Delete stream {name} and all its records?", abort=True)
    state.lake().streams.delete(name)
    console.print(f"deleted stream {escape(name)}")


@app.command("put")
def put(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    values: Annotated[
        list[str] | None, typer.Argument(help="JSON values to put; none: JSON lines from --file.")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A JSON-lines file ('-' for standard input).")] = None,
    key: Annotated[str | None, typer.Option(help="The partition key of every record.")] = None,
    key_field: Annotated[str | None, typer.Option(help="Take each record's key from this field.")] = None,
    batch: Annotated[int, typer.Option(help="Records per batch put.")] = 500,
) -> None:
    """Put JSON records (arguments, or lines of a file); prints failures, exits 1 if any record failed."""
    if (key is None) == (key_field is None):
        raise ValidationError("Give exactly one of --key and --key-field", hint="e.g. --key-field user_id")
    if values:
        lines = list(values)
    elif file is not None:
        lines = (sys.stdin if str(file) == "-" else file.open(encoding="utf-8")).read().splitlines()
    else:
        raise ValidationError("Nothing to put", hint="give JSON values as arguments, or --file records.jsonl")
    from mlake.streams import PutRecord

    streams = state.lake().streams
    records: list[PutRecord] = []
    bad = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            err_console.print(f"[red]record {n}[/red]: not JSON ({escape(str(exc))})")
            bad += 1
            continue
        k = key if key is not None else (value.get(key_field) if isinstance(value, dict) else None)
        records.append(PutRecord(str(k) if k is not None else "", value))
    stored = 0
    for start in range(0, len(records), max(batch, 1)):
        result = streams.put_batch(name, records[start : start + batch])
        for i in result.failed_indices:
            r = result[i]
            err_console.print(f"[red]record {start + i + 1}[/red]: {escape(r.error or '')} ({r.error_code})")
        stored += len(result) - result.failed_count
        bad += result.failed_count
    console.print(f"put {stored} record(s) into {escape(name)}" + (f", {bad} failed" if bad else ""))
    if bad:
        raise typer.Exit(1)


@app.command("tail")
def tail(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    start: Annotated[
        str, typer.Option("--from", help="oldest, latest, a sequence number, after:SEQ or an ISO time.")
    ] = "oldest",
    partition: Annotated[int | None, typer.Option(help="Only this partition (default: all).")] = None,
    limit: Annotated[int, typer.Option(help="Records to print at most (without --follow).")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new records until Ctrl-C.")] = False,
) -> None:
    """Print records as JSON lines: partition, sequence, key, arrival time and value."""
    from mlake.streams import Position

    streams = state.lake().streams
    first = Position.parse(start)
    parts = [partition] if partition is not None else list(range(streams.describe(name).partitions))
    cursor = dict.fromkeys(parts, first)
    shown = 0
    try:
        while True:
            got = 0
            for p in parts:
                batch = streams.read(name, p, cursor[p], limit=max(1, min(1000, limit - shown)) if not follow else 1000)
                cursor[p] = batch.next_position
                for r in batch.records:
                    try:
                        value: Any = r.json()
                    except Exception:
                        value = r.data.decode("utf-8", "replace")
                    line = {
                        "partition": r.partition,
                        "sequence": r.sequence,
                        "key": r.key,
                        "at": r.timestamp.isoformat(),
                    }
                    sys.stdout.write(json.dumps({**line, "value": value}, default=str) + "\n")
                    shown += 1
                    got += 1
                if not follow and shown >= limit:
                    return
            sys.stdout.flush()
            if not follow and not got:
                return
            if not got:
                time.sleep(0.2)
    except KeyboardInterrupt:
        return


@app.command("deliver")
def deliver(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    into: Annotated[str | None, typer.Option(help="The table to deliver into (namespace.table).")] = None,
    feature_group: Annotated[
        str | None, typer.Option(help="Or the feature group to deliver into (offline exactly once, and online).")
    ] = None,
    delivery: Annotated[str | None, typer.Option("--name", help="Delivery name (default: the stream's).")] = None,
    error_table: Annotated[str | None, typer.Option(help="Where bad records go (default: TABLE_errors).")] = None,
    max_records: Annotated[int, typer.Option(help="Write when this many records are buffered.")] = 10_000,
    max_bytes: Annotated[int, typer.Option(help="Write when this many bytes are buffered.")] = 8 * 1024 * 1024,
    max_seconds: Annotated[float, typer.Option(help="Write at least this often (seconds).")] = 1.0,
    idle_timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without new records (default: run on).")
    ] = None,
    changes_of: Annotated[
        str | None,
        typer.Option(help="Apply the change records of this captured source table (mirror it; see `capture`)."),
    ] = None,
    transform_sql: Annotated[
        str | None, typer.Option(help="One SELECT over the table records, applied to each buffer.")
    ] = None,
    time_field: Annotated[
        list[str] | None, typer.Option(help="A field to read as a timestamp (ISO or epoch seconds); repeatable.")
    ] = None,
    partition_by: Annotated[
        list[str] | None, typer.Option(help="Partition a new table: a field, day(field), bucket(16, field)...")
    ] = None,
    max_record_bytes: Annotated[
        int, typer.Option(help="A larger record goes to the error table unparsed (default 1 MiB).")
    ] = 1024 * 1024,
    managed: Annotated[
        bool, typer.Option(help="Do not run it here: save it for `mlake worker` to run (and restart, and hand over).")
    ] = False,
) -> None:
    """Deliver a stream into a table in the foreground, exactly once, until Ctrl-C (or --idle-timeout);
    with --managed, save it for the long-running worker instead."""
    from mlake.streams.delivery import BufferHints

    options: dict[str, Any] = {
        "feature_group": feature_group,
        "name": delivery,
        "hints": BufferHints(max_records=max_records, max_bytes=max_bytes, max_seconds=max_seconds),
        "error_table": error_table,
        "changes_of": changes_of,
        "time_fields": time_field or [],
        "partition_by": partition_by or [],
        "max_record_bytes": max_record_bytes,
    }
    if transform_sql:
        options["transform_sql"] = transform_sql
    if managed:
        spec = state.lake().streams.manage(name, into, **options)
        console.print(f"saved delivery {escape(spec.name)} of {escape(spec.stream)}: `mlake worker` runs it")
        return
    d = state.lake().streams.delivery(name, into, **options)
    stop = threading.Event()
    target = d.table_name if feature_group is None else f"feature group {feature_group}"
    err_console.print(f"delivering {escape(name)} into {escape(target)} from position {d.positions() or 'oldest'}")
    try:
        stats = d.run(stop=stop, idle_timeout=idle_timeout)
    except KeyboardInterrupt:
        stop.set()
        stats = d.run(stop=stop)  # writes nothing new; reports where the table stands
    console.print(
        f"delivered {stats.rows_written} row(s) in {stats.flushes} write(s), {stats.errors} bad record(s) "
        f"into {escape(d.error_table_name)}; position {stats.positions}"
    )


@app.command("managed")
def managed(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The deliveries `mlake worker` runs, and which worker holds each now."""
    found = state.lake().streams.managed()
    if as_json:
        print_json([{**asdict(d), "lease_until": d.lease_until.isoformat() if d.lease_until else None} for d in found])
        return
    rows = [
        [d.stream, d.name, d.into or f"feature group {d.feature_group}", d.principal or "(owner)", d.worker or "-"]
        for d in found
    ]
    console.print(rich_table(["stream", "delivery", "into", "runs as", "worker"], rows))


@app.command("unmanage")
def unmanage(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    delivery: Annotated[str | None, typer.Option("--name", help="Delivery name (default: the stream's).")] = None,
) -> None:
    """Stop `mlake worker` running a delivery; its table and position stay (managing it again resumes)."""
    state.lake().streams.unmanage(name, delivery)
    console.print(f"removed delivery {escape(delivery or name)} of {escape(name)}")


@app.command("query")
def query(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    sql: Annotated[str, typer.Option(help="One SELECT over the table records (a window's JSON records).")],
    event_time: Annotated[str, typer.Option(help="The field with each record's event time (ISO or seconds).")],
    window: Annotated[str, typer.Option(help="Window size: 30s, 10m, 1h ...")],
    into: Annotated[str | None, typer.Option(help="The table results are appended to (namespace.table).")] = None,
    feature_group: Annotated[
        str | None, typer.Option(help="Or the feature group each result row is a value of (as of its window's end).")
    ] = None,
    start: Annotated[
        str, typer.Option(help="Where a new query begins: oldest, or latest (records from now on).")
    ] = "oldest",
    slide: Annotated[str | None, typer.Option(help="Slide of a sliding window (default: tumbling).")] = None,
    lateness: Annotated[str, typer.Option(help="How late a record may arrive: 0s, 30s, 5m ...")] = "0s",
    query_name: Annotated[str | None, typer.Option("--name", help="Query name (default: STREAM-query).")] = None,
    idle_timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without new records (default: run on).")
    ] = None,
    drain: Annotated[bool, typer.Option("--drain", help="At the stop, close and write every open window.")] = False,
    to_stream: Annotated[
        str | None, typer.Option(help="Also put each result row into this stream (at least once).")
    ] = None,
    key_field: Annotated[
        str | None, typer.Option(help="The result column that keys records put into --to-stream.")
    ] = None,
) -> None:
    """Run a continuous SQL query over windows of event time, in the foreground, until Ctrl-C."""
    from mlake.streams.query import Window

    w = Window(_duration(window), slide=_duration(slide) if slide else None)
    q = state.lake().streams.query(
        name,
        sql,
        into,
        feature_group=feature_group,
        event_time=event_time,
        window=w,
        lateness=_duration(lateness),
        name=query_name,
        start=start,
        to_stream=to_stream,
        key_field=key_field,
    )
    stop = threading.Event()
    try:
        stats = q.run(stop=stop, idle_timeout=idle_timeout, drain=drain)
    except KeyboardInterrupt:
        stop.set()
        stats = q.run(stop=stop, drain=drain)
    console.print(
        f"{stats.windows} window(s), {stats.rows_written} row(s) into {escape(q.table_name)}; "
        f"{stats.late} late and {stats.errors} unreadable record(s) left out"
    )


@app.command("capture")
def capture(
    url: Annotated[str, typer.Argument(help="The PostgreSQL database: postgresql://user@host:5432/db.")],
    table: Annotated[list[str], typer.Option(help="A source table (schema.table or table); repeatable.")],
    stream: Annotated[str, typer.Option(help="The stream the changes go to (made with one partition if missing).")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep capturing until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls with --follow.")] = 1.0,
    drop: Annotated[bool, typer.Option("--drop", help="Remove the slot and publication from the source.")] = False,
) -> None:
    """Change data capture: the tables' rows, then every committed change, into a stream (wal_level=logical)."""
    with state.lake().streams.capture(url, table, stream) as cap:
        if drop:
            cap.drop()
            console.print(f"dropped replication slot {cap.slot} and publication {cap.publication}")
            return
        snapshot = cap.start()
        total = cap.poll()
        err_console.print(f"snapshot: {snapshot} row(s); changes: {total}")
        try:
            while follow:
                time.sleep(interval)
                n = cap.poll()
                total += n
                if n:
                    err_console.print(f"changes: {total}")
        except KeyboardInterrupt:
            pass
        console.print(f"captured {snapshot} snapshot row(s) and {total} change(s) into {escape(stream)}")


@app.command("status")
def status(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Throughput, each consumer group's and delivery's lag (records, seconds), last error, error counts."""
    s = state.lake().streams.status(name)
    if as_json:
        print_json(asdict(s))
        return
    console.print(
        f"stream [bold]{escape(name)}[/bold]: {s.stream.partitions} partition(s), "
        f"{s.records_last_minute} record(s) in the last minute ({s.records_per_second:.1f}/s)"
    )
    rows = [
        [g.kind, g.name, f"{g.lag_records}{'+' if g.lag_capped else ''}", f"{g.lag_seconds:.1f}", "", "", ""]
        for g in s.groups
    ]
    for d in [*s.deliveries, *s.queries]:
        lag = d.lag
        errors = "" if d.error_rows is None else str(d.error_rows)
        lag_text = f"{lag.lag_records}{'+' if lag.lag_capped else ''}"
        rows.append([lag.kind, d.name, lag_text, f"{lag.lag_seconds:.1f}", d.table, errors, d.last_error or ""])
    if rows:
        console.print(rich_table(["kind", "name", "lag (records)", "lag (s)", "table", "errors", "last error"], rows))
    else:
        console.print("no consumer groups or deliveries yet")
