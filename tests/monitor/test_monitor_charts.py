"""The numbers behind the monitoring pictures, checked against pandas over the stored run records and
violations, and the self-contained HTML report (Python and CLI; REST and Studio in
tests/server/test_monitoring_charts.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlake.cli.main import app
from mlake.lake import Lake
from mlake.monitor.charts import drift_gauges, headline, latest_with_drift, run_series
from mlake.monitor.html import monitor_report_html
from tests.charts_world import MONITOR, build_monitor


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import mlake

    home = tmp_path_factory.mktemp("charts") / "lake"
    with mlake.connect(home, threads=2, user="tester") as lake:
        build_monitor(lake)
        yield lake


def test_series_equal_the_runs_and_violations_in_pandas(watched: Lake) -> None:
    monitor = watched.monitoring.get(MONITOR)
    runs = list(reversed(watched.monitoring.runs(MONITOR)))
    violations = watched.monitoring.violations(MONITOR).to_pandas()
    series = {(s.check, s.name, s.method): s for s in run_series(monitor, runs, violations.to_dict("records"))}
    run_index = {r.run_id: i for i, r in enumerate(runs)}

    # the share of drifted features per run = drift violations per run / features tested in that run
    drifted = violations[violations.check_name == "drift"].groupby("run_id").size()
    tested = pd.Series({r.run_id: len(r.summary["drift"]) for r in runs})
    share = (drifted.reindex(tested.index, fill_value=0) / tested).rename(index=run_index).sort_index()
    assert list(series[("dataset_drift", "*", None)].values) == pytest.approx(list(share))

    # every violation row is a red mark of its series, and nothing else is
    marked = {(s.check, s.name, i) for s in series.values() for i in s.violated}
    expected = {
        (v.check_name, v.feature, run_index[v.run_id])
        for v in violations.itertuples()
        if v.check_name in ("drift", "model_quality")
    }
    assert {m for m in marked if m[0] in ("drift", "model_quality")} == expected
    assert ("drift", "amount", 1) in marked and ("model_quality", "accuracy", 2) in marked  # the injected problems

    amount = next(s for s in series.values() if s.check == "drift" and s.name == "amount")
    assert list(amount.values) == [r.summary["drift"]["amount"]["score"] for r in runs]
    assert amount.threshold == 0.1 and amount.method == "wasserstein"  # 1,000-row batches: Evidently's default
    accuracy = series[("model_quality", "accuracy", None)]
    assert accuracy.threshold == pytest.approx(monitor.baseline_metrics["quality"]["accuracy"] - 0.05)
    dppl = series[("bias_drift", "DPPL", None)]
    base = monitor.baseline_metrics["bias"]["DPPL"]
    assert dppl.band == pytest.approx((base - 0.1, base + 0.1))

    latest = latest_with_drift(runs)
    assert latest is runs[-1]
    gauges = drift_gauges(monitor, latest)
    assert [g.label for g in gauges] == list(latest.summary["drift"])
    assert [g.flagged for g in gauges] == [d["drifted"] for d in latest.summary["drift"].values()]
    top = headline(monitor, runs)
    assert top is not None and top.violated == tuple(i for i, r in enumerate(runs) if r.status == "violations")


def test_the_html_report_is_self_contained_with_charts_and_violations(watched: Lake, tmp_path: Path) -> None:
    page = monitor_report_html(watched.monitoring, MONITOR)
    violations = watched.monitoring.violations(MONITOR).num_rows
    assert page.startswith("<!doctype html>") and f"Violations ({violations})" in page
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing external
    assert page.count('class="chart m-line"') == len(
        run_series(
            watched.monitoring.get(MONITOR),
            list(reversed(watched.monitoring.runs(MONITOR))),
            watched.monitoring.violations(MONITOR).to_pylist(),
        )
    )
    assert page.count('class="dot mark"') >= 2 and "m-drift-bars" in page

    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["--home", str(watched.settings.home), "monitor", "report", MONITOR, "--html", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = out.read_text(encoding="utf-8")
    assert f"Violations ({violations})" in written and written.count("<svg") == page.count("<svg")
