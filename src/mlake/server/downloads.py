"""Streaming a result to a download (CSV, Parquet, Arrow IPC) without holding it all in memory."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from fastapi.responses import Response, StreamingResponse

from mlake.errors import ValidationError

if TYPE_CHECKING:
    from mlake.results import Result

MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


class _Sink(io.RawIOBase):
    """A write-only file that hands out what was written so far."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        b = bytes(data)
        self._parts.append(b)
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts = []
        return out


def _encode(batches: Iterator[pa.RecordBatch], schema: pa.Schema, fmt: str) -> Iterator[bytes]:
    import pyarrow.csv as pacsv
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    sink = _Sink()
    if fmt == "csv":
        writer: Any = pacsv.CSVWriter(sink, schema)
    elif fmt == "parquet":
        writer = pq.ParquetWriter(sink, schema)
    else:
        writer = ipc.new_stream(sink, schema)
    try:
        for batch in batches:
            if fmt == "parquet":
                writer.write_table(pa.Table.from_batches([batch], schema=schema))
            else:
                writer.write_batch(batch)
            chunk = sink.take()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.take()


def stream_result(result: Result, fmt: str, filename: str) -> StreamingResponse:
    """A streaming download of ``result``; the query's limits and timeout apply while it streams."""
    if fmt not in MEDIA:
        raise ValidationError(f"Unknown download format {fmt!r}", hint="use csv, parquet or arrow")
    schema = result.relation.limit(0).to_arrow_table().schema
    batches = result.batches(64_000)
    first = next(batches, None)  # run the query now, so that its errors become a proper error response

    def chained() -> Iterator[pa.RecordBatch]:
        if first is not None:
            yield first
        yield from batches

    ext = {"csv": "csv", "parquet": "parquet", "arrow": "arrows"}[fmt]
    return StreamingResponse(
        _encode(chained(), schema, fmt),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{ext}"'},
    )


def arrow_response(table: pa.Table) -> Response:
    """A small Arrow table as one Arrow IPC stream body (types travel exactly)."""
    import pyarrow.ipc as ipc

    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=MEDIA["arrow"])
