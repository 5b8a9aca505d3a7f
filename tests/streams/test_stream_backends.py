"""The one suite every stream backend passes: the embedded log, NATS JetStream and Redis Streams."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlake
from mlake.errors import ConfigError, ValidationError
from mlake.streams import (
    Position,
    PutError,
    PutRecord,
    Record,
    RecordDecodeError,
    StreamExistsError,
    StreamNotFoundError,
    Streams,
    open_streams,
    partition_for,
)


def read_all(streams: Streams, name: str, partition: int, position: Position | None = None) -> list[Record]:
    """Every record of a partition from a position, paging with small reads to exercise next_position."""
    out: list[Record] = []
    pos = position or Position.oldest()
    while True:
        batch = streams.read(name, partition, pos, limit=7)
        if not batch.records:
            return out
        out.extend(batch.records)
        pos = batch.next_position


def read_everything(streams: Streams, name: str) -> dict[int, list[Record]]:
    return {p: read_all(streams, name, p) for p in range(streams.describe(name).partitions)}


def test_create_describe_list_delete(streams: Streams, name: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    d = streams.create(name, partitions=3, retention=timedelta(hours=6))
    assert (d.name, d.partitions, d.retention) == (name, 3, timedelta(hours=6))
    assert before <= d.created_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert streams.describe(name) == d
    assert d.backend == streams.backend.identity
    streams.create(f"{name}-b", partitions=1)
    assert streams.list_streams() == sorted([name, f"{name}-b"])
    with pytest.raises(StreamExistsError):
        streams.create(name, partitions=1)
    streams.delete(f"{name}-b")
    assert streams.list_streams() == [name]
    with pytest.raises(StreamNotFoundError):
        streams.describe(f"{name}-b")
    with pytest.raises(StreamNotFoundError):
        streams.delete(f"{name}-b")
    with pytest.raises(StreamNotFoundError):
        streams.put(f"{name}-b", {"a": 1}, key="k")


def test_bad_arguments_are_refused_with_a_clear_error(streams: Streams, name: str) -> None:
    for bad in ("", "Upper", "has space", "a.b", "x" * 64, "1abc"):
        with pytest.raises(ValidationError, match="Invalid stream name"):
            streams.create(bad)
    with pytest.raises(ValidationError, match="partitions"):
        streams.create(name, partitions=0)
    with pytest.raises(ValidationError, match="retention"):
        streams.create(name, retention=timedelta(0))
    streams.create(name, partitions=2)
    with pytest.raises(ValidationError, match="no partition 2"):
        streams.read(name, 2)
    with pytest.raises(ValidationError, match="sequence number"):
        Position.at(-1)
    with pytest.raises(ValidationError, match="timezone-aware"):
        Position.at_time(datetime(2024, 1, 1))
    with pytest.raises(ValidationError, match="consumer group"):
        streams.group(name, "Bad Group")


def test_values_round_trip_as_bytes_and_json(streams: Streams, name: str) -> None:
    streams.create(name)
    values = [b"\x00\xffraw", {"user": "ünï", "n": 1.5, "tags": ["a"]}, "a string", 42, None, [1, 2]]
    results = streams.put_batch(name, [PutRecord("k", v) for v in values])
    assert results.ok and len(results) == len(values)
    records = read_all(streams, name, 0)
    assert [r.key for r in records] == ["k"] * len(values)
    assert records[0].data == b"\x00\xffraw"
    assert [r.json() for r in records[1:]] == values[1:]
    assert records[1].data == '{"user":"ünï","n":1.5,"tags":["a"]}'.encode()
    with pytest.raises(RecordDecodeError, match="is not JSON"):
        records[0].json()
    assert [r.sequence for r in records] == [res.sequence for res in results.results]
    assert all(r.stream == name and r.partition == 0 for r in records)


def test_records_of_one_key_keep_their_order(streams: Streams, name: str) -> None:
    streams.create(name, partitions=4)
    keys = [f"user-{i}" for i in range(12)]
    sent: dict[str, list[int]] = defaultdict(list)
    for batch in range(5):
        records = []
        for i in range(60):
            key = keys[(i * 7 + batch) % len(keys)]
            n = len(sent[key])
            sent[key].append(n)
            records.append(PutRecord(key, {"key": key, "n": n}))
        result = streams.put_batch(name, records)
        assert result.ok
        for rec, res in zip(records, result.results, strict=True):
            assert res.partition == partition_for(rec.key, 4) == streams.partition_of(name, rec.key)
    got: dict[str, list[int]] = defaultdict(list)
    for partition, records in read_everything(streams, name).items():
        seqs = [r.sequence for r in records]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        stamps = [r.timestamp_us for r in records]
        assert stamps == sorted(stamps)
        for r in records:
            assert partition_for(r.key, 4) == partition
            got[r.key].append(r.json()["n"])
    assert got == sent
    assert len({partition_for(k, 4) for k in keys}) > 1  # the keys really spread over partitions


def test_a_bad_record_fails_alone_and_can_be_retried(streams: Streams, name: str) -> None:
    streams.create(name, partitions=2)
    limit = streams.max_record_bytes
    records = [
        PutRecord("a", {"i": 0}),
        PutRecord("b", b"x" * (limit + 1)),  # too large
        PutRecord("a", {"i": 2}),
        PutRecord("", {"i": 3}),  # no key
        PutRecord("c", {"bad": object()}),  # not JSON
        PutRecord("b", b"y" * limit),  # exactly the limit: stored
    ]
    result = streams.put_batch(name, records)
    assert result.failed_indices == [1, 3, 4]
    assert [r.error_code for r in result.results] == [None, "record_too_large", None, "invalid_key", "not_json", None]
    assert not result.results[1].retryable and result.results[1].error
    assert "more than this stream's limit" in (result.results[1].error or "")
    stored = {r.sequence for p in read_everything(streams, name).values() for r in p}
    assert stored == {result[i].sequence for i in (0, 2, 5)}
    retry = streams.put_batch(name, [PutRecord("b", b"x" * 10), PutRecord("d", {"i": 3})])
    assert retry.ok
    everything = [r for p in read_everything(streams, name).values() for r in p]
    assert len(everything) == 5
    with pytest.raises(PutError, match="more than this stream's limit"):
        streams.put(name, b"z" * (limit + 1), key="k")


def test_every_position(streams: Streams, name: str) -> None:
    streams.create(name)
    first = streams.put_batch(name, [PutRecord("k", {"i": i}) for i in range(5)])
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    latest = streams.read(name, 0, Position.latest())
    assert latest.records == []
    second = streams.put_batch(name, [PutRecord("k", {"i": i}) for i in range(5, 10)])
    seqs = [r.sequence for r in first.results + second.results]
    assert all(s is not None for s in seqs)

    def values(pos: Position) -> list[int]:
        return [r.json()["i"] for r in read_all(streams, name, 0, pos)]

    assert values(Position.oldest()) == list(range(10))
    assert values(latest.next_position) == list(range(5, 10))  # LATEST pinned where it was read
    assert streams.read(name, 0, Position.latest()).records == []
    assert values(Position.at(seqs[3])) == list(range(3, 10))
    assert values(Position.after(seqs[3])) == list(range(4, 10))
    assert values(Position.after(seqs[-1])) == []
    assert values(Position.at_time(middle)) == list(range(5, 10))
    assert values(Position.at_time(middle - timedelta(hours=1))) == list(range(10))
    assert values(Position.at_time(datetime.now(UTC) + timedelta(hours=1))) == []
    one = streams.read(name, 0, Position.oldest(), limit=1)
    assert [r.json()["i"] for r in one.records] == [0]
    assert one.next_position == Position.after(one.records[0].sequence)
    empty = streams.read(name, 0, Position.after(seqs[-1]))
    assert empty.next_position == Position.after(seqs[-1])


def test_records_past_retention_are_gone(streams: Streams, name: str) -> None:
    streams.create(name, retention=timedelta(seconds=1))
    streams.put_batch(name, [PutRecord("k", {"old": i}) for i in range(3)])
    time.sleep(1.3)
    fresh = streams.put_batch(name, [PutRecord("k", {"new": i}) for i in range(2)])
    records = read_all(streams, name, 0)
    assert [r.json() for r in records] == [{"new": 0}, {"new": 1}]
    assert [r.sequence for r in records] == [r.sequence for r in fresh.results]
    assert read_all(streams, name, 0, Position.at(0)) == records


def test_consumer_groups_are_independent_and_resume_from_checkpoints(streams: Streams, name: str) -> None:
    streams.create(name, partitions=3)
    streams.put_batch(name, [PutRecord(f"k{i % 9}", {"i": i}) for i in range(30)])
    etl = streams.group(name, "etl")
    first = etl.poll(limit=10)
    assert len(first) == 10
    assert set(etl.commit().values()) <= {r.sequence for r in first}
    uncommitted = etl.poll(limit=8)
    assert len(uncommitted) == 8
    assert not {(r.partition, r.sequence) for r in uncommitted} & {(r.partition, r.sequence) for r in first}

    audit = streams.group(name, "audit")  # another application: starts at the oldest, sees everything
    seen = [r.json()["i"] for r in audit.poll(limit=100)]
    assert sorted(seen) == list(range(30))
    audit.commit()
    assert audit.poll() == []

    restarted = streams.group(name, "etl")  # a restarted etl consumer: after its checkpoints, not its cursor
    rest = restarted.poll(limit=100)
    assert sorted(r.json()["i"] for r in first + rest) == list(range(30))
    assert {(r.partition, r.sequence) for r in uncommitted} <= {(r.partition, r.sequence) for r in rest}
    restarted.commit()
    assert streams.group(name, "etl").poll() == []
    assert streams.groups(name) == ["audit", "etl"]

    streams.put_batch(name, [PutRecord("k1", {"i": 30})])
    assert [r.json()["i"] for r in streams.group(name, "etl").poll()] == [30]
    assert [r.json()["i"] for r in streams.group(name, "audit").poll()] == [30]
    streams.delete_group(name, "audit")
    assert streams.groups(name) == ["etl"]
    assert len(streams.group(name, "audit").poll(limit=100)) == 31
    with pytest.raises(StreamNotFoundError):
        streams.delete_group(name, "never")


def test_a_group_starting_at_latest_sees_only_new_records(streams: Streams, name: str) -> None:
    streams.create(name, partitions=2)
    streams.put_batch(name, [PutRecord(f"k{i}", {"i": i}) for i in range(6)])
    live = streams.group(name, "live", start=Position.latest())
    streams.put_batch(name, [PutRecord(f"k{i}", {"i": i}) for i in range(6, 9)])
    assert sorted(r.json()["i"] for r in live.poll()) == [6, 7, 8]
    live.checkpoint(0, 0)  # an explicit checkpoint is durable too
    assert streams.group(name, "live").checkpoints() == {0: 0}


def test_concurrent_producers_keep_per_key_order(streams: Streams, name: str) -> None:
    streams.create(name, partitions=2)
    errors: list[BaseException] = []

    def produce(worker: int) -> None:
        try:
            for b in range(10):
                r = streams.put_batch(name, [PutRecord(f"w{worker}", {"n": b * 10 + i}) for i in range(10)])
                assert r.ok
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    per_key: dict[str, list[int]] = defaultdict(list)
    for records in read_everything(streams, name).values():
        for r in records:
            per_key[r.key].append(r.json()["n"])
    assert per_key == {f"w{w}": list(range(100)) for w in range(4)}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    puts=st.lists(st.tuples(st.sampled_from("abcdefg"), st.binary(max_size=40)), min_size=1, max_size=60),
    cuts=st.lists(st.integers(1, 60), max_size=6),
    partitions=st.integers(1, 4),
)
def test_any_batches_read_back_exactly_once_in_key_order(
    streams: Streams, puts: list[tuple[str, bytes]], cuts: list[int], partitions: int
) -> None:
    """Whatever the records and however they are cut into batches, reading every partition gives each
    record once, each key's records in the order put."""
    name = f"prop{time.monotonic_ns() % 10**12}"
    streams.create(name, partitions=partitions)
    bounds = sorted({0, len(puts), *(c for c in cuts if c < len(puts))})
    for lo, hi in itertools.pairwise(bounds):
        assert streams.put_batch(name, [PutRecord(k, v) for k, v in puts[lo:hi]]).ok
    expected: dict[str, list[bytes]] = defaultdict(list)
    for k, v in puts:
        expected[k].append(v)
    got: dict[str, list[bytes]] = defaultdict(list)
    for records in read_everything(streams, name).values():
        for r in records:
            got[r.key].append(r.data)
    assert got == expected
    streams.delete(name)


def test_the_backend_registry_lists_the_stream_backends(tmp_path: Path) -> None:
    from mlake.backends import backends

    assert {name: b.schemes for name, b in backends("stream").items()} == {
        "log": ("file",),
        "nats": ("nats", "tls"),
        "redis": ("redis", "rediss"),
    }
    url = f"file://{tmp_path / 'elsewhere'}"
    with mlake.connect(tmp_path / "lake", stream_url=url) as lake:  # accepted at connect
        s = open_streams(lake.settings.stream_url, home=lake.settings.home)
        assert s.backend.identity == url
    with pytest.raises(ConfigError, match="Unsupported stream URL"):
        mlake.connect(tmp_path / "lake2", stream_url="ftp://x")


def test_unknown_backends_are_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="Unsupported stream URL"):
        open_streams("ftp://host/x")
    with pytest.raises(ConfigError, match="Kafka"):
        open_streams("kafka://127.0.0.1:9092")
    with pytest.raises(ConfigError, match="no lake home"):
        open_streams(None)
