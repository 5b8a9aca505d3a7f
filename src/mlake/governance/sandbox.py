"""Sandboxed SQL: untrusted SQL may read the lake tables it is granted, and nothing else.

Two walls, each enough on its own for the attacks we know of:

1. **Structure.** The statement, after lake tables were rewritten to the principal's views, is parsed
   by DuckDB's own parser (``json_serialize_sql`` gives the syntax tree). It must be one SELECT; every
   table it reads must be one of the views bound for this query or a CTE defined before it; table functions are
   refused (``read_csv``, ``read_parquet``, ``glob``, ``query_table``, ``duckdb_settings`` ...) except
   pure generators (``range``, ``generate_series``, ``unnest``); and every function called must be on
   an allow-list: DuckDB's built-in scalar, aggregate and window functions, less those that read the
   environment, settings or catalog (``getenv``, ``current_setting``, ``duckdb_*``, ``pg_*`` ...).
   Statements other than SELECT (COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, CALL, EXPORT, CREATE SECRET
   ...) never reach DuckDB.
   A CTE is in scope only after its definition (a recursive one also in its own recursive term), and
   its name must be a plain identifier: inside its own body a CTE's name is resolved outside the query,
   and a name that looks like a path becomes a file scan there.
2. **Settings.** The DuckDB database that runs sandboxed SQL has external access disabled entirely:
   no allowed directory, not even a spill folder (a query that needs more memory than the limit fails
   instead of spilling to disk), extension auto-install/auto-load and Python replacement scans off, and
   its configuration locked. Its views read the tables' data through scans registered from Python
   (:mod:`mlake.tables.arrow_scan`), so even a statement the first wall missed cannot open a file (data,
   metadata, uploads, anything else), a URL or an extension, nor change a setting.

A statement timeout (DuckDB's ``interrupt()`` from a timer) and a result-size limit bound what one
query may cost; see :class:`SandboxLimits`.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import duckdb

from mlake.errors import MlakeError, SqlError
from mlake.results import translate_duckdb_error


class SandboxError(MlakeError):
    """Untrusted SQL tried to do something the sandbox does not allow."""

    code = "sql_not_allowed"
    http_status = 403


class QueryLimitError(SqlError):
    """A sandboxed query ran longer, or returned more, than the limits allow."""

    code = "query_limit"
    http_status = 422


@dataclass(frozen=True)
class SandboxLimits:
    """What one untrusted query may cost."""

    timeout_seconds: float = 30.0
    max_result_rows: int = 100_000  # rows materialised in memory (grids, JSON, charts)
    max_result_bytes: int = 256 * 1024 * 1024
    max_export_rows: int = 50_000_000  # rows streamed to a download


# Table functions that generate values without touching files, the network or the catalog.
SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})

_DENIED_FUNCTIONS = frozenset(
    {
        "getenv",
        "current_setting",
        "getvariable",
        "setseed",
        "nextval",
        "currval",
        "col_description",
        "obj_description",
        "shobj_description",
        "json_serialize_sql",
        "json_deserialize_sql",
        "json_serialize_plan",
        "json_execute_serialized_sql",
        "which_secret",
        "current_schemas",
        "current_database",
        "current_catalog",
        "txid_current",
        "parse_filename",
        "parse_dirname",
        "parse_dirpath",
        "parse_path",
    }
)
_DENIED_PREFIXES = ("duckdb_", "pg_", "has_", "sqlite_", "icu_", "enable_", "disable_")


@lru_cache(maxsize=1)
def allowed_functions() -> frozenset[str]:
    """Built-in scalar, aggregate, window and macro functions, less the denied ones.

    Read from a DuckDB with extension auto-loading off, so functions of extensions that are not
    loaded are not on the list (calling one would otherwise try to download the extension).
    """
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
    try:
        rows = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type IN ('scalar', 'aggregate', 'window', 'macro')"
        ).fetchall()
    finally:
        con.close()
    names = {r[0].lower() for r in rows}
    names |= {"count_star", "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile"}
    names |= {"lag", "lead", "first_value", "last_value", "nth_value", "rank_dense", "unnest", "unlist"}
    names |= SAFE_TABLE_FUNCTIONS
    return frozenset(n for n in names if n not in _DENIED_FUNCTIONS and not n.startswith(_DENIED_PREFIXES))


def sandbox_config(threads: int, memory_limit: str) -> dict[str, Any]:
    """The connect-time part of the settings wall (the rest is applied by :func:`lock_down`).

    No ``temp_directory``: DuckDB lets a database read its own spill folder, and a spill folder shared by
    the principals' queries would hold pieces of each other's results.
    """
    return {
        "threads": threads,
        "memory_limit": memory_limit,
        "temp_directory": "",
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Disable every file, network and extension access; lock the configuration."""
    con.execute("SET enable_external_access = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET lock_configuration = true")


def _serialize(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    try:
        raw = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    except duckdb.Error as exc:  # pragma: no cover - the function reports errors in its JSON
        raise SqlError(f"Cannot parse the query: {str(exc).splitlines()[0]}") from exc
    tree: dict[str, Any] = json.loads(raw[0] if raw else "{}")
    if tree.get("error"):
        message = str(tree.get("error_message", "cannot parse"))
        if "Only SELECT" in message:
            raise SandboxError(
                "Only SELECT queries over lake tables are allowed here",
                hint="PIVOT, COPY, ATTACH, SET, PRAGMA, INSTALL/LOAD and other statements are refused",
            )
        raise SqlError(f"Syntax error: {message}", hint="check the SQL near the position named")
    return tree


# A name that a CTE may have: DuckDB never turns such a name into a file or replacement scan.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _cte_name(entry: dict[str, Any]) -> str:
    """The name of one CTE, refused unless plain (a path, a glob, a dot or any unusual character)."""
    name = str(entry.get("key", ""))
    if not _PLAIN_NAME.fullmatch(name):
        raise SandboxError(
            f"The CTE name {name!r} is not allowed: CTE names are plain identifiers (letters, digits, _)",
            hint="rename the CTE, e.g. WITH recent AS (...)",
        )
    return name.lower()


class _Walker:
    """Checks one syntax tree against the rules in the module docstring."""

    def __init__(self, allowed_tables: set[tuple[str, str]], functions: frozenset[str]) -> None:
        self.allowed_tables = allowed_tables
        self.functions = functions
        self.cte_scopes: list[set[str]] = []

    def visit(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self.visit(item)
            return
        if not isinstance(node, dict):
            return
        ctes = node.get("cte_map")
        pushed = False
        if isinstance(ctes, dict) and ctes.get("map"):
            self._visit_ctes(ctes["map"])
            self.cte_scopes.append({_cte_name(entry) for entry in ctes["map"]})
            pushed = True
        try:
            self._check(node)
            if node.get("type") == "RECURSIVE_CTE_NODE":
                self._visit_recursive(node)
                return
            for key, value in node.items():
                if key == "cte_map":
                    continue  # bound above, each body in the scope of the CTEs defined before it
                if key in ("function",) and node.get("type") == "TABLE_FUNCTION":
                    # the table function itself was checked; its arguments are expressions
                    self.visit(value.get("arguments", []))
                    continue
                if isinstance(value, dict | list):
                    self.visit(value)
        finally:
            if pushed:
                self.cte_scopes.pop()

    def _visit_ctes(self, entries: list[dict[str, Any]]) -> None:
        """Check each CTE body with only the CTEs defined *before* it in scope, as DuckDB binds them.

        A CTE's own name is not in scope in its body (unless it is recursive, see
        :meth:`_visit_recursive`): there DuckDB resolves the name outside the query — to a catalog object
        or, for a name that looks like a path, to a file scan. Accepting it because "a CTE of that name
        exists" was the hole through which a CTE named like a Parquet path read the raw file.
        """
        earlier: set[str] = set()
        for entry in entries:
            name = _cte_name(entry)
            self.cte_scopes.append(set(earlier))
            try:
                self.visit(entry.get("value"))
            finally:
                self.cte_scopes.pop()
            earlier.add(name)

    def _visit_recursive(self, node: dict[str, Any]) -> None:
        """``WITH RECURSIVE r AS (anchor UNION recursive)``: ``r`` is in scope in the recursive term only."""
        name = str(node.get("cte_name") or "").lower()
        for key, value in node.items():
            if key == "right" and name:
                self.cte_scopes.append({name})
                try:
                    self.visit(value)
                finally:
                    self.cte_scopes.pop()
            elif key != "cte_map" and isinstance(value, dict | list):
                self.visit(value)

    def _check(self, node: dict[str, Any]) -> None:
        kind = node.get("type")
        cls = node.get("class")
        if kind == "BASE_TABLE":
            self._check_table(node)
        elif kind == "TABLE_FUNCTION":
            fn = node.get("function") or {}
            name = str(fn.get("function_name", "?")).lower()
            if name not in SAFE_TABLE_FUNCTIONS or fn.get("schema") or fn.get("catalog"):
                raise SandboxError(
                    f"Table function {name}() is not allowed: queries may read lake tables only",
                    hint="name lake tables as namespace.table; files are loaded with `mlake ingest`",
                )
        elif kind == "SHOW_REF":
            if node.get("query") is None:
                raise SandboxError(
                    "SHOW statements are not allowed here", hint="the catalog API and Studio list the tables"
                )
        elif cls in ("FUNCTION", "WINDOW") and node.get("function_name"):
            self._check_function(node)

    def _check_function(self, node: dict[str, Any]) -> None:
        name = str(node["function_name"]).lower()
        schema = str(node.get("schema") or "").lower()
        catalog = str(node.get("catalog") or "").lower()
        if catalog not in ("", "system") or schema not in ("", "main"):
            raise SandboxError(f"Function {catalog + '.' if catalog else ''}{schema}.{name}() is not allowed")
        if name not in self.functions:
            raise SandboxError(
                f"Function {name}() is not allowed in lake SQL",
                hint="built-in scalar, aggregate and window functions are available; functions that read "
                "files, settings, the environment or the catalog are not",
            )

    def _check_table(self, node: dict[str, Any]) -> None:
        schema = str(node.get("schema_name") or "")
        table = str(node.get("table_name") or "")
        catalog = str(node.get("catalog_name") or "")
        if not catalog and (schema, table) in self.allowed_tables:
            return
        if (
            not catalog
            and not schema
            and _PLAIN_NAME.fullmatch(table)
            and any(table.lower() in scope for scope in self.cte_scopes)
        ):
            return
        shown = ".".join(p for p in (catalog, schema, table) if p)
        if "/" in table or ("." in table and not schema):
            raise SandboxError(
                f"Reading files ({table!r}) is not allowed: queries may read lake tables only",
                hint="load files into a table with `mlake ingest` or the upload in Studio",
            )
        raise SandboxError(
            f"{shown!r} is not a lake table",
            hint="name lake tables as namespace.table; `mlake tables list` or the catalog shows them",
        )


_MAX_CACHED_TREES = 512
_MAX_CACHED_SQL = 20_000  # characters: longer statements are parsed each time (and rarely repeated)


class SqlSandbox:
    """Checks untrusted SQL and runs it under limits."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._parser = duckdb.connect(":memory:")
        self._parser_lock = threading.Lock()
        # Syntax trees by SQL text: a tree depends on the text alone (the checks that use it — which
        # tables and functions are allowed — run on every call), so a repeated query is parsed once. The
        # trees are only read by the checks; a copy is not needed. Bounded, least recently used first out.
        self._trees: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def close(self) -> None:
        self._parser.close()

    def parse(self, sql: str) -> dict[str, Any]:
        """The syntax tree of ``sql`` (SqlError / SandboxError when it does not parse or is refused)."""
        with self._parser_lock:
            tree = self._trees.get(sql)
            if tree is not None:
                self._trees.move_to_end(sql)
                return tree
            tree = _serialize(self._parser, sql)  # raises for text that does not parse: never cached
            if len(sql) <= _MAX_CACHED_SQL:
                self._trees[sql] = tree
                if len(self._trees) > _MAX_CACHED_TREES:
                    self._trees.popitem(last=False)
            return tree

    def check_select(self, sql: str, allowed_tables: set[tuple[str, str]]) -> None:
        """Refuse ``sql`` unless it is one SELECT reading only ``allowed_tables`` (schema, name) and CTEs."""
        tree = self.parse(sql)
        statements = tree.get("statements", [])
        if len(statements) != 1:
            raise SandboxError(f"Expected one statement, got {len(statements)}", hint="run statements one at a time")
        _Walker(allowed_tables, allowed_functions()).visit(statements[0])

    def check_expression(self, expression: str, what: str = "expression", *, order_by: bool = False) -> None:
        """Refuse an untrusted SQL expression (a filter, a mask, or with ``order_by`` a sort order) unless
        it is plain: columns, literals, operators and allowed functions; no subqueries, no tables."""
        if ";" in expression or "--" in expression or "/*" in expression:
            raise SandboxError(f"The {what} {expression!r} may not contain ';' or comments")
        sql = "SELECT 1 FROM __mlake_row " + (f"ORDER BY {expression}" if order_by else f"WHERE ({expression})")
        tree = self.parse(sql)
        statements = tree.get("statements", [])
        node = statements[0].get("node", {}) if len(statements) == 1 else {}
        if node.get("type") != "SELECT_NODE" or (node.get("from_table") or {}).get("table_name") != "__mlake_row":
            raise SandboxError(f"The {what} {expression!r} is not a plain SQL expression")
        part = node.get("modifiers") if order_by else node.get("where_clause")
        if order_by and any(m.get("type") != "ORDER_MODIFIER" for m in part or []):
            raise SandboxError(f"The {what} {expression!r} is not a plain sort order")
        _Walker({("", "__mlake_row")}, allowed_functions()).visit(part)
        if '"SUBQUERY"' in json.dumps(part):
            raise SandboxError(f"The {what} {expression!r} may not contain subqueries")

    @contextmanager
    def deadline(self, cursor: duckdb.DuckDBPyConnection, seconds: float | None = None) -> Iterator[None]:
        """Interrupt ``cursor`` when the statement timeout passes; turn the interrupt into a clear error."""
        limit = self.limits.timeout_seconds if seconds is None else seconds
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            try:
                cursor.interrupt()
            except duckdb.Error:  # pragma: no cover - the cursor was closed meanwhile
                pass

        handle = _WATCHDOG.arm(limit, stop)
        try:
            yield
        except (duckdb.InterruptException, SqlError) as exc:
            if fired.is_set():
                raise QueryLimitError(
                    f"The query ran longer than the statement timeout ({limit:g}s)",
                    hint="filter or aggregate more, or ask an admin for a longer timeout",
                ) from exc
            if isinstance(exc, duckdb.Error):
                raise translate_duckdb_error(exc) from exc
            raise
        except duckdb.Error as exc:  # a cast or conversion error while rows were computed
            raise translate_duckdb_error(exc) from exc
        finally:
            _WATCHDOG.disarm(handle)


class _Watchdog:
    """One thread that fires deadline callbacks, instead of a timer thread per query (cheaper by ~1 ms)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        handle = next(self._ids)
        entry = (time.monotonic() + seconds, handle, callback)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mlake-sql-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0] is entry:  # the thread sleeps until an earlier deadline: wake it only for this one
                self._cond.notify()
        return handle

    def disarm(self, handle: int) -> None:
        with self._cond:
            self._cancelled.add(handle)
            if len(self._cancelled) > 1024:  # drop cancelled entries from the heap now and then
                self._heap = [e for e in self._heap if e[1] not in self._cancelled]
                heapq.heapify(self._heap)
                self._cancelled.clear()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                when, handle, callback = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                    continue
            callback()


_WATCHDOG = _Watchdog()


__all__ = ["QueryLimitError", "SandboxError", "SandboxLimits", "SqlSandbox", "allowed_functions"]
