"""Profile 1M × 20 and 10M × 20 tables; compare with the limit: one fused, hand-written DuckDB aggregate scan
computing the same statistics over the same table view (issue 16).

    .venv/bin/python -m benchmarks.bench_profile            # 1M and 10M rows (issue 16)
    .venv/bin/python -m benchmarks.bench_profile --quick    # 1M rows only
    .venv/bin/python -m benchmarks.bench_profile --ydata    # issue 3: 10M rows vs ydata-profiling minimal on 1M

Each contender runs in its own subprocess, so its peak RSS is its own; its time is that of the profile call
(mlake) or of the query (the limit), after the lake is open — imports and start-up are not counted on either
side. CPU seconds (all threads) are printed too, as they move less than wall time on a shared machine.

The limit is what one scan can do with DuckDB's own aggregates, per column: non-null count, HyperLogLog
distinct count, min, max, mean, standard deviation, skewness, kurtosis, seven t-digest quantiles
(``approx_quantile``), zeros, negatives, NaN and infinities, a 20-bin histogram, outliers by IQR and by
median ± 5 robust standard deviations; for text the length min/max/mean, empty and space-padded values,
``approx_top_k`` and the five pattern counts; for dates min, max and a histogram; for booleans the true count;
per table the row count, missing-value co-occurrence, Pearson correlations of the numeric columns and
duplicate rows (HyperLogLog of row hashes). What one scan cannot know in advance — histogram edges, outlier
thresholds, which columns have nulls and which patterns a text column holds — it is given for free, computed
before the clock starts. It is not exact where mlake is
(distinct counts of key candidates, duplicate rows, top values of low-cardinality columns) and it has no
median absolute deviation (DuckDB's ``mad`` holds every value).

A bare scan (per column the non-null count, min and max) is printed for scale: what reading the table costs.

Targets (issue 16): 10M rows ≤ 1.3× the limit's time and ≤ 1.5 GB peak RSS; 1M rows ≤ 1.2×.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Measurement, machine, report, run_contender

YDATA_VENV = ROOT / "benchmarks" / ".venv-ydata"
YDATA_PYTHON = YDATA_VENV / "bin" / "python"
ROWS = 10_000_000
SAMPLE_ROWS = 1_000_000
SIZES = {1_000_000: "bench.orders_1m", 10_000_000: "bench.orders"}
TARGETS = {1_000_000: (1.2, None), 10_000_000: (1.3, 1500.0)}  # time ratio, peak MB

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
BINS = 20
PATTERNS = {  # the same five patterns mlake recognises, each behind a cheap test as a careful author would write
    "email": ("contains({x}, '@')", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"),
    "url": ("(starts_with({x}, 'http') OR starts_with({x}, 'ftp'))", r"(https?|ftp)://[^ \t\n\f\r/$.?#][^ \t\n\f\r]*"),
    "uuid": ("strlen({x}) = 36", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    "date": (
        "(strlen({x}) >= 10 AND substr({x}, 5, 1) = '-')",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+\-][0-9]{2}(:?[0-9]{2})?)?)?",
    ),
    "number": (
        "(ascii({x}) BETWEEN 48 AND 57 OR ascii({x}) IN (9, 10, 12, 13, 32, 43, 45, 46))",
        r"[ \t\n\f\r]*[+\-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+\-]?[0-9]+)?[ \t\n\f\r]*",
    ),
}


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (less sensitive than wall time to other load)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE") or t.startswith("DECIMAL"):
        return "number"
    if t == "VARCHAR":
        return "text"
    if t == "BOOLEAN":
        return "bool"
    if t.startswith(("TIMESTAMP", "DATE")):
        return "time"
    return "other"


def _columns(cur: Any, view: str) -> list[tuple[str, str, str]]:
    rows = cur.sql(f"DESCRIBE SELECT * FROM {view}").fetchall()
    return [(name, dtype, _kind(dtype)) for name, dtype, *_ in rows]


def limit_constants(table: str) -> dict[str, Any]:
    """What one scan cannot know before it starts: histogram edges (the 0.5% and 99.5% quantiles of numbers,
    min and max of dates) and outlier thresholds (quartiles, median, MAD), per numeric or date column; which
    columns have nulls (for the missing-value co-occurrence) and which patterns each text column holds (in a
    sample of 100,000 rows, as mlake's sample tells it)."""
    from benchmarks.quality_data import lake_for_benchmarks
    from mlake.tables.names import TableName

    with lake_for_benchmarks() as lake:
        view = lake.engine.view_for(TableName.parse(table))
        cur = lake.engine.connection.cursor()
        columns = _columns(cur, view)
        counts = ", ".join(f'count_if("{name}" IS NULL)' for name, _, _ in columns)
        nulls = cur.sql(f"SELECT {counts} FROM {view}").fetchall()[0]
        out: dict[str, Any] = {"nullable": [name for (name, _, _), n in zip(columns, nulls, strict=True) if n]}
        for name, _, kind in columns:
            x = f'"{name}"'
            if kind == "text":
                found = ", ".join(
                    f"count_if({cheap.format(x=x)} AND regexp_full_match({x}, '{regex}'))"
                    for cheap, regex in PATTERNS.values()
                )
                hits = cur.sql(f"SELECT {found} FROM (SELECT {x} FROM {view} USING SAMPLE 100000 ROWS)").fetchall()[0]
                out[name] = {"patterns": [p for p, n in zip(PATTERNS, hits, strict=True) if n]}
            elif kind == "number":
                v = f"CASE WHEN isfinite({x}::DOUBLE) THEN {x}::DOUBLE END"
                sql = (
                    f"WITH s AS (SELECT {v} AS v FROM {view} USING SAMPLE 100000 ROWS), "
                    "m AS (SELECT median(v) AS med FROM s) "
                    "SELECT quantile_cont(v, [0.005, 0.25, 0.5, 0.75, 0.995]), median(abs(v - m.med)) FROM s, m"
                )
                qs, mad = cur.sql(sql).fetchall()[0]
                out[name] = {"low": qs[0], "high": qs[4], "q1": qs[1], "median": qs[2], "q3": qs[3], "mad": mad}
            elif kind == "time":
                low, high = cur.sql(f"SELECT min(epoch({x})), max(epoch({x})) FROM {view}").fetchall()[0]
                out[name] = {"low": low, "high": high}
        return out


def limit_sql(view: str, columns: list[tuple[str, str, str]], constants: dict[str, Any]) -> str:
    """The hand-written fused scan: every aggregate of every column in one SELECT."""
    aggs = ["count(*)"]
    qs = ", ".join(repr(q) for q in QUANTILES)
    numbers: list[str] = []
    nullable = [f'"{name}"' for name in constants["nullable"]]
    for name, dtype, kind in columns:
        x = f'"{name}"'
        aggs.append(f"count({x})")
        if kind == "number":
            numbers.append(name)
            c = constants[name]
            v = f"CASE WHEN isfinite({x}::DOUBLE) THEN {x}::DOUBLE END" if dtype in ("DOUBLE", "FLOAT") else x
            aggs += [
                f"approx_count_distinct({x})",
                f"min({v})",
                f"max({v})",
                f"avg({v})",
                f"stddev_samp({v})",
                f"skewness({v})",
                f"kurtosis({v})",
                f"approx_quantile({v}, [{qs}])",
                f"count_if({x} = 0)",
                f"count_if({x} < 0)",
            ]
            if dtype in ("DOUBLE", "FLOAT"):
                aggs += [f"count_if(isnan({x}))", f"count_if(isinf({x}))"]
            low, high = c["low"], c["high"]
            if high > low:
                edges = ", ".join(repr(low + (high - low) * b / BINS) for b in range(BINS + 1))
                aggs.append(f"histogram({v}::DOUBLE, [{edges}])")
            iqr = c["q3"] - c["q1"]
            aggs.append(f"count_if({v} < {c['q1'] - 1.5 * iqr!r} OR {v} > {c['q3'] + 1.5 * iqr!r})")
            aggs.append(f"count_if(abs({v} - {c['median']!r}) > {5 * 1.4826 * c['mad']!r})")
        elif kind == "text":
            aggs += [
                f"approx_count_distinct({x})",
                f"approx_top_k({x}, 10)",
                f"min(length({x}))",
                f"max(length({x}))",
                f"avg(length({x}))",
                f"count_if({x} = '')",
                f"count_if(starts_with({x}, ' ') OR ends_with({x}, ' '))",
            ]
            for pattern in constants[name]["patterns"]:
                cheap, regex = PATTERNS[pattern]
                aggs.append(f"count_if({cheap.format(x=x)} AND regexp_full_match({x}, '{regex}'))")
        elif kind == "time":
            c = constants[name]
            aggs += [f"approx_count_distinct({x})", f"min({x})", f"max({x})"]
            if c["high"] > c["low"]:
                edges = ", ".join(repr(c["low"] + (c["high"] - c["low"]) * b / BINS) for b in range(BINS + 1))
                aggs.append(f"histogram(epoch({x}), [{edges}])")
        elif kind == "bool":
            aggs.append(f"count_if({x})")
    for a, xa in enumerate(nullable):
        for xb in nullable[a + 1 :]:
            aggs.append(f"count_if({xa} IS NULL AND {xb} IS NULL)")
    for a, na in enumerate(numbers):
        for nb in numbers[a + 1 :]:
            aggs.append(f'corr("{na}"::DOUBLE, "{nb}"::DOUBLE)')
    row = ", ".join(f'"{name}"' for name, _, _ in columns)
    aggs.append(f"approx_count_distinct(hash({row}))")
    return "SELECT\n  " + ",\n  ".join(aggs) + f"\nFROM {view}"


def the_limit(table: str, constants: dict[str, Any]) -> dict[str, Any]:
    """The fused hand-written scan (timed without opening the lake, like mlake's profile call)."""
    import time

    from benchmarks.quality_data import lake_for_benchmarks
    from mlake.tables.names import TableName

    with lake_for_benchmarks() as lake:
        view = lake.engine.view_for(TableName.parse(table))
        cur = lake.engine.connection.cursor()
        sql = limit_sql(view, _columns(cur, view), constants)
        cpu, started = cpu_seconds(), time.perf_counter()
        row = cur.sql(sql).fetchall()[0]
        seconds = time.perf_counter() - started
        return {"call_seconds": seconds, "cpu_seconds": round(cpu_seconds() - cpu, 1), "aggregates": len(row)}


def floor_sql(view: str, columns: list[tuple[str, str, str]]) -> str:
    """Reading every value once and little else: per column the non-null count, min and max."""
    aggs = ["count(*)"] + [f'count("{n}"), min("{n}"), max("{n}")' for n, _, kind in columns if kind != "other"]
    return f"SELECT {', '.join(aggs)} FROM {view}"


def the_floor(table: str) -> dict[str, Any]:
    """What reading the table costs: a scan of every column with the cheapest aggregates (for scale)."""
    import time

    from benchmarks.quality_data import lake_for_benchmarks
    from mlake.tables.names import TableName

    with lake_for_benchmarks() as lake:
        view = lake.engine.view_for(TableName.parse(table))
        cur = lake.engine.connection.cursor()
        sql = floor_sql(view, _columns(cur, view))
        cpu, started = cpu_seconds(), time.perf_counter()
        row = cur.sql(sql).fetchall()[0]
        seconds = time.perf_counter() - started
        return {"call_seconds": seconds, "cpu_seconds": round(cpu_seconds() - cpu, 1), "aggregates": len(row)}


def mlake_profile(table: str) -> dict[str, Any]:
    import time

    from benchmarks.quality_data import lake_for_benchmarks

    with lake_for_benchmarks() as lake:
        cpu, started = cpu_seconds(), time.perf_counter()
        p = lake.quality.profile(table, save=False)
        seconds = time.perf_counter() - started
        return {
            "call_seconds": seconds,
            "cpu_seconds": round(cpu_seconds() - cpu, 1),
            "rows": p.rows,
            "columns": len(p.columns),
            "queries": p.queries,
        }


def _timed_call(m: Measurement) -> Measurement:
    """The call's own time (the child measured it around the profile call or the query)."""
    return Measurement(m.name, float(m.extra.pop("call_seconds")), m.peak_mb, m.extra)


def compare(rows: int, repeat: int) -> tuple[str, str]:
    table = SIZES[rows]
    constants = limit_constants(table)
    label = f"{rows // 1_000_000}M × 20"
    ours = _timed_call(
        run_contender("benchmarks.bench_profile", "mlake_profile", table, repeat=repeat, name=f"mlake profile {label}")
    )
    limit = _timed_call(
        run_contender(
            "benchmarks.bench_profile", "the_limit", table, constants, repeat=repeat, name=f"fused DuckDB scan {label}"
        )
    )
    floor = _timed_call(
        run_contender("benchmarks.bench_profile", "the_floor", table, repeat=repeat, name=f"bare scan {label}")
    )
    ratio = ours.seconds / limit.seconds
    cpu_ratio = ours.extra["cpu_seconds"] / max(limit.extra["cpu_seconds"], 0.1)
    time_target, memory_target = TARGETS[rows]
    met = ratio <= time_target and (memory_target is None or ours.peak_mb <= memory_target)
    memory = f", peak {ours.peak_mb:.0f} MB (target ≤ {memory_target:.0f} MB)" if memory_target else ""
    note = (
        f"{label}: mlake {ours.seconds:.2f} s, limit {limit.seconds:.2f} s, ratio {ratio:.2f}× "
        f"(target ≤ {time_target}×){memory}: {'met' if met else 'NOT met'}; "
        f"memory {ours.peak_mb:.0f} MB vs {limit.peak_mb:.0f} MB; CPU {ours.extra['cpu_seconds']} s vs "
        f"{limit.extra['cpu_seconds']} s ({cpu_ratio:.2f}×); a bare scan of the table: {floor.seconds:.2f} s"
    )
    return report(f"Profile {label}: mlake vs one fused DuckDB scan", ours, [limit, floor], note), note


def ensure_ydata() -> Path:
    """The ydata-profiling virtualenv (created once)."""
    if YDATA_PYTHON.exists():
        return YDATA_PYTHON
    subprocess.run([sys.executable, "-m", "venv", str(YDATA_VENV)], check=True)
    uv = ROOT / ".venv" / "bin" / "uv"
    installer = (
        [str(uv), "pip", "install", "--python", str(YDATA_PYTHON)]
        if uv.exists()
        else [str(YDATA_PYTHON), "-m", "pip", "install"]
    )
    subprocess.run([*installer, "ydata-profiling>=4.18,<5", "pyarrow"], check=True)
    return YDATA_PYTHON


def ydata_profile(path: str) -> dict[str, Any]:
    """Runs in the ydata virtualenv: read the sample with pandas, then describe it (minimal mode)."""
    import time
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")
    from ydata_profiling import ProfileReport

    start = cpu_seconds()
    started = time.perf_counter()
    frame = pd.read_parquet(path)
    read = time.perf_counter() - started
    description = ProfileReport(frame, minimal=True, progress_bar=False).get_description()
    cpu = cpu_seconds() - start
    return {
        "rows": len(frame),
        "columns": len(description.variables),
        "read_seconds": round(read, 2),
        "cpu_seconds": round(cpu, 1),
    }


def versus_ydata() -> str:
    """Issue 3: 10M rows through mlake vs ydata-profiling minimal on a 1M-row sample, per row."""
    from benchmarks.quality_data import SAMPLE

    python = ensure_ydata()
    ours = run_contender("benchmarks.bench_profile", "mlake_profile", SIZES[ROWS], name="mlake profile (10M rows)")
    base = run_contender(
        "benchmarks.bench_profile", "ydata_profile", str(SAMPLE), python=str(python), name="ydata minimal (1M rows)"
    )
    per_row_ours = ours.seconds / ROWS
    per_row_base = base.seconds / SAMPLE_ROWS
    speedup = per_row_base / per_row_ours
    note = (
        f"per row: mlake {per_row_ours * 1e6:.2f} µs, ydata-profiling {per_row_base * 1e6:.2f} µs → "
        f"{speedup:.1f}× faster per row (target ≥ 20×: {'met' if speedup >= 20 else 'NOT met'}). {machine()}"
    )
    return report("Profile: 10M × 20 (mlake) vs 1M × 20 (ydata-profiling minimal)", ours, [base], note) + "\n\n" + note


def main(argv: list[str] | None = None) -> str:
    from benchmarks.quality_data import ORDERS, ensure_orders

    args = sys.argv[1:] if argv is None else argv
    ensure_orders(ROWS)
    if "--ydata" in args:
        return versus_ydata()
    ensure_orders(1_000_000, SIZES[1_000_000])
    sizes = [1_000_000] if "--quick" in args else [1_000_000, ROWS]
    assert SIZES[ROWS] == ORDERS
    out, notes = [], []
    for rows in sizes:
        table, note = compare(rows, repeat=2 if rows <= 1_000_000 else 1)
        out.append(table)
        notes.append(note)
    summary = "\n".join(notes) + f"\n{machine()}, load average {os.getloadavg()[0]:.1f} at the end"
    print(summary)
    return "\n\n".join(out) + "\n\n" + summary


if __name__ == "__main__":
    main()
