"""Lifecycle policies applied by ``lake.storage.apply`` (what ``mlake maintain`` runs), on a local and an
S3-compatible warehouse: pinned snapshots survive expiry, retention deletes exactly the old rows,
tiered data reads the same row for row, and a dry run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import mlake
from mlake.errors import ValidationError
from mlake.lake import Lake
from tests.lifecycle.conftest import Warehouse

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def events(start_id: int, days_ago: list[float]) -> pa.Table:
    """Rows whose times sit mid-day, far from any whole-day cutoff."""
    ts = [NOW - timedelta(days=d, hours=12) for d in days_ago]
    n = len(days_ago)
    return pa.table(
        {
            "id": pa.array(range(start_id, start_id + n), pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "value": pa.array([float(i) * 1.5 for i in range(n)]),
        }
    )


def make_history(lake: Lake, name: str, batches: int = 6) -> None:
    """A table written in ``batches`` appends: ids 0.., one batch per 20 days of age, oldest first."""
    for b in range(batches):
        age = (batches - 1 - b) * 20  # 100, 80, ..., 0 days ago
        data = events(b * 10, [age + i * 0.5 for i in range(10)])
        if b == 0:
            lake.create_table(name, data)
        else:
            lake.table(name).append(data)


def sorted_rows(lake: Lake, name: str) -> pa.Table:
    return lake.table(name).to_arrow().sort_by("id")


def test_a_pinned_snapshot_survives_expiry(warehouse: Warehouse) -> None:
    lake = warehouse.lake
    make_history(lake, "shop.events")
    history = lake.table("shop.events").history()
    tagged, first = history[2].snapshot_id, history[0].snapshot_id
    lake.storage.pin("shop.events", "audit-2026", tagged)
    # a training set whose entity rows are the table itself pins the snapshot it read (the 4th)
    lake.features.create_group(
        "ev_values", entities=["id"], event_time="ts", data=lake.table("shop.events").to_arrow(), online=False
    )
    lake.table("shop.events").delete("id >= 50")  # a later snapshot, after the training set's
    ts = lake.features.training_set("shop.events", ["ev_values:value"], name="pinned_probe")
    read = ts.entities["snapshot_id"]
    lake.table("shop.events").append(events(100, [1.0]))
    pins = {p.snapshot_id: p.reason for p in lake.storage.pins("shop.events")}
    assert pins[tagged] == "tag audit-2026" and pins[read] == "training set pinned_probe"

    snapshots = {s.snapshot_id for s in lake.table("shop.events").iceberg.snapshots()}
    options = {"expire_older_than": "0s", "retain_last": 1, "orphan_grace": "0s", "compact": False}
    dry = lake.storage.apply("shop.events", dry_run=True, **options)
    assert {s.snapshot_id for s in lake.table("shop.events").iceberg.snapshots()} == snapshots
    expire_plan = next(a for a in dry[0].actions if a.kind == "expire")
    (report,) = lake.storage.apply("shop.events", **options)
    expired = next(a for a in report.actions if a.kind == "expire")
    assert expired.snapshots == expire_plan.snapshots > 0
    left = {s.snapshot_id for s in lake.table("shop.events").iceberg.snapshots()}
    assert tagged in left and read in left and first not in left
    # both still read in full: time travel to a pinned snapshot and rebuilding the training set
    assert lake.table("shop.events").count(snapshot_id=tagged) == 30
    again = lake.features.load_training_set(ts.id)
    assert again.to_arrow().equals(ts.to_arrow())
    lake.storage.unpin("shop.events", "audit-2026")
    (report,) = lake.storage.apply("shop.events", expire_older_than="0s", retain_last=1, orphan_grace="0s")
    left = {s.snapshot_id for s in lake.table("shop.events").iceberg.snapshots()}
    assert tagged not in left and read in left


def test_retention_deletes_exactly_the_old_rows(warehouse: Warehouse) -> None:
    lake = warehouse.lake
    make_history(lake, "shop.clicks")
    before = lake.table("shop.clicks").to_pandas()
    lake.storage.set_policy("shop.clicks", retention_days=45, time_column="ts")
    (dry,) = lake.storage.apply("shop.clicks", dry_run=True)
    cutoff = pd.Timestamp(datetime.now(UTC) - timedelta(days=45))
    expected = before[before["ts"] >= cutoff].sort_values("id").reset_index(drop=True)
    retention = next(a for a in dry.actions if a.kind == "retention")
    assert retention.rows == len(before) - len(expected) > 0
    assert lake.table("shop.clicks").count() == len(before)  # the dry run changed nothing
    (report,) = lake.storage.apply("shop.clicks")
    assert next(a for a in report.actions if a.kind == "retention").rows == retention.rows
    after = lake.table("shop.clicks").to_pandas().sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(after, expected)
    assert lake.sql("select count(*) from shop.clicks").scalar() == len(expected)


def test_tiered_data_reads_the_same_row_for_row(warehouse: Warehouse) -> None:
    lake = warehouse.lake
    make_history(lake, "shop.orders")
    before = sorted_rows(lake, "shop.orders")
    sql_before = lake.sql("select id, ts, value from shop.orders order by id").to_arrow()
    lake.storage.set_policy(
        "shop", tier_after_days=50, time_column="ts", tier_location=warehouse.cold, tier_zstd_level=19, compact=False
    )
    (dry,) = lake.storage.apply("shop.orders", dry_run=True)
    planned = next(a for a in dry.actions if a.kind == "tier")
    assert planned.files == 3  # the batches 100, 80 and 60 days old (the 40-day one is younger than 50 days)
    assert sorted_rows(lake, "shop.orders").equals(before)
    (report,) = lake.storage.apply("shop.orders", expire_older_than="0s", retain_last=1, orphan_grace="0s")
    moved = next(a for a in report.actions if a.kind == "tier")
    assert moved.files == planned.files
    cold_root = warehouse.cold.rstrip("/").removeprefix("file://")
    paths = [t.file.file_path for t in lake.table("shop.orders").iceberg.scan().plan_files()]
    assert sum(cold_root in p for p in paths) == planned.files
    assert sorted_rows(lake, "shop.orders").equals(before)
    assert lake.sql("select id, ts, value from shop.orders order by id").to_arrow().equals(sql_before)
    usage = lake.storage.usage("shop.orders").table("shop.orders")
    assert usage.tiered_bytes > 0 and usage.orphan_bytes == 0
    (again,) = lake.storage.apply("shop.orders", dry_run=True)
    assert not [a for a in again.actions if a.kind == "tier"]  # nothing left to move


def test_usage_counts_current_old_and_orphaned_bytes(warehouse: Warehouse) -> None:
    lake = warehouse.lake
    make_history(lake, "shop.usage", batches=3)
    first = lake.storage.usage("shop.usage", record=True).table("shop.usage")
    assert first.current_files == 3 and first.old_bytes == 0 and first.snapshots == 3
    lake.table("shop.usage").overwrite(events(0, [1.0]))
    second = lake.storage.usage(namespace="shop", record=True)
    t = second.table("shop.usage")
    assert t.current_files == 1 and t.old_files == 3 and t.old_bytes == first.current_bytes
    assert second.namespaces[0].total_bytes == second.total_bytes
    (report,) = lake.storage.apply("shop.usage", expire_older_than="0s", retain_last=1, orphan_grace="0s")
    assert report.bytes_saved >= first.current_bytes
    points = lake.storage.history("shop.usage")
    assert [p.trigger for p in points] == ["measure", "measure", "maintain"]
    assert points[-1].old_bytes == 0 and points[1].old_bytes == first.current_bytes


def test_policies_merge_and_are_validated(warehouse: Warehouse) -> None:
    lake = warehouse.lake
    make_history(lake, "shop.p", batches=1)
    lake.storage.set_policy("shop", expire_older_than="30d", retain_last=10)
    lake.storage.set_policy("shop.p", retain_last=3)
    eff = lake.storage.effective_policy("shop.p")
    assert (eff.expire_older_than, eff.retain_last, eff.compact) == ("30d", 3, True)
    assert [p.scope for p in lake.storage.policies()] == ["shop", "shop.p"]
    with pytest.raises(ValidationError, match="time_column"):
        lake.storage.set_policy("shop.p", retention_days=3)
    with pytest.raises(ValidationError, match="no column"):
        lake.storage.set_policy("shop.p", retention_days=3, time_column="nope")
    with pytest.raises(ValidationError):
        lake.storage.set_policy("shop.p", expire_older_than="soon")
    lake.storage.remove_policy("shop.p")
    assert lake.storage.get_policy("shop.p") is None
    assert lake.storage.effective_policy("shop.p").retain_last == 10


def test_a_rewrite_is_refused_when_its_files_changed_meanwhile(tmp_path: Path) -> None:
    """Compaction and tiering swap files in one commit that checks every replaced file is still live: a
    delete that landed in between must not be undone by the swap."""
    from mlake.errors import CommitConflictError
    from mlake.maintenance import swap_files
    from mlake.tables.names import TableName

    with mlake.connect(tmp_path / "lake", threads=2) as lake:
        make_history(lake, "shop.race", batches=3)
        old = [t.file for t in lake.table("shop.race").iceberg.scan().plan_files()]
        lake.table("shop.race").delete("id < 10")  # drops the first batch's file
        with pytest.raises(CommitConflictError, match="changed while"):
            swap_files(lake, TableName("shop", "race"), old, [], {})
        assert lake.table("shop.race").count() == 20
