"""Studio pages: the streams the viewer may see, and one stream — status (throughput, every consumer's lag,
deliveries with their last error), the newest records of the last hour, and the newest rows of each
delivery's error table.

Every value comes from ``lake.streams`` of the viewer's lake, so the page shows what the viewer's grants
allow and nothing else (a stream without a grant is refused like the REST API refuses it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from mlake.errors import MlakeError
from mlake.lake import Lake
from mlake.server.state import principal_lake
from mlake.server.studio.render import render
from mlake.streams import Position, Record, RecordDecodeError

Lk = Annotated[Lake, Depends(principal_lake)]
TAIL = 50
TAIL_WINDOW = timedelta(hours=1)

router = APIRouter(include_in_schema=False)


@router.get("/streams", response_class=HTMLResponse)
def streams_page(request: Request, lake: Lk) -> HTMLResponse:
    streams = [lake.streams.describe(name) for name in lake.streams.list_streams()]
    return render(request, "streams/streams.html", title="Streams", streams=streams)


@router.get("/streams/{name}", response_class=HTMLResponse)
def stream_page(request: Request, name: str, lake: Lk) -> HTMLResponse:
    status = lake.streams.status(name)
    tail: list[dict[str, Any]] = []
    for p in range(status.stream.partitions):
        tail.extend(_row(r) for r in _newest(lake, name, p, Position.at_time(status.at - TAIL_WINDOW)))
    tail.sort(key=lambda r: r["at"], reverse=True)
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
    return render(
        request, "streams/stream.html", title=f"Stream {name}", info=status, tail=tail[:TAIL], errors=errors
    )


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
