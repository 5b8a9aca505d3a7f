"""Materialization of 10 million offline rows into each online store: rows/s and peak memory.

Every row is a distinct entity (the worst case: no row is reduced away before the store), 5 double
features. Each contender runs in a fresh process against a fresh store. Baselines, same run: a bare bulk
load of the same records, in the same key order, into the same store without the newer-wins rule
(sqlite3 ``executemany`` INSERT OR REPLACE; redis-py pipelined ``HSET``), fed from the same DuckDB scan,
to show what the rule and the incremental bookkeeping cost.

    .venv/bin/python -m benchmarks.bench_materialize [--quick] [--store=sqlite|redis]
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

import duckdb

import mlake
from benchmarks.common import DATA, Measurement, machine, report, run_contender

MODULE = "benchmarks.bench_materialize"
REDIS = "redis://127.0.0.1:6379/0"
PREFIX = "mlake_bench_mat"


def _home(rows: int) -> Any:
    return DATA / f"materialize_lake_{rows}"


def prepare(rows: int) -> dict[str, Any]:
    lake = mlake.connect(_home(rows), memory_limit="2GB")
    fs = lake.features
    if not fs.registry.exists("m"):
        fs.create_group(
            "m", entities={"k": "long"}, event_time="et", features={f"f{i}": "double" for i in range(5)}, online=False
        )
        src = DATA / f"materialize_{rows}.parquet"
        duckdb.execute(
            f"COPY (SELECT i AS k, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(i) AS et, "
            f"random() AS f0, random() AS f1, random() AS f2, random() AS f3, random() AS f4 FROM range({rows}) t(i)) "
            f"TO '{src}' (FORMAT parquet)"
        )
        fs.write("m", f"SELECT * FROM read_parquet('{src}')")
        src.unlink()
    lake.close()
    return {}


def _clean_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{PREFIX}*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)
    client.close()


def ours(rows: int, store: str) -> dict[str, Any]:
    lake = mlake.connect(_home(rows), memory_limit="2GB")
    url = f"sqlite:///{DATA / 'materialize_online.db'}" if store == "sqlite" else f"{REDIS}?prefix={PREFIX}"
    lake.features.use_online_store(url)
    report = lake.features.materialize("m", full=True)
    again = lake.features.materialize("m")
    return {"rows": report.rows_read, "entities": report.entities_written, "rerun_noop": again.up_to_date}


def bare(rows: int, store: str) -> dict[str, Any]:
    """The same records from the same scan, loaded without the newer-wins rule or bookkeeping."""
    lake = mlake.connect(_home(rows), memory_limit="2GB")
    view = lake.engine.view_for(lake.table("features.m").name)
    sql = (  # in key order too, as ours sends it: the baseline differs only by the rule and bookkeeping
        f"SELECT CAST(k AS VARCHAR) AS k, epoch_us(et), epoch_us(write_time), "
        f"CAST(to_json({{'f0': f0, 'f1': f1, 'f2': f2, 'f3': f3, 'f4': f4}}) AS VARCHAR) FROM {view} ORDER BY k"
    )
    written = 0
    if store == "sqlite":
        con = sqlite3.connect(DATA / "materialize_bare.db", isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(
            "CREATE TABLE IF NOT EXISTS t (g TEXT, k TEXT, et INTEGER, wt INTEGER, v TEXT, PRIMARY KEY (g, k)) "
            "WITHOUT ROWID"
        )
        for batch in lake.engine.run_internal(sql).batches(50_000):
            cols = [batch.column(i).to_pylist() for i in range(4)]
            con.execute("BEGIN")
            con.executemany("INSERT OR REPLACE INTO t VALUES ('m', ?, ?, ?, ?)", zip(*cols, strict=True))
            con.execute("COMMIT")
            written += batch.num_rows
    else:
        import redis

        client = redis.Redis.from_url(REDIS)
        for batch in lake.engine.run_internal(sql).batches(50_000):
            pipe = client.pipeline(transaction=False)
            for k, et, wt, v in zip(*[batch.column(i).to_pylist() for i in range(4)], strict=True):
                pipe.hset(f"{PREFIX}:m:{k}", mapping={"et": et, "wt": wt, "v": v})
            pipe.execute()
            written += batch.num_rows
    return {"rows": written}


def main() -> None:
    rows = 1_000_000 if "--quick" in sys.argv else 10_000_000
    run_contender(MODULE, "prepare", rows)
    tables = []
    stores = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--store=")] or ["sqlite", "redis"]
    for store in stores:
        for f in ("materialize_online.db", "materialize_bare.db"):
            for suffix in ("", "-wal", "-shm"):
                (DATA / (f + suffix)).unlink(missing_ok=True)
        _clean_redis()
        mine = run_contender(MODULE, "ours", rows, store)
        mine.name = f"mlake materialize → {store}"
        mine.extra["rows_per_s"] = int(rows / mine.seconds)
        _clean_redis()
        base = run_contender(MODULE, "bare", rows, store)
        base.name = f"bare bulk load → {store} (no newer-wins rule)"
        base.extra["rows_per_s"] = int(rows / base.seconds)
        _clean_redis()
        tables.append(report(f"Materialize {rows:,} rows (distinct entities, 5 features) into {store}", mine, [base]))
    for f in ("materialize_online.db", "materialize_bare.db"):
        for suffix in ("", "-wal", "-shm"):
            (DATA / (f + suffix)).unlink(missing_ok=True)
    print(f"\nmachine: {machine()}")
    print("\n\n".join(tables))


__all__ = ["Measurement"]

if __name__ == "__main__":
    main()
