"""Every DuckDB database mlake opens, opened in one place so that its time zone is UTC.

mlake stores instants as UTC and reads a naive timestamp (no zone) as UTC — at ingest, in feature writes,
training sets, online reads and SQL. DuckDB casts between ``TIMESTAMP`` and ``TIMESTAMPTZ``, truncates
dates and renders instants in the session's ``TimeZone``, which defaults to the process's zone (``TZ``).
``SET TimeZone`` on a connection only sets that connection's session: a ``cursor()`` of it is a new
session and takes the process's zone again. ``SET GLOBAL`` sets the database's default, which every
cursor opened afterwards inherits, so the rule holds however a connection is used.
"""

from __future__ import annotations

from typing import Any

import duckdb

TIME_ZONE = "UTC"


def connect_duckdb(database: str = ":memory:", config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose sessions (the connection and all its cursors) are in UTC."""
    con = duckdb.connect(database, config=config or {})
    use_utc(con)
    return con


def use_utc(con: duckdb.DuckDBPyConnection) -> None:
    """Make UTC the time zone of ``con`` and of every cursor opened from it afterwards."""
    con.execute(f"SET GLOBAL TimeZone = '{TIME_ZONE}'")
    con.execute(f"SET TimeZone = '{TIME_ZONE}'")
