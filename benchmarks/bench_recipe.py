"""A 10-step recipe on 10 million rows: mlake on DuckDB versus the same steps by hand in pandas, and the
same recipe on Ray (2 workers) versus DuckDB.

    .venv/bin/python -m benchmarks.bench_recipe            # 10 M rows
    .venv/bin/python -m benchmarks.bench_recipe --quick    # 1 M rows
    .venv/bin/python -m benchmarks.bench_recipe --breakdown  # where the DuckDB time goes, step by step

Contenders, each in a fresh process (time and peak RSS of that process):

- ``mlake recipe (lake)``: ``lake.recipes.run`` over an Iceberg table — fits the recipe, runs it as one
  DuckDB query through the governed SQL engine, writes an Iceberg table with lineage.
- ``mlake recipe (DuckDB, files)``: the same fitted recipe SQL over the Parquet files, written to Parquet.
- ``pandas by hand``: the same ten steps written in pandas (read Parquet, transform, write Parquet).
- ``Ray, N CPUs``: the recipe cut into stages, each data file a Ray task running DuckDB (fitting first,
  in the driver); Ray's worker processes are not in the peak memory figure.

Target (issue 12): the DuckDB recipe ≥ 5× faster than pandas with a lower peak memory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, machine, report, run_contender

FILES = 8

RECIPE = """
name: bench_orders
source: bench.orders
steps:
  - {op: fill_mean, columns: [x]}
  - {op: fill_constant, columns: [c], value: none}
  - {op: standard_scale, columns: [x]}
  - {op: minmax_scale, columns: [v]}
  - {op: log, columns: [amount]}
  - {op: one_hot, column: g, top_k: 5, other: true}
  - {op: derive, name: ratio, expression: amount / qty}
  - {op: filter, condition: amount > 1}
  - {op: dedupe_by_key, keys: [order_id], order_by: t}
  - {op: lag, column: amount, by: [customer], order_by: t, name: amount_lag1}
"""


def data_dir(rows: int) -> Path:
    return DATA / f"recipe_{rows}"


def ensure_data(rows: int) -> list[str]:
    """``FILES`` Parquet files of ``rows`` orders (about 10 % duplicate order ids), made once."""
    import duckdb

    folder = data_dir(rows)
    files = [str(folder / f"part-{i}.parquet") for i in range(FILES)]
    if all(Path(f).exists() for f in files):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    per = rows // FILES
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    for i, f in enumerate(files):
        con.execute(
            f"""COPY (
            SELECT i AS id, CASE WHEN i % 10 = 0 THEN i - 1 ELSE i END AS order_id,
                   CAST(hash(i) % 200000 AS BIGINT) AS customer,
                   TIMESTAMP '2024-01-01' + to_seconds(i * 3 + CAST(hash(i * 7) % 5 AS BIGINT)) AS t,
                   CASE WHEN random() < 0.1 THEN NULL ELSE random() * 100 END AS x,
                   CASE WHEN random() < 0.2 THEN NULL ELSE ['web', 'app', 'store'][1 + CAST(floor(random() * 3) AS INT)] END AS c,
                   'g' || CAST(floor(random() * random() * 12) AS INT) AS g,
                   random() * 50 AS v, random() * 200 AS amount, 1 + i % 5 AS qty
            FROM range({i * per}, {(i + 1) * per}) r(i)) TO '{f}' (FORMAT parquet)"""
        )
    return files


def lake_home(rows: int) -> Path:
    return data_dir(rows) / "lake"


def ensure_lake(rows: int) -> None:
    import mlake

    files = ensure_data(rows)
    with mlake.connect(home=lake_home(rows)) as lake:
        if not lake.table_exists("bench.orders"):
            lake.ingest(files, "bench.orders")


def mlake_lake(rows: int) -> dict[str, Any]:
    import mlake

    with mlake.connect(home=lake_home(rows)) as lake:
        lake.recipes.create(RECIPE, validate=False)
        run = lake.recipes.run("bench_orders", "bench.orders_clean")
        return {"rows": run.rows}


def _fitted_over_files(rows: int) -> tuple[Any, Any, str]:
    import duckdb

    from mlake.processing.recipe import DuckDBExecutor, Recipe

    files = ensure_data(rows)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet({files!r})")
    ex = DuckDBExecutor(con)
    recipe = Recipe.from_yaml(RECIPE)
    return recipe.fit(ex, "orders"), ex, "orders"


def mlake_files(rows: int) -> dict[str, Any]:
    fitted, ex, src = _fitted_over_files(rows)
    out = data_dir(rows) / "out_duckdb.parquet"
    ex.con.execute(f"COPY ({fitted.compile(ex, src, fitting=True).sql()}) TO '{out}' (FORMAT parquet)")
    return {"rows": ex.con.sql(f"SELECT count(*) FROM '{out}'").fetchall()[0][0]}


def ray(rows: int, cpus: int) -> dict[str, Any]:
    from mlake.engines.ray import RayCompute
    from mlake.processing.distributed import stages, table_placeholder

    fitted, ex, src = _fitted_over_files(rows)
    job = stages(fitted.compile(ex, src, fitting=True, table_ref=table_placeholder))
    compute = RayCompute(num_cpus=cpus, buckets=cpus)
    try:
        out = compute.run(job, ensure_data(rows))
    finally:
        compute.close()
    return {"rows": out.num_rows, "stages": len(job), "partitions": FILES}


def pandas_by_hand(rows: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(ensure_data(rows))
    df["x"] = df["x"].fillna(df["x"].mean())
    df["c"] = df["c"].fillna("none")
    df["x"] = (df["x"] - df["x"].mean()) / df["x"].std(ddof=0)
    df["v"] = (df["v"] - df["v"].min()) / (df["v"].max() - df["v"].min())
    df["amount"] = np.log(df["amount"] + 1)
    top = sorted(df["g"].value_counts().index[:5])
    for cat in top:
        df[f"g_{cat}"] = (df["g"] == cat).astype("int32")
    df["g_other"] = (~df["g"].isin(top) & df["g"].notna()).astype("int32")
    df = df.drop(columns="g")
    df["ratio"] = df["amount"] / df["qty"]
    df = df[df["amount"] > 1]
    df = df.sort_values("t").drop_duplicates("order_id", keep="last")
    df["amount_lag1"] = df.groupby("customer")["amount"].shift(1)  # rows are in time order already
    out = data_dir(rows) / "out_pandas.parquet"
    df.to_parquet(out)
    return {"rows": len(df)}


def breakdown(rows: int) -> str:
    """Time the compiled recipe cut after each keyed step, and the Parquet write on its own."""
    import re
    import time

    ensure_data(rows)
    start = time.perf_counter()
    fitted, ex, src = _fitted_over_files(rows)
    lines = [f"fit (statistics pass): {time.perf_counter() - start:.2f} s"]
    sql = fitted.compile(ex, src, fitting=True).sql()

    def cut(after: str) -> str:
        head = sql.split(f"s{int(after) + 1}_")[0].rstrip().rstrip(",")
        last = re.findall(r"(s\d+_\w+) AS \(", head)[-1]
        return f"{head}\nSELECT * FROM {last}"

    no_tie_break = re.sub(r", hash\(0, [^)]*\)\)", ")", cut("9"))
    for label, query in [
        ("steps 1-8 (row-local)", cut("8")),
        ("steps 1-9 (+ dedupe_by_key)", cut("9")),
        ("steps 1-9 without the row-hash tie-break", no_tie_break),
        ("all 10 steps (+ lag)", sql),
    ]:
        start = time.perf_counter()
        ex.con.execute(f"SELECT count(*), max(COLUMNS(*)) FROM ({query})").fetchall()  # every column computed
        lines.append(f"{label}: {time.perf_counter() - start:.2f} s")
    out = data_dir(rows) / "out_breakdown.parquet"
    for label, query in [("COPY of the input alone to Parquet", src), ("COPY of all 10 steps to Parquet", sql)]:
        start = time.perf_counter()
        ex.con.execute(f"COPY ({query if query != src else 'SELECT * FROM ' + src}) TO '{out}' (FORMAT parquet)")
        lines.append(f"{label}: {time.perf_counter() - start:.2f} s")
    text = "\n".join(lines)
    print(text)
    return text


def main() -> str:
    rows = 1_000_000 if "--quick" in sys.argv else 10_000_000
    if "--breakdown" in sys.argv:
        return breakdown(rows)
    ensure_lake(rows)
    ours = run_contender("benchmarks.bench_recipe", "mlake_lake", rows, name="mlake recipe (lake, DuckDB)")
    files = run_contender("benchmarks.bench_recipe", "mlake_files", rows, name="mlake recipe (DuckDB, Parquet files)")
    pandas = run_contender("benchmarks.bench_recipe", "pandas_by_hand", rows, name="pandas by hand")
    ray1 = run_contender("benchmarks.bench_recipe", "ray", rows, 1, name="Ray, 1 CPU")
    ray2 = run_contender("benchmarks.bench_recipe", "ray", rows, 2, name="Ray, 2 CPUs")
    speedup = pandas.seconds / ours.seconds
    note = (
        f"{rows:,} rows, 10 steps. The lake run is {speedup:.1f}× faster than pandas (target ≥ 5×: "
        f"{'met' if speedup >= 5 else 'NOT met'}), peak {ours.peak_mb:.0f} MB vs {pandas.peak_mb:.0f} MB "
        f"({'lower' if ours.peak_mb < pandas.peak_mb else 'NOT lower'}). Ray with 2 CPUs takes "
        f"{ray2.seconds / files.seconds:.2f}× the DuckDB time over the same files; 1 → 2 CPUs: "
        f"{ray1.seconds / ray2.seconds:.2f}× faster. {machine()}"
    )
    table = report(f"10-step recipe on {rows:,} rows", ours, [files, pandas, ray1, ray2], note)
    return table + "\n\n" + note


if __name__ == "__main__":
    main()
