"""SQL as a principal: the lake's one SqlEngine with a principal's policy, sandboxed, through secure views.

One sandboxed DuckDB database (:class:`SandboxedEngine`) serves every principal of a lake. Each
principal's lake has a :class:`~mlake.sql.SqlEngine` that builds its views in that database and holds a
:class:`PrincipalSqlPolicy`, which every path of the engine asks; the policy adds on top of the
pinned view of a table (``"shop.orders@<snapshot>"."orders"``) a view of its own
(``"shop.orders@<snapshot>~p<fingerprint>"."orders"``) that applies its column grants, masks and row
filters. Untrusted SQL is checked by :class:`~mlake.governance.sandbox.SqlSandbox` after binding, so it
can only name the views bound for it; the unfiltered base views and other principals' views are out of
its reach even by their quoted names.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from mlake.duckdb_connection import connect_duckdb
from mlake.errors import MlakeError, PermissionDeniedError, SqlError
from mlake.governance.sandbox import QueryLimitError, SandboxError, SqlSandbox, lock_down, sandbox_config
from mlake.results import Result, translate_duckdb_error
from mlake.sql import INSERT_STATEMENT, SqlEngine, StagedFiles, Statement, split_statements
from mlake.tables.arrow_scan import plan_arrow_scan, plan_file_scan
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName
from mlake.tables.types import duckdb_type, quote_ident

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table as IcebergTable

    from mlake.core import LakeHandle as Lake
    from mlake.governance.access import Access

COPY_MAX_BYTES = 16 * 1024 * 1024
"""Parquet bytes up to which a table's snapshot is copied into the sandboxed database (see _build_view)."""
COPY_BUDGET_BYTES = 64 * 1024 * 1024
"""Parquet bytes of all the copies held at once; beyond it tables are read through their scans."""

_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(ANALYZE\s+)?", re.IGNORECASE)
_REF = re.compile(r'^"((?:[^"]|"")*)"\."((?:[^"]|"")*)"$')


def _split_ref(ref: str) -> tuple[str, str]:
    m = _REF.match(ref)
    if not m:  # pragma: no cover - view_for always quotes both parts
        raise SqlError(f"Unexpected view reference {ref!r}")
    return m.group(1).replace('""', '"'), m.group(2).replace('""', '"')


class SandboxedEngine(SqlEngine):
    """The lake's SQL engine on a DuckDB database locked down for untrusted SQL (shared by principals).

    The database may open no file at all: its views of the lake's tables read the data files through
    ``pyarrow.dataset`` scans registered from Python (:func:`~mlake.tables.arrow_scan.plan_arrow_scan`),
    registered under names in ``main`` that untrusted SQL cannot reach (the first wall binds it to the
    views issued for it).
    """

    def __init__(self, lake: Lake, sandbox: SqlSandbox) -> None:
        super().__init__(lake)
        self.sandbox = sandbox
        self._copied: dict[str, int] = {}  # view schema -> file bytes of a table copied into the database

    def _connect(self) -> duckdb.DuckDBPyConnection:
        s = self._lake.settings
        con = connect_duckdb(":memory:", config=sandbox_config(s.threads, s.memory_limit))
        con.execute("SET enable_progress_bar = false")
        lock_down(con)
        return con

    def _build_view(
        self,
        con: duckdb.DuckDBPyConnection,
        ref: str,
        table: IcebergTable,
        snapshot_id: int | None,
        row_filter: BooleanExpression | None,
        added_since: int | None = None,
    ) -> tuple[str, ...]:
        """The view of ``table`` at a snapshot. A small table is copied into the database once instead
        (``CREATE TABLE``): a pinned snapshot never changes, and DuckDB then scans its own storage rather
        than calling back into Python for record batches on every query — the cost of a small query over
        REST. The copies are bounded (:data:`COPY_MAX_BYTES` per table, :data:`COPY_BUDGET_BYTES` in all,
        counted in Parquet bytes) and go with the view schema when it is evicted."""
        plan = plan_arrow_scan(table, snapshot_id, row_filter, added_since)
        for scan_name, source in plan.sources.items():
            con.from_arrow(source).create_view(scan_name, replace=True)
        tag = _split_ref(ref)[0]
        self._copied = {t: n for t, n in self._copied.items() if t in self._schemas}  # the evicted are freed
        if plan.file_bytes <= COPY_MAX_BYTES and sum(self._copied.values()) + plan.file_bytes <= COPY_BUDGET_BYTES:
            con.execute(f"CREATE OR REPLACE TABLE {ref} AS {plan.sql}")
            for scan_name in plan.sources:
                con.execute(f"DROP VIEW IF EXISTS main.{quote_ident(scan_name)}")
            self._copied[tag] = plan.file_bytes
            return ()
        con.execute(f"CREATE OR REPLACE VIEW {ref} AS {plan.sql}")
        return tuple(plan.sources)

    def staged_view(self, staged: StagedFiles) -> str:
        """A view over a staged batch's files, through registered scans like the tables' views."""
        uris = sorted(f.file_path for f in staged.files)
        tag = "staged~" + hashlib.sha1("\n".join(uris).encode()).hexdigest()[:16]
        ref = f"{quote_ident(tag)}.{quote_ident('data')}"
        with self._lock:
            if tag in self._schemas:
                self._schemas.move_to_end(tag)
                return ref
            plan = plan_file_scan(uris, staged.schema)
            con = self.connection
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(tag)}")
            for scan_name, source in plan.sources.items():
                con.from_arrow(source).create_view(scan_name, replace=True)
            con.execute(f"CREATE OR REPLACE VIEW {ref} AS {plan.sql}")
            self._remember(tag, tuple(plan.sources))
        return ref


class PrincipalSqlPolicy:
    """SQL as one principal: sandboxed, through secure views, audited (see :class:`mlake.sql.SqlPolicy`)."""

    governed = True

    def __init__(self, lake: Lake, shared: SandboxedEngine, access: Access) -> None:
        self._glake = lake
        self.access = access
        self._shared = shared
        self.sandbox = shared.sandbox
        self._issued: set[tuple[str, str]] = set()
        self._binding = threading.local()

    # --- views ----------------------------------------------------------------------------------

    def view(self, engine: SqlEngine, name: TableName, snapshot_id: int | None, base_view: Callable[[], str]) -> str:
        attempted = getattr(self._binding, "attempted", None)
        if attempted is not None:
            attempted.append(str(name))
        self.access.require_visible(name)
        self.access.require("select", name)
        if str(name) == str(self._glake.audit_table):
            self.access.flush_audit()
        base = base_view()
        # The policy applies to the columns of the schema read (a snapshot's own, in time travel), by field id.
        secure = self.access.secure_view(name, base, read=self._read_schema(name, snapshot_id))
        ref = base
        if secure is not None:
            fingerprint, sql = secure
            schema, table = _split_ref(base)
            tag = f"{schema}~p{fingerprint}"
            ref = f"{quote_ident(tag)}.{quote_ident(table)}"
            with engine._lock:
                if tag in engine._schemas:
                    engine._schemas.move_to_end(tag)
                else:
                    con = engine.connection
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(tag)}")
                    con.execute(f"CREATE OR REPLACE VIEW {ref} AS {sql}")
                    engine._remember(tag)
        parts = _split_ref(ref)
        self._issued.add(parts)
        bound = getattr(self._binding, "refs", None)
        if bound is not None:
            bound.add(parts)
        return ref

    def _read_schema(self, name: TableName, snapshot_id: int | None) -> tuple[tuple[str, str, int], ...] | None:
        """``(name, DuckDB type, field id)`` of the columns of the schema ``snapshot_id`` was written with
        (None: the current schema, which the table's facts already hold)."""
        if snapshot_id is None:
            return None
        ice = self._glake.iceberg_table(name)
        snap = ice.snapshot_by_id(snapshot_id)
        if snap is None or snap.schema_id is None:
            return None
        schema = ice.schemas().get(snap.schema_id)
        if schema is None:
            return None
        return tuple((f.name, duckdb_type(f.field_type), f.field_id) for f in schema.fields)

    # --- queries ----------------------------------------------------------------------------------

    def check_expression(self, expression: str, what: str, *, order_by: bool = False) -> None:
        self.sandbox.check_expression(expression, what, order_by=order_by)

    def deadline(self, cursor: duckdb.DuckDBPyConnection) -> AbstractContextManager[None]:
        return self.sandbox.deadline(cursor)

    def check_internal(self, sql: str) -> None:
        """mlake-built SQL (table reads, a check's filter or query with parts a principal gave) is checked
        like untrusted SQL: it may only name views issued to this principal."""
        self.sandbox.check_select(sql, self._issued)

    def issued(self, ref: str) -> None:
        self._issued.add(_split_ref(ref))

    def bounded(self, engine: SqlEngine, result: Result) -> Result:
        """Bounded like SQL results: the statement timeout, the result size and the download size."""
        if isinstance(result, GovernedResult):
            return result
        return GovernedResult(
            result.relation,
            result.sql,
            result.lineage_inputs,
            keepalive=result._keepalive,
            lake=self._glake,
            policy=self,
        )

    def query(self, engine: SqlEngine, sql: str, as_of: datetime | str | None, params: Any, run: Statement) -> Result:
        started = time.perf_counter()
        tables: list[str] = []
        outer = getattr(self._binding, "attempted", None)
        self._binding.attempted = tables if outer is None else outer
        try:
            result = self._query(engine, sql, as_of, params, tables, run)
        except (PermissionDeniedError, SandboxError) as exc:
            self.access.audit("sql", tables, sql, "denied", exc.message, started)
            raise
        except MlakeError as exc:
            self.access.audit("sql", tables, sql, "error", exc.message, started)
            raise
        finally:
            self._binding.attempted = outer
        self.access.audit("sql", tables, sql, "ok", None, started)
        return result

    def _query(
        self,
        engine: SqlEngine,
        sql: str,
        as_of: datetime | str | None,
        params: Any,
        tables: list[str],
        run: Statement,
    ) -> Result:
        statements = split_statements(sql)
        if len(statements) != 1:
            raise SqlError(f"Expected one SQL statement, got {len(statements)}", hint="run statements one at a time")
        stmt = statements[0]
        text = stmt.query
        if stmt.type == duckdb.StatementType.INSERT and (m := INSERT_STATEMENT.match(text)):
            target = TableName.parse(m.group("name"))
            tables.append(str(target))
            self.access.require("insert", target)
        if stmt.type in (duckdb.StatementType.CREATE, duckdb.StatementType.INSERT):
            return run(text, as_of, params)  # writes, as the owner's engine runs them: the inner SELECT comes back here
        if stmt.type not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
            raise SandboxError(
                f"{stmt.type.name.replace('_', ' ').title()} statements are not allowed here",
                hint="only SELECT (and CREATE TABLE ns.t AS SELECT / INSERT INTO ns.t SELECT with grants) run",
            )
        if stmt.type == duckdb.StatementType.EXPLAIN and not self.access.superuser:
            raise SandboxError(
                "EXPLAIN is for superusers: a plan shows storage paths and the filters and masks applied",
                hint="run the query itself",
            )
        if self._glake.audit_table.name in text.lower():
            self.access.flush_audit()  # the log shows every event recorded so far (and exists once any was)
        self._binding.refs = set()
        try:
            with self.access.operation():
                bound, inputs = engine.bind(text, as_of)
            allowed = set(self._binding.refs)
        finally:
            self._binding.refs = None
        self.sandbox.check_select(_EXPLAIN.sub("", bound, count=1), allowed)
        cursor = engine.connection.cursor()
        try:
            rel = cursor.sql(bound, params=params)
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, text) from exc
        if rel is None:  # pragma: no cover - SELECT always yields a relation
            rel = cursor.sql("SELECT 'ok' AS status")
        inputs.append(LineageInput("query", "sql", detail=text))
        return GovernedResult(rel, text, inputs, keepalive=cursor, lake=self._glake, policy=self)


class GovernedResult(Result):
    """A result whose execution is bounded by the statement timeout and the result-size limits.

    Saved as a table through Arrow: its sandboxed database may open no file, so it cannot write one.
    """

    writes_with_duckdb = False

    def __init__(self, *args: Any, policy: PrincipalSqlPolicy, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._policy = policy

    @property
    def _sandbox(self) -> SqlSandbox:
        return self._policy.sandbox

    def _limit_error(self, message: str, hint: str) -> QueryLimitError:
        err = QueryLimitError(message, hint=hint)
        self._policy.access.audit("sql.limit", [], self.sql, "error", message, None)
        return err

    def _bounded(self, fetch: Callable[[], pa.Table]) -> pa.Table:
        """Run ``fetch`` under the statement timeout; a timeout is audited like other limits."""
        try:
            with self._sandbox.deadline(self._keepalive):
                return fetch()
        except QueryLimitError as exc:
            self._policy.access.audit("sql.limit", [], self.sql, "error", exc.message, None)
            raise
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, self.sql) from exc

    def to_arrow(self) -> pa.Table:
        if self._arrow is None:
            limits = self._sandbox.limits
            table = self._bounded(lambda: self._relation.limit(limits.max_result_rows + 1).to_arrow_table())
            if table.num_rows > limits.max_result_rows:
                raise self._limit_error(
                    f"The result has more than {limits.max_result_rows:,} rows",
                    "add LIMIT or aggregate, or download it as CSV/Parquet (downloads stream)",
                )
            if table.nbytes > limits.max_result_bytes:
                raise self._limit_error(
                    f"The result is larger than {limits.max_result_bytes // (1024 * 1024)} MiB",
                    "select fewer columns or rows, or download it as CSV/Parquet",
                )
            self._arrow = table
        return self._arrow

    def preview(self, n: int = 20) -> pa.Table:
        if self._arrow is not None:
            return self._arrow.slice(0, n)
        return self._bounded(
            lambda: self._relation.limit(min(n, self._sandbox.limits.max_result_rows)).to_arrow_table()
        )

    def batches(self, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream up to ``max_export_rows`` rows; downloads use this."""
        limit = self._sandbox.limits.max_export_rows
        rows = 0
        with self._sandbox.deadline(self._keepalive):
            for batch in super().batches(batch_size):
                rows += batch.num_rows
                if rows > limit:
                    raise self._limit_error(
                        f"The result has more than {limit:,} rows, the download limit",
                        "filter or aggregate before downloading",
                    )
                yield batch

    def reader(self, batch_size: int = 100_000) -> pa.RecordBatchReader:
        schema = self._relation.limit(0).to_arrow_table().schema
        return pa.RecordBatchReader.from_batches(schema, self.batches(batch_size))
