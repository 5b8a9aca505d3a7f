"""A ``rows="new"`` monitor run over one new append to a large append-only target: reading only the
appended data files vs reading both snapshots and taking their difference.

    .venv/bin/python -m benchmarks.bench_monitor_new_rows [--quick]

Setup (not timed): a target of ``APPENDS`` appends of ``ROWS_PER_APPEND`` rows (5,000,000 rows; 500,000
with ``--quick``), two identical monitors created on it (baseline: the target at that snapshot, so both
last saw it), then one new append of ``NEW_ROWS`` rows. Each contender runs in its own process on the
same lake:

- ours: ``lake.monitoring.run("new")`` — the run reads the data file the new snapshot appended;
- baseline: ``lake.monitoring.run("old")`` with the appended-files path switched off in that process, so
  the run takes the previous way (read both snapshots, ``EXCEPT ALL``);
- the reads alone: the run's row read on each path (no checks).

Both runs check the same 10,000 rows against the same baseline, so their summaries must agree.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, Measurement, machine, report, run_contender, timed

APPENDS = 50
ROWS_PER_APPEND = 100_000
QUICK_ROWS_PER_APPEND = 10_000
NEW_ROWS = 10_000
TARGET = "bench.scored"


def _batch(seed: int, first_id: int, n: int) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(first_id, first_id + n),
            "amount": rng.normal(100, 15, n),
            "age": rng.normal(40, 8, n).clip(18, 90),
            "score": rng.random(n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def prepare(home: str, per_append: int) -> dict[str, Any]:
    import mlake

    with mlake.connect(Path(home), threads=2) as lake:
        table = lake.create_table(TARGET, _batch(0, 0, per_append))
        for i in range(1, APPENDS):
            table.append(_batch(i, i * per_append, per_append))
        for name in ("new", "old"):
            lake.monitoring.create(name, target=TARGET)
        table.append(_batch(APPENDS, APPENDS * per_append, NEW_ROWS))
        files = len(list(lake.iceberg_table(TARGET).scan().plan_files()))
        return {"rows": table.count(), "data_files": files}


def _snapshots(lake: Any, monitor: str) -> tuple[int, int]:
    snap = lake.iceberg_table(TARGET).current_snapshot()
    since = lake.monitoring.get(monitor).last_snapshot_id
    assert snap is not None and since is not None
    return snap.snapshot_id, since


def run_monitor(home: str, monitor: str, appended_path: bool) -> dict[str, Any]:
    import mlake
    from mlake.monitor import monitors

    if not appended_path:
        monitors.appended_files = lambda *a, **k: None  # type: ignore[assignment]  # the previous way
    with mlake.connect(Path(home), threads=2) as lake:
        lake.iceberg_table(TARGET)  # the catalog opened, as in a long-lived process
        seconds, run = timed(lake.monitoring.run, monitor)
        drift = {c: round(d["score"], 12) for c, d in run.summary.get("drift", {}).items()}
        return {
            "work_s": seconds,
            "rows": run.rows,
            "read": json.dumps(run.summary["read"]),
            "drift": json.dumps(drift),
        }


def read_rows(home: str, monitor: str, appended_path: bool) -> dict[str, Any]:
    import mlake
    from mlake.monitor import monitors

    if not appended_path:
        monitors.appended_files = lambda *a, **k: None  # type: ignore[assignment]
    with mlake.connect(Path(home), threads=2) as lake:
        snap, since = _snapshots(lake, monitor)
        seconds, (data, read) = timed(
            lake.monitoring._rows, lake.monitoring.get(monitor), snap, since, datetime.now(UTC)
        )
        return {"work_s": seconds, "rows": data.num_rows, "read": read["method"]}


def _work(m: Measurement) -> Measurement:
    """The contender's timed work only: imports (compiled from source here) and opening the lake excluded."""
    extra = {k: v for k, v in m.extra.items() if k not in ("work_s", "drift")}
    extra["with_imports_s"] = round(m.seconds, 2)
    return Measurement(m.name, m.extra["work_s"], m.peak_mb, extra)


def main() -> None:
    per_append = QUICK_ROWS_PER_APPEND if "--quick" in sys.argv else ROWS_PER_APPEND
    home = DATA / "monitor_new_rows"
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    setup = run_contender("benchmarks.bench_monitor_new_rows", "prepare", str(home), per_append)
    print(
        f"target: {setup.extra['rows']:,} rows in {setup.extra['data_files']} data files; setup {setup.seconds:.1f} s"
    )
    try:
        reads = [
            run_contender(
                "benchmarks.bench_monitor_new_rows", "read_rows", str(home), "new", flag, name=f"row read, {label}"
            )
            for flag, label in ((True, "appended files"), (False, "snapshot difference"))
        ]
        ours = run_contender(
            "benchmarks.bench_monitor_new_rows",
            "run_monitor",
            str(home),
            "new",
            True,
            name=f"monitor run, appended files ({NEW_ROWS:,} new rows)",
        )
        old = run_contender(
            "benchmarks.bench_monitor_new_rows",
            "run_monitor",
            str(home),
            "old",
            False,
            name=f"monitor run, snapshot difference ({NEW_ROWS:,} new rows)",
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    same = ours.extra["drift"] == old.extra["drift"] and ours.extra["rows"] == old.extra["rows"] == NEW_ROWS
    note = (
        f"{machine()}. Target {setup.extra['rows']:,} rows in {setup.extra['data_files']} files. Run: "
        f"{old.extra['work_s'] / ours.extra['work_s']:.1f}× faster; read alone: "
        f"{reads[1].extra['work_s'] / reads[0].extra['work_s']:.1f}×. "
        f"Same rows and drift scores on both paths: {same}."
    )
    print(report("rows='new' monitor run", _work(ours), [_work(m) for m in (old, *reads)], note))
    if not same:
        raise SystemExit("the two paths disagree")


if __name__ == "__main__":
    main()
