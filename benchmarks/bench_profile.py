"""Profile a 10 million row × 20 column table; compare per row with ydata-profiling ``minimal=True`` on a
1 million row sample of it (ydata-profiling takes minutes beyond a million rows).

    .venv/bin/python -m benchmarks.bench_profile

ydata-profiling needs pandas < 3 and numpy < 2.4, which the project's own environment does not have, so it
runs in its own virtualenv, ``benchmarks/.venv-ydata``, created on first use (``ydata-profiling`` from the
``bench`` extra, plus pyarrow to read the sample). Both contenders read the data from Parquet: mlake
through its Iceberg table, ydata-profiling through ``pandas.read_parquet`` (timed separately).
Target: at least 20× faster per row than ydata-profiling minimal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, machine, report, run_contender

YDATA_VENV = ROOT / "benchmarks" / ".venv-ydata"
YDATA_PYTHON = YDATA_VENV / "bin" / "python"
ROWS = 10_000_000
SAMPLE_ROWS = 1_000_000


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


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (less sensitive than wall time to other load)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mlake_profile() -> dict[str, Any]:
    from benchmarks.quality_data import ORDERS, lake_for_benchmarks

    with lake_for_benchmarks() as lake:
        start = cpu_seconds()
        p = lake.quality.profile(ORDERS, save=False)
        cpu = cpu_seconds() - start
        return {"rows": p.rows, "columns": len(p.columns), "queries": p.queries, "cpu_seconds": round(cpu, 1)}


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


def main() -> str:
    from benchmarks.quality_data import SAMPLE, ensure_orders

    ensure_orders(ROWS)
    python = ensure_ydata()
    ours = run_contender("benchmarks.bench_profile", "mlake_profile", name="mlake profile (10M rows)")
    base = run_contender(
        "benchmarks.bench_profile", "ydata_profile", str(SAMPLE), python=str(python), name="ydata minimal (1M rows)"
    )
    per_row_ours = ours.seconds / ROWS
    per_row_base = base.seconds / SAMPLE_ROWS
    speedup = per_row_base / per_row_ours
    cpu_speedup = (base.extra["cpu_seconds"] / SAMPLE_ROWS) / (ours.extra["cpu_seconds"] / ROWS)
    note = (
        f"per row: mlake {per_row_ours * 1e6:.2f} µs, ydata-profiling {per_row_base * 1e6:.2f} µs → "
        f"{speedup:.1f}× faster per row (target ≥ 20×: {'met' if speedup >= 20 else 'NOT met'}); "
        f"mlake profiles 10× the rows in {ours.seconds / base.seconds:.2f}× the time; in CPU time per row "
        f"(all threads) {cpu_speedup:.1f}× less. {machine()}, load average {os.getloadavg()[0]:.1f} at the end"
    )
    table = report("Profile: 10M × 20 (mlake) vs 1M × 20 (ydata-profiling minimal)", ours, [base], note)
    return table + "\n\n" + note


if __name__ == "__main__":
    main()
