"""The engine suite: the same recipes on DuckDB (one query) and on partitioned backends (DuckDB
partitions in process, and a local Ray with 2 CPUs) give the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlake.backends import backend_named
from mlake.engines.partitioned import PartitionedCompute, SerialPartitionedCompute
from mlake.processing.distributed import stages, table_placeholder
from mlake.processing.recipe import DuckDBExecutor, Recipe
from tests.processing.conftest import make_frame

RECIPES: dict[str, list[dict[str, Any]]] = {
    "row-local with fitted steps": [
        {"op": "fill_mean", "columns": ["x"]},
        {"op": "standard_scale", "columns": ["x", "v"]},
        {"op": "one_hot", "column": "g", "top_k": 3, "other": True},
        {"op": "target_encode", "column": "c", "target": "y", "name": "c_te"},
        {"op": "tokenize", "columns": ["s"]},
        {"op": "sample", "fraction": 0.7},
    ],
    "keyed windows and dedupe": [
        {"op": "forward_fill", "columns": ["x"], "by": ["k"], "order_by": "t"},
        {"op": "rolling", "column": "v", "by": ["k"], "order_by": "t", "rows": 5},
        {"op": "lag", "column": "v", "by": ["k"], "order_by": "t"},
        {"op": "dedupe_by_key", "keys": ["g", "k"], "order_by": "t"},
        {"op": "derive", "name": "vv", "expression": "v * 2"},
    ],
    "split, join, group-by, sort": [
        {"op": "stratified_split", "by": ["g"], "train": 0.7, "validation": 0.15},
        {"op": "join", "table": "colors", "on": ["g"], "how": "left"},
        {"op": "dedupe"},
        {"op": "group_by", "keys": ["g", "split"], "aggregations": {"n": ["count", "*"], "m": ["max", "v"]}},
        {"op": "sort", "order_by": "g, split"},
        {"op": "derive", "name": "n2", "expression": "n + 1"},
    ],
}
COLORS = pd.DataFrame({"g": ["red", "green", "blue"], "hex": ["#f00", "#0f0", "#00f"]})


@pytest.fixture(scope="session")
def ray_compute() -> Iterator[PartitionedCompute]:
    pytest.importorskip("ray")
    compute = backend_named("compute", "ray").load()(num_cpus=2, buckets=3)
    yield compute
    compute.close()


def _reference_and_stages(steps: list[dict[str, Any]], data: pd.DataFrame) -> tuple[pd.DataFrame, Any]:
    con = duckdb.connect()
    con.register("data", data)
    con.register("colors", COLORS)
    ex = DuckDBExecutor(con)
    fitted = Recipe(steps=steps).fit(ex, "data")
    reference = con.sql(fitted.compile(ex, "data", fitting=True).sql()).to_df()
    compiled = fitted.compile(ex, "data", fitting=True, table_ref=table_placeholder)
    return reference, stages(compiled)


def _canonical(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    def cell(v: Any) -> Any:
        if isinstance(v, list | tuple) or hasattr(v, "tolist"):
            return tuple(v.tolist() if hasattr(v, "tolist") else v)
        return None if v is None or (isinstance(v, float) and pd.isna(v)) else v

    return sorted((tuple(cell(v) for v in row) for row in df.itertuples(index=False)), key=repr)


@pytest.mark.parametrize("name", sorted(RECIPES))
@pytest.mark.parametrize("backend", ["duckdb", pytest.param("ray", marks=pytest.mark.slow)])
def test_partitioned_backends_match_duckdb(name: str, backend: str, request: pytest.FixtureRequest) -> None:
    data = make_frame(400, 5)
    reference, job = _reference_and_stages(RECIPES[name], data)
    compute = (
        request.getfixturevalue("ray_compute") if backend == "ray" else backend_named("compute", "duckdb").load()()
    )
    table = pa.Table.from_pandas(data, preserve_index=False)
    chunks = [table.slice(i, 100) for i in range(0, table.num_rows, 100)]  # four "data files"
    got = compute.run(job, list(chunks), {table_placeholder("colors"): pa.Table.from_pandas(COLORS)}).to_pandas()
    assert list(got.columns) == list(reference.columns)
    assert len(got) == len(reference)
    assert _canonical(got) == _canonical(reference)


def test_stages_cut_at_keyed_and_global_steps() -> None:
    _, job = _reference_and_stages(RECIPES["split, join, group-by, sort"], make_frame(50, 1))
    assert [(s.keys, s.global_) for s in job] == [
        (("g",), False),
        (("*",), False),
        (("g", "split"), False),
        (None, True),
    ]


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(RECIPES)),
    rows=st.integers(1, 300),
    seed=st.integers(0, 1000),
    files=st.integers(1, 6),
    buckets=st.integers(1, 5),
)
def test_how_the_data_is_split_never_changes_the_rows(
    name: str, rows: int, seed: int, files: int, buckets: int
) -> None:
    data = make_frame(rows, seed)
    reference, job = _reference_and_stages(RECIPES[name], data)
    table = pa.Table.from_pandas(data, preserve_index=False)
    size = -(-rows // files)
    chunks = [table.slice(i, size) for i in range(0, rows, size)]
    got = SerialPartitionedCompute(buckets).run(
        job, list(chunks), {table_placeholder("colors"): pa.Table.from_pandas(COLORS)}
    )
    assert _canonical(got.to_pandas()) == _canonical(reference)
