"""Query results: one lazy object that becomes Arrow, pandas, polars or a stream of batches.

A result is bound when it is created (its tables are pinned to the snapshots they had then), but runs
only when converted. A full conversion is cached, so showing a result in a notebook and then calling
``to_pandas()`` runs the query once.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from mlake.errors import SqlError
from mlake.formatting import format_value
from mlake.tables.lineage import LineageInput

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from mlake.tables.table import Table

PREVIEW_ROWS = 20


def translate_duckdb_error(exc: duckdb.Error, sql: str | None = None) -> SqlError:
    """A DuckDB error as one readable line, with its kind (parser, binder, catalog ...)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    hint = None
    if isinstance(exc, duckdb.CatalogException) and "does not exist" in first:
        hint = "lake tables are named namespace.table; `mlake tables list` shows them"
    elif isinstance(exc, duckdb.ParserException):
        hint = "check the SQL syntax near the position named"
    elif isinstance(exc, duckdb.InterruptException):
        first = "Query was interrupted (statement timeout)"
    elif isinstance(exc, duckdb.OutOfMemoryException):
        hint = "the query needs more memory than MLAKE_MEMORY_LIMIT allows; select fewer columns or rows"
    return SqlError(first, hint=hint)


class Result:
    """The result of a query over the lake."""

    # Saving it may run DuckDB's COPY on the result's own database (False: that database may not write).
    writes_with_duckdb = True

    def __init__(
        self,
        relation: duckdb.DuckDBPyRelation,
        sql: str,
        inputs: list[LineageInput] | None = None,
        keepalive: Any = None,
        lake: Any = None,
        arrow: pa.Table | None = None,
    ) -> None:
        self._relation = relation
        self.sql = sql
        self.lineage_inputs: list[LineageInput] = list(inputs or [])
        # ``arrow``: the relation's rows when mlake already holds them (the relation reads this very
        # table), so that fetching them does not copy them through DuckDB again.
        self._arrow: pa.Table | None = arrow
        self._keepalive = keepalive  # the cursor the relation lives on
        self.lake = lake

    @property
    def relation(self) -> duckdb.DuckDBPyRelation:
        """The DuckDB relation, for further relational operations."""
        return self._relation

    @property
    def columns(self) -> list[str]:
        return list(self._relation.columns)

    @property
    def types(self) -> list[str]:
        return [str(t) for t in self._relation.types]

    def to_arrow(self) -> pa.Table:
        if self._arrow is None:
            try:
                self._arrow = self._relation.to_arrow_table()
            except duckdb.Error as exc:
                raise translate_duckdb_error(exc, self.sql) from exc
        return self._arrow

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def batches(self, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream the result in Arrow batches without holding it all in memory."""
        if self._arrow is not None:
            yield from self._arrow.to_batches(batch_size)
            return
        try:
            reader = self._relation.to_arrow_reader(batch_size)
            yield from reader
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, self.sql) from exc

    def loader(self, batch_size: int = 1024, **options: Any) -> Any:
        """A :class:`mlake.loader.Loader` over this result for training loops (``shuffle``, ``seed``,
        ``columns``, ``rank``, ``world_size``, ``cache`` ...): the rows are written once to local Parquet
        under the lake's cache folder, then sharded, shuffled and prefetched like a table's files."""
        if self.lake is None:
            from mlake.errors import ValidationError

            raise ValidationError("This result does not come from a lake", hint="use lake.sql(...) to make it")
        return self.lake.loader(self, batch_size=batch_size, **options)

    def reader(self, batch_size: int = 100_000) -> pa.RecordBatchReader:
        """The result as an Arrow stream (for writers that consume readers)."""
        try:
            return self._relation.to_arrow_reader(batch_size)
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, self.sql) from exc

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def fetchall(self) -> list[tuple[Any, ...]]:
        table = self.to_arrow()
        cols = [c.to_pylist() for c in table.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def to_pylist(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.to_arrow().to_pylist()
        return rows

    def scalar(self) -> Any:
        """The first column of the first row (for ``select count(*) ...``)."""
        table = self.to_arrow()
        if table.num_rows == 0 or table.num_columns == 0:
            return None
        return table.column(0)[0].as_py()

    def page(self, limit: int, offset: int = 0) -> pa.Table:
        """Rows ``offset`` to ``offset + limit`` (bounded by the actor's statement timeout)."""
        assert self.lake is not None
        with self.lake.engine.deadline(self._keepalive):
            return self._relation.limit(limit, offset).to_arrow_table()

    def count(self) -> int:
        """How many rows the result has, counted by the engine without fetching them."""
        assert self.lake is not None
        with self.lake.engine.deadline(self._keepalive):
            rows = self._relation.aggregate("count(*)").fetchall()
        return int(rows[0][0]) if rows else 0

    def __len__(self) -> int:
        return int(self.to_arrow().num_rows)

    def save(self, name: str, *, mode: str = "create") -> Table:
        """Write this result to a lake table (``mode``: create, replace or append), with lineage."""
        if self.lake is None:
            from mlake.errors import ValidationError

            raise ValidationError("This result does not come from a lake", hint="use lake.sql(...) to make it")
        saved: Table = self.lake.engine.save(self, name, mode=mode)
        return saved

    # --- display ----------------------------------------------------------------------------------

    def preview(self, n: int = PREVIEW_ROWS) -> pa.Table:
        if self._arrow is not None:
            return self._arrow.slice(0, n)
        try:
            return self._relation.limit(n).to_arrow_table()
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, self.sql) from exc

    def __repr__(self) -> str:
        head = self.preview(10)
        cols = head.column_names
        rows = [[format_value(v) for v in r.values()] for r in head.to_pylist()]
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
        line = " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
        sep = "-+-".join("-" * w for w in widths)
        body = "\n".join(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows)
        more = "\n…" if head.num_rows == 10 else ""
        return f"{line}\n{sep}\n{body}{more}"

    def _repr_html_(self) -> str:
        head = self.preview(PREVIEW_ROWS + 1)
        shown = head.slice(0, PREVIEW_ROWS)
        th = "".join(f"<th title='{html.escape(str(f.type))}'>{html.escape(f.name)}</th>" for f in shown.schema)
        trs = "".join(
            "<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row.values()) + "</tr>"
            for row in shown.to_pylist()
        )
        note = f"first {PREVIEW_ROWS} rows" if head.num_rows > PREVIEW_ROWS else f"{shown.num_rows} row(s)"
        return (
            "<div class='mlake-result'><table border='1' style='border-collapse:collapse'>"
            f"<thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
            f"<small>{note} · {len(self.columns)} column(s)</small></div>"
        )
