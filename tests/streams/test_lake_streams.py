"""``lake.streams``: the settings' backend, grants on ``stream:NAME`` (deny by default, owners pass),
deliveries the lake knows about, and ``status`` (lag in records and seconds, throughput, errors)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlake
from mlake.errors import PermissionDeniedError, ValidationError
from mlake.governance.model import Scope, check_privilege
from mlake.lake import Lake
from mlake.streams import Position, PutRecord


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    lk = mlake.connect(tmp_path / "lake", threads=2, user="owner")
    lk.governance.create_principal("bob")
    lk.governance.create_principal("carl")
    lk.streams.create("clicks", partitions=2)
    try:
        yield lk
    finally:
        lk.close()


def test_the_settings_stream_url_is_used(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    with mlake.connect(tmp_path / "lake", stream_url=f"file://{folder}") as lk:
        lk.streams.create("orders")
        assert lk.streams.describe("orders").backend == f"file://{folder}"
    assert (folder / "orders").exists()


def test_stream_scopes_and_words() -> None:
    assert Scope.parse("stream:clicks") == Scope("stream", "clicks")
    assert str(Scope.parse("stream:*")) == "stream:*"
    assert check_privilege("write") == "insert" and check_privilege("READ") == "select"
    with pytest.raises(ValidationError):
        Scope.parse("stream:Not A Name")
    assert not Scope.parse("stream:clicks").covers_table(mlake.tables.names.TableName("shop", "clicks"), {})


def test_a_principal_needs_a_grant_for_each_thing(lake: Lake) -> None:
    bob = lake.as_principal("bob")
    refusals = [
        lambda: bob.streams.put("clicks", {"a": 1}, key="k"),
        lambda: bob.streams.read("clicks", 0),
        lambda: bob.streams.describe("clicks"),
        lambda: bob.streams.group("clicks", "etl"),
        lambda: bob.streams.status("clicks"),
        lambda: bob.streams.create("mine"),
        lambda: bob.streams.delete("clicks"),
        lambda: bob.streams.delivery("clicks", "raw.clicks"),
        lambda: bob.streams.backend,
    ]
    for refused in refusals:
        with pytest.raises(PermissionDeniedError):
            refused()
    assert bob.streams.list_streams() == []
    # the same words whether or not the stream exists: probing names teaches nothing
    with pytest.raises(PermissionDeniedError) as there:
        bob.streams.read("clicks", 0)
    with pytest.raises(PermissionDeniedError) as not_there:
        bob.streams.read("nowhere", 0)
    assert there.value.message.replace("clicks", "X") == not_there.value.message.replace("nowhere", "X")

    lake.governance.grant("bob", "write", "stream:clicks")
    assert bob.streams.put_batch("clicks", [PutRecord("u1", {"a": 1}), PutRecord("u2", {"a": 2})]).ok
    with pytest.raises(PermissionDeniedError):  # writing is not reading
        bob.streams.read("clicks", 0)
    assert bob.streams.list_streams() == ["clicks"]
    lake.governance.grant("bob", "read", "stream:clicks")
    got = [r.json()["a"] for p in range(2) for r in bob.streams.read("clicks", p, Position.oldest()).records]
    assert sorted(got) == [1, 2]
    lake.governance.revoke("bob", "read", "stream:clicks")  # a revoke applies to the next call of a handle
    with pytest.raises(PermissionDeniedError):
        bob.streams.read("clicks", 0)
    assert lake.governance_service.audit_events(principal="bob", action="stream.put")


def test_creators_own_their_streams_and_grants_go_with_them(lake: Lake) -> None:
    carl = lake.as_principal("carl")
    lake.governance.grant("carl", "alter", "stream:*")
    carl.streams.create("carls")
    carl.streams.put("carls", {"x": 1}, key="a")
    assert [r.json() for r in carl.streams.read("carls", 0).records] == [{"x": 1}]
    assert carl.streams.list_streams() == ["carls", "clicks"]  # stream:* covers every stream's listing
    carl.streams.delete("carls")
    assert [str(g.scope) for g in lake.governance.grants("carl")] == ["stream:*"]
    lake.streams.create("carls")  # a new stream of the name starts clean
    lake.governance.revoke("carl", "alter", "stream:*")
    with pytest.raises(PermissionDeniedError):
        carl.streams.read("carls", 0)


def test_a_principals_delivery_writes_with_its_table_grants(lake: Lake) -> None:
    lake.governance.grant("bob", "read", "stream:clicks")
    lake.streams.put_batch("clicks", [PutRecord(f"u{i}", {"n": i}) for i in range(10)])
    bob = lake.as_principal("bob")
    with pytest.raises(PermissionDeniedError):  # reading the stream is not creating tables in raw
        bob.streams.delivery("clicks", "raw.clicks").run(idle_timeout=0.2)
    lake.governance.grant("bob", "alter", "raw")
    stats = bob.streams.delivery("clicks", "raw.clicks").run(idle_timeout=0.2)
    assert stats.rows_written == 10
    assert lake.sql("SELECT sum(n) AS s FROM raw.clicks").to_arrow().to_pylist() == [{"s": 45}]


def test_status_reports_lag_throughput_and_errors(lake: Lake) -> None:
    streams = lake.streams
    streams.put_batch("clicks", [PutRecord(f"u{i % 3}", {"n": i}) for i in range(20)])
    streams.put("clicks", b"not json", key="u1")
    group = streams.group("clicks", "etl")
    group.poll(limit=5)
    group.commit()
    delivery = streams.delivery("clicks", "raw.clicks", name="to-table")
    before = streams.status("clicks")
    assert before.records_last_minute == 21 and before.records_per_second == pytest.approx(21 / 60)
    (etl,) = before.groups
    assert (etl.name, etl.lag_records, etl.lag_capped) == ("etl", 16, False) and etl.lag_seconds >= 0
    assert before.deliveries == []  # registered when it first runs
    time.sleep(0.05)
    delivery.run(idle_timeout=0.2)
    after = streams.status("clicks")
    (d,) = after.deliveries
    assert (d.name, d.table, d.error_table, d.error_rows) == ("to-table", "raw.clicks", "raw.clicks_errors", 1)
    assert d.lag.lag_records == 0 and d.lag.lag_seconds == 0.0 and d.last_flush_at is not None
    assert d.last_error is None
    streams.put("clicks", {"n": 99}, key="u9")
    time.sleep(0.05)
    behind = streams.status("clicks").deliveries[0].lag
    assert behind.lag_records == 1 and behind.lag_seconds >= 0.05


def test_a_failed_delivery_leaves_its_error_for_status(lake: Lake) -> None:
    """Two processes run one delivery by mistake: the slower one's commit is refused, and status shows why."""
    import threading

    from mlake.streams.delivery import BufferHints, DeliveryConflictError

    lake.streams.put_batch("clicks", [PutRecord(f"u{i}", {"n": i}) for i in range(5)])
    slow = lake.streams.delivery("clicks", "raw.clicks", hints=BufferHints(max_seconds=0.6))
    fast = lake.streams.delivery("clicks", "raw.clicks", hints=BufferHints(max_seconds=0.01))
    failure: list[BaseException] = []

    def run_slow() -> None:
        try:
            slow.run(idle_timeout=2.0)
        except DeliveryConflictError as exc:
            failure.append(exc)

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(0.2)  # the slow one has read and buffered the records
    assert fast.run(idle_timeout=0.1).rows_written == 5
    thread.join(5)
    assert failure, "the second commit from the same position must be refused"
    (d,) = lake.streams.status("clicks").deliveries
    assert d.last_error is not None and "another process" in d.last_error
    assert lake.table("raw.clicks").count() == 5
