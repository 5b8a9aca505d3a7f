"""Reads are by Iceberg field id and honour deletes: mlake's DuckDB path equals pyiceberg's reader.

A plain ``read_parquet`` over a table's folder gets renames, drops and deletes wrong; these tests show
that it does and that mlake does not, including on random schema histories (hypothesis).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlake
from mlake.lake import Lake
from tests.tables.delete_files import add_position_deletes


def _ours(lake: Lake, name: str) -> list[dict[str, Any]]:
    rows = lake.sql(f"select * from {name}").to_arrow().to_pylist()
    return sorted(rows, key=lambda r: r["id"])


def _pyiceberg(lake: Lake, name: str) -> list[dict[str, Any]]:
    rows = lake.table(name).iceberg.scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: r["id"])


def _naive(lake: Lake, name: str) -> list[dict[str, Any]]:
    folder = lake.table(name).location.replace("file://", "") + "/data/**/*.parquet"
    return duckdb.sql(f"select * from read_parquet('{folder}', union_by_name=true)").to_arrow_table().to_pylist()


def test_rename_is_read_by_field_id(lake: Lake) -> None:
    t = lake.create_table("s.t", pa.table({"id": [1, 2], "old_name": ["a", "b"]}))
    t.rename_column("old_name", "new_name")
    t.append(pa.table({"id": [3], "new_name": ["c"]}))
    assert (
        _ours(lake, "s.t")
        == _pyiceberg(lake, "s.t")
        == [{"id": 1, "new_name": "a"}, {"id": 2, "new_name": "b"}, {"id": 3, "new_name": "c"}]
    )
    naive = _naive(lake, "s.t")
    assert any(r.get("old_name") == "a" for r in naive)  # the naive reader shows the old name
    assert any(r.get("new_name") is None for r in naive)


def test_drop_and_readd_same_name_is_a_new_column(lake: Lake) -> None:
    t = lake.create_table("s.t", pa.table({"id": [1], "x": ["old"]}))
    t.drop_column("x")
    t.add_columns({"x": "string"})
    t.append(pa.table({"id": [2], "x": ["new"]}))
    assert _ours(lake, "s.t") == _pyiceberg(lake, "s.t") == [{"id": 1, "x": None}, {"id": 2, "x": "new"}]
    assert {"id": 1, "x": "old"} in _naive(lake, "s.t")


def test_copy_on_write_delete(lake: Lake) -> None:
    t = lake.create_table("s.t", pa.table({"id": list(range(10))}))
    t.delete("id >= 5")
    assert _ours(lake, "s.t") == _pyiceberg(lake, "s.t") == [{"id": i} for i in range(5)]
    assert len(_naive(lake, "s.t")) == 15  # old and rewritten files both globbed


def test_position_delete_files_are_applied(lake: Lake) -> None:
    t = lake.create_table("s.t", pa.table({"id": list(range(10)), "v": [str(i) for i in range(10)]}))
    t.append(pa.table({"id": list(range(10, 15)), "v": ["x"] * 5}))
    ice = t.iceberg
    files = sorted(task.file.file_path for task in ice.scan().plan_files())
    add_position_deletes(ice, {files[0]: [0, 1], files[1]: [4]})
    ours = _ours(lake, "s.t")
    assert ours == _pyiceberg(lake, "s.t")
    assert len(ours) == 12
    assert sum(1 for r in _naive(lake, "s.t") if r["id"] is not None) == 15  # deletes ignored
    # the read still prunes columns and filters
    assert lake.sql("select count(*) from s.t where v = 'x'").scalar() == sum(1 for r in ours if r["v"] == "x")


def test_time_travel_uses_the_snapshots_schema(lake: Lake) -> None:
    t = lake.create_table("s.t", pa.table({"id": [1], "a": ["x"]}))
    first = t.history()[0].snapshot_id
    t.rename_column("a", "b")
    assert lake.sql("select * from s.t").to_arrow().column_names == ["id", "b"]
    assert lake.sql(f"select * from s.t AT (VERSION => {first})").to_arrow().column_names == ["id", "a"]


def test_results_stay_pinned_to_their_snapshot(lake: Lake) -> None:
    t = lake.create_table("s.t", pa.table({"id": [1, 2]}))
    result = lake.sql("select count(*) from s.t")
    t.append(pa.table({"id": [3]}))
    assert result.scalar() == 2
    assert lake.sql("select count(*) from s.t").scalar() == 3


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 20)),
        st.tuples(st.just("rename"), st.integers(0, 10)),
        st.tuples(st.just("add"), st.integers(0, 10)),
        st.tuples(st.just("drop"), st.integers(0, 10)),
        st.tuples(st.just("delete"), st.integers(0, 100)),
        st.tuples(st.just("widen"), st.integers(0, 10)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_schema_histories_read_like_pyiceberg(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int]]
) -> None:
    home: Path = tmp_path_factory.mktemp("hyp")
    with mlake.connect(home, threads=1) as lake:
        t = lake.create_table("s.t", pa.table({"id": pa.array([0], pa.int64()), "c0": pa.array([0], pa.int32())}))
        next_id, next_col = 1, 1
        for op, arg in ops:
            cols = [c for c in t.columns if c != "id"]
            if op == "append":
                data: dict[str, Any] = {"id": list(range(next_id, next_id + arg))}
                for c in cols:
                    field = t.schema.find_field(c)
                    data[c] = (
                        [i % 7 for i in range(arg)]
                        if str(field.field_type) in ("int", "long")
                        else [f"v{i}" for i in range(arg)]
                    )
                t.append(data)
                next_id += arg
            elif op == "rename" and cols:
                t.rename_column(cols[arg % len(cols)], f"r{next_col}")
                next_col += 1
            elif op == "add":
                t.add_columns({f"c{next_col}": "string" if arg % 2 else "int"})
                next_col += 1
            elif op == "drop" and cols:
                t.drop_column(cols[arg % len(cols)])
            elif op == "delete":
                t.delete(f"id < {arg % max(next_id, 1)}")
            elif op == "widen" and cols:
                c = cols[arg % len(cols)]
                if str(t.schema.find_field(c).field_type) == "int":
                    t.widen_column(c, "long")
        assert _ours(lake, "s.t") == _pyiceberg(lake, "s.t")
