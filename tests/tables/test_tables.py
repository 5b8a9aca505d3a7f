"""The table suite: runs on both catalog backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from mlake.errors import AlreadyExistsError, NotFoundError, SchemaError, ValidationError
from mlake.lake import Lake
from mlake.tables.models import TableInfo


def orders(ids: list[int], amount: float = 1.0, channel: str = "web") -> pa.Table:
    return pa.table({"id": ids, "amount": [amount + i for i in ids], "channel": [channel] * len(ids)})


def test_namespaces(any_lake: Lake) -> None:
    any_lake.create_namespace("shop", description="the shop")
    any_lake.create_namespace("shop")  # exist_ok by default
    with pytest.raises(AlreadyExistsError):
        any_lake.create_namespace("shop", exist_ok=False)
    assert "shop" in any_lake.namespaces()
    with pytest.raises(ValidationError, match="Invalid namespace"):
        any_lake.create_namespace("Bad Name!")
    any_lake.create_table("shop.t", orders([1]))
    with pytest.raises(ValidationError, match="still has tables"):
        any_lake.drop_namespace("shop")
    any_lake.drop_table("shop.t")
    any_lake.drop_namespace("shop")
    assert "shop" not in any_lake.namespaces()


def test_create_from_data_and_from_schema(any_lake: Lake) -> None:
    t = any_lake.create_table("shop.orders", orders([1, 2, 3]), description="orders", owner="sales")
    assert t.count() == 3
    info = t.describe()
    assert info.description == "orders" and info.owner == "sales" and info.rows == 3
    assert [c.type for c in info.columns] == ["long", "double", "string"]
    assert TableInfo.from_dict(info.to_dict()) == info  # the JSON form reads back as the same description
    empty = any_lake.create_table(
        "shop.empty", schema=pa.schema([("a", pa.int32()), ("ts", pa.timestamp("us", "UTC"))])
    )
    assert empty.count() == 0
    assert any_lake.sql("select * from shop.empty").to_arrow().schema.names == ["a", "ts"]
    with pytest.raises(AlreadyExistsError):
        any_lake.create_table("shop.orders", orders([1]))
    with pytest.raises(ValidationError, match="needs data or a schema"):
        any_lake.create_table("shop.nothing")
    assert [str(n) for n in any_lake.list_tables()] == ["shop.empty", "shop.orders"]


def test_names_are_checked_and_lower_cased(any_lake: Lake) -> None:
    any_lake.create_table("Shop.Orders", orders([1]))
    assert any_lake.table_exists("shop.orders")
    for bad in ["orders", "a.b.c", "shop.or-ders", "shop.", "1shop.t"]:
        with pytest.raises(ValidationError):
            any_lake.table(bad)


def test_append_overwrite_delete_upsert(any_lake: Lake) -> None:
    t = any_lake.create_table("shop.orders", orders([1, 2, 3]))
    t.append(orders([4, 5]))
    assert t.count() == 5
    t.overwrite(orders([10, 11], channel="app"), where="channel = 'web'")
    assert sorted(t.to_arrow().column("id").to_pylist()) == [10, 11]
    t.append(orders([20], channel="web"))
    t.delete("id = 10")
    assert sorted(t.to_arrow().column("id").to_pylist()) == [11, 20]
    w = t.upsert(pa.table({"id": [11, 30], "amount": [99.0, 1.0], "channel": ["x", "y"]}), on=["id"])
    assert w.rows_written == 2
    rows = {r["id"]: r for r in t.to_arrow().to_pylist()}
    assert rows[11]["amount"] == 99.0 and rows[11]["channel"] == "x" and 30 in rows and 20 in rows
    with pytest.raises(ValidationError, match="duplicate key"):
        t.upsert(pa.table({"id": [1, 1], "amount": [1.0, 2.0], "channel": ["a", "b"]}), on=["id"])
    t.overwrite(orders([7]))
    assert t.to_arrow().column("id").to_pylist() == [7]


def test_accepts_pandas_polars_and_python(any_lake: Lake) -> None:
    import pandas as pd
    import polars as pl

    t = any_lake.create_table("shop.t", pd.DataFrame({"id": [1, 2], "name": ["a", "b"]}))
    t.append(pl.DataFrame({"id": [3], "name": ["c"]}))
    t.append([{"id": 4, "name": "d"}])
    t.append({"id": [5], "name": ["e"]})
    assert t.count() == 5
    assert t.to_pandas().shape == (5, 2)
    assert t.to_polars().height == 5


def test_schema_evolution(any_lake: Lake) -> None:
    t = any_lake.create_table(
        "shop.t", pa.table({"id": pa.array([1], pa.int32()), "score": pa.array([0.5], pa.float32())})
    )
    # new column is added; older rows read it as NULL
    t.append(pa.table({"id": pa.array([2], pa.int32()), "score": pa.array([1.5], pa.float32()), "note": ["hi"]}))
    assert t.to_arrow(order_by="id").column("note").to_pylist() == [None, "hi"]
    # safe widening: int -> long, float -> double
    t.append(pa.table({"id": pa.array([2**40], pa.int64()), "score": pa.array([2.5], pa.float64())}))
    types = {c.name: c.type for c in t.describe().columns}
    assert types == {"id": "long", "score": "double", "note": "string"}
    assert t.count() == 3
    # narrower data into a wide column is simply cast
    t.append(pa.table({"id": pa.array([3], pa.int16())}))
    # incompatible change: clear error naming the column
    with pytest.raises(SchemaError, match="'score' is double in the table but string"):
        t.append(pa.table({"score": ["high"]}))
    # a column with no values at all has no type of its own: it is nulls of the table's type
    t.append({"id": [4, 5], "score": [None, None], "note": [None, None]})
    t.append(pd.DataFrame({"id": [6], "score": [None]}))
    assert t.to_arrow(where="id BETWEEN 4 AND 6", order_by="id").column("score").to_pylist() == [None, None, None]
    assert {c.name: c.type for c in t.describe().columns}["score"] == "double"
    t.rename_column("note", "comment")
    t.add_columns({"flag": "boolean"}, docs={"flag": "a flag"})
    t.drop_column("score")
    assert t.columns == ["id", "comment", "flag"]
    assert t.describe().columns[2].doc == "a flag"
    t.widen_column("id", "long")  # already long: nothing to do
    with pytest.raises(SchemaError):
        t.widen_column("comment", "long")


def test_partitioning(any_lake: Lake) -> None:
    ts = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i) for i in range(40)]
    data = pa.table({"id": list(range(40)), "ts": pa.array(ts, pa.timestamp("us", "UTC")), "ch": ["a", "b"] * 20})
    specs = {
        "p1": ["ch"],
        "p2": ["day(ts)"],
        "p3": ["month(ts)", "bucket(4, id)"],
        "p4": ["hour(ts)"],
        "p5": ["truncate(10, id)"],
    }
    for name, spec in specs.items():
        t = any_lake.create_table(f"part.{name}", data, partition_by=spec)
        assert t.describe().partitioning, name
        assert t.count() == 40
        assert any_lake.sql(f"select count(*) from part.{name} where ts >= '2025-01-05'").scalar() == sum(
            1 for x in ts if x >= datetime(2025, 1, 5, tzinfo=UTC)
        )
        # reading with a pruning filter gives the same rows as without
        assert t.to_arrow(where="id < 10").num_rows == 10
    files = any_lake.table("part.p2").describe().files
    assert files > 1  # one file per day at least
    with pytest.raises(ValidationError, match="unknown column"):
        any_lake.create_table("part.bad", data, partition_by=["day(nope)"])
    with pytest.raises(ValidationError, match="needs a date or timestamp"):
        any_lake.create_table("part.bad", data, partition_by=["day(ch)"])


def test_metadata(any_lake: Lake) -> None:
    t = any_lake.create_table("shop.t", orders([1]))
    t.set_metadata(description="d", owner="o", tags={"pii": "false", "tier": "gold"}, column_docs={"amount": "EUR"})
    t.set_metadata(tags=["certified"], remove_tags=["tier"])
    info = t.describe()
    assert info.description == "d" and info.owner == "o"
    assert info.tags == {"pii": "false", "certified": ""}
    assert {c.name: c.doc for c in info.columns}["amount"] == "EUR"
    with pytest.raises(NotFoundError, match="no column 'nope'"):
        t.set_metadata(column_docs={"nope": "x"})


def test_history_time_travel_rollback(any_lake: Lake) -> None:
    t = any_lake.create_table("shop.t", orders([1, 2]))
    time.sleep(0.02)
    between = datetime.now(UTC)
    time.sleep(0.02)
    t.append(orders([3]))
    t.delete("id = 1")
    h = t.history()
    assert [s.operation for s in h] == ["append", "append", "delete"]
    assert h[0].rows_added == 2 and h[1].rows_added == 1 and h[2].rows_deleted == 1
    assert all(s.actor == "tester" for s in h)
    assert h[-1].is_current and all(s.in_current_lineage for s in h)
    assert t.count(snapshot_id=h[0].snapshot_id) == 2
    assert t.query(as_of=between).to_arrow().num_rows == 2
    assert any_lake.sql(f"select count(*) from shop.t AT (TIMESTAMP => '{between.isoformat()}')").scalar() == 2
    assert any_lake.sql("select count(*) from shop.t", as_of=between).scalar() == 2
    with pytest.raises(NotFoundError, match="had no data at"):
        t.snapshot_at(datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(NotFoundError, match="no snapshot 42"):
        any_lake.sql("select * from shop.t AT (VERSION => 42)")
    t.rollback(h[0].snapshot_id)
    assert t.count() == 2
    h2 = t.history()
    assert not next(s for s in h2 if s.snapshot_id == h[2].snapshot_id).in_current_lineage
    t.rollback(h[2].snapshot_id)  # roll forward again
    assert sorted(t.to_arrow().column("id").to_pylist()) == [2, 3]


def test_drop(any_lake: Lake, tmp_path: object) -> None:
    t = any_lake.create_table("shop.t", orders([1]))
    location = t.location
    any_lake.drop_table("shop.t")
    assert not any_lake.table_exists("shop.t")
    from pathlib import Path

    assert not Path(location.replace("file://", "")).exists()
    with pytest.raises(NotFoundError, match="does not exist"):
        any_lake.drop_table("shop.t")
    any_lake.drop_table("shop.t", missing_ok=True)


def test_unknown_table_suggests_close_names(any_lake: Lake) -> None:
    any_lake.create_table("shop.orders", orders([1]))
    with pytest.raises(NotFoundError, match="did you mean shop.orders"):
        any_lake.table("shop.order").count()


def test_maintenance(any_lake: Lake) -> None:
    t = any_lake.create_table("shop.t", orders([0]))
    for i in range(1, 8):
        t.append(orders([i]))
    t.delete("id = 0")
    before = sorted(t.to_arrow().column("id").to_pylist())
    assert t.describe().files >= 7
    (report,) = any_lake.maintain("shop.t", expire_older_than="0s", retain_last=2, orphan_grace="0s")
    assert report.files_compacted >= 7 and report.files_written == 1
    assert report.snapshots_expired >= 8
    assert report.orphans_removed > 0 and report.bytes_freed > 0
    assert sorted(t.to_arrow().column("id").to_pylist()) == before
    assert t.describe().files == 1
    assert len(t.history()) == 2
    # nothing referenced was removed: a second run finds nothing more to do, and reads still work
    (again,) = any_lake.maintain("shop.t", expire_older_than="0s", retain_last=2, orphan_grace="0s")
    assert again.files_compacted == 0
    assert t.count() == len(before)
