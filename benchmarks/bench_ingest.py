"""CSV ingest: mlake vs pyarrow.csv read + pyiceberg append of the same file.

    .venv/bin/python -m benchmarks.bench_ingest [--rows 5500000]

The file (about 1 GB at 5.5M rows) is generated once into benchmarks/.data. mlake's run includes what
the baseline does not do: content hashing for the ingest log, bad-record quarantine (a few dirty rows
are planted), lineage, and one atomic commit. A second, twice-as-large file shows that mlake's peak
memory does not grow with file size (the baseline's does: it holds the whole table in memory).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from benchmarks.common import DATA, machine, report, run_contender

MODULE = "benchmarks.bench_ingest"


def make_csv(rows: int) -> Path:
    path = DATA / f"orders_{rows}.csv"
    if path.exists():
        return path
    import duckdb

    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    duckdb.sql(f"""COPY (
        SELECT i AS order_id, (i * 7919) % 100000 AS customer_id,
               TIMESTAMP '2024-01-01' + to_seconds(i) AS ordered_at, round(random() * 500, 2) AS amount,
               ['web', 'app', 'store'][1 + (i % 3)] AS channel,
               'some descriptive text for row ' || i || ' lorem ipsum dolor sit amet' AS note,
               md5(i::varchar) AS h1, md5((i + 1)::varchar) AS h2, (i % 2 = 0) AS flag, i % 97 AS qty
        FROM range({rows}) t(i)) TO '{tmp}' (HEADER)""")
    with tmp.open("ab") as f:  # planted dirt: wrong field count, bad number, bad encoding
        f.write(b"1,2,2024-01-01 00:00:00,abc,web,x,y,z,true,1\n")
        f.write(b"1,2,2024-01-01 00:00:00\n")
        f.write(b"1,2,2024-01-01 00:00:00,1.0,w\xffeb,x,y,z,true,1\n")
    tmp.rename(path)
    return path


def ours(path: str, home: str) -> dict[str, object]:
    import mlake

    shutil.rmtree(home, ignore_errors=True)
    lake = mlake.connect(home)
    report = lake.ingest(path, into="bench.orders", types={"amount": "double"})
    return {"rows": report.rows_written, "quarantined": report.rows_quarantined}


def baseline(path: str, home: str) -> dict[str, object]:
    import pyarrow.csv as pacsv
    from pyiceberg.catalog.sql import SqlCatalog

    shutil.rmtree(home, ignore_errors=True)
    Path(home).mkdir(parents=True)
    catalog = SqlCatalog("b", uri=f"sqlite:///{home}/catalog.db", warehouse=f"file://{home}")
    catalog.create_namespace("bench")
    # the baseline cannot skip bad rows by itself: tell pyarrow to drop rows with wrong field counts
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
        convert_options=pacsv.ConvertOptions(column_types={"amount": "string"}),
    )
    t = catalog.create_table("bench.orders", schema=table.schema)
    t.append(table)
    return {"rows": table.num_rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_500_000)
    args = parser.parse_args()
    path = make_csv(args.rows)
    size_gb = path.stat().st_size / 1e9
    work = DATA / "work"
    base = run_contender(MODULE, "baseline", str(path), str(work / "base"))
    mine = run_contender(MODULE, "ours", str(path), str(work / "ours"))
    mine.name, base.name = "mlake ingest", "pyarrow.csv + pyiceberg append"
    big = make_csv(args.rows * 2)
    mine_big = run_contender(MODULE, "ours", str(big), str(work / "ours-big"))
    mine_big.name = f"mlake ingest, {big.stat().st_size / 1e9:.2f} GB file"
    shutil.rmtree(work, ignore_errors=True)
    md = report(f"CSV ingest, {args.rows:,} rows, {size_gb:.2f} GB ({machine()})", mine, [base, mine_big])
    rate = mine.extra["rows"] / mine.seconds  # type: ignore[operator]
    print(md)
    print(
        f"\nmlake: {rate:,.0f} rows/s; time ratio mlake/baseline = {mine.seconds / base.seconds:.2f} "
        f"(target ≤ 1.3); peak {mine.peak_mb:.0f} MB and {mine_big.peak_mb:.0f} MB at 2× size (target < 1536 MB)"
    )


if __name__ == "__main__":
    main()
