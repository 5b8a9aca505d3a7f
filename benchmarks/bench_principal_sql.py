"""A principal's query vs the owner's on the same table: the cost of the sandbox's registered scans.

    .venv/bin/python -m benchmarks.bench_principal_sql [--rows 5000000]

The owner's views read the data files with DuckDB's ``read_parquet``; a principal's sandboxed database
may open no file, so its views read the same files through ``pyarrow.dataset`` scans registered from
Python (see ``mlake.tables.arrow_scan``). Both contenders run the same queries on the same table in
their own process: a group-by over every row, a selective filter (pushdown into the scan) and a
projection of two columns. The principal is a superuser (no masks or filters), so the figure is the
scan's cost alone; a masked, row-filtered principal is measured too. Each query: one cold run, then
the best of five warm ones.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, machine, report, run_contender

MODULE = "benchmarks.bench_principal_sql"
QUERIES = {
    "group_by": (
        "select channel, count(*) as n, sum(amount) as total, avg(qty) as avg_qty, "
        "count(distinct customer_id) as customers from bench.orders group by channel order by channel"
    ),
    "filter": "select count(*), sum(amount) from bench.orders where order_id between 1000000 and 1001000",
    "two_columns": "select max(amount), min(qty) from bench.orders",
}


def home(rows: int) -> Path:
    return DATA / f"principal_sql_lake_{rows}"


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
    gov = lake.governance
    gov.create_principal("bench_root", superuser=True)
    gov.create_role("bench_analyst", "masked and filtered")
    gov.create_principal("bench_bob", roles=["bench_analyst"])
    gov.grant("bench_analyst", "select", "bench.orders")
    gov.add_row_filter("bench.orders", "bench_analyst", "channel <> 'partner'")
    gov.add_column_mask("bench.orders", "note", "bench_analyst", "'***'")
    lake.close()
    (h / "ready").write_text("ok")


def _times(run: Callable[[str], Any]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, sql in QUERIES.items():
        t = time.perf_counter()
        run(sql)
        cold = time.perf_counter() - t
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            run(sql)
            warm.append(time.perf_counter() - t)
        out[f"{key}_cold_s"] = round(cold, 3)
        out[f"{key}_warm_s"] = round(min(warm), 4)
    out["warm_total_s"] = round(sum(float(v) for k, v in out.items() if k.endswith("_warm_s")), 4)  # type: ignore[arg-type]
    return out


def owner(rows: int) -> dict[str, object]:
    import mlake

    lake = mlake.connect(home(rows))
    return _times(lambda sql: lake.sql(sql).fetchall())


def principal(rows: int, name: str = "bench_root") -> dict[str, object]:
    import mlake

    lake = mlake.connect(home(rows)).as_principal(name)
    return _times(lambda sql: lake.sql(sql).fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    build(args.rows)
    mine = run_contender(MODULE, "principal", args.rows, name="principal (superuser): registered pyarrow scans")
    masked = run_contender(
        MODULE, "principal", args.rows, "bench_bob", name="principal (mask + row filter): registered scans"
    )
    base = run_contender(MODULE, "owner", args.rows, name="owner: read_parquet views")
    for m in (mine, masked, base):  # compare the warm query times, not the process's whole run
        m.seconds = float(m.extra["warm_total_s"])
    md = report(f"Principal vs owner, {args.rows:,} rows, 3 queries ({machine()})", mine, [masked, base])
    print(md)
    for key in QUERIES:
        ratio = float(mine.extra[f"{key}_warm_s"]) / float(base.extra[f"{key}_warm_s"])
        print(f"{key}: principal / owner = {ratio:.2f} (warm)")
    print(f"\nwarm total principal / owner = {mine.seconds / base.seconds:.2f}")


if __name__ == "__main__":
    main()
