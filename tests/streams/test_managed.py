"""Managed deliveries: run by ``mlake worker`` under a lease, handed over when a worker stops or dies,
exactly once throughout, with the grants of whoever made them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import mlake
from mlake.errors import NotFoundError, PermissionDeniedError, ValidationError
from mlake.lake import Lake
from mlake.pipelines.service import Worker
from mlake.streams import PutRecord
from mlake.streams.delivery import BufferHints
from mlake.streams.managed import ManagedStore

FAST = BufferHints(max_records=50, max_seconds=0.05)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def lake(home: Path) -> Iterator[Lake]:
    lk = mlake.connect(home, threads=2, user="owner")
    lk.governance.create_principal("bob")
    lk.streams.create("clicks", partitions=2)
    try:
        yield lk
    finally:
        lk.close()


def wait_for(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def ids(lake: Lake, table: str = "raw.clicks") -> list[int]:
    if not lake.table_exists(table):
        return []
    return sorted(lake.sql(f"SELECT n FROM {table}").to_arrow().column("n").to_pylist())


def last_error(lake: Lake) -> str:
    deliveries = lake.streams.status("clicks").deliveries
    return (deliveries[0].last_error or "") if deliveries else ""


def put(lake: Lake, start: int, stop: int) -> None:
    assert lake.streams.put_batch("clicks", [PutRecord(f"u{i % 5}", {"n": i}) for i in range(start, stop)]).ok


def test_one_worker_of_two_runs_it_and_the_other_takes_over_exactly_once(lake: Lake, home: Path) -> None:
    spec = lake.streams.manage("clicks", "raw.clicks", hints=FAST, transform_sql="SELECT n FROM records")
    assert (spec.stream, spec.name, spec.into, spec.principal) == ("clicks", "clicks", "raw.clicks", None)
    assert [d.name for d in lake.streams.managed()] == ["clicks"]
    one, two = mlake.connect(home, user="owner"), mlake.connect(home, user="owner")  # two worker processes' lakes
    w1, w2 = Worker(one, "w1"), Worker(two, "w2")
    try:
        put(lake, 0, 300)
        w1.run_once()
        w2.run_once()
        assert w1.deliveries is not None and w2.deliveries is not None
        assert (w1.deliveries.running(), w2.deliveries.running()) == ([("clicks", "clicks")], [])
        wait_for(lambda: ids(lake) == list(range(300)))
        assert ManagedStore(lake._core.metadata_engine).get("clicks", "clicks").worker == "w1"  # type: ignore[union-attr]

        w1.close()  # a worker stopping writes what it buffered and frees the lease
        put(lake, 300, 600)
        w2.run_once()
        assert w2.deliveries.running() == [("clicks", "clicks")]
        wait_for(lambda: ids(lake) == list(range(600)))
        assert lake.table("raw.clicks").columns == ["n"]  # the stored SQL transform ran
    finally:
        w1.close()
        w2.close()
        one.close()
        two.close()


def test_a_dead_workers_lease_is_taken_over_when_it_expires(lake: Lake) -> None:
    lake.streams.manage("clicks", "raw.clicks", hints=FAST)
    store = ManagedStore(lake._core.metadata_engine)
    assert store.claim("clicks", "clicks", "dead", timedelta(seconds=1))  # it died holding the lease
    put(lake, 0, 40)
    worker = Worker(lake, "alive")
    try:
        worker.run_once()
        assert worker.deliveries is not None and worker.deliveries.running() == []
        time.sleep(1.1)
        worker.run_once()
        assert worker.deliveries.running() == [("clicks", "clicks")]
        wait_for(lambda: ids(lake) == list(range(40)))
    finally:
        worker.close()
    assert store.get("clicks", "clicks").worker is None  # type: ignore[union-attr]


def test_unmanaging_stops_it_and_managing_again_resumes_from_the_committed_position(lake: Lake) -> None:
    lake.streams.manage("clicks", "raw.clicks", hints=FAST)
    worker = Worker(lake, "w")
    try:
        put(lake, 0, 100)
        worker.run_once()
        wait_for(lambda: ids(lake) == list(range(100)))
        lake.streams.unmanage("clicks")
        worker.run_once()
        assert worker.deliveries is not None and worker.deliveries.running() == []
        put(lake, 100, 150)
        time.sleep(0.3)
        assert ids(lake) == list(range(100))  # nobody delivers now
        lake.streams.manage("clicks", "raw.clicks", hints=FAST)
        worker.run_once()
        wait_for(lambda: ids(lake) == list(range(150)))  # each record once: resumed, not restarted
    finally:
        worker.close()
    with pytest.raises(NotFoundError):
        lake.streams.unmanage("clicks", "nope")


def test_a_changed_definition_restarts_it(lake: Lake) -> None:
    lake.streams.manage("clicks", "raw.clicks", hints=FAST)
    worker = Worker(lake, "w")
    try:
        put(lake, 0, 10)
        worker.run_once()
        wait_for(lambda: ids(lake) == list(range(10)))
        lake.streams.manage("clicks", "raw.clicks", hints=FAST, transform_sql="SELECT n, n * 2 AS twice FROM records")
        worker.run_once()  # lost its lease to the change: stopped
        worker.run_once()  # claimed again, with the new definition
        put(lake, 10, 20)
        wait_for(lambda: ids(lake) == list(range(20)))
        twice = lake.sql("SELECT n, twice FROM raw.clicks WHERE n >= 10 ORDER BY n").to_arrow().to_pylist()
        assert twice == [{"n": n, "twice": 2 * n} for n in range(10, 20)]
    finally:
        worker.close()


def test_it_runs_with_its_makers_grants_and_only_they_remove_it(lake: Lake) -> None:
    bob = lake.as_principal("bob")
    with pytest.raises(PermissionDeniedError):
        bob.streams.manage("clicks", "raw.clicks")  # no grant on the stream
    lake.governance.grant("bob", "read", "stream:clicks")
    spec = bob.streams.manage("clicks", "raw.clicks", hints=FAST)
    assert spec.principal == "bob"
    assert [d.name for d in bob.streams.managed()] == ["clicks"]
    worker = Worker(lake, "w")
    try:
        put(lake, 0, 10)
        worker.run_once()
        wait_for(lambda: "raw" in last_error(lake))
        assert not lake.table_exists("raw.clicks")  # bob may not create tables in raw: nor may his delivery
        lake.governance.grant("bob", "alter", "raw")
        worker.run_once()  # the failed delivery is restarted on the next round
        worker.run_once()
        wait_for(lambda: ids(lake) == list(range(10)))
    finally:
        worker.close()
    lake.governance.create_principal("carl")
    lake.governance.grant("carl", "read", "stream:clicks")
    with pytest.raises(PermissionDeniedError, match="another principal"):
        lake.as_principal("carl").streams.unmanage("clicks")
    bob.streams.unmanage("clicks")
    assert lake.streams.managed() == []


def test_bad_definitions_are_refused_when_saved(lake: Lake) -> None:
    with pytest.raises(ValidationError):
        lake.streams.manage("clicks", "raw.clicks", transform_sql="DELETE FROM records")
    with pytest.raises(ValidationError):
        lake.streams.manage("clicks", "raw.clicks", max_record_bytes=0)
    assert lake.streams.managed() == []
