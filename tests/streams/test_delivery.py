"""Delivery of a stream into a table: buffering, the error table, and exactly once across SIGKILLs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import mlake
from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.streams import PutRecord, Streams, open_streams
from mlake.streams.delivery import (
    BufferHints,
    Delivery,
    DeliveryConflictError,
    delivered_positions,
    position_is,
)
from mlake.streams.models import Record
from tests.streams.crash import delivery_script, kill_deliveries_while_producing


@pytest.fixture
def log_streams(lake: Lake) -> Streams:
    """The embedded log in the lake's home, with a stream "events" of 3 partitions."""
    s = open_streams(None, home=lake.settings.home)
    s.create("events", partitions=3)
    return s


def ids(lake: Lake, table: str) -> list[int]:
    return [r["id"] for r in lake.sql(f"SELECT id FROM {table} ORDER BY id").to_arrow().to_pylist()]


def test_buffers_by_record_count_and_commits_the_position_with_the_data(lake: Lake, log_streams: Streams) -> None:
    log_streams.put_batch("events", [PutRecord(f"u{i % 4}", {"id": i, "user": f"u{i % 4}"}) for i in range(25)])
    delivery = Delivery(lake, log_streams, "events", "raw.events", hints=BufferHints(max_records=10, max_seconds=60))
    stats = delivery.run(idle_timeout=0.3)
    assert (stats.flushes, stats.records, stats.rows_written, stats.errors) == (3, 25, 25, 0)
    assert ids(lake, "raw.events") == list(range(25))
    table = lake.table("raw.events").iceberg
    assert len(table.snapshots()) == 3  # one snapshot per buffer written
    last = {p: recs[-1].sequence for p in range(3) if (recs := log_streams.read("events", p).records)}
    summary = table.current_snapshot().summary.additional_properties  # type: ignore[union-attr]
    assert json.loads(summary["mlake.delivery.events"]) == {str(p): s for p, s in last.items()}
    assert delivery.positions() == last == stats.positions

    log_streams.put_batch("events", [PutRecord("u9", {"id": 25, "user": "u9", "new_field": 1.5})])
    again = Delivery(lake, log_streams, "events", "raw.events").run(idle_timeout=0.3)  # a restart resumes
    assert again.records == 1
    assert ids(lake, "raw.events") == list(range(26))
    assert lake.sql("SELECT new_field FROM raw.events WHERE id = 25").to_arrow().to_pylist() == [{"new_field": 1.5}]


def test_buffers_by_time_and_bytes(lake: Lake, log_streams: Streams) -> None:
    stop = threading.Event()
    delivery = Delivery(lake, log_streams, "events", "raw.timed", hints=BufferHints(max_seconds=0.2))
    worker = threading.Thread(target=lambda: delivery.run(stop=stop))
    worker.start()
    try:
        log_streams.put("events", {"id": 1}, key="a")
        deadline = time.monotonic() + 10
        while not (lake.table_exists("raw.timed") and ids(lake, "raw.timed") == [1]):
            assert time.monotonic() < deadline, "a buffered record was not written within its time hint"
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
    by_bytes = Delivery(
        lake, log_streams, "events", "raw.sized", hints=BufferHints(max_bytes=100, max_records=10**6, max_seconds=60)
    )
    log_streams.put_batch("events", [PutRecord("a", {"id": i, "pad": "x" * 40}) for i in range(2, 8)])
    stats = by_bytes.run(idle_timeout=0.3)
    assert stats.rows_written == 7
    # Greedy pieces of at most 100 bytes: {"id":1} (8 bytes) shares a piece with the first 53-byte record,
    # every other 53-byte record is a piece of its own.
    assert stats.flushes == 6
    snapshots = lake.table("raw.sized").iceberg.snapshots()
    assert [int(s.summary.additional_properties["added-records"]) for s in snapshots] == [2, 1, 1, 1, 1, 1]  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        BufferHints(max_records=0)


def test_bad_records_land_in_the_error_table_with_their_reason(lake: Lake, log_streams: Streams) -> None:
    lake.create_table("raw.typed", pa.table({"id": pa.array([0], pa.int64()), "name": ["zero"]}))
    log_streams.put_batch(
        "events",
        [
            PutRecord("a", {"id": 1, "name": "one"}),
            PutRecord("a", b"{not json"),
            PutRecord("b", [1, 2, 3]),
            PutRecord("b", {"id": "two", "name": "id is not a number"}),
            PutRecord("c", {"id": 3, "name": "three"}),
            PutRecord("c", {}),
        ],
    )
    stats = Delivery(lake, log_streams, "events", "raw.typed").run(idle_timeout=0.3)
    assert (stats.rows_written, stats.errors) == (2, 4)
    assert ids(lake, "raw.typed") == [0, 1, 3]  # good records keep flowing
    errors = lake.sql("SELECT key, data, reason FROM raw.typed_errors ORDER BY key, sequence").to_arrow().to_pylist()
    assert [(e["key"], e["data"]) for e in errors] == [
        ("a", b"{not json"),
        ("b", b"[1,2,3]"),
        ("b", b'{"id":"two","name":"id is not a number"}'),
        ("c", b"{}"),
    ]
    assert errors[0]["reason"].startswith("not JSON")
    assert "not a JSON object" in errors[1]["reason"]
    assert "does not fit the table" in errors[2]["reason"] and "'id'" in errors[2]["reason"]
    assert "not a JSON object" in errors[3]["reason"]
    # Only bad records in a buffer: the position still moves on, so they are not delivered twice.
    log_streams.put("events", b"bad", key="a")
    Delivery(lake, log_streams, "events", "raw.typed").run(idle_timeout=0.3)
    Delivery(lake, log_streams, "events", "raw.typed").run(idle_timeout=0.3)
    assert lake.sql("SELECT count(*) AS n FROM raw.typed_errors").to_arrow().to_pylist() == [{"n": 5}]


def test_the_commit_is_refused_when_the_position_moved(lake: Lake, log_streams: Streams) -> None:
    log_streams.put_batch("events", [PutRecord("a", {"id": i}) for i in range(5)])
    delivery = Delivery(lake, log_streams, "events", "raw.cas")
    delivery.run(idle_timeout=0.3)
    table = lake.table("raw.cas")
    stale = position_is(delivery.key, {}, "raw.cas")  # what a second process that started earlier expects
    with pytest.raises(DeliveryConflictError, match="another process delivered"):
        table.append(pa.table({"id": [99]}), properties={delivery.key: "{}"}, precondition=stale)
    assert ids(lake, "raw.cas") == list(range(5))  # nothing of the refused batch was committed
    assert delivered_positions(table.iceberg, delivery.key) == delivery.positions()


def test_delivery_on_every_backend_resumes_exactly_once(lake: Lake, streams: Streams, name: str) -> None:
    """The delivery needs only the backend protocol: the same run, restart and error table on each backend
    (whose sequence numbers differ: contiguous, stream-wide, or packed entry IDs)."""
    streams.create(name, partitions=2)
    streams.put_batch(name, [PutRecord(f"k{i % 5}", {"id": i}) for i in range(30)] + [PutRecord("k1", b"x")])
    hints = BufferHints(max_records=7, max_seconds=60)
    first = Delivery(lake, streams, name, "raw.any", name="any", hints=hints).run(max_flushes=2)
    assert first.records == 14
    streams.put_batch(name, [PutRecord(f"k{i % 5}", {"id": i}) for i in range(30, 40)])
    rest = Delivery(lake, streams, name, "raw.any", name="any", hints=hints).run(idle_timeout=0.5)
    assert first.records + rest.records == 41
    assert ids(lake, "raw.any") == list(range(40))
    assert lake.sql("SELECT count(*) AS n FROM raw.any_errors").to_arrow().to_pylist() == [{"n": 1}]
    assert Delivery(lake, streams, name, "raw.any", name="any").run(idle_timeout=0.3).records == 0


DELIVER = delivery_script('Delivery(lake, streams, name, "raw.exact", hints=hints)')


@pytest.mark.slow
def test_a_delivery_killed_at_random_moments_delivers_each_record_exactly_once(
    tmp_path: Path, streams: Streams, name: str
) -> None:
    home = tmp_path / "lake"
    url = streams.backend.identity
    with mlake.connect(home) as lake:
        streams.create(name, partitions=3)
        total = 3000
        kills = 3

        def produce() -> None:  # producers keep writing while the delivery is killed and restarted
            for start in range(0, total, 30):
                batch = []
                for i in range(start, start + 30):
                    value = b"garbage" if i % 97 == 0 else {"id": i, "user": f"u{i % 13}"}
                    batch.append(PutRecord(f"u{i % 13}", value))
                assert streams.put_batch(name, batch).ok
                time.sleep(0.02)

        def snapshots() -> int:
            return len(lake.table("raw.exact").iceberg.snapshots()) if lake.table_exists("raw.exact") else 0

        kill_deliveries_while_producing(DELIVER, [str(home), url, name], produce, snapshots, kills=kills)
        snapshots_before_final = len(lake.table("raw.exact").iceberg.snapshots())
        final = Delivery(lake, streams, name, "raw.exact").run(idle_timeout=0.5)
        bad = [i for i in range(total) if i % 97 == 0]
        assert ids(lake, "raw.exact") == [i for i in range(total) if i % 97]  # each good record once
        errors = lake.sql("SELECT sequence, partition, data FROM raw.exact_errors").to_arrow().to_pylist()
        assert len(errors) == len(bad)  # each bad record once in the error table
        assert len({(e["partition"], e["sequence"]) for e in errors}) == len(bad)
        last = {p: read_to_end(streams, name, p) for p in range(3)}
        assert final.positions == {p: seq for p, seq in last.items() if seq is not None}
        assert snapshots_before_final >= kills  # the killed deliveries really committed between kills


def read_to_end(streams: Streams, name: str, partition: int) -> int | None:
    last = None
    batch = streams.read(name, partition, limit=1000)
    while batch.records:
        last = batch.records[-1].sequence
        batch = streams.read(name, partition, batch.next_position, limit=1000)
    return last


class Crash(BaseException):
    """Stands for a SIGKILL: nothing after it runs, and the next delivery starts from the tables."""


class CrashingDelivery(Delivery):
    """Dies at ``crash_at``: before the error table's commit, after it (before the data table's: the
    window between the two commits), or after the data table's commit."""

    crash_at = "after errors"

    def _write_errors(self, errors: list[tuple[Record, str]], reached: dict[int, int]) -> None:
        if self.crash_at == "before errors":
            raise Crash
        super()._write_errors(errors, reached)
        if self.crash_at == "after errors":
            raise Crash

    def _flushed(self, *args: Any, **kwargs: Any) -> None:
        if self.crash_at == "after data":
            raise Crash
        super()._flushed(*args, **kwargs)


@pytest.mark.parametrize("crash_at", ["before errors", "after errors", "after data"])
def test_a_restart_after_a_crash_between_the_two_commits_writes_no_error_row_twice(
    lake: Lake, streams: Streams, name: str, crash_at: str
) -> None:
    """The error table's position never goes back, though the restart's first buffer may end earlier in
    some partition than the buffer that died (here: a busy partition fills it alone). The crash between
    the error table's commit and the data table's is the case that wrote an error row twice."""
    streams.create(name, partitions=2)
    key = {
        partition: next(k for k in (f"k{i}" for i in range(100)) if streams.partition_of(name, k) == partition)
        for partition in (0, 1)
    }
    hints = BufferHints(max_records=10, max_seconds=1e-6)
    streams.put_batch(name, [PutRecord(key[0], {"id": 0}), PutRecord(key[1], {"id": 1})])
    Delivery(lake, streams, name, "raw.crash", hints=hints).run(max_flushes=1)
    # The buffer that dies holds both partitions and a bad record of partition 1.
    streams.put_batch(name, [PutRecord(key[0], {"id": i}) for i in (2, 3)] + [PutRecord(key[1], b"bad 1")])
    crashing = CrashingDelivery(lake, streams, name, "raw.crash", hints=hints)
    crashing.crash_at = crash_at
    with pytest.raises(Crash):
        crashing.run(max_flushes=1)
    # Partition 0 then fills the restart's first buffer by itself, with a bad record not written yet.
    busy = [PutRecord(key[0], {"id": i}) for i in range(4, 12)]
    streams.put_batch(name, [*busy[:4], PutRecord(key[0], b"bad 0"), *busy[4:]])
    stats = Delivery(lake, streams, name, "raw.crash", hints=hints).run(idle_timeout=0.3)
    # Unless the data of the buffer that died was committed, the busy partition fills the first buffer.
    assert stats.flushes == (1 if crash_at == "after data" else 2)
    assert ids(lake, "raw.crash") == list(range(12))
    errors = lake.sql("SELECT partition, data FROM raw.crash_errors ORDER BY partition").to_arrow().to_pylist()
    assert errors == [{"partition": 0, "data": b"bad 0"}, {"partition": 1, "data": b"bad 1"}]
