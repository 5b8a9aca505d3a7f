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
