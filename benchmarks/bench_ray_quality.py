"""Profile and a 20-check suite on Ray (1 and 2 workers) versus DuckDB, on the same lake table.

``.venv/bin/python -m benchmarks.bench_ray_quality`` (``--rows N``, default 2,000,000 rows × 20 columns in
8 data files, the orders of :mod:`benchmarks.quality_data`). Contenders, each in a fresh process:

- ``DuckDB``: ``lake.quality.profile(...)`` / ``lake.quality.check(...)``, the in-process engine (2 threads).
- ``Ray, N CPUs``: the same calls with ``engine="ray"`` on a local Ray of N CPUs started first (its start-up
  is reported apart, not in the time): a DuckDB task per data file, partial aggregates merged in the driver,
  keyed stages for the exact distinct counts (see :mod:`mlake.quality.partitioned`). Ray's worker
  processes are not in the peak memory figure.

The results are compared too: the numbers of the Ray runs must be those of the DuckDB run (the engine suite,
``tests/quality/test_engines.py``, checks every figure).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from benchmarks.bench_checks import SUITE
from benchmarks.common import DATA, machine, report, run_contender
from benchmarks.quality_data import orders_select

FILES = 8
TABLE = "bench.orders"


def home(rows: int) -> str:
    return str(DATA / f"ray-quality-{rows}")


def ensure_table(rows: int) -> None:
    """The orders table in ``FILES`` appends (one data file each), made once."""
    import mlake

    with mlake.connect(home(rows)) as lake:
        if lake.table_exists(TABLE) and lake.table(TABLE).count() == rows:
            return
        lake.drop_table(TABLE, missing_ok=True)
        per = rows // FILES
        for n in range(FILES):
            part = orders_select(rows).replace(f"range({int(rows)})", f"range({n * per}, {(n + 1) * per})")
            if n == 0:
                lake.sql(f"CREATE TABLE {TABLE} AS {part}")
            else:
                lake.table(TABLE).append(lake.sql(part).to_arrow())


def _ray(cpus: int) -> float:
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    return time.perf_counter() - started


def profile(rows: int, engine: str, cpus: int = 0) -> dict[str, Any]:
    import mlake

    start_up = _ray(cpus) if engine == "ray" else 0.0
    with mlake.connect(home(rows), threads=2) as lake:
        t = time.perf_counter()
        p = lake.quality.profile(TABLE, save=False, engine=engine)
        seconds = time.perf_counter() - t
    return {
        "measure_s": round(seconds, 2),
        "ray_start_s": round(start_up, 2),
        "rows": p.rows,
        "duplicate_rows": p.duplicate_rows,
        "mean_amount": float(f"{p['amount'].mean:.9g}"),  # floating sums: equal to 1e-9
        "distinct_email": p["email"].distinct,
    }


def suite(rows: int, engine: str, cpus: int = 0) -> dict[str, Any]:
    import mlake

    start_up = _ray(cpus) if engine == "ray" else 0.0
    with mlake.connect(home(rows), threads=2) as lake:
        t = time.perf_counter()
        result = lake.quality.check(TABLE, SUITE, save=False, engine=engine)
        seconds = time.perf_counter() - t
    return {
        "measure_s": round(seconds, 2),
        "ray_start_s": round(start_up, 2),
        "failing": sum(r.failing_rows or 0 for r in result.results),
        "passed": sum(r.passed for r in result.results),
    }


def main() -> str:
    import os

    rows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 2_000_000
    ensure_table(rows)
    load = os.getloadavg()
    out = []
    for what, label in (("profile", "profile (20 columns)"), ("suite", "suite of 20 checks")):
        duck = run_contender("benchmarks.bench_ray_quality", what, rows, "duckdb", name=f"{label}, DuckDB")
        ray1 = run_contender("benchmarks.bench_ray_quality", what, rows, "ray", 1, name=f"{label}, Ray 1 CPU")
        ray2 = run_contender("benchmarks.bench_ray_quality", what, rows, "ray", 2, name=f"{label}, Ray 2 CPUs")
        same = {k: v for k, v in duck.extra.items() if k not in ("measure_s", "ray_start_s")}
        agree = all({k: r.extra[k] for k in same} == same for r in (ray1, ray2))
        note = (
            f"{rows:,} rows in {FILES} data files. Ray with 2 CPUs takes {ray2.seconds / duck.seconds:.2f}× the DuckDB "
            f"time (Ray start-up {ray2.extra['ray_start_s']} s included); without start-up "
            f"{ray2.extra['measure_s'] / duck.extra['measure_s']:.2f}×. 1 → 2 CPUs: "
            f"{ray1.extra['measure_s'] / ray2.extra['measure_s']:.2f}× faster ({FILES} partitions, "
            f"{ray2.extra['measure_s'] / FILES:.2f} s per partition with 2 CPUs). Same figures: "
            f"{'yes' if agree else 'NO'}. Load average before the run {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}. "
            f"{machine()}"
        )
        out.append(report(f"{label} on {rows:,} rows: Ray vs DuckDB", duck, [ray1, ray2], note) + "\n\n" + note)
    return "\n\n".join(out)


if __name__ == "__main__":
    main()
