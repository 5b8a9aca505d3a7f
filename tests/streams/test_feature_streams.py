"""Streams into the feature store: deliveries and streaming queries whose target is a feature group.

Offline exactly once (the position committed with the rows), online the latest value per entity by event
time whatever the arrival order, and both across SIGKILLs of the delivery."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlake
from mlake.errors import MlakeError
from mlake.lake import Lake
from mlake.streams import PutRecord, Streams
from mlake.streams.delivery import BufferHints
from mlake.streams.query import Window
from tests.streams.crash import delivery_script, kill_deliveries_while_producing

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def make_group(lake: Lake, name: str) -> None:
    lake.features.create_group(
        name,
        entities={"customer_id": "long"},
        event_time="ts",
        features={"event_id": "long", "amount": "double"},
    )


def online(lake: Lake, group: str, customers: list[int]) -> dict[int, int | None]:
    """The online event_id per customer (None: not in the store)."""
    got = lake.features.get_online_features([{"customer_id": c} for c in customers], [f"{group}:event_id"])
    return {
        c: (v["event_id"] if s["event_id"] == "present" else None)
        for c, v, s in zip(customers, got.values, got.statuses, strict=True)
    }


def offline_ids(lake: Lake, group: str) -> list[int]:
    rows = lake.sql(f"SELECT event_id FROM features.{group} ORDER BY event_id").to_arrow().column(0).to_pylist()
    return [int(r) for r in rows]


def latest(events: list[dict[str, Any]]) -> dict[int, int]:
    """Per customer, the event_id of the newest event time."""
    best: dict[int, tuple[float, int]] = {}
    for e in events:
        c, ts, i = int(e["customer_id"]), float(e["ts"]), int(e["event_id"])
        if c not in best or ts > best[c][0]:
            best[c] = (ts, i)
    return {c: i for c, (_, i) in best.items()}


def test_a_delivery_into_a_feature_group_fills_offline_once_and_online_with_the_newest(lake: Lake) -> None:
    make_group(lake, "clicks")
    lake.streams.create("clicks", partitions=2)
    base = T0.timestamp()
    events = [
        {"customer_id": 1, "ts": base + 60, "event_id": 1, "amount": 2.0, "page": "/a"},  # extra fields are left out
        {"customer_id": 1, "ts": base, "event_id": 2, "amount": 1},  # older, arrives later: offline only
        {"customer_id": 2, "ts": (T0 + timedelta(minutes=5)).isoformat(), "event_id": 3},  # ISO time, amount absent
    ]
    bad = [
        b"not json",
        {"customer_id": 3, "event_id": 4},  # no event time
        {"customer_id": "three", "ts": base, "event_id": 5},  # a key that is not a long
        {"customer_id": 4, "ts": "yesterday", "event_id": 6},
    ]
    assert lake.streams.put_batch(
        "clicks",
        [PutRecord(str(e.get("customer_id", "x")) if isinstance(e, dict) else "x", e) for e in [*events, *bad]],
    ).ok
    delivery = lake.streams.delivery("clicks", feature_group="clicks", hints=BufferHints(max_records=3, max_seconds=60))
    stats = delivery.run(idle_timeout=0.3)
    assert (stats.records, stats.rows_written, stats.errors) == (7, 3, 4)
    assert offline_ids(lake, "clicks") == [1, 2, 3]
    assert online(lake, "clicks", [1, 2, 3]) == {1: 1, 2: 3, 3: None}
    reasons = lake.sql("SELECT reason FROM features.clicks_errors ORDER BY sequence").to_arrow().column(0).to_pylist()
    assert len(reasons) == 4 and any("needs its keys and event time" in r for r in reasons)
    assert any("is not a time" in r for r in reasons) and any("does not fit feature group" in r for r in reasons)
    # a newer event for customer 1 arrives: online follows, the offline table gains one row, nothing twice
    lake.streams.put("clicks", {"customer_id": 1, "ts": base + 120, "event_id": 7}, key="1")
    again = lake.streams.delivery("clicks", feature_group="clicks").run(idle_timeout=0.3)
    assert again.records == 1
    assert offline_ids(lake, "clicks") == [1, 2, 3, 7]
    assert online(lake, "clicks", [1]) == {1: 7}
    with pytest.raises(MlakeError, match="one table or one feature group"):
        lake.streams.delivery("clicks", "raw.x", feature_group="clicks")


def test_values_are_online_within_the_buffer_interval(lake: Lake) -> None:
    make_group(lake, "live")
    lake.streams.create("live")
    stop = threading.Event()
    delivery = lake.streams.delivery("live", feature_group="live", hints=BufferHints(max_seconds=0.2))
    worker = threading.Thread(target=lambda: delivery.run(stop=stop))
    worker.start()
    try:
        put_at = time.monotonic()
        lake.streams.put("live", {"customer_id": 9, "ts": T0.timestamp(), "event_id": 1}, key="9")
        while online(lake, "live", [9]) != {9: 1}:
            assert time.monotonic() - put_at < 10, "the value did not reach the online store"
            time.sleep(0.02)
        # the buffer interval, plus a commit and an incremental materialization on this shared machine
        assert time.monotonic() - put_at < 0.2 + 2.0
    finally:
        stop.set()
        worker.join()


@pytest.fixture(scope="module")
def shared_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    with mlake.connect(tmp_path_factory.mktemp("lake"), threads=2) as lk:
        yield lk


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    times=st.lists(st.integers(0, 50), min_size=1, max_size=25, unique=True),
    customers=st.lists(st.integers(1, 3), min_size=25, max_size=25),
    buffer=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_online_is_the_newest_by_event_time_whatever_the_arrival_order(
    shared_lake: Lake, times: list[int], customers: list[int], buffer: int, seed: int
) -> None:
    lake = shared_lake
    name = f"g{uuid.uuid4().hex[:10]}"
    make_group(lake, name)
    lake.streams.create(name, partitions=2)
    events: list[dict[str, Any]] = [
        {"customer_id": customers[i], "ts": T0.timestamp() + t, "event_id": i} for i, t in enumerate(times)
    ]
    random.Random(seed).shuffle(events)  # the arrival order
    try:
        lake.streams.put_batch(name, [PutRecord(str(e["event_id"] % 2), e) for e in events])
        lake.streams.delivery(name, feature_group=name, hints=BufferHints(max_records=buffer, max_seconds=60)).run(
            idle_timeout=0.05
        )
        assert offline_ids(lake, name) == sorted(int(e["event_id"]) for e in events)
        assert online(lake, name, [1, 2, 3]) == {c: latest(events).get(c) for c in [1, 2, 3]}
    finally:
        lake.streams.delete(name)
        lake.features.drop_group(name)


def test_a_streaming_query_keeps_a_live_feature(lake: Lake) -> None:
    lake.features.create_group(
        "views_1h", entities={"customer_id": "long"}, event_time="ts", features={"views_1h": "long"}
    )
    lake.streams.create("views")
    minutes = [(0, 1), (10, 1), (20, 2), (50, 1), (70, 2), (80, 2), (125, 1), (200, 3)]
    lake.streams.put_batch(
        "views",
        [PutRecord(str(c), {"customer_id": c, "at": (T0 + timedelta(minutes=m)).isoformat()}) for m, c in minutes],
    )
    sql = "SELECT customer_id, count(*) AS views_1h FROM records GROUP BY customer_id"
    query = lake.streams.query(
        "views",
        sql,
        feature_group="views_1h",
        event_time="at",
        window=Window(timedelta(hours=1), slide=timedelta(minutes=30)),
    )
    stats = query.run(idle_timeout=0.2, drain=True)
    assert stats.late == 0 and stats.windows > 0
    got = lake.sql("SELECT customer_id, ts, views_1h FROM features.views_1h ORDER BY ts, customer_id").to_arrow()
    batch = lake.sql(
        f"""WITH r AS (SELECT * FROM (VALUES {", ".join(f"({c}, TIMESTAMPTZ '{(T0 + timedelta(minutes=m)).isoformat()}')" for m, c in minutes)}) t(customer_id, seen)),
           ends AS (SELECT DISTINCT time_bucket(INTERVAL 30 MINUTE, seen) + INTERVAL 30 MINUTE + k * INTERVAL 30 MINUTE AS e
                    FROM r, range(2) t(k))
           SELECT customer_id, e AS ts, count(*) AS views_1h FROM r JOIN ends ON seen >= e - INTERVAL 1 HOUR AND seen < e
           GROUP BY ALL ORDER BY ts, customer_id"""
    ).to_arrow()
    assert got.to_pylist() == batch.to_pylist()  # equal to the same windows in batch, as of each window's end
    newest = {r["customer_id"]: r["views_1h"] for r in got.to_pylist()}  # ordered by ts: the last one wins
    served = lake.features.get_online_features([{"customer_id": c} for c in [1, 2, 3]], ["views_1h:views_1h"])
    assert [v["views_1h"] for v in served.values] == [newest[1], newest[2], newest[3]]
    with pytest.raises(MlakeError, match="not features of group"):
        lake.streams.query(
            "views",
            "SELECT customer_id, 1 AS other FROM records",
            feature_group="views_1h",
            event_time="at",
            window=Window(timedelta(hours=1)),
            name="bad",
        ).run(idle_timeout=0.1, drain=True)


DELIVER = delivery_script('FeatureDelivery(lake, streams, name, feature_group="crash", hints=hints)')


@pytest.mark.slow
def test_a_feature_delivery_killed_at_random_moments_is_exact_offline_and_newest_online(
    tmp_path: Path, streams: Streams, name: str
) -> None:
    home = tmp_path / "lake"
    url = streams.backend.identity
    total = 1500
    offsets = list(range(total))
    random.Random(11).shuffle(offsets)  # event times arrive out of order
    events: list[dict[str, Any]] = [
        {"customer_id": i % 17, "ts": T0.timestamp() + offsets[i], "event_id": i} for i in range(total)
    ]
    with mlake.connect(home) as lake:
        make_group(lake, "crash")
        streams.create(name, partitions=3)

        def produce() -> None:
            for start in range(0, total, 30):
                batch = [PutRecord(str(e["customer_id"]), e) for e in events[start : start + 30]]
                assert streams.put_batch(name, batch).ok
                time.sleep(0.02)

        def snapshots() -> int:
            return len(lake.table("features.crash").iceberg.snapshots())

        kill_deliveries_while_producing(DELIVER, [str(home), url, name], produce, snapshots, seed=11)
        from mlake.streams.features import FeatureDelivery

        FeatureDelivery(lake, streams, name, feature_group="crash").run(idle_timeout=0.5)
        assert offline_ids(lake, "crash") == list(range(total))  # each record once offline
        assert online(lake, "crash", list(range(17))) == latest(events)  # online: the newest by event time


def test_a_query_started_at_latest_sees_only_what_is_put_after_it_was_made(lake: Lake) -> None:
    lake.streams.create("later", partitions=2)
    old = [PutRecord(str(c), {"customer_id": c, "at": T0.isoformat()}) for c in (1, 2, 3)]
    lake.streams.put_batch("later", old)
    query = lake.streams.query(
        "later",
        "SELECT customer_id, count(*) AS n FROM records GROUP BY customer_id",
        "live.later",
        event_time="at",
        window=Window(timedelta(hours=1)),
        start="latest",
    )
    new = [PutRecord("1", {"customer_id": 1, "at": (T0 + timedelta(hours=h)).isoformat()}) for h in (1, 3)]
    lake.streams.put_batch("later", new)
    assert query.run(idle_timeout=0.1).windows == 1  # the 11:00 window closed; the 13:00 one is open
    rows = lake.sql("SELECT customer_id, n FROM live.later").to_arrow().to_pylist()
    assert rows == [{"customer_id": 1, "n": 1}]
    # restarted (a new object), it resumes from its state, not from the stream's end or its start
    lake.streams.put("later", {"customer_id": 2, "at": (T0 + timedelta(hours=3, minutes=5)).isoformat()}, key="2")
    again = lake.streams.query(
        "later",
        "SELECT customer_id, count(*) AS n FROM records GROUP BY customer_id",
        "live.later",
        event_time="at",
        window=Window(timedelta(hours=1)),
        start="latest",
    )
    assert again.run(idle_timeout=0.1, drain=True).windows == 1
    assert lake.sql("SELECT sum(n) FROM live.later").scalar() == 3
    with pytest.raises(MlakeError, match="starts at oldest or latest"):
        lake.streams.query(
            "later",
            "SELECT 1 FROM records",
            "live.x",
            event_time="at",
            window=Window(timedelta(hours=1)),
            start="now",
        )
