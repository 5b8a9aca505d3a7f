"""Feature groups in the metastore, bitemporal writes from frames, tables and SQL, schema evolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from mlake.errors import AlreadyExistsError, NotFoundError, ValidationError
from mlake.lake import Lake

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _rows(n: int = 4) -> pa.Table:
    return pa.table(
        {
            "customer_id": [1, 2, 1, 3][:n],
            "ts": [T0, T0, T0 + timedelta(days=1), T0 + timedelta(days=2)][:n],
            "spend": [10.0, 20.0, 11.0, 30.0][:n],
            "orders": [1, 2, 2, 3][:n],
        }
    )


def test_create_group_with_types_and_read_it_back(lake: Lake) -> None:
    g = lake.features.create_group(
        "customer_orders",
        entities={"customer_id": "long"},
        event_time="ts",
        features={"spend": ("double", "Money spent, EUR"), "orders": "bigint"},
        ttl="30d",
        description="Order statistics per customer",
        owner="ml-team",
        tags={"domain": "sales"},
    )
    again = lake.features.group("customer_orders")
    assert again == g
    assert [(f.name, f.dtype, f.description) for f in again.features] == [
        ("spend", "double", "Money spent, EUR"),
        ("orders", "long", None),
    ]
    assert again.ttl == timedelta(days=30) and again.owner == "ml-team" and again.tags == {"domain": "sales"}
    assert lake.table_exists("features.customer_orders")
    assert lake.table("features.customer_orders").columns == ["customer_id", "ts", "spend", "orders", "write_time"]


def test_bad_definitions_are_refused_with_a_reason(lake: Lake) -> None:
    with pytest.raises(ValidationError, match="Invalid feature group name"):
        lake.features.create_group("Bad Name", entities={"id": "long"}, event_time="ts", features={"a": "long"})
    with pytest.raises(ValidationError, match="needs a type"):
        lake.features.create_group("g", entities=["id"], event_time="ts", features={"a": "long"})
    with pytest.raises(ValidationError, match="keys must be one of"):
        lake.features.create_group("g", entities={"id": "double"}, event_time="ts", features={"a": "long"})
    with pytest.raises(ValidationError, match="reserved"):
        lake.features.create_group("g", entities={"id": "long"}, event_time="ts", features={"write_time": "long"})
    with pytest.raises(ValidationError, match="Cannot read the TTL"):
        lake.features.create_group("g", entities={"id": "long"}, event_time="ts", features={"a": "long"}, ttl="soon")
    lake.features.create_group("g", entities={"id": "long"}, event_time="ts", features={"a": "long"})
    with pytest.raises(AlreadyExistsError):
        lake.features.create_group("g", entities={"id": "long"}, event_time="ts", features={"a": "long"})
    with pytest.raises(NotFoundError, match="did you mean g"):
        lake.features.group("gg")


def test_types_come_from_data_and_every_input_kind_writes(lake: Lake) -> None:
    g = lake.features.create_group("c", entities=["customer_id"], event_time="ts", data=_rows(2), online=False)
    assert {f.name: f.dtype for f in g.features} == {"spend": "double", "orders": "long"}
    lake.features.write("c", _rows().slice(2).to_pandas())
    lake.features.write("c", pl.from_arrow(_rows(1)))
    lake.create_table("raw.stats", _rows())
    lake.features.write("c", "raw.stats")
    s = lake.features.write("c", "SELECT customer_id, ts, spend * 2 AS spend FROM raw.stats WHERE customer_id = 3")
    assert s.rows_written == 1 and s.online_entities is None
    data = lake.table("features.c").to_arrow()
    assert data.num_rows == 2 + 2 + 1 + 4 + 1
    assert data.filter(pa.compute.equal(data["spend"], 60.0))["orders"].to_pylist() == [None]
    # each write has its own write time, later writes later
    times = sorted(set(data["write_time"].to_pylist()))
    assert len(times) == 5
    # lineage: the table and the SQL's input table feed the group's table
    assert "raw.stats" in lake.lineage("features.c").upstream_tables()


def test_duplicates_within_one_write_keep_the_last_row(lake: Lake) -> None:
    lake.features.create_group("d", entities={"k": "long"}, event_time="ts", features={"v": "long"}, online=False)
    lake.features.write("d", {"k": [1, 1, 1], "ts": [T0, T0, T0 + timedelta(1)], "v": [1, 2, 3]})
    assert sorted(lake.table("features.d").to_arrow()["v"].to_pylist()) == [2, 3]


def test_bad_writes_are_refused(lake: Lake) -> None:
    lake.features.create_group("c", entities=["customer_id"], event_time="ts", data=_rows(), online=False)
    with pytest.raises(ValidationError, match="lacks column"):
        lake.features.write("c", {"customer_id": [1], "spend": [1.0]})
    with pytest.raises(ValidationError, match="not its features: colour"):
        lake.features.write("c", {"customer_id": [1], "ts": [T0], "colour": ["red"]})
    with pytest.raises(ValidationError, match="nulls in customer_id"):
        lake.features.write("c", pd.DataFrame({"customer_id": [1, None], "ts": [T0, T0], "spend": [1.0, 2.0]}))
    with pytest.raises(ValidationError, match="write_time"):
        lake.features.write("c", {"customer_id": [1], "ts": [T0], "spend": [1.0], "write_time": [T0]})
    with pytest.raises(NotFoundError):
        lake.features.write("c", "nowhere.table")


def test_add_features_without_rewriting_data(lake: Lake) -> None:
    lake.features.create_group("c", entities=["customer_id"], event_time="ts", data=_rows(), online=False)
    files_before = {f.file.file_path for f in lake.table("features.c").iceberg.scan().plan_files()}
    g = lake.features.add_features("c", {"returns": ("long", "Returned orders")})
    assert g.version == 2 and g.feature("returns").added_in_version == 2
    files_after = {f.file.file_path for f in lake.table("features.c").iceberg.scan().plan_files()}
    assert files_after == files_before  # nothing rewritten
    lake.features.write("c", {"customer_id": [1], "ts": [T0 + timedelta(days=5)], "returns": [4]})
    ts = lake.features.training_set(
        {"customer_id": [1, 1], "at": [T0 + timedelta(days=1), T0 + timedelta(days=6)]}, ["c:*"], save=False
    )
    assert ts.to_arrow().select(["spend", "returns"]).to_pylist() == [
        {"spend": 11.0, "returns": None},
        {"spend": None, "returns": 4},  # the newest row wins as a whole
    ]
    with pytest.raises(AlreadyExistsError):
        lake.features.add_features("c", {"spend": "double"})


def test_update_and_drop_group(lake: Lake) -> None:
    lake.features.create_group("c", entities=["customer_id"], event_time="ts", data=_rows())
    g = lake.features.update_group("c", ttl="2h", owner="someone", tags=["gold"])
    assert g.ttl == timedelta(hours=2) and g.owner == "someone" and g.tags == {"gold": ""}
    # the offline table carries them too: governance reads owner and tags there
    table = lake.table("features.c")
    assert table.describe().owner == "someone" and table.tags == {"feature_group": "c", "gold": ""}
    lake.features.update_group("c", tags={"domain": "sales"}, description="what customers do")
    assert table.tags == {"feature_group": "c", "domain": "sales"}
    assert "what customers do" in (table.describe().description or "")
    with pytest.raises(ValidationError):
        lake.features.update_group("c", event_time="other")
    assert lake.features.online_store.count("c") == 3
    lake.features.drop_group("c")
    assert not lake.table_exists("features.c")
    assert lake.features.online_store.count("c") == 0
    assert lake.features.groups() == []
