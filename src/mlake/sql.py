"""SQL over the lake, on DuckDB.

``lake.sql("select ... from shop.orders")`` runs the user's SQL unchanged except for one rewrite: each
reference to a lake table (``ns.tbl``, optionally followed by DuckDB's time-travel clause
``AT (VERSION => <snapshot id>)`` or ``AT (TIMESTAMP => '<time>')``) is pointed at an immutable view of
that table at one snapshot, living in a schema named ``"ns.tbl@<snapshot>"``. Because those views never
change, a result stays pinned to the snapshots it was bound to even when the tables move on, and
qualified column references (``orders.amount``, ``shop.orders.amount``) keep working.

References are found with DuckDB's own tokenizer, so table names inside string literals and comments
are left alone. ``CREATE TABLE ns.t AS SELECT ...`` and ``INSERT INTO ns.t SELECT ...`` write Iceberg
tables with lineage; other statements that would change state are refused.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
from pyiceberg.expressions import BooleanExpression

from mlake.duckdb_connection import connect_duckdb
from mlake.errors import MlakeError, NotFoundError, SqlError, ValidationError
from mlake.results import Result, translate_duckdb_error
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName
from mlake.tables.scan import plan_scan
from mlake.tables.types import duckdb_type, quote_ident, quote_literal

if TYPE_CHECKING:
    from pyiceberg.table import Table as IcebergTable

    from mlake.core import LakeHandle as Lake
    from mlake.tables.table import Table

_MAX_VIEW_SCHEMAS = 512
_READ_STATEMENTS = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
}
_CTAS = re.compile(
    r"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?"
    r"(?P<name>\"?[\w]+\"?\s*\.\s*\"?[\w]+\"?)\s+AS\s+(?P<query>.+?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
INSERT_STATEMENT = re.compile(
    r"^\s*INSERT\s+INTO\s+(?P<name>\"?[\w]+\"?\s*\.\s*\"?[\w]+\"?)\s+(?P<byname>BY\s+NAME\s+)?"
    r"(?P<query>(SELECT|WITH|FROM|VALUES|\()\b.*?|\(.*?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


class StagedFiles(Protocol):
    """Data files written but not committed (an ingest's staged batch), as a view over them needs them."""

    schema: Any  # the Iceberg schema of the rows
    files: list[Any]  # pyiceberg DataFiles

    def sql(self) -> str:
        """A SELECT over the files (DuckDB ``read_parquet``), in the table's columns."""
        ...


@dataclass(frozen=True)
class TableRef:
    """A lake table named in a query, with the text span that names it."""

    start: int
    end: int
    name: TableName
    at_kind: str | None = None  # VERSION or TIMESTAMP
    at_value: str | None = None


def _strip_quotes(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1].replace('""', '"')
    return token


def find_table_refs(sql: str, namespaces: set[str]) -> list[TableRef]:
    """Spans of ``ns.tbl [AT (VERSION|TIMESTAMP => literal)]`` where ``ns`` is a lake namespace."""
    try:
        tokens = duckdb.tokenize(sql)
    except duckdb.Error as exc:  # pragma: no cover - the tokenizer accepts any text
        raise translate_duckdb_error(exc, sql) from exc
    # DuckDB reports token positions in UTF-8 bytes; spans below are in characters.
    data = sql.encode()
    byte_starts = [t[0] for t in tokens]
    kinds = [t[1] for t in tokens]
    byte_ends = [*byte_starts[1:], len(data)]
    texts = [data[s:e].decode(errors="replace").rstrip() for s, e in zip(byte_starts, byte_ends, strict=True)]
    if len(data) == len(sql):
        starts = byte_starts
    else:
        char_at: list[int] = []
        for i, ch in enumerate(sql):
            char_at.extend([i] * len(ch.encode()))
        char_at.append(len(sql))
        starts = [char_at[s] for s in byte_starts]
    T = duckdb.token_type
    name_kinds = (T.identifier, T.keyword)
    refs: list[TableRef] = []
    i = 0
    n = len(tokens)
    while i + 2 < n:
        is_ref = (
            kinds[i] in name_kinds
            and kinds[i + 1] == T.operator
            and texts[i + 1] == "."
            and kinds[i + 2] in name_kinds
            and not (i > 0 and kinds[i - 1] == T.operator and texts[i - 1] == ".")
        )
        if not is_ref:
            i += 1
            continue
        ns = _strip_quotes(texts[i]).lower()
        if ns not in namespaces:
            i += 1
            continue
        table = _strip_quotes(texts[i + 2]).lower()
        try:
            name = (
                TableName(ns, table) if re.fullmatch(r"[a-z_][a-z0-9_]*", table) else TableName.parse(f"{ns}.{table}")
            )
        except ValidationError:
            i += 3
            continue
        end = starts[i + 2] + len(texts[i + 2])
        at_kind = at_value = None
        j = i + 3
        if (
            j + 5 < n + 0
            and texts[j].upper() == "AT"
            and texts[j + 1] == "("
            and texts[j + 2].upper() in ("VERSION", "TIMESTAMP")
            and texts[j + 3] == "=>"
            and kinds[j + 4] in (T.numeric_const, T.string_const)
            and texts[j + 5] == ")"
        ):
            at_kind = texts[j + 2].upper()
            at_value = _strip_string(texts[j + 4])
            end = starts[j + 5] + 1
            j += 6
        refs.append(TableRef(starts[i], end, name, at_kind, at_value))
        i = j
    return refs


def _strip_string(literal: str) -> str:
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return literal[1:-1].replace("''", "'")
    return literal


Statement = Callable[[str, "datetime | str | None", Any], Result]
"""Runs one statement as the owner's engine does (the pass-through a policy's :meth:`SqlPolicy.query` may call)."""


class SqlPolicy(Protocol):
    """Who runs SQL on an engine, and what they may read: every path of :class:`SqlEngine` asks its policy.

    The owner's (:class:`OwnerSqlPolicy`) passes everything through; a principal's
    (:class:`mlake.governance.engine.PrincipalSqlPolicy`) checks grants, builds secure views (masks, row
    filters, column grants), checks SQL like untrusted SQL, bounds results and audits."""

    governed: bool

    def view(self, engine: SqlEngine, name: TableName, snapshot_id: int | None, base: Callable[[], str]) -> str:
        """The reference a table is read through; ``base()`` builds the table's own pinned view."""
        ...

    def query(self, engine: SqlEngine, sql: str, as_of: datetime | str | None, params: Any, run: Statement) -> Result:
        """Run a user's statement; ``run`` runs it as the owner's engine does."""
        ...

    def check_internal(self, sql: str) -> None:
        """Check SQL mlake built (possibly with user-given parts) before it runs."""
        ...

    def issued(self, ref: str) -> None:
        """``ref`` (a view of mlake's own SQL) may be named by SQL checked with :meth:`check_internal`."""
        ...

    def check_expression(self, expression: str, what: str, *, order_by: bool = False) -> None: ...

    def deadline(self, cursor: duckdb.DuckDBPyConnection) -> AbstractContextManager[None]: ...

    def bounded(self, engine: SqlEngine, result: Result) -> Result:
        """A result as the actor may fetch it (size and time limits)."""
        ...


class OwnerSqlPolicy:
    """The lake owner's: trusted SQL, tables as they are, nothing audited."""

    governed = False

    def view(self, engine: SqlEngine, name: TableName, snapshot_id: int | None, base: Callable[[], str]) -> str:
        return base()

    def query(self, engine: SqlEngine, sql: str, as_of: datetime | str | None, params: Any, run: Statement) -> Result:
        return run(sql, as_of, params)

    def check_internal(self, sql: str) -> None:
        pass

    def issued(self, ref: str) -> None:
        pass

    def check_expression(self, expression: str, what: str, *, order_by: bool = False) -> None:
        pass

    def deadline(self, cursor: duckdb.DuckDBPyConnection) -> AbstractContextManager[None]:
        return nullcontext()

    def bounded(self, engine: SqlEngine, result: Result) -> Result:
        return result


OWNER_SQL = OwnerSqlPolicy()


class SqlEngine:
    """One in-process DuckDB database whose views are the lake's tables at given snapshots.

    What an actor may read is decided by :attr:`policy` (see :class:`SqlPolicy`), which every path
    below asks: the owner's engine and a principal's are this one class. A principal's engine builds
    its views in a shared ``database`` (the lake's sandboxed engine) instead of a database of its own.
    """

    def __init__(self, lake: Lake, policy: SqlPolicy = OWNER_SQL, database: SqlEngine | None = None) -> None:
        self._lake = lake
        self.policy = policy
        self._database = database
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock: threading.RLock = database._lock if database is not None else threading.RLock()
        # view schema -> helper objects (in ``main``) dropped with it
        self._schemas: OrderedDict[str, tuple[str, ...]] = database._schemas if database is not None else OrderedDict()
        self.remote = False  # True once DuckDB can read s3:// (object-store warehouse)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._database is not None:
            return self._database.connection
        with self._lock:
            if self._con is None:
                self._con = self._connect()
            return self._con

    def _connect(self) -> duckdb.DuckDBPyConnection:
        s = self._lake.settings
        temp = s.home / "tmp"
        temp.mkdir(parents=True, exist_ok=True)
        con = connect_duckdb(
            ":memory:",
            config={
                "threads": s.threads,
                "memory_limit": s.memory_limit,
                "temp_directory": str(temp),
            },
        )
        con.execute("SET enable_progress_bar = false")
        con.execute("SET parquet_metadata_cache = true")  # Iceberg data files never change
        from mlake.storage import attach_object_store

        self.remote = attach_object_store(con, s)
        return con

    def close(self) -> None:
        if self._database is not None:
            return  # the shared database is closed by its owner
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
                self._schemas.clear()

    # --- views ------------------------------------------------------------------------------------

    def view_for(
        self,
        name: TableName,
        snapshot_id: int | None = None,
        where: str | BooleanExpression | None = None,
        *,
        added_since: int | None = None,
    ) -> str:
        """A SQL reference to ``name`` at ``snapshot_id`` (default: current), files pruned by ``where``, as
        the actor may read it (its policy's view).

        ``added_since``: only the rows of the data files appended after that snapshot — what a read of new
        rows needs when :func:`mlake.tables.scan.appended_files` says the history in between is
        append-only (ask it first); older files are not read at all."""
        return self.policy.view(
            self, name, snapshot_id, lambda: self._table_view(name, snapshot_id, where, added_since)
        )

    def _table_view(
        self,
        name: TableName,
        snapshot_id: int | None,
        where: str | BooleanExpression | None,
        added_since: int | None = None,
    ) -> str:
        """The table's own view at a snapshot, shared by every actor (a policy adds its view on top)."""
        table = self._lake.iceberg_table(name)
        row_filter = _pruning_filter(where)
        if snapshot_id is None:
            # Current state: the current schema applies (a rename shows at once, with no new snapshot).
            snap = table.current_snapshot()
            tag = f"{name}@{snap.snapshot_id if snap else 'empty'}~s{table.schema().schema_id}"
        else:
            # Time travel: the schema the snapshot was written with, as other Iceberg engines do.
            tag = f"{name}@{snapshot_id}"
        if added_since is not None:
            tag += f"+after{added_since}"
        if row_filter is not None:
            tag += "~" + hashlib.sha1(repr(row_filter).encode()).hexdigest()[:10]
        ref = f"{quote_ident(tag)}.{quote_ident(name.name)}"
        with self._lock:
            if tag in self._schemas:
                self._schemas.move_to_end(tag)
                return ref
            con = self.connection
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(tag)}")
            helpers = (self._database or self)._build_view(con, ref, table, snapshot_id, row_filter, added_since)
            self._remember(tag, helpers)
        return ref

    def _build_view(
        self,
        con: duckdb.DuckDBPyConnection,
        ref: str,
        table: IcebergTable,
        snapshot_id: int | None,
        row_filter: BooleanExpression | None,
        added_since: int | None = None,
    ) -> tuple[str, ...]:
        """Create the view ``ref`` of ``table`` at ``snapshot_id``; return the names of helper objects
        (in ``main``) to drop with it. The owner's views read the data files with ``read_parquet``."""
        source = plan_scan(table, snapshot_id, row_filter, remote=self.remote, added_since=added_since)
        if source.sql is not None:
            con.execute(f"CREATE OR REPLACE VIEW {ref} AS {source.sql}")
        else:
            con.register("__mlake_fallback", source.arrow)
            try:
                con.execute(f"CREATE OR REPLACE TABLE {ref} AS SELECT * FROM __mlake_fallback")
            finally:
                con.unregister("__mlake_fallback")
        return ()

    def _remember(self, tag: str, helpers: tuple[str, ...] = ()) -> None:
        """Keep the view schema ``tag`` (and its ``helpers``); drop the least recently used beyond the cap."""
        self._schemas[tag] = helpers
        while len(self._schemas) > _MAX_VIEW_SCHEMAS:
            old, old_helpers = self._schemas.popitem(last=False)
            self.connection.execute(f"DROP SCHEMA IF EXISTS {quote_ident(old)} CASCADE")
            for helper in old_helpers:
                self.connection.execute(f"DROP VIEW IF EXISTS main.{quote_ident(helper)}")

    def internal_view(self, sql: str) -> str:
        """A view over a SELECT mlake built itself (a staged batch's files, before they are committed), so
        that SQL checked like a principal's (see :meth:`internal_cursor`) may read it by name — and not
        the files it reads."""
        tag = "sql~" + hashlib.sha1(sql.encode()).hexdigest()[:16]
        ref = f"{quote_ident(tag)}.{quote_ident('data')}"
        self.policy.issued(ref)
        with self._lock:
            if tag in self._schemas:
                self._schemas.move_to_end(tag)
                return ref
            con = self.connection
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(tag)}")
            con.execute(f"CREATE OR REPLACE VIEW {ref} AS {sql}")
            self._remember(tag)
        return ref

    def staged_view(self, staged: StagedFiles) -> str:
        """A view over an ingest's staged batch (written, not committed), for a gate's checks to read by
        name (see :meth:`internal_view`)."""
        if self._database is not None:  # a principal's engine: the sandboxed database reads no file itself
            ref = self._database.staged_view(staged)
            self.policy.issued(ref)
            return ref
        return self.internal_view(staged.sql())

    # --- queries ----------------------------------------------------------------------------------

    def run_internal(self, sql: str, inputs: list[LineageInput] | None = None) -> Result:
        """Run SQL that mlake itself built over views from :meth:`view_for` (checked by the policy: a
        principal's may only name views issued to it)."""
        self.policy.check_internal(sql)
        cursor = self.connection.cursor()
        try:
            rel = cursor.sql(sql)
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, sql) from exc
        assert rel is not None
        return self.policy.bounded(self, Result(rel, sql, inputs, keepalive=cursor, lake=self._lake))

    @contextmanager
    def internal_cursor(self, sql: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor to run ``sql`` — built by mlake over views from :meth:`view_for`, possibly with parts
        given by a user (a check's filter, a custom check query) — closed afterwards.

        Measurements (quality profiles and checks) run their SQL through it so that a principal's engine
        can check that SQL like untrusted SQL and bound its run by the statement timeout.
        """
        self.policy.check_internal(sql)
        cursor = self.connection.cursor()
        try:
            with self.policy.deadline(cursor):
                yield cursor
        finally:
            cursor.close()

    @contextmanager
    def deadline(self, cursor: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Bound a fetch on ``cursor`` by the statement timeout: none for the owner; a principal's policy
        interrupts it (see :meth:`mlake.governance.sandbox.SqlSandbox.deadline`)."""
        with self.policy.deadline(cursor):
            yield

    def bounded(self, result: Result) -> Result:
        """``result`` (built by mlake over this engine's views, e.g. a training set's rows) bounded like
        SQL results: as it is for the owner; a principal's policy applies the sandbox limits."""
        return self.policy.bounded(self, result)

    def save(self, result: Result, name: str, *, mode: str = "create") -> Table:
        """Write ``result`` to a lake table (see :func:`save_result`)."""
        return save_result(result, name, mode=mode)

    def check_expression(self, expression: str, what: str, *, order_by: bool = False) -> None:
        """Check a SQL expression a user gave (a filter, a sort order) before it is put into SQL mlake
        builds: the owner's is trusted; a principal's policy checks it like untrusted SQL."""
        self.policy.check_expression(expression, what, order_by=order_by)

    def bind(self, sql: str, as_of: datetime | str | None = None) -> tuple[str, list[LineageInput]]:
        """Rewrite lake table references to pinned views; return the SQL and the tables it reads."""
        entries = self._lake._core.catalog_entries()
        namespaces = {ns for ns, _ in entries}
        refs = find_table_refs(sql, namespaces)
        out: list[str] = []
        inputs: dict[tuple[str, int | None], LineageInput] = {}
        pos = 0
        for ref in refs:
            if ref.name.identifier not in entries:
                raise self._lake.not_found(ref.name)
            table = self._lake.table(ref.name)
            snapshot_id = self._resolve_snapshot(table, ref, as_of)
            view = self.view_for(ref.name, snapshot_id)
            out.append(sql[pos : ref.start])
            out.append(view)
            pos = ref.end
            pinned = snapshot_id if snapshot_id is not None else _current_snapshot(table)
            inputs[(str(ref.name), pinned)] = LineageInput("table", str(ref.name), snapshot_id=pinned)
        out.append(sql[pos:])
        return "".join(out), list(inputs.values())

    @staticmethod
    def _resolve_snapshot(table: Table, ref: TableRef, as_of: datetime | str | None) -> int | None:
        if ref.at_kind == "VERSION":
            try:
                snapshot_id = int(ref.at_value or "")
            except ValueError as exc:
                raise SqlError(f"AT (VERSION => {ref.at_value}) needs a snapshot id (a number)") from exc
            return table.check_snapshot(snapshot_id)
        if ref.at_kind == "TIMESTAMP":
            return table.snapshot_at(ref.at_value or "")
        if as_of is not None:
            return table.snapshot_at(as_of)
        return None

    def query(self, sql: str, *, as_of: datetime | str | None = None, params: Any = None) -> Result:
        """Run one statement as the actor may (see the module docstring for what the owner may run)."""
        return self.policy.query(self, sql, as_of, params, self._statement)

    def _statement(self, sql: str, as_of: datetime | str | None, params: Any) -> Result:
        """One statement as the owner's engine runs it (reads still go through :meth:`view_for`)."""
        statements = split_statements(sql)
        if len(statements) != 1:
            raise SqlError(
                f"Expected one SQL statement, got {len(statements)}",
                hint="run statements one at a time",
            )
        stmt = statements[0]
        text = stmt.query
        if stmt.type == duckdb.StatementType.CREATE and (m := _CTAS.match(text)):
            return self._create_as(m, as_of)
        if stmt.type == duckdb.StatementType.INSERT and (m := INSERT_STATEMENT.match(text)):
            return self._insert(m, as_of)
        if stmt.type not in _READ_STATEMENTS:
            raise SqlError(
                f"{stmt.type.name.replace('_', ' ').title()} statements are not run on the lake",
                hint="use SELECT to read, CREATE TABLE ns.t AS SELECT ... or INSERT INTO ns.t SELECT ... to "
                "write; deletes and updates go through lake.table(...).delete()/upsert() or the CLI",
            )
        bound, inputs = self.bind(text, as_of)
        cursor = self.connection.cursor()
        try:
            rel = cursor.sql(bound, params=params)
        except duckdb.CatalogException as exc:
            raise self._missing_table(exc, text) from exc
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, text) from exc
        if rel is None:  # pragma: no cover - SELECT always yields a relation
            rel = cursor.sql("SELECT 'ok' AS status")
        inputs.append(LineageInput("query", "sql", detail=text))
        return Result(rel, text, inputs, keepalive=cursor, lake=self._lake)

    def _missing_table(self, exc: duckdb.CatalogException, sql: str) -> MlakeError:
        """Turn DuckDB's "table does not exist" into the lake's own message, with suggestions."""
        m = re.search(r'Table with name "?([^"\s!]+)"? does not exist', str(exc))
        if not m:
            return translate_duckdb_error(exc, sql)
        missing = m.group(1)
        if "." in missing:
            try:
                return self._lake.not_found(TableName.parse(missing))
            except ValidationError:
                return translate_duckdb_error(exc, sql)
        same_name = [str(n) for n in self._lake.list_tables() if n.name == missing.lower()]
        hint = f"did you mean {' or '.join(same_name)}?" if same_name else "`mlake tables list` shows the tables"
        return NotFoundError(f"Table {missing} does not exist (lake tables are named namespace.table)", hint=hint)

    def _create_as(self, m: re.Match[str], as_of: datetime | str | None) -> Result:
        name = TableName.parse(m.group("name"))
        mode = "replace" if m.group("replace") else "create"
        if m.group("ine") and self._lake.table_exists(name):
            return self.run_internal(f"SELECT {quote_literal(str(name))} AS table_name, 0 AS rows_written")
        result = self.query(m.group("query"), as_of=as_of)
        return _write_summary(self, save_result(result, str(name), mode=mode))

    def _insert(self, m: re.Match[str], as_of: datetime | str | None) -> Result:
        name = TableName.parse(m.group("name"))
        target = self._lake.table(name)
        if not self._lake.table_exists(name):
            raise self._lake.not_found(name)
        result = self.query(m.group("query"), as_of=as_of)
        if not m.group("byname"):
            columns = target.columns
            if len(result.columns) != len(columns):
                raise SqlError(
                    f"INSERT INTO {name} gives {len(result.columns)} column(s); the table has {len(columns)}",
                    hint="select the table's columns in order, or use INSERT INTO ... BY NAME SELECT ...",
                )
            renamed = result.relation.project(
                ", ".join(
                    f"{quote_ident(src)} AS {quote_ident(dst)}"
                    for src, dst in zip(result.columns, columns, strict=True)
                )
            )
            result = Result(renamed, result.sql, result.lineage_inputs, keepalive=result._keepalive, lake=self._lake)
        return _write_summary(self, save_result(result, str(name), mode="append"))


def _write_summary(engine: SqlEngine, table: Table) -> Result:
    last = engine._lake._core.lineage_store.writes(str(table.name), limit=1)
    rows = last[0].rows_written if last else 0
    snap = last[0].snapshot_id if last else None
    return engine.run_internal(
        f"SELECT {quote_literal(str(table.name))} AS table_name, {int(rows)}::BIGINT AS rows_written, "
        f"{'NULL' if snap is None else int(snap)}::BIGINT AS snapshot_id"
    )


def split_statements(sql: str) -> list[Any]:
    try:
        return list(duckdb.extract_statements(sql))
    except duckdb.Error as exc:
        raise translate_duckdb_error(exc, sql) from exc


def _current_snapshot(table: Table) -> int | None:
    snap = table.iceberg.current_snapshot()
    return snap.snapshot_id if snap else None


def _pruning_filter(where: str | BooleanExpression | None) -> BooleanExpression | None:
    """An Iceberg expression for file pruning, when the SQL predicate is simple enough to translate."""
    if where is None or isinstance(where, BooleanExpression):
        return where
    from pyiceberg.expressions.parser import parse

    try:
        return parse(where)
    except Exception:
        return None  # DuckDB still applies the predicate; only pruning is lost


def save_result(result: Result, name: str, *, mode: str = "create") -> Table:
    """Write a query result to a table: ``create`` (fails if it exists), ``replace`` or ``append``."""
    from mlake.tables.writer import (
        append_files,
        can_write_with_duckdb,
        remove_files,
        write_arrow,
        write_duckdb,
    )

    if mode not in ("create", "replace", "append"):
        raise ValidationError(f"Unknown save mode {mode!r}", hint="use create, replace or append")
    lake = _lake_of(result)
    table_name = TableName.parse(name)
    exists = lake.table_exists(table_name)
    if mode == "create" and exists:
        raise MlakeError(
            f"Table {table_name} already exists",
            hint="use CREATE OR REPLACE TABLE, INSERT INTO, or mode='replace'/'append'",
        )
    if mode == "append" and not exists:
        raise lake.not_found(table_name)
    import pyarrow as pa

    empty = result.relation.limit(0).to_arrow_table()
    if mode == "append":
        target = lake.table(table_name)
        target.evolve_for(empty.schema)
    else:
        if exists and mode == "replace":
            lake.drop_table(table_name)
        target = lake.create_table(table_name, schema=empty.schema)
    ice = target.iceberg
    write = target._write_record(
        "create" if mode != "append" else "append",
        f"{'CREATE TABLE' if mode != 'append' else 'INSERT INTO'} {table_name} AS {result.sql}",
        inputs=list(result.lineage_inputs),
    )
    props = target.snapshot_properties(write)
    select_cols = ", ".join(
        f"CAST({quote_ident(f.name)} AS {duckdb_type(f.field_type)}) AS {quote_ident(f.name)}"
        if f.name in result.columns
        else f"NULL::{duckdb_type(f.field_type)} AS {quote_ident(f.name)}"
        for f in ice.schema().fields
    )
    if can_write_with_duckdb(ice) and result.writes_with_duckdb and _opens_files(result._keepalive):
        # COPY runs on the cursor that owns the relation, through a temporary view of it.
        view = f"__mlake_save_{uuid.uuid4().hex}"
        cursor = result._keepalive
        try:
            result.relation.to_view(view, replace=True)
            files, rows = write_duckdb(cursor, ice, f"SELECT {select_cols} FROM {view}", write.write_id)
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, result.sql) from exc
        finally:
            try:
                cursor.execute(f"DROP VIEW IF EXISTS {view}")
            except duckdb.Error:
                pass
    else:
        from mlake.tables.frames import conform

        reader = result.reader()
        data = conform(pa.Table.from_batches(list(reader), schema=reader.schema), ice.schema())
        files, rows = write_arrow(ice, data), data.num_rows
    write.rows_written = rows
    try:
        ice = append_files(
            lake.catalog_for_write(table_name, "insert"),
            table_name.identifier,
            files,
            props,
            lake.settings.commit_retries,
        )
    except BaseException:
        remove_files(f.file_path for f in files)
        raise
    target._finish(write, ice)
    return target


def _opens_files(cursor: Any) -> bool:
    """Whether the DuckDB database of ``cursor`` may write files (a principal's sandboxed one may not:
    its results are written through Arrow, whatever kind of result carries them)."""
    if not isinstance(cursor, duckdb.DuckDBPyConnection):
        return True  # not a cursor mlake knows how to ask; the result type decides, as before
    rows = cursor.execute("SELECT current_setting('enable_external_access')").fetchall()
    return bool(rows and rows[0][0])


def _lake_of(result: Result) -> Lake:
    lake = result.lake
    if lake is None:
        raise ValidationError("This result does not come from a lake", hint="use lake.sql(...) to make it")
    return lake  # type: ignore[no-any-return]


__all__ = ["NotFoundError", "SqlEngine", "TableRef", "find_table_refs", "save_result"]
