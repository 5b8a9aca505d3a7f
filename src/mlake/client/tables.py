"""Tables and query results of a lake on an mlake server (see :mod:`mlake.client.remote`).

Kept apart from :class:`~mlake.client.remote.RemoteLake` so that the areas of the client (quality,
features) can use these types without importing the lake object back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa
from pyiceberg.schema import Schema

from mlake.errors import NotFoundError, PermissionDeniedError
from mlake.results import PREVIEW_ROWS
from mlake.tables.frames import regroup
from mlake.tables.lineage import LineageEdge, LineageGraph, LineageInput, WriteRecord
from mlake.tables.models import TableInfo
from mlake.tables.names import TableName
from mlake.tables.table import Page, SnapshotInfo, type_name
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from mlake.client.remote import RemoteLake
    from mlake.ingest.report import IngestReport


class RemoteResult:
    """The result of a query on the server: fetched as Arrow when first converted, then cached.

    Counting, paging and previews run on the server (the query wrapped in a ``SELECT``), so they fetch
    only what they show."""

    def __init__(self, lake: RemoteLake, sql: str, as_of: str | None = None, params: Any = None) -> None:
        self._lake = lake
        self.sql = sql
        self._as_of = as_of
        self._params = params
        self._arrow: pa.Table | None = None

    @property
    def as_of(self) -> str | None:
        """The time every table of the query is read at (None: now)."""
        return self._as_of

    def _body(self, sql: str | None = None) -> dict[str, Any]:
        return {"sql": sql or self.sql, "as_of": self._as_of, "format": "arrow", "params": self._params}

    def _fetch(self, sql: str | None = None) -> pa.Table:
        import pyarrow.ipc as ipc

        response = self._lake.request("POST", "/sql/export", json=self._body(sql))
        return ipc.open_stream(response.content).read_all()

    def _wrapped(self, select: str, tail: str = "") -> str:
        inner = self.sql.strip().rstrip(";")
        return f"SELECT {select} FROM ({inner}) AS mlake_result{tail}"

    def to_arrow(self) -> pa.Table:
        if self._arrow is None:
            self._arrow = self._fetch()
        return self._arrow

    @property
    def columns(self) -> list[str]:
        return list(self.to_arrow().column_names if self._arrow is not None else self.page(0).column_names)

    @property
    def types(self) -> list[str]:
        """The columns' SQL types, as DuckDB names them."""
        import duckdb

        empty = self._arrow.slice(0, 0) if self._arrow is not None else self.page(0)
        return [str(t) for t in duckdb.from_arrow(empty).types]

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def to_pylist(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.to_arrow().to_pylist()
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        table = self.to_arrow()
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True)) if table.num_columns else []

    def batches(self, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream the result as it arrives (Arrow IPC over HTTP): memory stays bounded by a few batches,
        however large the result. A result already converted with ``to_arrow()`` is sliced instead."""
        if self._arrow is not None:
            yield from self._arrow.to_batches(batch_size)
            return
        yield from stream_batches(self._lake, "POST", "/sql/export", batch_size, json=self._body())

    def reader(self, batch_size: int = 100_000) -> pa.RecordBatchReader:
        """The result as an Arrow stream (for writers that consume readers), streamed as it arrives."""
        schema = self._arrow.schema if self._arrow is not None else self.page(0).schema
        return pa.RecordBatchReader.from_batches(schema, self.batches(batch_size))

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def scalar(self) -> Any:
        table = self.to_arrow()
        return table.column(0)[0].as_py() if table.num_rows and table.num_columns else None

    def page(self, limit: int, offset: int = 0) -> pa.Table:
        """Rows ``offset`` to ``offset + limit``, fetched alone."""
        if self._arrow is not None:
            return self._arrow.slice(offset, limit)
        return self._fetch(self._wrapped("*", f" LIMIT {int(limit)} OFFSET {int(offset)}"))

    def count(self) -> int:
        """How many rows the result has, counted on the server without fetching them."""
        if self._arrow is not None:
            return int(self._arrow.num_rows)
        table = self._fetch(self._wrapped("count(*)"))
        return int(table.column(0)[0].as_py()) if table.num_rows else 0

    def preview(self, n: int = PREVIEW_ROWS) -> pa.Table:
        return self.page(n)

    def __len__(self) -> int:
        return int(self.to_arrow().num_rows)

    def loader(self, batch_size: int = 1024, **options: Any) -> Any:
        """A :class:`mlake.loader.Loader` over this result's rows, streamed from the server once (see
        :mod:`mlake.client.loader`)."""
        return self._lake.loader(self, batch_size=batch_size, **options)

    def save(self, name: str, *, mode: str = "create") -> RemoteTable:
        """Write the result to a table on the server (with lineage to the query)."""
        body = {"sql": self.sql, "table": name, "mode": mode, "as_of": self._as_of}
        self._lake._json("POST", "/sql/save", json=body)
        return self._lake.table(name)

    def __repr__(self) -> str:
        return f"<mlake.RemoteResult {self.sql[:60]!r}>"


def stream_batches(lake: RemoteLake, method: str, path: str, batch_size: int, **kw: Any) -> Iterator[pa.RecordBatch]:
    """Batches of ``batch_size`` rows (the last one shorter) from an Arrow IPC response body, read as it
    arrives: memory stays bounded by a few batches, however large the body."""
    with open_arrow_stream(lake, method, path, **kw) as reader:
        for chunk in regroup(reader, batch_size):
            yield from chunk.combine_chunks().to_batches()


@contextmanager
def open_arrow_stream(lake: RemoteLake, method: str, path: str, **kw: Any) -> Iterator[pa.RecordBatchReader]:
    """The Arrow IPC response body as a record batch reader, read as it arrives (within the block)."""
    import pyarrow.ipc as ipc

    with lake.stream(method, path, **kw) as response:
        body_file = io.BufferedReader(_ByteStream(response.iter_bytes()), buffer_size=1 << 20)
        yield ipc.open_stream(pa.PythonFile(body_file, mode="r"))


def arrow_part(data: pa.Table) -> tuple[str, tuple[str, bytes, str]]:
    """A multipart file part holding ``data`` as an Arrow IPC stream (types travel exactly)."""
    import pyarrow.ipc as ipc

    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return ("data", ("data.arrows", sink.getvalue().to_pybytes(), "application/vnd.apache.arrow.stream"))


def write_record(body: dict[str, Any]) -> WriteRecord:
    """A :class:`WriteRecord` from its ``to_dict()`` form."""
    inputs = [LineageInput(i["kind"], i["ref"], i.get("detail"), i.get("snapshot_id")) for i in body.get("inputs", [])]
    return WriteRecord(
        write_id=body["write_id"],
        table=body["table"],
        operation=body["operation"],
        actor=body["actor"],
        command=body["command"],
        snapshot_id=body.get("snapshot_id"),
        rows_written=body.get("rows_written", 0),
        rows_quarantined=body.get("rows_quarantined", 0),
        at=datetime.fromisoformat(body["at"]),
        inputs=inputs,
    )


def form_fields(**values: Any) -> dict[str, str]:
    """Form fields: None left out, lists and dicts as JSON, the rest as text."""
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | dict):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


class RemoteTable:
    """A table on the server."""

    def __init__(self, lake: RemoteLake, name: TableName) -> None:
        self._lake = lake
        self.name = name

    def __repr__(self) -> str:
        return f"<mlake.RemoteTable {self.name}>"

    @property
    def _path(self) -> str:
        return f"/tables/{self.name}"

    # --- metadata -------------------------------------------------------------------------------

    def describe(self) -> TableInfo:
        """Everything a catalog page shows about the table, as the server lets this client see it."""
        return TableInfo.from_dict(self._lake._json("GET", self._path))

    @property
    def schema(self) -> Schema:
        """The current Iceberg schema; a principal granted only some columns sees only those."""
        response = self._lake.request("GET", f"{self._path}/iceberg-schema")
        return Schema.model_validate_json(response.content)

    @property
    def columns(self) -> list[str]:
        return self.describe().column_names

    @property
    def location(self) -> str:
        """Where the table's files are on the server (superusers only)."""
        location = self.describe().location
        if location is None:
            raise PermissionDeniedError(f"Only a superuser may see storage locations ({self.name})")
        return str(location)

    @property
    def tags(self) -> dict[str, str]:
        return self.describe().tags

    def set_metadata(
        self,
        *,
        description: str | None = None,
        owner: str | None = None,
        tags: dict[str, str] | Sequence[str] | None = None,
        remove_tags: Sequence[str] = (),
        column_docs: dict[str, str] | None = None,
    ) -> None:
        body = {
            "description": description,
            "owner": owner,
            "tags": tags if tags is None or isinstance(tags, dict) else dict.fromkeys(tags, ""),
            "remove_tags": list(remove_tags),
            "column_docs": column_docs,
        }
        self._lake._json("PATCH", self._path, json=body)

    # --- reading --------------------------------------------------------------------------------

    def snapshot_at(self, when: datetime | str) -> int:
        """The id of the snapshot that was current at ``when`` (a datetime or ISO text)."""
        text = when.isoformat() if isinstance(when, datetime) else when
        return int(self._lake._json("GET", f"{self._path}/snapshot-at", params={"when": text})["snapshot_id"])

    def check_snapshot(self, snapshot_id: int) -> int:
        if not any(s.snapshot_id == snapshot_id for s in self.history()):
            raise NotFoundError(
                f"Table {self.name} has no snapshot {snapshot_id}",
                hint=f"see `mlake tables history {self.name}` for its snapshots",
            )
        return snapshot_id

    def query(
        self,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        limit: int | None = None,
        order_by: str | None = None,
    ) -> RemoteResult:
        cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
        source = str(self.name)
        if snapshot_id is not None:
            source += f" AT (VERSION => {int(snapshot_id)})"
        elif as_of is not None:
            when = as_of.isoformat() if isinstance(as_of, datetime) else str(as_of)
            source += " AT (TIMESTAMP => '" + when.replace("'", "''") + "')"
        sql = f"SELECT {cols} FROM {source}"
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return RemoteResult(self._lake, sql)

    def page(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        order_by: str | None = None,
        desc: bool = False,
        where: str | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
    ) -> Page:
        """A page of rows sorted by one column — with the total when it is known without counting."""
        import pyarrow.ipc as ipc

        params = {
            "limit": limit,
            "offset": offset,
            "order_by": order_by,
            "desc": desc,
            "where": where,
            "snapshot_id": snapshot_id,
            "as_of": as_of.isoformat() if isinstance(as_of, datetime) else as_of,
        }
        response = self._lake.request(
            "GET", f"{self._path}/page", params={k: v for k, v in params.items() if v is not None}
        )
        facts = json.loads(response.headers["X-Mlake-Page"])
        return Page(rows=ipc.open_stream(response.content).read_all(), **facts)

    def to_arrow(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pa.Table:
        return self.query(columns, where, **kw).to_arrow()

    def to_pandas(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pd.DataFrame:
        return self.query(columns, where, **kw).to_pandas()

    def to_polars(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pl.DataFrame:
        return self.query(columns, where, **kw).to_polars()

    def batches(self, batch_size: int = 100_000, **kw: Any) -> Iterator[pa.RecordBatch]:
        return self.query(**kw).batches(batch_size)

    def loader(self, batch_size: int = 1024, **options: Any) -> Any:
        """A :class:`mlake.loader.Loader` over this table's rows as the server lets the caller read them,
        streamed once (see :mod:`mlake.client.loader` for how it shards)."""
        return self._lake.loader(self, batch_size=batch_size, **options)

    def provenance(self) -> Any:
        """Every registered source (and license) this table's data derives from, through its lineage: a
        :class:`~mlake.sources.registry.Provenance` (typed ``Any`` as locally, where the tables layer may not
        name the sources area; :class:`mlake.api.TableAPI` types it)."""
        return self._lake.sources.provenance(self.name)

    def head(self, n: int = 10) -> RemoteResult:
        return self.query(limit=n)

    def count(self, snapshot_id: int | None = None) -> int:
        source = str(self.name) + (f" AT (VERSION => {int(snapshot_id)})" if snapshot_id is not None else "")
        return int(RemoteResult(self._lake, f"SELECT count(*) FROM {source}").scalar() or 0)

    # --- history --------------------------------------------------------------------------------

    def lineage(self, max_depth: int = 10) -> LineageGraph:
        return self._lake.lineage(self.name, max_depth)

    def history(self) -> list[SnapshotInfo]:
        out = []
        for s in self._lake._json("GET", f"{self._path}/history"):
            s["committed_at"] = datetime.fromisoformat(s["committed_at"])
            out.append(SnapshotInfo(**s))
        return out

    def rollback(self, snapshot_id: int) -> None:
        self._lake._json("POST", f"{self._path}/rollback", json={"snapshot_id": snapshot_id})

    # --- schema changes ---------------------------------------------------------------------------

    def add_columns(self, columns: dict[str, pa.DataType | str], docs: dict[str, str] | None = None) -> None:
        """Add nullable columns; old files read them as NULL without being rewritten."""
        body = {"columns": {name: type_name(t) for name, t in columns.items()}, "docs": docs}
        self._lake._json("POST", f"{self._path}/columns", json=body)

    def rename_column(self, old: str, new: str) -> None:
        self._lake._json("POST", f"{self._path}/columns/{quote(old, safe='')}/rename", json={"to": new})

    def drop_column(self, name: str) -> None:
        self._lake._json("DELETE", f"{self._path}/columns/{quote(name, safe='')}")

    def widen_column(self, name: str, to: pa.DataType | str) -> None:
        """Widen int→long, float→double or a decimal's precision (Iceberg's safe promotions)."""
        self._lake._json("POST", f"{self._path}/columns/{quote(name, safe='')}/widen", json={"to": type_name(to)})

    # --- writing --------------------------------------------------------------------------------

    def _write(self, operation: str, data: Any, **form: Any) -> WriteRecord:
        from mlake.tables.frames import to_arrow

        inputs = form.pop("inputs", None)
        if inputs is not None:
            form["inputs"] = [i.to_dict() for i in inputs]
        if isinstance(data, RemoteResult):  # run on the server: the write's lineage names the query's tables
            form.update(sql=data.sql, as_of=data.as_of, params=data._params)
            files = None
        else:
            files = [arrow_part(to_arrow(data))]
        return write_record(
            self._lake._json("POST", f"{self._path}/{operation}", files=files, data=form_fields(**form))
        )

    def append(
        self,
        data: Any,
        *,
        command: str | None = None,
        inputs: list[LineageInput] | None = None,
        properties: dict[str, str] | None = None,
    ) -> WriteRecord:
        """Append rows (uploaded as Arrow); new columns are added to the schema, safe widenings applied."""
        return self._write("append", data, command=command, inputs=inputs, properties=properties)

    def overwrite(
        self,
        data: Any,
        where: str | None = None,
        *,
        command: str | None = None,
        inputs: list[LineageInput] | None = None,
    ) -> WriteRecord:
        """Replace all rows (or the rows matching ``where``) with ``data``, in one snapshot."""
        return self._write("overwrite", data, where=where, command=command, inputs=inputs)

    def upsert(
        self, data: Any, on: Sequence[str], *, command: str | None = None, inputs: list[LineageInput] | None = None
    ) -> WriteRecord:
        """Update rows whose key columns ``on`` match, insert the others."""
        return self._write("upsert", data, on=list(on), command=command, inputs=inputs)

    def apply_changes(
        self,
        rows: Any,
        on: Sequence[str],
        *,
        delete_keys: Sequence[tuple[Any, ...]] = (),
        delete_all: bool = False,
        command: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> WriteRecord:
        """Apply a batch of changes in one commit: remove the rows whose key (columns ``on``) is in
        ``delete_keys`` or in ``rows`` (every row with ``delete_all``), then add ``rows``. Dates, times and
        decimals in ``delete_keys`` travel as ISO text, which the server reads back as the key column's type."""
        return self._write(
            "changes",
            rows,
            on=list(on),
            delete_keys=[[_key_value(v) for v in key] for key in delete_keys],
            delete_all=delete_all,
            command=command,
            properties=properties,
        )

    def delete(self, where: str, *, command: str | None = None) -> WriteRecord:
        """Delete the rows matching ``where`` (older snapshots keep them)."""
        return write_record(self._lake._json("POST", f"{self._path}/delete", json={"where": where, "command": command}))


def _key_value(value: Any) -> Any:
    """A key value as JSON can carry it (ISO text for dates and times, text for decimals)."""
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def upload_report(body: dict[str, Any]) -> IngestReport:
    from collections import Counter

    from mlake.ingest.report import IngestReport

    fields = set(IngestReport.__dataclass_fields__)
    values = {k: v for k, v in body.items() if k in fields}
    values["reasons"] = Counter(values.get("reasons") or {})
    return IngestReport(**values)


def lineage_graph(body: dict[str, Any]) -> LineageGraph:
    def edge(e: dict[str, Any]) -> LineageEdge:
        s = e["source"]
        write = WriteRecord(
            write_id=e["write_id"],
            table=e["target"],
            operation=e["operation"],
            actor=e["actor"],
            command="",
            snapshot_id=e["snapshot_id"],
            at=datetime.fromisoformat(e["at"]),
        )
        source = LineageInput(s["kind"], s["ref"], s["detail"], s["snapshot_id"])
        return LineageEdge(source, e["target"], write, e["depth"])

    return LineageGraph(body["table"], [edge(e) for e in body["upstream"]], [edge(e) for e in body["downstream"]])


class _ByteStream(io.RawIOBase):
    """A readable file over an iterator of byte chunks (an HTTP response body), for Arrow's IPC reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n
