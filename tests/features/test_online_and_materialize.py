"""Online reads with statuses, and incremental, idempotent materialization into SQLite and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import mlake
from mlake.features.online import OnlineRecord
from mlake.lake import Lake

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lake]:
    """A lake whose online store is SQLite (default) or Redis (chosen by URL, as users do)."""
    overrides: dict[str, object] = {"threads": 2, "user": "tester"}
    if request.param == "redis":
        overrides["online_url"] = request.getfixturevalue("redis_online_url")
    with mlake.connect(tmp_path / "lake", **overrides) as lk:
        lk.features.create_group(
            "profile",
            entities={"customer_id": "long"},
            event_time="ts",
            features={"spend": "double", "segment": "string", "last_seen": "timestamptz", "born": "date"},
            ttl="5d",
        )
        yield lk


def test_online_values_and_statuses(served: Lake) -> None:
    served.features.write(
        "profile",
        {
            "customer_id": [1, 1, 2],
            "ts": [T0 + DAY, T0, T0],
            "spend": [2.5, 1.0, None],
            "segment": ["b", "a", "c"],
            "last_seen": [T0, T0, T0 - DAY],
            "born": [date(1990, 1, 2)] * 3,
        },
    )
    result = served.features.get_online_features(
        [{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}],
        ["profile:spend", "profile:segment", "profile:last_seen", "profile:born"],
        now=T0 + 5 * DAY,
    )
    assert result.statuses == [
        dict.fromkeys(["spend", "segment", "last_seen", "born"], "present"),
        dict.fromkeys(["spend", "segment", "last_seen", "born"], "present"),
        dict.fromkeys(["spend", "segment", "last_seen", "born"], "missing"),
    ]
    assert result.values[0] == {"spend": 2.5, "segment": "b", "last_seen": T0, "born": date(1990, 1, 2)}
    assert result.values[1]["spend"] is None  # the latest row's value is NULL: present, and NULL
    # the TTL rule: at exactly ttl after the event the value is still valid, a microsecond later expired
    edge = served.features.get_online_features(
        {"customer_id": 2}, ["profile:spend", "profile:segment"], now=T0 + 5 * DAY
    )
    assert edge.statuses == [{"spend": "present", "segment": "present"}]
    late = served.features.get_online_features(
        {"customer_id": [1, 2]}, ["profile:segment"], now=T0 + 5 * DAY + timedelta(microseconds=1)
    )
    assert late.statuses == [{"segment": "present"}, {"segment": "expired"}]
    assert late.values == [{"segment": "b"}, {"segment": None}]
    assert late.to_arrow().column_names == ["customer_id", "segment"]


def test_online_equals_offline_point_in_time(served: Lake) -> None:
    served.features.write(
        "profile", {"customer_id": [1, 2, 3], "ts": [T0, T0 + DAY, T0 - 9 * DAY], "spend": [1.0, 2.0, 3.0]}
    )
    served.features.write("profile", {"customer_id": [1], "ts": [T0 - DAY], "spend": [-1.0]})  # older event, later
    now = T0 + 2 * DAY
    online = served.features.get_online_features({"customer_id": [1, 2, 3]}, ["profile:spend"], now=now)
    offline = served.features.training_set(
        {"customer_id": [1, 2, 3], "t": [now] * 3}, ["profile:spend"], save=False
    ).to_arrow()
    assert [v["spend"] for v in online.values] == offline["spend"].to_pylist() == [1.0, 2.0, None]
    assert online.statuses[2] == {"spend": "expired"}
    assert served.features.skew("profile", now=now).mismatches == []


def test_materialization_is_incremental_and_idempotent(served: Lake) -> None:
    fs = served.features
    fs.update_group("profile", online=False)  # writes stay offline until materialized
    fs.write("profile", {"customer_id": list(range(100)), "ts": [T0] * 100, "spend": [1.0] * 100})
    first = fs.materialize("profile")
    assert (first.rows_read, first.entities_written, first.incremental) == (100, 100, False)
    again = fs.materialize("profile")
    assert again.up_to_date and again.entities_written == 0
    fs.write("profile", {"customer_id": [5, 500], "ts": [T0 + DAY, T0], "spend": [2.0, 3.0]})
    step = fs.materialize("profile")
    assert (step.rows_read, step.entities_written, step.incremental) == (2, 2, True)  # only the new file
    assert fs.online_store.count("profile") == 101
    values = fs.get_online_features({"customer_id": [5, 6, 500]}, ["profile:spend"], now=T0 + DAY).values
    assert [v["spend"] for v in values] == [2.0, 1.0, 3.0]
    full = fs.materialize("profile", full=True)  # sending everything again changes nothing
    assert full.rows_read == 102 and not full.incremental
    assert fs.get_online_features({"customer_id": [5, 6, 500]}, ["profile:spend"], now=T0 + DAY).values == values
    served.maintain("features.profile", expire_older_than=timedelta(0), retain_last=1)  # compaction rewrites files
    after = fs.materialize("profile")
    assert fs.get_online_features({"customer_id": [5, 6, 500]}, ["profile:spend"], now=T0 + DAY).values == values
    assert after.to_snapshot == served.table("features.profile").iceberg.current_snapshot().snapshot_id  # type: ignore[union-attr]
    assert fs.describe("profile").online.stores[0].up_to_date


def test_offline_deletes_and_rollbacks_reach_the_online_store(served: Lake) -> None:
    """The online store follows the offline table when rows go away: an entity whose newest row was deleted
    gets its older value back (although it is older), one with no rows left is removed, and a rollback is
    followed too — only for the entities of the files that changed."""
    fs = served.features
    fs.update_group("profile", online=False)
    fs.write("profile", {"customer_id": [1, 2, 3], "ts": [T0] * 3, "spend": [1.0, 2.0, 3.0]})
    fs.write("profile", {"customer_id": [1], "ts": [T0 + DAY], "spend": [10.0]})  # 1's newest value
    fs.materialize("profile")

    def spend() -> list[object]:
        got = fs.get_online_features({"customer_id": [1, 2, 3]}, ["profile:spend"], now=T0 + DAY)
        return [v["spend"] for v in got.values]

    assert spend() == [10.0, 2.0, 3.0]
    table = served.table("features.profile")
    before_deletes = table.iceberg.current_snapshot().snapshot_id  # type: ignore[union-attr]
    table.delete("spend = 10.0 OR customer_id = 2")  # 1's newest row, and every row of 2
    step = fs.materialize("profile")
    assert step.incremental and step.entities_removed == 1
    assert spend() == [1.0, None, 3.0]
    assert fs.online_store.count("profile") == 2
    statuses = fs.get_online_features({"customer_id": [2]}, ["profile:spend"], now=T0 + DAY).statuses
    assert statuses == [{"spend": "missing"}]

    table.rollback(before_deletes)  # the deleted rows are back offline ...
    fs.materialize("profile")
    assert spend() == [10.0, 2.0, 3.0]  # ... and online

    # rows deleted, then an older event written to an online group: the write's own materialization sees
    # the delete, so the only row left is served, although it is older than the deleted one
    fs.update_group("profile", online=True)
    table.delete("customer_id = 3")
    fs.write("profile", {"customer_id": [3], "ts": [T0 - DAY], "spend": [30.0]})
    assert spend()[2] == 30.0


def test_a_full_run_removes_entities_deleted_before_it(served: Lake) -> None:
    """A full run cannot see what was deleted between runs, so it compares the store's keys with the
    snapshot's: entities deleted offline go, a value written online after the snapshot stays."""
    fs = served.features
    fs.update_group("profile", online=False)
    fs.write("profile", {"customer_id": [1, 2, 3], "ts": [T0] * 3, "spend": [1.0, 2.0, 3.0]})
    fs.materialize("profile")
    served.table("features.profile").delete("customer_id = 2")
    late = OnlineRecord(str(9), int(T0.timestamp() * 1e6), 2**62, '{"spend": 9.0}')  # written after any snapshot
    fs.online_store.upsert("profile", [late])
    report = fs.materialize("profile", full=True)
    assert not report.incremental and report.entities_removed == 1
    assert sorted(fs.online_store.keys("profile")) == ["1", "3", "9"]
    served.table("features.profile").delete("customer_id > 0")  # nothing left offline
    assert fs.materialize("profile", full=True).entities_removed == 2
    assert sorted(fs.online_store.keys("profile")) == ["9"]


def test_materialization_reports_progress(served: Lake) -> None:
    seen: list[float] = []

    class Recorder:
        def task(self, description: str, total: float | None = None, unit: str = "") -> object:
            from contextlib import contextmanager

            @contextmanager
            def run() -> Iterator[object]:
                class T:
                    def advance(self, amount: float = 1) -> None:
                        seen.append(amount)

                    def update(self, **kw: object) -> None:
                        pass

                yield T()

            return run()

    served.progress = Recorder()
    served.features.update_group("profile", online=False)
    served.features.write(
        "profile", {"customer_id": list(range(120_000)), "ts": [T0] * 120_000, "spend": [1.0] * 120_000}
    )
    served.features.materialize("profile")
    assert sum(seen) == 120_000 and len(seen) >= 3  # streamed in batches
