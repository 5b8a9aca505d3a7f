"""Group-by over a 10M-row table: `lake.sql` vs raw DuckDB `read_parquet` over the same data files.

    .venv/bin/python -m benchmarks.bench_sql [--rows 10000000]

mlake's figure includes everything a user waits for: catalog lookup, Iceberg scan planning (manifests),
view binding, and the query. Each contender runs in its own process: one cold query, then the best of
five warm ones.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import DATA, machine, report, run_contender

MODULE = "benchmarks.bench_sql"
QUERY = (
    "select channel, count(*) as n, sum(amount) as total, avg(qty) as avg_qty, "
    "count(distinct customer_id) as customers from {t} group by channel order by channel"
)


def home(rows: int) -> Path:
    return DATA / f"sql_lake_{rows}"


def build(rows: int) -> None:
    import mlake

    h = home(rows)
    if (h / "ready").exists():
        return
    lake = mlake.connect(h)
    lake.drop_table("bench.orders", missing_ok=True)
    lake.sql(f"""create table bench.orders as
        select i as order_id, (i * 7919) % 100000 as customer_id,
               timestamp '2024-01-01' + to_seconds(i) as ordered_at, round(random() * 500, 2) as amount,
               ['web', 'app', 'store', 'partner'][1 + (i % 4)] as channel, i % 97 as qty,
               md5(i::varchar) as note
        from range({rows}) t(i)""")
    (h / "ready").write_text("ok")


def _times(run: object) -> dict[str, object]:
    t = time.perf_counter()
    first = run()  # type: ignore[operator]
    cold = time.perf_counter() - t
    warm = []
    for _ in range(5):
        t = time.perf_counter()
        run()  # type: ignore[operator]
        warm.append(time.perf_counter() - t)
    return {"cold_s": round(cold, 3), "warm_best_s": round(min(warm), 3), "groups": len(first)}


def ours(rows: int) -> dict[str, object]:
    import mlake

    lake = mlake.connect(home(rows))
    return _times(lambda: lake.sql(QUERY.format(t="bench.orders")).fetchall())


def raw(rows: int) -> dict[str, object]:
    import os

    import duckdb

    files = str(home(rows) / "warehouse" / "bench" / "orders" / "data" / "**" / "*.parquet")
    con = duckdb.connect(config={"threads": os.cpu_count() or 2})
    return _times(lambda: con.sql(QUERY.format(t=f"read_parquet('{files}')")).fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    build(args.rows)
    mine = run_contender(MODULE, "ours", args.rows)
    base = run_contender(MODULE, "raw", args.rows)
    # compare the warm query times (each subprocess's wall time includes both cold and warm runs)
    mine.seconds, base.seconds = float(mine.extra["warm_best_s"]), float(base.extra["warm_best_s"])  # type: ignore[arg-type]
    mine.name, base.name = "lake.sql (Iceberg scan plan + DuckDB)", "raw DuckDB read_parquet"
    md = report(f"Group-by over {args.rows:,} rows ({machine()})", mine, [base])
    print(md)
    cold = float(mine.extra["cold_s"]) / float(base.extra["cold_s"])  # type: ignore[arg-type]
    print(f"\nwarm ratio lake.sql / raw = {mine.seconds / base.seconds:.2f} (target ≤ 1.2); cold ratio {cold:.2f}")


if __name__ == "__main__":
    main()
