"""The one suite every online store passes (SQLite and Redis): newer-wins upserts in any order."""

from __future__ import annotations

import random
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlake.features.online import OnlineRecord, OnlineStore, StoredValue, entity_key


def test_upsert_then_read_in_the_order_asked(online_store: OnlineStore) -> None:
    online_store.upsert("g", [OnlineRecord("1", 10, 1, '{"a": 1}'), OnlineRecord("2", 20, 1, '{"a": 2}')])
    assert online_store.read("g", ["2", "missing", "1", "2"]) == [
        StoredValue(20, 1, '{"a": 2}'),
        None,
        StoredValue(10, 1, '{"a": 1}'),
        StoredValue(20, 1, '{"a": 2}'),
    ]
    assert online_store.read("g", ["1"]) == [StoredValue(10, 1, '{"a": 1}')]
    assert online_store.read("other_group", ["1"]) == [None]
    assert online_store.count("g") == 2


def test_an_older_event_never_overwrites_a_newer_one(online_store: OnlineStore) -> None:
    assert online_store.upsert("g", [OnlineRecord("k", 100, 5, '"new"')]) == 1
    assert online_store.upsert("g", [OnlineRecord("k", 99, 9, '"old event, written later"')]) == 0
    assert online_store.read("g", ["k"]) == [StoredValue(100, 5, '"new"')]


def test_equal_event_times_the_later_write_wins(online_store: OnlineStore) -> None:
    online_store.upsert("g", [OnlineRecord("k", 100, 7, '"second write"')])
    online_store.upsert("g", [OnlineRecord("k", 100, 3, '"first write, arriving late"')])
    assert online_store.read("g", ["k"])[0] == StoredValue(100, 7, '"second write"')
    online_store.upsert("g", [OnlineRecord("k", 100, 7, '"same record again"')])  # re-send: idempotent
    assert online_store.read("g", ["k"])[0] == StoredValue(100, 7, '"same record again"')


def test_within_one_batch_the_newest_wins_whatever_its_position(online_store: OnlineStore) -> None:
    online_store.upsert(
        "g", [OnlineRecord("k", 3, 1, '"c"'), OnlineRecord("k", 5, 1, '"e"'), OnlineRecord("k", 4, 1, '"d"')]
    )
    assert online_store.read("g", ["k"])[0].payload == '"e"'  # type: ignore[union-attr]


def test_reconcile_replaces_and_removes_except_what_was_written_later(online_store: OnlineStore) -> None:
    """After offline rows were deleted, materialization puts back older values and removes entities that
    have none left; a record written online after the offline snapshot (write time above the bound) stays."""
    online_store.upsert(
        "g",
        [
            OnlineRecord("newest-deleted", 100, 10, '"deleted row"'),
            OnlineRecord("all-deleted", 50, 10, '"gone offline"'),
            OnlineRecord("written-later", 70, 30, '"online write after the snapshot"'),
        ],
    )
    changed = online_store.reconcile(
        "g",
        [OnlineRecord("newest-deleted", 90, 5, '"older, still offline"'), OnlineRecord("written-later", 60, 5, '"x"')],
        ["all-deleted", "written-later", "never-stored"],
        20,  # the snapshot's newest write time
    )
    assert changed == 2
    assert online_store.read("g", ["newest-deleted", "all-deleted", "written-later", "never-stored"]) == [
        StoredValue(90, 5, '"older, still offline"'),  # replaced although its event time is older
        None,
        StoredValue(70, 30, '"online write after the snapshot"'),
        None,
    ]
    assert online_store.reconcile("g", [], [], 20) == 0
    assert online_store.reconcile("g", [OnlineRecord("new", 1, 1, '"made"')], [], 20) == 1
    assert online_store.count("g") == 3


def test_keys_lists_a_groups_entities(online_store: OnlineStore) -> None:
    online_store.upsert("g", [OnlineRecord(k, 1, 1, "1") for k in ("a", "b:c", "d e", "\u00e9t\u00e9")])
    online_store.upsert("other", [OnlineRecord("z", 1, 1, "1")])
    assert sorted(online_store.keys("g")) == sorted(["a", "b:c", "d e", "\u00e9t\u00e9"])
    assert list(online_store.keys("none")) == []


def test_drop_group_and_many_keys(online_store: OnlineStore) -> None:
    records = [OnlineRecord(str(i), i, 1, str(i)) for i in range(2500)]
    online_store.upsert("big", records)
    online_store.upsert("keep", [OnlineRecord("1", 1, 1, "1")])
    keys = [str(i) for i in range(0, 2500, 3)]
    assert [v.payload for v in online_store.read("big", keys) if v] == keys
    assert online_store.count("big") == 2500
    online_store.drop_group("big")
    assert online_store.count("big") == 0
    assert online_store.read("keep", ["1"])[0] is not None


def test_composite_and_odd_keys(online_store: OnlineStore) -> None:
    key = entity_key([42, "shop:berlin", True])
    assert key == "42\x1fshop:berlin\x1ftrue"
    online_store.upsert("g", [OnlineRecord(key, 1, 1, "{}"), OnlineRecord("ü ñ *?[", 1, 1, "{}")])
    assert online_store.read("g", [key, "ü ñ *?["]) == [StoredValue(1, 1, "{}"), StoredValue(1, 1, "{}")]
    assert online_store.count("g") == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_out_of_order_writes_end_at_the_newest(
    online_store: OnlineStore, events: list[tuple[int, int, int]], seed: int
) -> None:
    group = f"prop{seed}_{random.randrange(10**9)}"
    records = [OnlineRecord(str(k), et, wt, f"[{k}, {et}, {wt}]") for k, et, wt in events]
    shuffled = records[:]
    random.Random(seed).shuffle(shuffled)
    for start in range(0, len(shuffled), 4):  # several batches, arriving in a random order
        online_store.upsert(group, shuffled[start : start + 4])
    for key in {r.key for r in records}:
        newest = max((r for r in records if r.key == key), key=lambda r: (r.event_time_us, r.write_time_us))
        stored = online_store.read(group, [key])[0]
        assert stored is not None
        assert (stored.event_time_us, stored.write_time_us) == (newest.event_time_us, newest.write_time_us)
    online_store.drop_group(group)


def test_concurrent_out_of_order_writers(online_store: OnlineStore) -> None:
    records = [OnlineRecord(str(k), et, 1, str(et)) for k in range(20) for et in range(50)]
    chunks = [records[i::4] for i in range(4)]
    for c in chunks:
        random.Random(len(c)).shuffle(c)
    threads = [threading.Thread(target=online_store.upsert, args=("c", c)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [v.event_time_us for v in online_store.read("c", [str(k) for k in range(20)]) if v] == [49] * 20
