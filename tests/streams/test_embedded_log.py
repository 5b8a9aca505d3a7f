"""What only the embedded log has to prove: durability under SIGKILL, torn tails, several writing
processes, segments, the index and retention by deleting files."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlake.streams import Position, PutRecord, StreamNotFoundError, Streams
from mlake.streams.log import LogBackend
from mlake.streams.log.frames import INDEX_ENTRY, list_segments, segment_name

# Puts batches forever, printing each acknowledged record as "id partition sequence" once put_batch returns.
PRODUCER = """
import random, sys
from mlake.streams import PutRecord, Streams
from mlake.streams.log import LogBackend

root, name, first_id, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
streams = Streams(LogBackend(root, segment_bytes=int(sys.argv[5])))
rng = random.Random(seed)
next_id = first_id
out = sys.stdout
while True:
    batch = []
    for _ in range(rng.randint(1, 300)):
        batch.append(PutRecord(f"key{rng.randrange(8)}", {"id": next_id, "pad": "x" * rng.randrange(600)}))
        next_id += 1
    result = streams.put_batch(name, batch)
    assert result.ok
    out.write("".join(f"{r.value['id']} {res.partition} {res.sequence}\\n" for r, res in zip(batch, result.results)))
    out.flush()
"""


def read_all(streams: Streams, name: str, partition: int, position: Position | None = None) -> list:  # type: ignore[type-arg]
    out = []
    pos = position or Position.oldest()
    while True:
        batch = streams.read(name, partition, pos, limit=500)
        if not batch.records:
            return out
        out.extend(batch.records)
        pos = batch.next_position


@pytest.mark.slow
def test_every_acknowledged_record_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    root = tmp_path / "streams"
    Streams(LogBackend(root)).create("events", partitions=3)
    acked: dict[int, tuple[int, int]] = {}
    rng = random.Random(11)
    for run in range(6):
        segment_bytes = rng.choice([16 * 1024, 64 * 1024, 64 * 1024 * 1024])  # some runs roll segments often
        proc = subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(root), "events", str(run * 10**7), str(run), str(segment_bytes)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first acknowledgement: the producer is running
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        complete = (first + out).decode().split("\n")[:-1]  # a line cut by the kill is no acknowledgement
        assert complete, f"run {run} acknowledged nothing: {err.decode()[-2000:]}"
        for line in complete:
            rid, partition, seq = map(int, line.split())
            acked[rid] = (partition, seq)

    streams = Streams(LogBackend(root))
    stored: dict[int, tuple[int, int]] = {}
    per_key: dict[str, list[int]] = defaultdict(list)
    for p in range(3):
        records = read_all(streams, "events", p)
        assert [r.sequence for r in records] == list(range(len(records)))  # no hole, no torn frame left
        for r in records:
            rid = r.json()["id"]
            assert rid not in stored, f"record {rid} stored twice"
            stored[rid] = (p, r.sequence)
            per_key[r.key].append(rid)
    missing = [rid for rid in acked if rid not in stored]
    assert missing == [], f"{len(missing)} acknowledged records lost"
    assert all(stored[rid] == where for rid, where in acked.items())
    assert all(ids == sorted(ids) for ids in per_key.values())  # each key's records in the order put
    assert len(acked) > 1000  # the producers really wrote between kills
    # The log is still writable after all the kills, going on from where it was.
    result = streams.put_batch("events", [PutRecord("key0", {"id": -1})])
    assert result[0].sequence == len(read_all(streams, "events", result[0].partition or 0)) - 1


def test_a_torn_tail_is_cut_off_and_writing_goes_on(tmp_path: Path) -> None:
    streams = Streams(LogBackend(tmp_path))
    streams.create("s")
    streams.put_batch("s", [PutRecord("k", {"i": i}) for i in range(5)])
    streams.close()
    segment = tmp_path / "s" / "0" / f"{segment_name(0)}.log"
    whole = segment.read_bytes()
    with open(segment, "ab") as f:  # half of a frame, as a writer killed inside write() leaves it
        f.write(whole[: len(whole) // 5 // 2 + 3])
    reopened = Streams(LogBackend(tmp_path))
    assert [r.json()["i"] for r in read_all(reopened, "s", 0)] == list(range(5))  # readers stop before it
    result = reopened.put_batch("s", [PutRecord("k", {"i": 5})])
    assert result[0].sequence == 5
    assert segment.stat().st_size == len(whole) // 5 * 6  # the torn half-frame was cut before appending
    assert [r.json()["i"] for r in read_all(reopened, "s", 0)] == list(range(6))
    assert [r.sequence for r in read_all(reopened, "s", 0)] == list(range(6))


def test_several_processes_append_to_one_stream(tmp_path: Path) -> None:
    """Writers in other processes serialise on the partition lock: no sequence number is given twice."""
    Streams(LogBackend(tmp_path)).create("shared", partitions=2)
    code = """
import sys
from mlake.streams import PutRecord, Streams
from mlake.streams.log import LogBackend
s = Streams(LogBackend(sys.argv[1], segment_bytes=8192))
w = sys.argv[2]
for b in range(40):
    assert s.put_batch("shared", [PutRecord(f"{w}-{i % 3}", {"w": w, "n": b * 10 + i}) for i in range(10)]).ok
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), f"w{i}"]) for i in range(3)]
    local = Streams(LogBackend(tmp_path, segment_bytes=8192))
    for b in range(40):  # this process writes at the same time
        assert local.put_batch("shared", [PutRecord(f"me-{i % 3}", {"w": "me", "n": b * 10 + i}) for i in range(10)]).ok
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    per_key: dict[str, list[int]] = defaultdict(list)
    total = 0
    for p in range(2):
        records = read_all(local, "shared", p)
        assert [r.sequence for r in records] == list(range(len(records)))
        total += len(records)
        for r in records:
            per_key[r.key].append(r.json()["n"])
    assert total == 4 * 400
    for key, ns in per_key.items():
        assert ns == sorted(ns), key
    assert len(list_segments(tmp_path / "shared" / "0")) > 3  # segments rolled while others wrote


def test_segments_and_the_index_serve_every_position(tmp_path: Path) -> None:
    streams = Streams(LogBackend(tmp_path, segment_bytes=4096))
    streams.create("s")
    stamps = []
    for b in range(20):
        streams.put_batch("s", [PutRecord("k", {"i": b * 25 + i, "pad": "p" * 150}) for i in range(25)])
        stamps.append(datetime.now(UTC))
        time.sleep(0.002)
    assert len(list_segments(tmp_path / "s" / "0")) >= 20
    everything = read_all(streams, "s", 0)
    assert [r.json()["i"] for r in everything] == list(range(500))
    for seq in (0, 1, 24, 25, 137, 250, 499):
        assert streams.read("s", 0, Position.at(seq), limit=1).records[0].json()["i"] == seq
        assert [r.sequence for r in streams.read("s", 0, Position.after(seq), limit=2).records] == [
            s for s in (seq + 1, seq + 2) if s < 500
        ]
    for b, stamp in enumerate(stamps[:-1]):
        first = streams.read("s", 0, Position.at_time(stamp), limit=1).records[0]
        assert first.json()["i"] == (b + 1) * 25
    # A damaged index (it is not synced) costs a scan, never a wrong answer.
    for idx in (tmp_path / "s" / "0").glob("*.idx"):
        idx.write_bytes(INDEX_ENTRY.pack(7, 0, 12345) * 3)
    assert [r.json()["i"] for r in read_all(streams, "s", 0, Position.at(137))] == list(range(137, 500))


def test_retention_deletes_whole_old_segments(tmp_path: Path) -> None:
    streams = Streams(LogBackend(tmp_path, segment_bytes=2048))
    streams.create("s", retention=timedelta(seconds=1))
    for i in range(40):  # a segment rolls between batches, never inside one
        streams.put("s", {"old": i, "pad": "p" * 200}, key="k")
    before = len(list_segments(tmp_path / "s" / "0"))
    assert before > 3
    time.sleep(1.2)
    streams.put_batch("s", [PutRecord("k", {"new": 1})])
    streams.put_batch("s", [PutRecord("k", {"new": 2})])
    after = list_segments(tmp_path / "s" / "0")
    assert after[0] >= 40  # every segment of expired records is gone, the newest old one too
    assert [r.json() for r in read_all(streams, "s", 0)] == [{"new": 1}, {"new": 2}]
    assert read_all(streams, "s", 0)[0].sequence == 40  # numbering goes on, never restarts


def test_a_stream_deleted_elsewhere_is_noticed(tmp_path: Path) -> None:
    writer = Streams(LogBackend(tmp_path))
    other = Streams(LogBackend(tmp_path))
    writer.create("s")
    writer.put("s", {"i": 1}, key="k")
    other.delete("s")
    with pytest.raises(StreamNotFoundError):
        writer.put("s", {"i": 2}, key="k")
    with pytest.raises(StreamNotFoundError):
        writer.read("s", 0)
    other.create("s", partitions=1)
    assert writer.put("s", {"i": 3}, key="k").sequence == 0  # the new stream starts afresh
    assert [r.json() for r in read_all(other, "s", 0)] == [{"i": 3}]


def test_checkpoints_survive_a_new_process_and_are_files(tmp_path: Path) -> None:
    streams = Streams(LogBackend(tmp_path))
    streams.create("s", partitions=2)
    streams.put_batch("s", [PutRecord(f"k{i}", i) for i in range(10)])
    group = streams.group("s", "g")
    group.poll(limit=4)
    written = group.commit()
    stored = json.loads((tmp_path / "s" / "groups" / "g.json").read_text())
    assert {int(k): v for k, v in stored.items()} == written
    assert Streams(LogBackend(tmp_path)).group("s", "g").checkpoints() == written
    assert not [p for p in os.listdir(tmp_path / "s" / "groups") if p.endswith(".tmp")]
