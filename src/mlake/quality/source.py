"""What a quality measurement reads: a table (at a snapshot), a SQL query, or data staged by an ingest.

Every measurement in :mod:`mlake.quality` runs as SQL over one DuckDB connection — the lake engine's —
so that a table, a query joining several tables and a batch not yet committed are all measured by the
same code. A :class:`Source` is that SQL plus what to call it; it never holds data.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from mlake.errors import NotFoundError, ValidationError
from mlake.results import Result, translate_duckdb_error
from mlake.tables.names import TableName
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    from mlake.ingest.context import StagedData
    from mlake.lake import Lake
    from mlake.quality.partitioned import Partitioned
    from mlake.tables.table import Table

_TABLE_NAME = re.compile(r'^\s*"?[A-Za-z_][\w]*"?\s*\.\s*"?[A-Za-z_][\w]*"?\s*$')

# Column kinds: what a profile computes depends on them.
NUMERIC = "numeric"
STRING = "string"
BOOLEAN = "boolean"
TEMPORAL = "temporal"
BINARY = "binary"
OTHER = "other"  # nested, UUID, intervals: counted, not described

_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
)


def column_kind(duck_type: str) -> str:
    """The kind of a DuckDB column type (``DECIMAL(10,2)`` is numeric, ``INTEGER[]`` is other)."""
    t = duck_type.upper()
    if t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION")):
        return OTHER
    if t in _NUMERIC_TYPES or t.startswith("DECIMAL"):
        return NUMERIC
    if t == "VARCHAR" or t.startswith("VARCHAR"):
        return STRING
    if t == "BOOLEAN":
        return BOOLEAN
    if t.startswith(("TIMESTAMP", "DATE")):
        return TEMPORAL
    if t == "BLOB":
        return BINARY
    return OTHER


def is_float(duck_type: str) -> bool:
    return duck_type.upper() in ("FLOAT", "DOUBLE", "REAL")


@dataclass
class Source:
    """SQL to measure, on the lake engine's connection.

    ``sql`` is a SELECT; ``label`` names it for people (``shop.orders@<snapshot>``,
    ``query:<hash> over shop.orders@<snapshot>``, ``staged batch of shop.orders``); ``table`` and
    ``snapshot_id`` (for tables and staged batches) say what was measured, so that metric history and
    reports can be traced to the exact data.
    """

    lake: Lake
    sql: str
    label: str
    table: str | None = None
    snapshot_id: int | None = None
    kind: str = "table"  # table | query | staged
    rows_hint: int | None = None  # the row count when known without a scan (snapshot summary, staged batch)
    _columns: list[tuple[str, str]] | None = field(default=None, repr=False)
    # set when measured on a partitioned engine (Ray): see mlake.quality.partitioned
    partitions: Partitioned | None = field(default=None, repr=False)

    @property
    def columns(self) -> list[tuple[str, str]]:
        """``(name, DuckDB type)`` of each column, found without running the query."""
        if self._columns is None:
            sql = f"SELECT * FROM ({self.sql}) AS __src LIMIT 0"
            with self.lake.engine.internal_cursor(sql) as cur:
                try:
                    rel = cur.sql(sql)
                    self._columns = [(c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True)]
                except duckdb.Error as exc:
                    raise translate_duckdb_error(exc, self.sql) from exc
        return self._columns

    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def column_type(self, name: str) -> str:
        for c, t in self.columns:
            if c == name:
                return t
        where = self.table or self.label
        raise NotFoundError(
            f"{where} has no column {name!r}", hint=f"columns: {', '.join(self.column_names()) or '(none)'}"
        )

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL that reads this source (as ``__src``) and return all rows (small results only).

        The SQL runs through the engine's :meth:`~mlake.sql.SqlEngine.internal_cursor`: on a principal's
        lake it is checked like untrusted SQL (it embeds check filters and queries people wrote) and
        bounded by the statement timeout.
        """
        with self.lake.engine.internal_cursor(sql) as cur:
            try:
                return cur.sql(sql).fetchall()
            except duckdb.Error as exc:
                raise translate_duckdb_error(exc, sql) from exc

    def fetch_arrow(self, sql: str) -> Any:
        with self.lake.engine.internal_cursor(sql) as cur:
            try:
                return cur.sql(sql).to_arrow_table()
            except duckdb.Error as exc:
                raise translate_duckdb_error(exc, sql) from exc

    def from_clause(self) -> str:
        return f"({self.sql}) AS __src"

    @property
    def history_key(self) -> str:
        """What metric history is kept under: the table, or the query's fingerprint."""
        return self.table if self.table and self.kind != "query" else self.label.split(" ", 1)[0]


def is_table_name(text: str) -> bool:
    return bool(_TABLE_NAME.match(text))


def resolve(
    lake: Lake,
    target: str | TableName | Table | Result | StagedData | Source,
    snapshot_id: int | None = None,
    as_of: datetime | str | None = None,
) -> Source:
    """A :class:`Source` for a table name, a ``Table``, SQL text, a ``Result`` or staged ingest data."""
    from mlake.ingest.context import StagedData
    from mlake.tables.table import Table

    if isinstance(target, Source):
        return target
    if isinstance(target, StagedData):
        return Source(
            lake,
            f"SELECT * FROM {lake.engine.staged_view(target)}",
            f"staged batch of {target.table}",
            table=target.table,
            kind="staged",
            rows_hint=target.rows,
        )
    if isinstance(target, Result):
        if snapshot_id is not None or as_of is not None:
            raise ValidationError("A query result is already pinned", hint="pass as_of to lake.sql(...) instead")
        return _query_source(lake, target.sql)
    if isinstance(target, Table):
        target = target.name
    if isinstance(target, TableName) or is_table_name(str(target)):
        name = TableName.parse(target)
        if not lake.table_exists(name):
            raise lake.not_found(name)
        table = lake.table(name)
        if as_of is not None and snapshot_id is None:
            snapshot_id = table.snapshot_at(as_of)
        ice = table.iceberg
        snap = (
            ice.snapshot_by_id(table.check_snapshot(snapshot_id)) if snapshot_id is not None else ice.current_snapshot()
        )
        pinned = snap.snapshot_id if snap else None
        view = lake.engine.view_for(name, pinned)
        label = f"{name}@{pinned}" if pinned is not None else f"{name} (empty)"
        return Source(
            lake, f"SELECT * FROM {view}", label, table=str(name), snapshot_id=pinned, rows_hint=_snapshot_rows(snap)
        )
    if snapshot_id is not None:
        raise ValidationError("snapshot_id applies to a table, not to SQL", hint="use AT (VERSION => id) in the SQL")
    return _query_source(lake, str(target), as_of)


def _snapshot_rows(snapshot: Any) -> int | None:
    """The row count an Iceberg snapshot's summary records (None without a summary or with deletes, when
    it may not be exact)."""
    if snapshot is None:
        return 0
    props = snapshot.summary.additional_properties if snapshot.summary else {}
    deletes = int(props.get("total-position-deletes", 0) or 0) + int(props.get("total-equality-deletes", 0) or 0)
    if "total-records" not in props or deletes:
        return None
    return int(props["total-records"])


def _query_source(lake: Lake, sql: str, as_of: datetime | str | None = None) -> Source:
    text = sql.strip().rstrip(";")
    if not text:
        raise ValidationError("Nothing to measure: the query is empty")
    bound, inputs = lake.engine.bind(text, as_of)
    pinned = ", ".join(f"{i.ref}@{i.snapshot_id}" for i in inputs if i.kind == "table")
    digest = hashlib.sha1(" ".join(text.split()).encode()).hexdigest()[:12]
    return Source(lake, bound, f"query:{digest}" + (f" over {pinned}" if pinned else ""), kind="query")


def q(name: str) -> str:
    """A quoted column reference."""
    return quote_ident(name)
