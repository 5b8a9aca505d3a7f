"""Helpers for the quality tests: measure Arrow data as SQL sources without a table write."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pyarrow as pa
import pytest

from mlake.lake import Lake
from mlake.quality.source import Source


@pytest.fixture
def sql_source(lake: Lake) -> Callable[[pa.Table], Source]:
    """Turn Arrow data into a Source over a DuckDB table in the lake engine's database (fast, for
    property-based tests; the table and query paths are tested separately on real lake tables)."""

    def make(data: pa.Table) -> Source:
        name = f"t_{uuid.uuid4().hex[:10]}"
        con = lake.engine.connection
        con.register("__quality_test_data", data)
        try:
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM __quality_test_data")
        finally:
            con.unregister("__quality_test_data")
        return Source(lake, f"SELECT * FROM {name}", name, kind="query")

    return make


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement a source runs (``fetch`` and ``fetch_arrow``), in order."""
    seen: list[str] = []
    fetch, fetch_arrow = Source.fetch, Source.fetch_arrow

    def recording(self: Source, sql: str) -> list[tuple[object, ...]]:
        seen.append(sql)
        return fetch(self, sql)

    def recording_arrow(self: Source, sql: str) -> object:
        seen.append(sql)
        return fetch_arrow(self, sql)

    monkeypatch.setattr(Source, "fetch", recording)
    monkeypatch.setattr(Source, "fetch_arrow", recording_arrow)
    return seen


@pytest.fixture
def materializing(lake: Lake) -> Callable[[list[str]], list[str]]:
    """Which of some statements DuckDB plans over a materialized copy of their input: ``histogram``,
    ``count(DISTINCT ...)``, ``mode`` or ``entropy`` beside other aggregates become a GROUP BY over a CTE
    ``__aggregate_cte_...`` of the whole input (gigabytes at 10 million rows), visible in ``EXPLAIN``."""

    def check(sqls: list[str]) -> list[str]:
        cur = lake.engine.connection.cursor()
        out = []
        for sql in sqls:
            plan = "\n".join(str(row[1]) for row in cur.sql(f"EXPLAIN {sql}").fetchall())
            if "__aggregate" in plan:
                out.append(sql)
        return out

    return check
