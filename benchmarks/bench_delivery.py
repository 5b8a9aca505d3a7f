"""Delivery into a table: throughput (records/s, peak memory) and end-to-end freshness (put -> visible in SQL).

Throughput: N records of ~1 KB JSON are put into an embedded-log stream first; then, each in a fresh
process, the contenders turn them into rows of a table:

- ``mlake delivery``: ``lake.streams.delivery(...).run()`` with buffers of 50,000 records (decode, schema
  fitting, error handling, the position committed with the data, exactly once);
- baseline ``raw read + json.loads + pyiceberg append``: the same reads of the stream, ``json.loads``,
  ``pa.Table.from_pylist`` and a plain pyiceberg ``append`` per 50,000 records (no error table, no position,
  no exactly once): the physical path.

Freshness: a producer puts one record every 5 ms for D seconds while a delivery with a 1-second buffer
runs, and a reader polls ``lake.sql`` every 50 ms; each record's latency is the time from its put to the
first query that returned it. Baseline (same run): the producer appends its records to the table itself
once a second (no stream), read the same way. Target: p99 under buffer interval + 1 s = 2 s.

    .venv/bin/python -m benchmarks.bench_delivery [--quick]
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from typing import Any

from benchmarks.bench_streams import make_records
from benchmarks.common import DATA, machine, report, run_contender

BUFFER = 50_000


def prepare(home: str, n: int) -> None:
    import mlake
    from mlake.streams import PutRecord

    with mlake.connect(home) as lake:
        lake.streams.create("events", partitions=2)
        records = make_records(n)
        for start in range(0, n, 5000):
            assert lake.streams.put_batch("events", [PutRecord(k, v) for k, v in records[start : start + 5000]]).ok


def mlake_delivery(home: str, n: int) -> dict[str, Any]:
    import mlake
    from mlake.streams.delivery import BufferHints

    with mlake.connect(home) as lake:
        hints = BufferHints(max_records=BUFFER, max_bytes=1 << 30, max_seconds=60)
        t = time.perf_counter()
        stats = lake.streams.delivery("events", "bench.mlake", hints=hints).run(idle_timeout=0.2)
        dt = time.perf_counter() - t
        assert stats.rows_written == n, stats
    return {"records": n, "records_per_s": round(n / dt)}


def raw_append(home: str, n: int) -> dict[str, Any]:
    import pyarrow as pa

    import mlake
    from mlake.streams import Position

    with mlake.connect(home) as lake:
        streams = lake.streams
        t = time.perf_counter()
        table = None
        buffer: list[dict[str, Any]] = []
        written = 0

        def flush() -> None:
            nonlocal table, buffer, written
            data = pa.Table.from_pylist(buffer)
            if table is None:
                lake.catalog.create_namespace_if_not_exists("bench")
                table = lake.catalog.create_table(("bench", "raw"), schema=data.schema)
            table.append(data)
            written += len(buffer)
            buffer = []

        for p in range(2):
            position = Position.oldest()
            while True:
                batch = streams.read("events", p, position, limit=5000)
                if not batch.records:
                    break
                position = batch.next_position
                buffer.extend(json.loads(r.data) for r in batch.records)
                if len(buffer) >= BUFFER:
                    flush()
        if buffer:
            flush()
        dt = time.perf_counter() - t
        assert written == n
    return {"records": n, "records_per_s": round(n / dt)}


def _poll_latencies(lake: Any, table: str, put_at: dict[int, float], stop: threading.Event) -> list[float]:
    seen: set[int] = set()
    latencies: list[float] = []
    while not stop.is_set() or len(seen) < len(put_at):
        if lake.table_exists(table):
            now = time.perf_counter()
            ids = lake.sql(f"SELECT id FROM {table}").to_arrow().column("id").to_pylist()
            for i in ids:
                if i not in seen and i in put_at:
                    seen.add(i)
                    latencies.append(now - put_at[i])
        if stop.is_set() and len(seen) >= len(put_at):
            break
        time.sleep(0.05)
    return latencies


def _percentiles(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)  # noqa: E731
    return {"records": len(ordered), "p50_s": pick(0.5), "p99_s": pick(0.99), "max_s": round(ordered[-1], 3)}


def freshness(home: str, seconds: float, through_stream: bool) -> dict[str, Any]:
    import pyarrow as pa

    import mlake
    from mlake.streams.delivery import BufferHints

    with mlake.connect(home) as lake:
        table = "fresh.stream" if through_stream else "fresh.direct"
        put_at: dict[int, float] = {}
        stop = threading.Event()
        done = threading.Event()
        if through_stream:
            lake.streams.create("fresh")
            delivery = lake.streams.delivery("fresh", table, hints=BufferHints(max_seconds=1.0))
            worker = threading.Thread(target=lambda: delivery.run(stop=done))
            worker.start()

        def produce() -> None:
            pending: list[dict[str, Any]] = []
            last_flush = time.perf_counter()
            end = time.perf_counter() + seconds
            i = 0
            while time.perf_counter() < end:
                value = {"id": i, "user": f"u{i % 50}", "payload": "x" * 900}
                put_at[i] = time.perf_counter()
                if through_stream:
                    lake.streams.put("fresh", value, key=value["user"])
                else:
                    pending.append(value)
                    if time.perf_counter() - last_flush >= 1.0:
                        if lake.table_exists(table):
                            lake.table(table).append(pa.Table.from_pylist(pending))
                        else:
                            lake.create_table(table, pa.Table.from_pylist(pending))
                        pending, last_flush = [], time.perf_counter()
                i += 1
                time.sleep(0.005)
            if pending:
                lake.table(table).append(pa.Table.from_pylist(pending))
            stop.set()

        producer = threading.Thread(target=produce)
        producer.start()
        latencies = _poll_latencies(lake, table, put_at, stop)
        producer.join()
        if through_stream:
            done.set()
            worker.join()
    return _percentiles(latencies)


def main() -> None:
    quick = "--quick" in sys.argv
    n = 20_000 if quick else 100_000
    seconds = 8.0 if quick else 30.0
    folder = DATA / "delivery"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    mod = "benchmarks.bench_delivery"
    homes = [str(folder / "a"), str(folder / "b")]
    for home in homes:
        run_contender(mod, "prepare", home, n)
    print(f"\ndelivery throughput: {n:,} records of 1 KB JSON, 2 partitions ({machine()})")
    ours = run_contender(mod, "mlake_delivery", homes[0], n, name="mlake delivery (exactly once)")
    base = run_contender(mod, "raw_append", homes[1], n, name="raw read + json.loads + pyiceberg append")
    tables = [report("delivery throughput", ours, [base])]
    print(f"\nfreshness: one record every 5 ms for {seconds:.0f} s, 1 s buffer, SQL polled every 50 ms")
    stream = run_contender(mod, "freshness", str(folder / "c"), seconds, True, name="mlake stream + delivery")
    direct = run_contender(mod, "freshness", str(folder / "d"), seconds, False, name="producer appends each second")
    tables.append(report("freshness (put -> visible in lake.sql)", stream, [direct], "target: p99 < 2 s"))
    shutil.rmtree(folder, ignore_errors=True)
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
