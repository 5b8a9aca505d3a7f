"""Data capture: records/s into a lake table and the call latency of ``log`` (p50, p99), nothing lost.

    .venv/bin/python -m benchmarks.bench_capture [--quick]

Four client threads each log ``RECORDS / 4`` requests (8 input features, 2 outputs, a request id) through
``lake.capture`` (bounded queue of 100,000, batches of 10,000 or 1 s, the default drop-when-full policy),
paced together at ``RATE`` records/s; the run ends when ``close()`` has written everything. A second run
("burst") logs as fast as the threads can with ``on_full="block"``, which measures the writer's capacity. Figures: end-to-end records/s (first call to last commit), the
per-call latency of ``log`` (p50, p99, max, measured around every call), and the count check — records
stored in the table must equal records logged (dropped and failed must be 0).

Baseline in the same run: what a caller does without a capture logger — append each request to the
table synchronously (``Table.append`` of one row, one Iceberg commit per request), for ``BASELINE_CALLS``
requests. Its per-call latency is the price the logger's queue hides from the model.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Measurement, machine, report, run_contender

RECORDS = 1_000_000
QUICK_RECORDS = 100_000
BASELINE_CALLS = 100
THREADS = 4
RATE = 20_000  # records/s over all threads: the rate at which nothing may be lost


def _request(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = {f"f{k}": float((i * (k + 3)) % 997) for k in range(7)}
    inputs["region"] = ("north", "south", "east", "west")[i % 4]
    return inputs, {"prediction": i % 2, "probability": (i % 100) / 100}


def capture_run(records: int, rate: float | None) -> dict[str, Any]:
    import numpy as np

    import mlake

    with tempfile.TemporaryDirectory() as home, mlake.connect(Path(home) / "lake", threads=2) as lake:
        logger = lake.capture("bench", "v1", on_full="drop" if rate else "block")
        per_thread = records // THREADS
        latencies = [np.empty(per_thread) for _ in range(THREADS)]
        payloads = [_request(i) for i in range(1000)]

        def client(k: int) -> None:
            lat = latencies[k]
            clock = time.perf_counter
            log = logger.log
            t0 = clock()
            for i in range(per_thread):
                if rate and i % 100 == 0:  # keep to the schedule: i records by i / (rate / THREADS) seconds
                    ahead = t0 + i * THREADS / rate - clock()
                    if ahead > 0:
                        time.sleep(ahead)
                inputs, outputs = payloads[i % 1000]
                t = clock()
                log(inputs, outputs, request_id=f"{k}-{i}")
                lat[i] = clock() - t

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        calls_done = time.perf_counter() - start
        stats = logger.close(timeout=None)
        elapsed = time.perf_counter() - start
        stored = lake.table("capture.bench").count()
        all_lat = np.concatenate(latencies) * 1e6
        return {
            "records": records,
            "stored": stored,
            "dropped": stats.dropped,
            "failed": stats.failed,
            "batches": stats.batches,
            "records_per_s": round(records / elapsed),
            "calls_s": round(calls_done, 2),
            "p50_us": round(float(np.percentile(all_lat, 50)), 1),
            "p99_us": round(float(np.percentile(all_lat, 99)), 1),
            "max_us": round(float(all_lat.max()), 1),
        }


def synchronous_appends(calls: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa

    import mlake

    with tempfile.TemporaryDirectory() as home, mlake.connect(Path(home) / "lake", threads=2) as lake:
        inputs, outputs = _request(0)
        first = pa.Table.from_pylist([{"request_id": "x", **inputs, **outputs}])
        table = lake.create_table("capture.sync", first)
        lat = np.empty(calls)
        for i in range(calls):
            inputs, outputs = _request(i)
            t = time.perf_counter()
            table.append(pa.Table.from_pylist([{"request_id": str(i), **inputs, **outputs}]))
            lat[i] = time.perf_counter() - t
        lat *= 1e6
        return {
            "records": calls,
            "records_per_s": round(calls / (lat.sum() / 1e6), 1),
            "p50_us": round(float(np.percentile(lat, 50)), 1),
            "p99_us": round(float(np.percentile(lat, 99)), 1),
        }


def main() -> None:
    records = QUICK_RECORDS if "--quick" in sys.argv else RECORDS
    ours = run_contender(
        "benchmarks.bench_capture",
        "capture_run",
        records,
        RATE,
        name=f"lake.capture, {records:,} records at {RATE:,}/s",
    )
    burst = run_contender(
        "benchmarks.bench_capture",
        "capture_run",
        records,
        None,
        name=f"lake.capture burst (on_full=block), {records:,} records",
    )
    base = run_contender(
        "benchmarks.bench_capture",
        "synchronous_appends",
        BASELINE_CALLS,
        name=f"synchronous Table.append per request, {BASELINE_CALLS} requests",
    )
    # Compare per-call latency (p99 of log vs p99 of a synchronous append), in milliseconds per call.
    per_call = [Measurement(m.name, m.extra["p99_us"] / 1000, m.peak_mb, m.extra) for m in (ours, burst, base)]
    note = (
        f"{machine()}. 'seconds' here is the p99 call latency in ms. Stored {ours.extra['stored']:,} of "
        f"{records:,} (dropped {ours.extra['dropped']}, failed {ours.extra['failed']}). log() p99 "
        f"{ours.extra['p99_us']} µs vs synchronous append p99 {base.extra['p99_us']} µs "
        f"({base.extra['p99_us'] / ours.extra['p99_us']:.0f}× lower)."
    )
    print(report("Data capture", per_call[0], per_call[1:], note))
    print(f"burst capacity: {burst.extra['records_per_s']:,} records/s")
    if ours.extra["stored"] != records:
        raise SystemExit("records were lost")


if __name__ == "__main__":
    main()
