"""CSV ingest time versus width (20 rows, 1,000 … 10,000 columns): it should grow about linearly.

    .venv/bin/python -m benchmarks.bench_wide_csv [--quick]

Each width is ingested by ``lake.ingest`` in a fresh process (two columns in three are integers, checked
exactly; the rest text) next to the baseline: DuckDB alone copying the same file to Parquet with its own
type detection (``COPY (FROM read_csv(...)) TO ... (FORMAT parquet)``), which does no exact-integer check,
no quarantine and no Iceberg commit. The note gives the exponent ``k`` of a fit ``time ∝ columns^k`` of
mlake's times. ``--quick`` measures 500, 1,000 and 2,000 columns.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

import mlake
from benchmarks.bench_wide import slope
from benchmarks.common import Measurement, machine, report, run_contender

ROWS = 20
WIDTHS = (1000, 2000, 4000, 7000, 10000)
QUICK = (500, 1000, 2000)


def _write(path: Path, columns: int) -> None:
    with path.open("w") as f:
        f.write(",".join(f"c{i}" for i in range(columns)) + "\n")
        for r in range(ROWS):
            f.write(",".join(str(r * i) if i % 3 else f"v{r}" for i in range(columns)) + "\n")


def mlake_ingest(folder: str, columns: int) -> dict[str, Any]:
    lake = mlake.connect(Path(folder) / f"lake{columns}")
    started = time.perf_counter()
    report = lake.ingest(str(Path(folder) / f"w{columns}.csv"), into="raw.wide")
    ingest_s = time.perf_counter() - started
    lake.close()
    return {"rows": report.rows_written, "ingest_s": round(ingest_s, 3)}


def duckdb_copy(folder: str, columns: int) -> dict[str, Any]:
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    src, out = Path(folder) / f"w{columns}.csv", Path(folder) / f"w{columns}.parquet"
    con.execute(f"COPY (FROM read_csv('{src}')) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    return {}


def main(quick: bool = False) -> str:
    widths = QUICK if quick else WIDTHS
    ours: list[Measurement] = []
    base: list[Measurement] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for w in widths:
            _write(Path(folder) / f"w{w}.csv", w)
            try:
                m = run_contender("benchmarks.bench_wide_csv", "mlake_ingest", folder, w, name=f"mlake, {w} columns")
            except RuntimeError as exc:
                failed.append(f"{w} columns failed: {str(exc).strip().splitlines()[-1][:160]}")
                widths = tuple(x for x in widths if x != w)
                continue
            ours.append(m)
            print(f"{w} columns: mlake {m.extra['ingest_s']} s, peak {m.peak_mb:.0f} MB", flush=True)
            try:
                base.append(
                    run_contender("benchmarks.bench_wide_csv", "duckdb_copy", folder, w, name=f"DuckDB COPY, {w}")
                )
            except RuntimeError as exc:  # DuckDB alone runs out of memory at 1 GB on the widest files
                failed.append(f"DuckDB COPY of {w} columns failed: {str(exc).strip().splitlines()[-1][:100]}")
    ingest = [float(m.extra["ingest_s"]) for m in ours]
    k = slope(list(zip(widths, ingest, strict=True)))
    note = (
        f"mlake ingest time (without opening the lake) ∝ columns^{k:.2f}: "
        f"{', '.join(f'{t:.2f} s' for t in ingest)}; {widths[-1] // widths[0]}× the columns took "
        f"{ingest[-1] / ingest[0]:.1f}× the time (DuckDB alone, {base[-1].name}: "
        f"{base[-1].seconds / base[0].seconds:.1f}×). {' '.join(failed)} {machine()}"
    )
    widest, *rest = ours[::-1]
    text = report(f"CSV ingest of {ROWS} rows at growing widths", widest, rest + base[::-1], note)
    return text + "\n\n" + note


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="500, 1,000 and 2,000 columns only")
    main(parser.parse_args().quick)
