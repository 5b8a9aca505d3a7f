"""Studio pages: the streams the viewer may see, and one stream — throughput over time, every consumer's
lag over time, deliveries with their last error, a live tail of the newest records (with a pause button),
and the newest rows of each delivery's error table.

Every value comes from ``lake.streams`` of the viewer's lake, so the page shows what the viewer's grants
allow and nothing else (a stream without a grant is refused like the REST API refuses it — the page, its
live JSON and its tail alike).

The live part polls ``GET /streams/{name}/live``: the records that arrived after the page's cursor (one
position per partition, so nothing is read twice), and — every few polls, with ``charts=1`` — the
throughput and lag charts redrawn on the server (no chart code in the browser)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from mlake.errors import MlakeError, ValidationError
from mlake.lake import Lake
from mlake.server.state import current_principal, principal_lake
from mlake.server.studio.render import render
from mlake.streams import Position, Record, RecordDecodeError
from mlake.streams.charts import lag_svgs, throughput_svg
from mlake.streams.lag_history import LagHistory
from mlake.streams.lake_streams import StreamStatus

Lk = Annotated[Lake, Depends(principal_lake)]
TAIL = 50
TAIL_WINDOW = timedelta(hours=1)
LIVE_READ = 500  # records read per partition and poll; the newest TAIL of them are sent
THROUGHPUT_WINDOW = timedelta(minutes=15)
THROUGHPUT_BUCKETS = 30
_HISTORY_LOCK = threading.Lock()  # one lag history per app, made on first use by whichever request comes

router = APIRouter(include_in_schema=False)


@router.get("/streams", response_class=HTMLResponse)
def streams_page(request: Request, lake: Lk) -> HTMLResponse:
    streams = [lake.streams.describe(name) for name in lake.streams.list_streams()]
    return render(request, "streams/streams.html", title="Streams", streams=streams)


@router.get("/streams/{name}", response_class=HTMLResponse)
def stream_page(request: Request, name: str, lake: Lk) -> HTMLResponse:
    status = lake.streams.status(name)
    tail: list[dict[str, Any]] = []
    cursor: dict[int, str] = {}
    for p in range(status.stream.partitions):
        newest = _newest(lake, name, p, Position.at_time(status.at - TAIL_WINDOW))
        tail.extend(_row(r) for r in newest)
        cursor[p] = (Position.after(newest[-1].sequence) if newest else Position.at_time(status.at)).text()
    tail.sort(key=lambda r: (r["at"], r["partition"], r["sequence"]), reverse=True)
    errors: dict[str, list[dict[str, Any]]] = {}
    for d in status.deliveries:
        try:
            if lake.table_exists(d.error_table):
                rows = lake.sql(
                    f"SELECT partition, sequence, key, reason, arrival_time FROM {d.error_table} "
                    "ORDER BY arrival_time DESC LIMIT 20"
                )
                errors[d.name] = rows.to_arrow().to_pylist()
        except MlakeError:
            errors[d.name] = []  # the viewer may not read the error table
    charts = _charts(request, lake, status)
    return render(
        request,
        "streams/stream.html",
        title=f"Stream {name}",
        info=status,
        tail=tail[:TAIL],
        errors=errors,
        cursor=" ".join(f"{p}:{pos}" for p, pos in cursor.items()),
        throughput=Markup(charts["throughput"]),  # the chart kit escapes every text
        lags=[(c, caption, Markup(svg)) for c, caption, svg in charts["lags"]],
        window_minutes=int(THROUGHPUT_WINDOW.total_seconds() // 60),
    )


@router.get("/streams/{name}/live")
def stream_live(
    request: Request,
    name: str,
    lake: Lk,
    cursor: Annotated[str, Query(alias="from", max_length=20_000)] = "",
    charts: bool = False,
) -> dict[str, Any]:
    """Records after ``from`` (``"0:after:41 1:2026-12-02T08:00:00+00:00"``: a position per partition,
    newest first, at most TAIL) and the next cursor; with ``charts``, the status and charts redrawn."""
    partitions = lake.streams.describe(name).partitions  # refused without a read grant on the stream
    positions = _cursor(cursor, partitions)
    fresh: list[Record] = []
    following: dict[int, str] = {}
    for p in range(partitions):
        batch = lake.streams.read(name, p, positions[p], limit=LIVE_READ)
        fresh.extend(batch.records)
        following[p] = batch.next_position.text()
    fresh.sort(key=lambda r: (r.timestamp_us, r.partition, r.sequence), reverse=True)
    out: dict[str, Any] = {
        "records": [_row(r) | {"at": r.timestamp.strftime("%Y-%m-%d %H:%M:%S")} for r in fresh[:TAIL]],
        "more": len(fresh) > TAIL,
        "cursor": " ".join(f"{p}:{pos}" for p, pos in following.items()),
    }
    if charts:
        status = lake.streams.status(name)
        drawn = _charts(request, lake, status)
        out |= {
            "at": status.at.strftime("%H:%M:%S"),
            "records_per_second": status.records_per_second,
            "records_last_minute": status.records_last_minute,
            "throughput_svg": drawn["throughput"],
            "lag_svgs": [{"consumer": c, "caption": caption, "svg": svg} for c, caption, svg in drawn["lags"]],
        }
    return out


def _charts(request: Request, lake: Lake, status: StreamStatus) -> dict[str, Any]:
    """The throughput chart (from the stream) and the lag charts (from the viewer's samples, this one added)."""
    t = lake.streams.throughput(status.stream.name, window=THROUGHPUT_WINDOW, buckets=THROUGHPUT_BUCKETS)
    samples = _history(request).record(_viewer(request), status)
    name = status.stream.name
    commits = {f"delivery:{d.name}": lake.streams.delivery_lag(name, d.name) for d in status.deliveries}
    return {"throughput": throughput_svg(t), "lags": lag_svgs(samples, commits)}


def _history(request: Request) -> LagHistory:
    state = request.app.state
    with _HISTORY_LOCK:
        history: LagHistory | None = getattr(state, "stream_lag_history", None)
        if history is None:
            history = state.stream_lag_history = LagHistory()
        return history


def _viewer(request: Request) -> str:
    return current_principal(request).name


def _cursor(text: str, partitions: int) -> dict[int, Position]:
    """The page's cursor: ``P:POSITION`` per partition, separated by spaces (missing: from now on)."""
    out: dict[int, Position] = {p: Position.latest() for p in range(partitions)}
    for part in text.split():
        p, sep, pos = part.partition(":")
        if not sep or not p.isdigit() or not 0 <= int(p) < partitions:
            raise ValidationError(f"bad tail cursor {part!r}", hint="reload the stream's page")
        out[int(p)] = Position.parse(pos)
    return out


def _newest(lake: Lake, name: str, partition: int, position: Position) -> list[Record]:
    """The partition's newest records (at most TAIL) from ``position`` on, read in pages."""
    newest: list[Record] = []
    for _ in range(200):  # bounded: a busy partition shows the newest of the first million records read
        batch = lake.streams.read(name, partition, position, limit=5000)
        if not batch.records:
            break
        newest = (newest + batch.records)[-TAIL:]
        position = batch.next_position
    return newest


def _row(r: Record) -> dict[str, Any]:
    try:
        value: Any = r.json()
        shown = str(value)
    except RecordDecodeError:
        shown = repr(r.data[:200])
    return {"partition": r.partition, "sequence": r.sequence, "key": r.key, "at": r.timestamp, "value": shown[:300]}
