"""Monitors end to end on a real lake: a baseline from one snapshot, then snapshots with one injected
problem each — drift, missing values, a new category, worse accuracy, a bias shift — and a clean one.

Each problem must give its violation (and the clean snapshot none), stored in mlake.monitor_violations,
posted to a webhook (a real local HTTP server) and shown by the CLI's exit code. The false-alarm rate
over 100 clean batches is measured on the same checks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mlake.cli.main import app
from mlake.errors import AlreadyExistsError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.lake import Lake
from mlake.monitor import checks
from mlake.monitor.baseline import DriftBaseline
from mlake.monitor.checks import BiasDrift, Labels, MonitorConfig

BASELINE_ROWS = 5000
BATCH_ROWS = 1000


def scored(
    seed: int,
    n: int,
    first_id: int,
    *,
    shift: float = 0.0,
    flip: float = 0.1,
    south_flip: float | None = None,
    nulls: float = 0.0,
    new_colour: float = 0.0,
) -> tuple[pa.Table, pa.Table]:
    """(predictions, ground truth): features, a prediction that is the label flipped with prob ``flip``."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100 + shift, 15, n)
    age = rng.normal(40, 8, n).clip(18, 90)
    region = rng.choice(["north", "south"], n)
    colours = np.array(["red", "green", "blue", "purple"])
    p_colour = np.array([0.5, 0.3, 0.2, 0.0]) * (1 - new_colour) + np.array([0, 0, 0, new_colour])
    colour = colours[rng.choice(4, n, p=p_colour)]
    y = (rng.random(n) < 1 / (1 + np.exp(-(amount - 100) / 10))).astype(np.int64)
    flips = np.where(region == "south", flip if south_flip is None else south_flip, flip)
    pred = np.where(rng.random(n) < flips, 1 - y, y)
    amount_arr = pa.array(amount, mask=rng.random(n) < nulls)
    ids = np.arange(first_id, first_id + n)
    features = pa.table({"id": ids, "amount": amount_arr, "age": age, "region": region, "colour": colour, "pred": pred})
    return features, pa.table({"id": ids, "y": y})


CONFIG = MonitorConfig(
    labels=Labels("y", "pred", table="shop.truth", key="id", positive_values=(1,)),
    bias=BiasDrift("region", values=("south",), metrics=("DPPL", "AD")),
)


@pytest.fixture
def monitored(lake: Lake) -> Lake:
    features, truth = scored(0, BASELINE_ROWS, 0)
    lake.create_table("shop.scored", features)
    lake.create_table("shop.truth", truth)
    lake.monitoring.create("shop-model", target="shop.scored", config=CONFIG)
    return lake


def append(lake: Lake, seed: int, **problem: Any) -> None:
    first = lake.table("shop.scored").count()
    features, truth = scored(seed, BATCH_ROWS, first, **problem)
    lake.table("shop.scored").append(features)
    lake.table("shop.truth").append(truth)


def found(run: Any) -> set[tuple[str, str]]:
    return {(v.check, v.feature) for v in run.violations}


def test_each_injected_problem_gives_its_violation_and_a_clean_snapshot_none(monitored: Lake) -> None:
    lake = monitored
    m = lake.monitoring.get("shop-model")
    assert sorted(m.baseline.columns) == ["age", "amount", "colour", "region"]  # not the id, label or prediction
    assert m.baseline_metrics["quality"]["accuracy"] == pytest.approx(0.9, abs=0.02)

    append(lake, 1)
    clean = lake.monitoring.run("shop-model")
    assert clean.rows == BATCH_ROWS and clean.status == "ok" and clean.violations == ()

    append(lake, 7, shift=10.0)
    drifted = lake.monitoring.run("shop-model")
    assert drifted.rows == BATCH_ROWS  # only the new snapshot's rows
    assert ("drift", "amount") in found(drifted)
    assert not {f for f in found(drifted) if f[1] in ("age", "colour", "region")}

    append(lake, 3, nulls=0.1)
    assert found(lake.monitoring.run("shop-model")) == {("completeness", "amount")}

    append(lake, 4, new_colour=0.05)
    missing_colour = lake.monitoring.run("shop-model")
    assert ("new_category", "colour") in found(missing_colour)
    assert {f for _, f in found(missing_colour)} == {"colour"}  # 5% new rows shift the distribution too
    assert any("'purple'" in v.detail for v in missing_colour.violations)

    append(lake, 5, flip=0.3)
    worse = found(lake.monitoring.run("shop-model"))
    assert ("model_quality", "accuracy") in worse
    assert not {f for f in worse if f[0] in ("drift", "completeness", "new_category")}

    append(lake, 6, south_flip=0.4)
    biased = found(lake.monitoring.run("shop-model"))
    assert ("bias_drift", "AD[region in ('south')]") in biased or any(c == "bias_drift" for c, _ in biased)

    nothing_new = lake.monitoring.run("shop-model")
    assert nothing_new.status == "no_data" and nothing_new.rows == 0

    stored = lake.monitoring.violations("shop-model").to_pylist()
    assert {(r["check_name"], r["feature"]) for r in stored} >= {
        ("drift", "amount"),
        ("completeness", "amount"),
        ("new_category", "colour"),
        ("model_quality", "accuracy"),
    }
    assert all(r["monitor"] == "shop-model" and r["target"] == "shop.scored" for r in stored)
    runs = lake.monitoring.runs("shop-model")
    assert [r.status for r in runs][-2:] == ["violations", "ok"]  # newest first: the first run was clean
    assert len(runs) == 7


def test_rows_all_and_window(lake: Lake) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    features, _ = scored(0, 2000, 0)
    times = [now - timedelta(hours=48)] * 1000 + [now - timedelta(hours=1)] * 1000
    lake.create_table("shop.events", features.append_column("ts", pa.array(times, pa.timestamp("us", tz="UTC"))))
    lake.monitoring.create("all-rows", target="shop.events", config=MonitorConfig(rows="all"), columns=["amount"])
    window = MonitorConfig(rows="window", time_column="ts", window_seconds=86400)
    lake.monitoring.create("last-day", target="shop.events", config=window, columns=["amount"])
    assert lake.monitoring.run("all-rows").rows == 2000
    assert lake.monitoring.run("all-rows").rows == 2000  # every run sees the whole table
    assert lake.monitoring.run("last-day", now=now).rows == 1000


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012 - shared with the test thread

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Hook.received.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_gets_violations_and_cli_exit_code(lake: Lake, webhook: str, tmp_path: Path) -> None:
    features, _ = scored(0, BASELINE_ROWS, 0)
    lake.create_table("shop.scored", features.drop_columns(["pred"]))
    watched = ["amount", "age", "colour", "region"]  # not the id: new rows have new ids, a drift by design
    lake.monitoring.create("hooked", target="shop.scored", config=MonitorConfig(webhook=webhook), columns=watched)
    clean, _ = scored(1, BATCH_ROWS, BASELINE_ROWS)
    lake.table("shop.scored").append(clean.drop_columns(["pred"]))
    assert lake.monitoring.run("hooked").alert is None and Hook.received == []  # no violation, no alert
    drifted, _ = scored(7, BATCH_ROWS, BASELINE_ROWS * 2, shift=10)
    lake.table("shop.scored").append(drifted.drop_columns(["pred"]))
    run = lake.monitoring.run("hooked")
    assert run.alert == "200"
    [posted] = Hook.received
    assert posted["monitor"] == "hooked" and posted["run_id"] == run.run_id
    assert {(v["check"], v["feature"]) for v in posted["violations"]} == {("drift", "amount")}

    home = str(lake.settings.home)
    runner = CliRunner()
    status = runner.invoke(app, ["--home", home, "monitor", "status", "hooked"])
    assert status.exit_code == 0, status.output
    assert "drift" in status.output and "amount" in status.output
    listed = runner.invoke(app, ["--home", home, "monitor", "list"])
    assert listed.exit_code == 0 and "hooked" in listed.output
    # nothing new: exit 0; new drifted rows: exit 1
    assert runner.invoke(app, ["--home", home, "monitor", "run", "hooked"]).exit_code == 0
    lake.table("shop.scored").append(scored(3, BATCH_ROWS, 20_000, shift=10)[0].drop_columns(["pred"]))
    failed = runner.invoke(app, ["--home", home, "monitor", "run", "hooked"])
    assert failed.exit_code == 1, failed.output
    assert "amount" in failed.output
    # --due: only monitors whose target has a snapshot their last run did not see
    assert runner.invoke(app, ["--home", home, "monitor", "run", "--due"]).exit_code == 0
    assert lake.monitoring.due() == []
    lake.table("shop.scored").append(scored(4, BATCH_ROWS, 30_000)[0].drop_columns(["pred"]))
    assert [m.name for m in lake.monitoring.due()] == ["hooked"]
    watched_once = runner.invoke(app, ["--home", home, "monitor", "watch", "--times", "1"])
    assert watched_once.exit_code == 0 and "hooked" in watched_once.output and lake.monitoring.due() == []
    created = runner.invoke(
        app,
        [
            "--home",
            home,
            "monitor",
            "create",
            "from-cli",
            "--target",
            "shop.scored",
            "--rows",
            "all",
            "--column",
            "amount",
        ],
    )
    assert created.exit_code == 0, created.output
    assert lake.monitoring.get("from-cli").config.rows == "all"


def test_definitions_are_validated_and_governed(monitored: Lake) -> None:
    lake = monitored
    with pytest.raises(AlreadyExistsError):
        lake.monitoring.create("shop-model", target="shop.scored")
    with pytest.raises(ValidationError):
        MonitorConfig(rows="window")
    with pytest.raises(ValidationError):
        MonitorConfig(drift_options={"no_such_option": 1})
    with pytest.raises(ValidationError):
        lake.monitoring.create("bad name!", target="shop.scored")
    lake.governance.create_principal("eve")
    lake.governance.create_principal("ann")
    lake.governance.grant("ann", "select", "shop.scored")
    lake.governance.grant("ann", "select", "shop.truth")
    eve = lake.as_principal("eve")
    assert eve.monitoring.list() == []
    with pytest.raises(NotFoundError):
        eve.monitoring.run("shop-model")
    with pytest.raises(NotFoundError):
        eve.monitoring.violations("shop-model")
    with pytest.raises((NotFoundError, PermissionDeniedError)):
        eve.monitoring.create("mine", target="shop.scored")
    ann = lake.as_principal("ann")
    assert [m.name for m in ann.monitoring.list()] == ["shop-model"]
    append(lake, 1)
    assert ann.monitoring.run("shop-model").status == "ok"
    with pytest.raises(PermissionDeniedError):
        ann.monitoring.delete("shop-model")
    lake.governance.add_row_filter("shop.scored", "ann", "region = 'north'")
    with pytest.raises(PermissionDeniedError, match="sees only part"):  # a violation describes the whole table
        ann.monitoring.run("shop-model")
    lake.monitoring.delete("shop-model")
    with pytest.raises(NotFoundError):
        lake.monitoring.get("shop-model")


def false_alarm_rate(batches: int = 100, rows: int = BATCH_ROWS) -> tuple[float, dict[str, int]]:
    """Share of clean batches with at least one violation, over the same checks a run makes."""
    features, truth = scored(0, BASELINE_ROWS, 0)
    data = features.join(truth, "id")
    watched = ["amount", "age", "region", "colour"]
    baseline = DriftBaseline.from_table(data, columns=watched)
    labels = CONFIG.labels
    assert labels is not None and CONFIG.bias is not None
    base_quality = checks.quality_figures(labels, data)
    base_bias = checks.bias_figures(CONFIG.bias, labels, data)
    alarms = 0
    by_check: dict[str, int] = {}
    for seed in range(1000, 1000 + batches):
        f, t = scored(seed, rows, 0)
        batch = f.join(t, "id")
        found = checks.data_quality(baseline, batch.select(watched), CONFIG.completeness_alpha)
        found += checks.drift(baseline, batch.select(watched), CONFIG.drift_opts())[0]
        found += checks.model_quality(base_quality, checks.quality_figures(labels, batch), CONFIG.quality_tolerance)
        found += checks.bias_drift(CONFIG.bias, base_bias, checks.bias_figures(CONFIG.bias, labels, batch))
        alarms += bool(found)
        for v in found:
            by_check[v.check] = by_check.get(v.check, 0) + 1
    return alarms / batches, by_check


def test_false_alarm_rate_over_100_clean_batches() -> None:
    rate, by_check = false_alarm_rate()
    print(f"false-alarm rate over 100 clean batches of {BATCH_ROWS} rows: {rate:.0%} {by_check}")
    assert rate <= 0.05, by_check


MONITOR_PIPELINE = """
name: watch_scored
triggers:
  - on_new_data: shop.scored
steps:
  - {name: watch, kind: monitor, monitor: shop-model}
  - name: publish
    kind: sql
    sql: CREATE OR REPLACE TABLE shop.published AS SELECT count(*) AS n FROM shop.scored
    depends_on: [watch]
"""


def test_a_monitor_runs_on_new_data_through_the_pipeline_triggers(monitored: Lake) -> None:
    """New data in the target starts the pipeline; violations fail the monitor step and stop its dependants."""
    from mlake.pipelines.service import Pipelines, Worker

    lake = monitored
    pipelines = Pipelines(lake)
    pipelines.save(MONITOR_PIPELINE)
    worker = Worker(lake, "monitor-worker", deliveries=False)
    append(lake, 11)
    [clean] = worker.run_once()
    run = pipelines.status(clean)
    assert run.status == "succeeded" and [s.status for s in run.steps] == ["succeeded", "succeeded"]
    assert "monitor shop-model: ok" in (run.steps[0].log or "")
    assert lake.sql("SELECT n FROM shop.published").scalar() == BASELINE_ROWS + BATCH_ROWS
    assert worker.run_once() == []  # no new snapshot: no run

    append(lake, 12, shift=40.0)
    [drifted] = worker.run_once()
    run = pipelines.status(drifted)
    assert run.status == "failed" and [s.status for s in run.steps] == ["failed", "stopped"]
    assert "violation" in (run.steps[0].error or "") and "drift" in (run.steps[0].error or "")
    assert lake.sql("SELECT n FROM shop.published").scalar() == BASELINE_ROWS + BATCH_ROWS  # not republished
    (latest,) = lake.monitoring.runs("shop-model", limit=1)
    assert latest.status == "violations"  # the monitor's own record, as a run by hand would leave


def _species(seed: int, n: int, skill: float) -> pa.Table:
    """A three-class model right with probability about ``skill``."""
    rng = np.random.default_rng(seed)
    names = np.array(["cat", "dog", "emu"])
    y = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    right = rng.random(n) < skill
    pred = np.where(right, y, (y + rng.integers(1, 3, n)) % 3)
    probs = np.full((n, 3), 0.15)
    probs[np.arange(n), pred] = 0.7
    return pa.table({"y": names[y], "pred": names[pred], **{f"p_{c}": probs[:, j] for j, c in enumerate(names)}})


def test_a_multiclass_model_quality_monitor(lake: Lake) -> None:
    lake.create_table("zoo.scored", _species(0, 3000, skill=0.8))
    labels = Labels(
        "y", "pred", problem="multiclass", class_scores=("p_cat", "p_dog", "p_emu"), classes=("cat", "dog", "emu")
    )
    config = MonitorConfig(labels=labels, drift=False, data_quality=False)
    monitor = lake.monitoring.create("zoo", target="zoo.scored", config=config)
    assert monitor.baseline_metrics["quality"]["accuracy"] == pytest.approx(0.8, abs=0.03)
    assert {"precision", "recall", "f1", "f1_weighted", "auc", "log_loss"} <= set(monitor.baseline_metrics["quality"])
    lake.table("zoo.scored").append(_species(1, 1000, skill=0.8))
    assert lake.monitoring.run("zoo").violations == ()
    lake.table("zoo.scored").append(_species(2, 1000, skill=0.5))
    flagged = {v.feature for v in lake.monitoring.run("zoo").violations if v.check == "model_quality"}
    assert {"accuracy", "f1"} <= flagged
    with pytest.raises(ValidationError, match="binary label"):
        MonitorConfig(labels=labels, bias=BiasDrift("y", values=("cat",)))
    with pytest.raises(ValidationError, match="no positive outcome"):
        Labels("y", "pred", problem="multiclass", positive_values=("cat",))
    stored = MonitorConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert stored.labels == labels  # the classes and score columns survive the stored JSON
