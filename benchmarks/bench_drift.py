"""Data drift of 50 features, 1 M current rows against a stored baseline, vs Evidently's DataDriftPreset.

    .venv/bin/python -m benchmarks.bench_drift [--quick]

The reference (1 M rows; 100 k with --quick) and the current batch (same size) have 35 numeric and 15
categorical columns; 20 columns get a larger shift (12 numeric, 8 categorical), 4 a tiny one.
mlake computes its baseline once from the reference (timed separately: in production it is stored with
the training data), then the contender reads only the current Parquet file and the baseline JSON.
Evidently needs both raw tables: it reads both Parquet files with pandas. Evidently 0.7 needs pandas < 3,
so it runs in its own virtualenv, ``benchmarks/.venv-evidently``, created on first use.
Target: at least 10× faster, and the same drift decision for every column.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, ROOT, Measurement, machine, report, run_contender

EVIDENTLY_VENV = ROOT / "benchmarks" / ".venv-evidently"
EVIDENTLY_PYTHON = EVIDENTLY_VENV / "bin" / "python"
NUMERIC, CATEGORICAL = 35, 15


def ensure_evidently() -> Path:
    if EVIDENTLY_PYTHON.exists():
        return EVIDENTLY_PYTHON
    subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    uv = ROOT / ".venv" / "bin" / "uv"
    installer = [str(uv), "pip", "install", "--python", str(EVIDENTLY_PYTHON)] if uv.exists() else [
        str(EVIDENTLY_PYTHON), "-m", "pip", "install"
    ]  # fmt: skip
    subprocess.run([*installer, "evidently==0.7.23", "pandas<3", "pyarrow"], check=True)
    return EVIDENTLY_PYTHON


def columns() -> tuple[list[str], list[str]]:
    return [f"n{i:02d}" for i in range(NUMERIC)], [f"c{i:02d}" for i in range(CATEGORICAL)]


def make_tables(rows: int, seed: int = 11) -> tuple[Any, Any, dict[str, str]]:
    """Reference and current tables, and what was done to each column of the current one."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    numeric, categorical = columns()
    ref: dict[str, Any] = {}
    cur: dict[str, Any] = {}
    change: dict[str, str] = {}
    for i, name in enumerate(numeric):
        kind = i % 5

        def draw(n: int, shift: float, kind: int = kind) -> Any:
            if kind == 0:
                return rng.normal(10 + shift, 2, n)
            if kind == 1:
                return rng.lognormal(1 + shift / 4, 0.5, n)
            if kind == 2:
                return rng.uniform(0 + shift, 100 + shift, n)
            if kind == 3:
                return rng.exponential(5 + shift, n)
            return rng.integers(0, 3, n).astype(np.float64) + (rng.random(n) < abs(shift) / 4)  # few values

        shift = 0.0
        if i % 3 == 0:
            shift, change[name] = 2.0, "drift"
        elif i % 7 == 1:
            shift, change[name] = 0.05, "tiny shift"
        else:
            change[name] = "none"
        ref[name] = draw(rows, 0.0)
        cur[name] = draw(rows, shift)
        if i % 4 == 2:  # some missing values
            cur[name][rng.random(rows) < 0.02] = np.nan
    for i, name in enumerate(categorical):
        k = 3 + i
        labels = np.array([f"v{j}" for j in range(k)])
        p = rng.dirichlet(np.ones(k) * 5)
        ref[name] = labels[rng.choice(k, rows, p=p)]
        q = p.copy()
        if i % 2 == 0:
            q = np.roll(p, 1) * 0.5 + p * 0.5
            change[name] = "drift"
        else:
            change[name] = "none"
        cur[name] = labels[rng.choice(k, rows, p=q / q.sum())]
    return pa.table(ref), pa.table(cur), change


def ensure_data(rows: int) -> tuple[Path, Path, Path]:
    import pyarrow.parquet as pq

    folder = DATA / f"drift_{rows}"
    ref_path, cur_path, baseline_path = (
        folder / "reference.parquet",
        folder / "current.parquet",
        folder / "baseline.json",
    )
    if not cur_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        ref, cur, change = make_tables(rows)
        pq.write_table(ref, ref_path)
        pq.write_table(cur, cur_path)
        (folder / "change.json").write_text(json.dumps(change))
    return ref_path, cur_path, baseline_path


def mlake_baseline(ref_path: str, baseline_path: str) -> dict[str, Any]:
    """Build and store the baseline (once per reference; not part of a drift run)."""
    import pyarrow.parquet as pq

    from mlake.monitor import DriftBaseline

    baseline = DriftBaseline.from_table(pq.read_table(ref_path))
    text = baseline.to_json()
    Path(baseline_path).write_text(text)
    return {"columns": len(baseline.columns), "json_kb": len(text) // 1024}


def mlake_drift(cur_path: str, baseline_path: str) -> dict[str, Any]:
    import time

    started = time.perf_counter()
    import pyarrow.dataset  # noqa: F401  (pq.read_table imports it, and pandas with it, on first use)
    import pyarrow.parquet as pq
    import scipy.spatial.distance
    import scipy.stats  # noqa: F401  (imported here so that the work time below excludes imports)

    from mlake.monitor import DriftBaseline, detect_drift

    imported = time.perf_counter()
    baseline = DriftBaseline.from_json(Path(baseline_path).read_text())
    result = detect_drift(baseline, pq.read_table(cur_path))
    return {
        "import_s": round(imported - started, 2),
        "work_s": round(time.perf_counter() - imported, 3),
        "drifted": result.drifted_columns,
        "dataset_drift": result.dataset_drift,
        "decisions": {f.column: f.drifted for f in result.features},
        "scores": {f.column: f.score for f in result.features},
        "methods": {f.column: f.method for f in result.features},
        "bounds": {f.column: f.error_bound for f in result.features},
    }


def evidently_drift(ref_path: str, cur_path: str, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    """Runs in the Evidently virtualenv."""
    os.environ["DO_NOT_TRACK"] = "1"
    import time
    import warnings

    started = time.perf_counter()
    warnings.filterwarnings("ignore")
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition), Dataset.from_pandas(ref, data_definition=definition)
    )
    decisions: dict[str, bool] = {}
    scores: dict[str, float] = {}
    methods: dict[str, str] = {}
    dataset_drift = None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            column, value, threshold = config["column"], float(metric["value"]), float(config["threshold"])
            p_value = "p_value" in config["method"]
            decisions[column] = value < threshold if p_value else value >= threshold
            scores[column] = value
            methods[column] = config["method"]
        elif config["type"].endswith("DriftedColumnsCount"):
            dataset_drift = metric["value"]["share"] >= config["drift_share"]
    return {"drifted": sum(decisions.values()), "dataset_drift": dataset_drift, "decisions": decisions,
            "scores": scores, "methods": methods, "import_s": round(imported - started, 2),
            "work_s": round(time.perf_counter() - imported, 3)}  # fmt: skip


def main() -> str:
    quick = "--quick" in sys.argv
    rows = 100_000 if quick else 1_000_000
    ref_path, cur_path, baseline_path = ensure_data(rows)
    python = ensure_evidently()
    numeric, categorical = columns()
    build = run_contender("benchmarks.bench_drift", "mlake_baseline", str(ref_path), str(baseline_path),
                          name="mlake baseline build (once)")  # fmt: skip
    ours = run_contender("benchmarks.bench_drift", "mlake_drift", str(cur_path), str(baseline_path),
                         name=f"mlake drift vs stored baseline ({rows:,} rows × 50)")  # fmt: skip
    theirs = run_contender("benchmarks.bench_drift", "evidently_drift", str(ref_path), str(cur_path), numeric,
                           categorical, python=str(python), name="Evidently DataDriftPreset")  # fmt: skip
    mine, other = ours.extra, theirs.extra
    disagree = [c for c in mine["decisions"] if mine["decisions"][c] != other["decisions"].get(c)]
    worst = max(abs(mine["scores"][c] - other["scores"][c]) for c in mine["scores"])
    # Python here runs with PYTHONDONTWRITEBYTECODE, so every process compiles its imports from source
    # (seconds for scipy, pandas, Evidently): the ratio is on the work after the imports; totals are shown too.
    work_ours = Measurement(f"mlake drift vs stored baseline ({rows:,} rows × 50), after imports",
                            mine["work_s"], ours.peak_mb, {"drifted": mine["drifted"]})  # fmt: skip
    work_theirs = Measurement("Evidently DataDriftPreset, after imports", other["work_s"], theirs.peak_mb,
                              {"drifted": other["drifted"]})  # fmt: skip
    speed = work_theirs.seconds / work_ours.seconds
    note = (
        f"{speed:.1f}× faster than Evidently after imports, {theirs.seconds / ours.seconds:.1f}× including "
        f"imports (target ≥ 10×: {'met' if speed >= 10 else 'NOT met'}); "
        f"decisions: {len(mine['decisions']) - len(disagree)} of {len(mine['decisions'])} equal"
        f"{' (differ: ' + ', '.join(disagree) + ')' if disagree else ''}; dataset drift mlake "
        f"{mine['dataset_drift']}, Evidently {other['dataset_drift']}; drifted columns {mine['drifted']} vs "
        f"{other['drifted']}; largest score difference {worst:.2g} (largest stated bound "
        f"{max(mine['bounds'].values()):.2g}). Baseline build (once, not in the ratio): {build.seconds:.1f} s, "
        f"{build.extra['json_kb']} KB of JSON. {machine()}, load average {os.getloadavg()[0]:.1f} at the end"
    )
    ours.name, theirs.name = ours.name + ", including imports", "Evidently DataDriftPreset, including imports"
    for m in (ours, theirs):
        m.extra = {"import_s": m.extra["import_s"]}
    table = report(f"Drift: 50 features, {rows:,} current rows", work_ours, [work_theirs, ours, theirs, build], note)
    return table + "\n\n" + note


if __name__ == "__main__":
    main()
