"""Pipelines on a real lake: triggered by new data, cached when inputs are unchanged, stopped by a
failing check, and executed exactly once by racing workers (SQLite and PostgreSQL catalogs)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlake.lake import Lake
from mlake.pipelines import Pipeline, PipelineError, Pipelines, Step, Worker
from tests.processing.conftest import make_frame

CALLS: Counter[str] = Counter()
LOCK = threading.Lock()


def count_call(lake: Any, step: Step) -> str:
    with LOCK:
        CALLS[step.name] += 1
    return "counted"


RECIPE = """
name: clean
source: shop.orders
steps:
  - {op: fill_mean, columns: [x]}
  - {op: standard_scale, columns: [v]}
"""

PIPELINE = """
name: orders_daily
triggers:
  - on_new_data: shop.orders
steps:
  - name: check_orders
    kind: check
    table: shop.orders
    suite: |
      name: orders
      checks:
        - not_null: id
  - name: clean
    kind: recipe
    recipe: clean
    inputs: [shop.orders]
    output: shop.orders_clean
    depends_on: [check_orders]
  - name: features
    kind: sql
    sql: CREATE OR REPLACE TABLE shop.features AS SELECT k, avg(v) AS v_mean FROM shop.orders_clean GROUP BY k
    inputs: [shop.orders_clean]
    output: shop.features
    depends_on: [clean]
"""


def _orders(n: int, seed: int, start: int) -> pd.DataFrame:
    return make_frame(n, seed, id_start=start).drop(columns=["flag"])


def _statuses(run: Any) -> dict[str, str]:
    return {s.step: s.status for s in run.steps}


def test_new_data_triggers_a_run_unchanged_inputs_are_cached_failing_check_stops(lake: Lake) -> None:
    lake.create_table("shop.orders", _orders(100, 1, 0))
    lake.recipes.create(RECIPE)
    pipelines = Pipelines(lake)
    pipelines.save(PIPELINE)
    worker = Worker(lake, "w1")

    [first] = worker.run_once()
    run = pipelines.status(first)
    assert run.status == "succeeded" and "new data in shop.orders" in run.trigger
    assert _statuses(run) == {"check_orders": "succeeded", "clean": "succeeded", "features": "succeeded"}
    assert worker.run_once() == []  # no new snapshot, no new run

    again = pipelines.run("orders_daily")  # by hand, nothing changed: cached
    assert _statuses(again) == {"check_orders": "cached", "clean": "cached", "features": "cached"}

    lake.table("shop.orders").append(_orders(20, 2, 1000))
    [second] = worker.run_once()
    assert _statuses(pipelines.status(second)) == {
        "check_orders": "succeeded",
        "clean": "succeeded",
        "features": "succeeded",
    }
    assert lake.sql("SELECT count(*) FROM shop.orders_clean").scalar() == 120

    bad = _orders(5, 3, 2000).astype({"id": "Int64"})
    bad.loc[bad.index[0], "id"] = pd.NA
    lake.table("shop.orders").append(bad)
    [third] = worker.run_once()
    failed = pipelines.status(third)
    assert failed.status == "failed"
    assert _statuses(failed) == {"check_orders": "failed", "clean": "stopped", "features": "stopped"}
    assert "check" in (failed.steps[0].error or "")
    assert lake.sql("SELECT count(*) FROM shop.orders_clean").scalar() == 120  # not rewritten


def test_invalid_pipelines_are_refused() -> None:
    with pytest.raises(PipelineError, match="cycle"):
        Pipeline.from_yaml(
            "name: p\nsteps:\n"
            "  - {name: a, kind: sql, sql: select 1, depends_on: [b]}\n"
            "  - {name: b, kind: sql, sql: select 1, depends_on: [a]}\n"
        )
    with pytest.raises(PipelineError, match="needs recipe, output"):
        Pipeline.from_yaml("name: p\nsteps:\n  - {name: a, kind: recipe}\n")


RACE = """
name: race
steps:
  - {name: count, kind: python, function: "tests.pipelines.test_pipelines:count_call"}
"""


def test_racing_workers_execute_every_run_exactly_once(any_lake: Lake) -> None:
    pipelines = Pipelines(any_lake)
    pipelines.save(RACE)
    runs = [pipelines.start("race") for _ in range(12)]
    CALLS.clear()
    executed: dict[str, list[int]] = {}

    def work(name: str) -> None:
        executed[name] = Worker(any_lake, name).run_once()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = sorted(r for ids in executed.values() for r in ids)
    assert done == sorted(r for r in runs if r is not None)
    assert CALLS["count"] == 12
    assert all(pipelines.status(r).status == "succeeded" for r in done)  # type: ignore[arg-type]


def test_a_dead_workers_run_is_retried_not_lost(lake: Lake) -> None:
    pipelines = Pipelines(lake)
    pipelines.save(RACE)
    run = pipelines.start("race")
    assert run is not None and pipelines.claim(run, "dies-mid-step")
    assert not pipelines.claim(run, "other")  # claimed once
    assert Worker(lake, "w2", lease_seconds=3600).run_once() == []  # still leased
    assert Worker(lake, "w2", lease_seconds=0).run_once() == [run]  # lease expired: retried
    status = pipelines.status(run)
    assert status.status == "succeeded" and status.worker == "w2" and status.attempts == 2


def test_cli_save_run_status_worker(lake: Lake, tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from mlake.cli.main import app

    home = str(lake.settings.home)
    lake.close()
    path = tmp_path / "p.yaml"
    path.write_text(RACE)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--home", home, *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "Saved pipeline race" in run("pipelines", "save", str(path))
    done = json.loads(run("pipelines", "run", "race", "--json"))
    assert done["status"] == "succeeded" and done["steps"][0]["status"] == "succeeded"
    assert "counted" in run("pipelines", "logs", str(done["id"]))
    assert "Executed runs: []" in run("worker", "--once")
    assert "0 3 * * *" in run("pipelines", "schedule", "race", "0 3 * * *")


def test_pipelines_are_for_superusers(lake: Lake) -> None:
    from mlake.errors import PermissionDeniedError

    lake.governance.create_principal("eve")
    eve = lake.as_principal("eve")
    with pytest.raises(PermissionDeniedError):
        eve.pipelines.names()
    with pytest.raises(PermissionDeniedError):
        Worker(eve, "w")


def test_cron_trigger_starts_one_run_per_due_time(lake: Lake) -> None:
    from datetime import UTC, datetime, timedelta

    pipelines = Pipelines(lake)
    pipelines.save(RACE.replace("name: race\n", "name: race\ntriggers:\n  - cron: '*/5 * * * *'\n"))
    later = datetime.now(UTC) + timedelta(minutes=11)
    first = pipelines.poll_triggers(later)
    assert len(first) == 1 and "schedule */5" in pipelines.status(first[0]).trigger
    assert pipelines.poll_triggers(later) == []  # the same due time: no second run
    assert len(pipelines.poll_triggers(later + timedelta(minutes=5))) == 1
    with pytest.raises(PipelineError, match="invalid cron"):
        Pipeline.from_yaml(
            "name: p\ntriggers: [{cron: 'every day'}]\nsteps:\n  - {name: a, kind: sql, sql: select 1}\n"
        )


def sleep_once(lake: Any, step: Step) -> str:
    """First attempt: leave a marker and hang (the test kills the worker); a retry finishes at once."""
    import os
    import time
    from pathlib import Path

    marker = Path(os.environ["MLAKE_TEST_MARKER"])
    if not marker.exists():
        marker.write_text("started")
        time.sleep(120)
    return "finished on retry"


SLOW = """
name: slow
steps:
  - {name: hang, kind: python, function: "tests.pipelines.test_pipelines:sleep_once"}
"""


@pytest.mark.slow
def test_a_worker_killed_mid_step_leaves_the_run_retried(lake: Lake, tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pipelines = Pipelines(lake)
    pipelines.save(SLOW)
    run = pipelines.start("slow")
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}:{root}", "MLAKE_TEST_MARKER": str(marker)}
    code = (
        "import mlake; from mlake.pipelines import Worker; "
        f"Worker(mlake.connect(home={str(lake.settings.home)!r}), 'doomed', lease_seconds=3).run_once()"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the worker never reached the step"
            time.sleep(0.1)
        assert Worker(lake, "rescuer", lease_seconds=3).run_once() == []  # the doomed worker still beats
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(3.5)  # its lease runs out
    os.environ["MLAKE_TEST_MARKER"] = str(marker)
    try:
        assert Worker(lake, "rescuer", lease_seconds=3).run_once() == [run]
    finally:
        del os.environ["MLAKE_TEST_MARKER"]
    status = pipelines.status(run)  # type: ignore[arg-type]
    assert (status.status, status.worker, status.attempts) == ("succeeded", "rescuer", 2)
    assert status.steps[-1].log == "finished on retry"


STEP_MODULE = '''
import os

import pyarrow as pa


def record_pid(lake, step):
    lake.create_table("ops.ray_step", pa.table({"pid": [os.getpid()], "step": [step.name]}))
    return f"wrote from process {os.getpid()}"
'''


@pytest.mark.slow  # starts a local Ray
def test_a_python_step_runs_as_a_ray_task(lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The step's function comes from a module only the driver can import (shipped by value); the task
    opens the lake from the driver's settings and writes through it."""
    pytest.importorskip("ray")
    (tmp_path / "mlake_ray_step_mod.py").write_text(STEP_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    pipelines = Pipelines(lake)
    pipelines.save(
        "name: on_ray\nsteps:\n"
        "  - {name: remote, kind: python, function: 'mlake_ray_step_mod:record_pid', engine: ray}\n"
    )
    run = pipelines.run("on_ray")
    assert run.status == "succeeded", run.steps[0].error
    [row] = lake.table("ops.ray_step").to_arrow().to_pylist()
    assert row["step"] == "remote" and row["pid"] != os.getpid()  # it ran in a Ray worker process
    assert run.steps[0].log == f"wrote from process {row['pid']}"
    with pytest.raises(PipelineError, match="engine: ray"):
        Pipeline.from_yaml("name: p\nsteps:\n  - {name: a, kind: sql, sql: select 1, engine: ray}\n")
