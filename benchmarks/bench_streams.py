"""Stream producers: acknowledged 1 KB JSON records per second in batches, per backend, vs its raw client.

Each contender puts the same records (dicts of ~1 KB once encoded as JSON, 100 keys) in batches and
counts a record when its batch is acknowledged: after ``fdatasync`` for the embedded log, after the
server's reply for NATS JetStream and Redis. Each runs in a fresh process; the baselines are the
physical limit of each backend here:

- embedded log: ``Streams.put_batch`` on ``file://`` vs raw ``json.dumps`` + one ``os.write`` +
  ``fdatasync`` per batch into one plain file (no framing, no checksums, no index, no partitions); each
  once with dicts (JSON encoding included) and once with the JSON already encoded to bytes;
- NATS: ``Streams.put_batch`` vs raw nats-py ``publish_async`` of every record then awaiting the acks;
- Redis: ``Streams.put_batch`` vs a raw redis-py pipeline of ``XADD`` per batch.

Target: the embedded log acknowledges >= 50,000 durable records/s on 2 cores.

    .venv/bin/python -m benchmarks.bench_streams [--quick]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from typing import Any

from benchmarks.common import DATA, Measurement, machine, report, run_contender

NATS_URL = "nats://127.0.0.1:4222"
REDIS_URL = "redis://127.0.0.1:6379/0"
BATCH = 500


def make_records(n: int) -> list[tuple[str, dict[str, Any]]]:
    """n (key, value) pairs whose values encode to about 1 KB of JSON each."""
    out = []
    for i in range(n):
        value = {
            "event_id": i,
            "user_id": f"user-{i % 100}",
            "event": "page_view",
            "ts": "2026-12-02T05:00:00.000000+00:00",
            "url": f"https://shop.example/products/{i % 977}",
            "attributes": {"device": "mobile", "country": "DE", "campaign": "winter"},
        }
        value["padding"] = "x" * (1024 - len(json.dumps(value, separators=(",", ":"))) - 14)
        out.append((f"user-{i % 100}", value))
    return out


def _figures(n: int, seconds: float) -> dict[str, Any]:
    return {"records": n, "records_per_s": round(n / seconds), "MB_per_s": round(n * 1024 / seconds / 1e6, 1)}


def _values(n: int, encoded: bool) -> list[tuple[str, Any]]:
    """The records as dicts (the producer pays for JSON encoding) or as JSON already encoded to bytes."""
    records = make_records(n)
    if not encoded:
        return list(records)
    return [(k, json.dumps(v, separators=(",", ":")).encode()) for k, v in records]


def mlake_put(url: str, n: int, partitions: int, encoded: bool = False) -> dict[str, Any]:
    from mlake.streams import PutRecord, open_streams

    records = _values(n, encoded)
    streams = open_streams(url)
    name = f"bench{uuid.uuid4().hex[:8]}"
    streams.create(name, partitions=partitions)
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        result = streams.put_batch(name, [PutRecord(k, v) for k, v in records[start : start + BATCH]])
        assert result.ok, result.results[result.failed_indices[0]]
    dt = time.perf_counter() - t
    streams.delete(name)
    streams.close()
    return _figures(n, dt)


def raw_file(path: str, n: int, encoded: bool = False) -> dict[str, Any]:
    records = _values(n, encoded)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        batch = records[start : start + BATCH]
        if encoded:
            chunk = b"\n".join(v for _, v in batch)
        else:
            chunk = b"\n".join(json.dumps(v, separators=(",", ":")).encode() for _, v in batch)
        os.write(fd, chunk)
        os.fdatasync(fd)
    dt = time.perf_counter() - t
    os.close(fd)
    os.unlink(path)
    return _figures(n, dt)


def raw_nats(n: int) -> dict[str, Any]:
    import asyncio

    import nats

    records = make_records(n)
    name = f"bench{uuid.uuid4().hex[:8]}"

    async def run() -> float:
        nc = await nats.connect(NATS_URL)
        js = nc.jetstream()
        await js.add_stream(name=name, subjects=[f"{name}.*"])
        t = time.perf_counter()
        for start in range(0, n, BATCH):
            futures = [
                await js.publish_async(f"{name}.{hash(k) % 4}", json.dumps(v, separators=(",", ":")).encode())
                for k, v in records[start : start + BATCH]
            ]
            for f in futures:
                await f
        dt = time.perf_counter() - t
        await js.delete_stream(name)
        await nc.close()
        return dt

    return _figures(n, asyncio.run(run()))


def raw_redis(n: int) -> dict[str, Any]:
    import redis

    records = make_records(n)
    client = redis.Redis.from_url(REDIS_URL)
    key = f"bench{uuid.uuid4().hex[:8]}"
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        pipe = client.pipeline(transaction=False)
        for k, v in records[start : start + BATCH]:
            pipe.xadd(f"{key}:{hash(k) % 4}", {"k": k, "d": json.dumps(v, separators=(",", ":"))})
        pipe.execute()
    dt = time.perf_counter() - t
    client.delete(*(f"{key}:{p}" for p in range(4)))
    return _figures(n, dt)


def _as_rate(m: Measurement) -> Measurement:
    """report() compares seconds; the contenders' own timers (around the puts only) are what counts."""
    return Measurement(m.name, m.extra["records"] / m.extra["records_per_s"], m.peak_mb, m.extra)


def main() -> None:
    quick = "--quick" in sys.argv
    n = 40_000 if quick else 200_000
    folder = DATA / "streams"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    mod = "benchmarks.bench_streams"
    tables = []
    for label, ours, baselines, note in [
        (
            "embedded log",
            [
                run_contender(mod, "mlake_put", f"file://{folder}/a", n, 1, name="mlake log, 1 partition, dicts"),
                run_contender(mod, "mlake_put", f"file://{folder}/b", n, 4, name="mlake log, 4 partitions, dicts"),
                run_contender(mod, "mlake_put", f"file://{folder}/c", n, 1, True, name="mlake log, 1 partition, bytes"),
                run_contender(
                    mod, "mlake_put", f"file://{folder}/d", n, 4, True, name="mlake log, 4 partitions, bytes"
                ),
            ],
            [
                run_contender(mod, "raw_file", str(folder / "raw.jsonl"), n, name="raw json.dumps + write + fdatasync"),
                run_contender(
                    mod, "raw_file", str(folder / "raw2.jsonl"), n, True, name="raw write + fdatasync (bytes)"
                ),
            ],
            "target: >= 50,000 acknowledged durable records/s",
        ),
        (
            "NATS JetStream",
            [run_contender(mod, "mlake_put", f"{NATS_URL}?prefix=mlakebench", n, 4, name="mlake NATS, 4 partitions")],
            [run_contender(mod, "raw_nats", n, name="raw nats-py publish_async")],
            "",
        ),
        (
            "Redis Streams",
            [run_contender(mod, "mlake_put", f"{REDIS_URL}?prefix=mlakebench", n, 4, name="mlake Redis, 4 partitions")],
            [run_contender(mod, "raw_redis", n, name="raw redis-py pipelined XADD")],
            "",
        ),
    ]:
        print(f"\n{label}: {n:,} records of 1 KB JSON in batches of {BATCH} ({machine()})")
        first, *others = (_as_rate(m) for m in ours)
        tables.append(report(f"{label} producer", first, [*others, *(_as_rate(b) for b in baselines)], note))
    shutil.rmtree(folder, ignore_errors=True)
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
