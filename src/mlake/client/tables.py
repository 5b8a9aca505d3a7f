"""Tables and query results of a lake on an mlake server (see :mod:`mlake.client.remote`).

Kept apart from :class:`~mlake.client.remote.RemoteLake` so that the areas of the client (quality,
features) can use these types without importing the lake object back.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.tables.lineage import LineageEdge, LineageGraph, LineageInput, WriteRecord
from mlake.tables.names import TableName
from mlake.tables.table import SnapshotInfo
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from mlake.client.remote import RemoteLake
    from mlake.ingest.report import IngestReport


class RemoteResult:
    """The result of a query on the server: fetched as Arrow when first converted, then cached."""

    def __init__(self, lake: RemoteLake, sql: str, as_of: str | None = None) -> None:
        self._lake = lake
        self.sql = sql
        self._as_of = as_of
        self._arrow: pa.Table | None = None

    @property
    def as_of(self) -> str | None:
        """The time every table of the query is read at (None: now)."""
        return self._as_of

    def to_arrow(self) -> pa.Table:
        if self._arrow is None:
            import pyarrow.ipc as ipc

            response = self._lake.request(
                "POST", "/sql/export", json={"sql": self.sql, "as_of": self._as_of, "format": "arrow"}
            )
            self._arrow = ipc.open_stream(response.content).read_all()
        return self._arrow

    @property
    def columns(self) -> list[str]:
        return list(self.to_arrow().column_names)

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
        import pyarrow.ipc as ipc

        body = {"sql": self.sql, "as_of": self._as_of, "format": "arrow"}
        with self._lake.stream("POST", "/sql/export", json=body) as response:
            body_file = io.BufferedReader(_ByteStream(response.iter_bytes()), buffer_size=1 << 20)
            reader = ipc.open_stream(pa.PythonFile(body_file, mode="r"))
            pending: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                pending.append(batch)
                rows += batch.num_rows
                while rows >= batch_size:
                    chunk = pa.Table.from_batches(pending, schema=reader.schema).combine_chunks()
                    yield chunk.slice(0, batch_size).to_batches()[0]
                    rest = chunk.slice(batch_size)
                    pending, rows = rest.to_batches(), rest.num_rows
            if rows:
                yield from pa.Table.from_batches(pending, schema=reader.schema).combine_chunks().to_batches()

    def scalar(self) -> Any:
        table = self.to_arrow()
        return table.column(0)[0].as_py() if table.num_rows and table.num_columns else None

    def __len__(self) -> int:
        return int(self.to_arrow().num_rows)

    def save(self, name: str, *, mode: str = "create") -> RemoteTable:
        """Write the result to a table on the server (with lineage to the query)."""
        self._lake._json("POST", "/sql/save", json={"sql": self.sql, "table": name, "mode": mode, "as_of": self._as_of})
        return self._lake.table(name)

    def __repr__(self) -> str:
        return f"<mlake.RemoteResult {self.sql[:60]!r}>"


class RemoteTable:
    """A table on the server."""

    def __init__(self, lake: RemoteLake, name: TableName) -> None:
        self._lake = lake
        self.name = name

    def __repr__(self) -> str:
        return f"<mlake.RemoteTable {self.name}>"

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = self._lake._json("GET", f"/tables/{self.name}")
        return info

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.describe()["columns"]]

    @property
    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = self.describe()["tags"]
        return tags

    def history(self) -> list[SnapshotInfo]:
        out = []
        for s in self._lake._json("GET", f"/tables/{self.name}/history"):
            s["committed_at"] = datetime.fromisoformat(s["committed_at"])
            out.append(SnapshotInfo(**s))
        return out

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

    def to_arrow(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pa.Table:
        return self.query(columns, where, **kw).to_arrow()

    def to_pandas(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pd.DataFrame:
        return self.query(columns, where, **kw).to_pandas()

    def to_polars(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pl.DataFrame:
        return self.query(columns, where, **kw).to_polars()

    def head(self, n: int = 10) -> RemoteResult:
        return self.query(limit=n)

    def count(self, snapshot_id: int | None = None) -> int:
        source = str(self.name) + (f" AT (VERSION => {int(snapshot_id)})" if snapshot_id is not None else "")
        return int(RemoteResult(self._lake, f"SELECT count(*) FROM {source}").scalar() or 0)

    def set_metadata(
        self,
        *,
        description: str | None = None,
        owner: str | None = None,
        tags: dict[str, str] | None = None,
        remove_tags: Sequence[str] = (),
        column_docs: dict[str, str] | None = None,
    ) -> None:
        body = {
            "description": description,
            "owner": owner,
            "tags": tags,
            "remove_tags": list(remove_tags),
            "column_docs": column_docs,
        }
        self._lake._json("PATCH", f"/tables/{self.name}", json=body)

    def rollback(self, snapshot_id: int) -> None:
        self._lake._json("POST", f"/tables/{self.name}/rollback", json={"snapshot_id": snapshot_id})

    def append(self, data: Any) -> IngestReport:
        """Append rows (uploaded as Parquet)."""
        return self._lake._upload(data, self.name, "append")

    def overwrite(self, data: Any) -> IngestReport:
        """Replace all rows (uploaded as Parquet)."""
        return self._lake._upload(data, self.name, "overwrite")

    def lineage(self, max_depth: int = 10) -> LineageGraph:
        return self._lake.lineage(self.name, max_depth)


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
