"""Training sets end to end: as_of and late data, reproducibility after backfills, exports, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlake.errors import NotFoundError, ValidationError
from mlake.lake import Lake

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def shop(lake: Lake) -> Lake:
    lake.features.create_group(
        "orders",
        entities={"customer_id": "long"},
        event_time="ts",
        features={"spend": "double"},
        ttl="10d",
        online=False,
    )
    lake.features.create_group(
        "clicks",
        entities={"customer_id": "long"},
        event_time="at",
        features={"spend": "long", "views": "long"},
        online=False,
    )
    lake.features.write("orders", {"customer_id": [1, 1, 2], "ts": [T0, T0 + 2 * DAY, T0], "spend": [1.0, 2.0, 5.0]})
    lake.features.write(
        "clicks", {"customer_id": [1, 2], "at": [T0 + DAY, T0 + 3 * DAY], "spend": [7, 8], "views": [3, 4]}
    )
    return lake


ENTITIES = {
    "customer_id": [2, 1, 1, 3, 1],
    "when": [T0 + DAY, T0 + DAY, T0 + 3 * DAY, T0, T0 + 30 * DAY],
    "label": [True, False, True, False, True],
}


def test_point_in_time_values_for_several_groups(shop: Lake) -> None:
    ts = shop.features.training_set(ENTITIES, ["orders:spend", "clicks:*"])
    out = ts.to_arrow()
    assert out.column_names == ["customer_id", "when", "label", "orders__spend", "clicks__spend", "views"]
    assert out.select(["customer_id", "orders__spend", "clicks__spend", "views"]).to_pylist() == [
        {"customer_id": 2, "orders__spend": 5.0, "clicks__spend": None, "views": None},
        {"customer_id": 1, "orders__spend": 1.0, "clicks__spend": 7, "views": 3},
        {"customer_id": 1, "orders__spend": 2.0, "clicks__spend": 7, "views": 3},
        {"customer_id": 3, "orders__spend": None, "clicks__spend": None, "views": None},
        {"customer_id": 1, "orders__spend": None, "clicks__spend": 7, "views": 3},  # orders expired (TTL 10d)
    ]
    assert out["label"].to_pylist() == ENTITIES["label"]


def test_late_arriving_writes_are_invisible_as_of_before_they_arrived(shop: Lake) -> None:
    known = datetime.now(UTC)
    time.sleep(0.01)
    # learned later: customer 1 also spent on day 1 (an event before the entity time of day 1)
    shop.features.write("orders", {"customer_id": [1], "ts": [T0 + DAY], "spend": [99.0]})
    entities = {"customer_id": [1], "when": [T0 + DAY]}
    now_view = shop.features.training_set(entities, ["orders:spend"], save=False).to_arrow()
    then_view = shop.features.training_set(entities, ["orders:spend"], as_of=known, save=False).to_arrow()
    assert now_view["spend"].to_pylist() == [99.0]
    assert then_view["spend"].to_pylist() == [1.0]


def test_saved_training_set_rebuilds_bit_for_bit_after_new_data_and_a_backfill(shop: Lake, tmp_path: Path) -> None:
    ts = shop.features.training_set(ENTITIES, ["orders:spend", "clicks:views"], name="churn-v1")
    original = ts.to_arrow()
    shop.features.write("orders", {"customer_id": [1, 2], "ts": [T0, T0 + DAY], "spend": [-1.0, -2.0]})  # backfill
    shop.features.write("clicks", {"customer_id": [1], "at": [T0], "spend": [0], "views": [100]})
    shop.table("features.orders").delete("customer_id = 2")  # even a deletion
    again = shop.features.load_training_set(ts.id)
    assert again.to_arrow().equals(original)
    assert shop.features.load_training_set("churn-v1").id == ts.id
    fresh = shop.features.training_set(ENTITIES, ["orders:spend", "clicks:views"], save=False).to_arrow()
    assert not fresh.equals(original)
    # exports
    assert again.to_parquet(tmp_path / "ts.parquet") == len(ENTITIES["label"])
    assert pq.read_table(tmp_path / "ts.parquet").equals(original)
    assert again.to_pandas()["spend"].tolist()[:3] == pytest.approx([5.0, 1.0, 2.0])
    assert again.to_polars().height == 5
    batches = list(again.batches(batch_size=2))
    assert pa.Table.from_batches(batches).equals(original)
    saved = shop.features.training_sets("orders")
    assert [t.id for t in saved] == [ts.id]
    assert shop.features.training_sets("nope") == []


def test_entities_from_a_table_and_from_sql(shop: Lake) -> None:
    shop.create_table("ml.labels", ENTITIES)
    by_table = shop.features.training_set("ml.labels", ["orders:spend"])
    by_sql = shop.features.training_set("SELECT * FROM ml.labels WHERE customer_id = 1", ["orders:spend"])
    assert by_table.entities["kind"] == "table" and by_table.entities["table"] == "ml.labels"
    assert by_table.to_arrow()["spend"].to_pylist() == [5.0, 1.0, 2.0, None, None]
    assert by_sql.to_arrow()["spend"].to_pylist() == [1.0, 2.0, None]
    shop.table("ml.labels").append({"customer_id": [2], "when": [T0 + DAY], "label": [False]})
    assert len(shop.features.load_training_set(by_table.id)) == 5  # pinned to the snapshot it read


def test_training_set_errors_say_what_to_do(shop: Lake) -> None:
    with pytest.raises(ValidationError, match="group:feature"):
        shop.features.training_set(ENTITIES, ["orders.spend"])
    with pytest.raises(NotFoundError, match="no feature 'amount'"):
        shop.features.training_set(ENTITIES, ["orders:amount"])
    with pytest.raises(NotFoundError, match="Feature group 'order'"):
        shop.features.training_set(ENTITIES, ["order:spend"])
    with pytest.raises(ValidationError, match="lack 'customer_id'"):
        shop.features.training_set({"id": [1], "when": [T0]}, ["orders:spend"])
    with pytest.raises(ValidationError, match="candidates: a, b"):
        shop.features.training_set({"customer_id": [1], "a": [T0], "b": [T0]}, ["orders:spend"])
    with pytest.raises(ValidationError, match="not a timestamp"):
        shop.features.training_set({"customer_id": [1], "when": ["x"]}, ["orders:spend"], entity_time="when")
    with pytest.raises(ValidationError, match="keys it as long"):
        shop.features.training_set({"customer_id": ["1"], "when": [T0]}, ["orders:spend"])
    with pytest.raises(NotFoundError):
        shop.features.load_training_set("does-not-exist")


def test_a_group_without_data_gives_nulls(lake: Lake) -> None:
    lake.features.create_group("empty", entities={"k": "long"}, event_time="ts", features={"v": "double"})
    ts = lake.features.training_set({"k": [1, 2], "t": [T0, T0]}, ["empty:v"])
    assert ts.to_arrow()["v"].to_pylist() == [None, None]
    lake.features.write("empty", {"k": [1], "ts": [T0], "v": [1.0]})
    assert lake.features.load_training_set(ts.id).to_arrow()["v"].to_pylist() == [None, None]


def test_no_entity_rows_give_an_empty_training_set(shop: Lake) -> None:
    import pyarrow as pa

    empty = pa.table({"customer_id": pa.array([], pa.int64()), "when": pa.array([], pa.timestamp("us", tz="UTC"))})
    ts = shop.features.training_set(empty, ["orders:spend"])
    assert shop.features.load_training_set(ts.id).to_arrow().num_rows == 0


def test_a_name_is_one_training_set_in_versions(shop: Lake) -> None:
    from mlake.features.training import forget_training_sets

    first = shop.features.training_set(ENTITIES, ["orders:spend"], name="churn")
    shop.features.write("orders", {"customer_id": [2], "ts": [T0 + 2 * DAY], "spend": [6.0]})
    second = shop.features.training_set(ENTITIES, ["orders:spend"], name="churn")
    assert (first.version, second.version) == (1, 2)
    assert shop.features.load_training_set("churn").id == second.id  # the newest
    assert shop.features.load_training_set("churn@1").to_arrow().equals(first.to_arrow())
    assert shop.features.load_training_set(first.id).version == 1
    assert [(t.name, t.version) for t in shop.features.training_sets()] == [("churn", 2), ("churn", 1)]
    with pytest.raises(NotFoundError, match="no version 3"):
        shop.features.load_training_set("churn@3")
    assert forget_training_sets(shop, "churn") == 2
    assert shop.features.training_sets() == [] and not shop.table_exists(f"training_sets.ts_{first.id}")


def test_a_correction_with_the_same_event_time_wins_through_the_file_statistics(shop: Lake) -> None:
    """Corrections written later with the same keys and event time win; the join ranks the writes read
    from the Iceberg file statistics (a 64-bit key), also after a deletion rewrote a file."""
    from mlake.features.training import _write_times

    shop.features.write("orders", {"customer_id": [1, 2], "ts": [T0, T0], "spend": [10.0, 50.0]})  # corrections
    shop.features.write("orders", {"customer_id": [1], "ts": [T0], "spend": [100.0]})  # and again
    entities = {"customer_id": [1, 2, 1], "when": [T0, T0 + DAY, T0 - DAY]}
    out = shop.features.training_set(entities, ["orders:spend"], save=False).to_arrow()
    assert out["spend"].to_pylist() == [100.0, 50.0, None]
    group = shop.features.group("orders")
    snapshot = shop.table("features.orders").iceberg.current_snapshot()
    assert snapshot is not None
    known = _write_times(shop, group, snapshot.snapshot_id)
    assert known is not None and len(known.write_times) == 3 and known.ranked()
    shop.table("features.orders").delete("spend = 100.0")
    out = shop.features.training_set(entities, ["orders:spend"], save=False).to_arrow()
    assert out["spend"].to_pylist() == [10.0, 50.0, None]
