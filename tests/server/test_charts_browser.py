"""The monitoring, bias and stream pictures in a real browser (Playwright with Debian's Chromium against a
live server) on known data: each chart has as many marks as the data says — bars, thresholds, violation
dots, interval rows — the stream's live tail follows new records and pauses, and a principal without a
grant on a stream gets neither its page nor its tail. Screenshots go to test-artifacts/studio/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.charts_world import ATTRIBUTIONS, CLICKS, MONITOR, STREAM, VAULT, build_bias, build_monitor, build_streams
from tests.live_server import chromium, free_port, live_server

import mlake
from mlake.bias.charts import metric_intervals
from mlake.lake import Lake
from mlake.monitor.charts import drift_gauges, latest_with_drift, run_series
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "studio"
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@dataclass
class World:
    lake: Lake
    url: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    lake = mlake.connect(tmp_path_factory.mktemp("charts") / "lake", threads=2, user="owner")
    build_monitor(lake)
    build_bias(lake)
    build_streams(lake)
    gov = lake.governance
    gov.create_role("watcher")
    gov.create_principal("ada", superuser=True)
    gov.create_principal("bob", roles=["watcher"])
    gov.grant("watcher", "select", f"stream:{STREAM}")  # the clicks stream, not the vault
    tokens = {"ada": gov.create_token("ada")[1], "bob": gov.create_token("bob")[1]}
    port = free_port()
    try:
        with live_server(create_app(lake, ServerSettings(port=port)), port) as url:
            yield World(lake, url, tokens)
    finally:
        lake.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _page(browser: Any, world: World, who: str) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(world.url + "/")
    page.fill("input[name=token]", world.tokens[who])
    page.click("button:has-text('Log in')")
    page.wait_for_url(world.url + "/")
    return page


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert not page.errors, page.errors


def test_monitoring_charts_have_a_mark_per_run_threshold_and_violation(browser: Any, world: World) -> None:
    lake = world.lake
    monitor = lake.monitoring.get(MONITOR)
    runs = list(reversed(lake.monitoring.runs(MONITOR)))
    series = run_series(monitor, runs, lake.monitoring.violations(MONITOR).to_pylist())
    latest = latest_with_drift(runs)
    assert latest is not None
    gauges = drift_gauges(monitor, latest)

    page = _page(browser, world, "ada")
    page.goto(world.url + "/monitoring")
    spark = page.locator(".m-spark svg")
    assert spark.count() == 1
    assert spark.locator("circle.dot.mark").count() == sum(r.status == "violations" for r in runs) == 2
    assert spark.locator("line.threshold").count() == 1
    _shot(page, "40-monitoring-list-chart")

    page.goto(world.url + f"/monitoring/{MONITOR}")
    bars = page.locator("#m-gauges svg g.gauge")
    assert bars.count() == len(gauges) == 4
    assert page.locator("#m-gauges rect.bar.bad").count() == sum(g.flagged for g in gauges)
    assert page.locator("#m-gauges line.threshold").count() == 4
    charts = page.locator("#m-series .m-series")
    assert charts.count() == len(series)
    assert page.locator("#m-series svg circle.dot").count() == sum(
        sum(v is not None for v in s.values) for s in series
    )  # a dot per run with a value
    assert page.locator("#m-series svg circle.dot.mark").count() == sum(len(s.violated) for s in series) >= 2
    assert page.locator("#m-series svg line.threshold").count() == sum(s.threshold is not None for s in series)
    assert page.locator("#m-series svg rect.band").count() == sum(s.band is not None for s in series)
    drift_amount = page.locator('#m-series .m-series[data-check="drift"][data-name="amount"] circle.dot.mark')
    assert drift_amount.count() == 1  # the run with amount shifted
    title = page.locator('#m-series .m-series[data-check="model_quality"][data-name="accuracy"] circle.dot.mark title')
    assert title.count() == 1 and "accuracy" in title.first.text_content()
    _shot(page, "41-monitor-charts")

    with page.expect_download() as info:
        page.click("#m-report")
    saved = Path(info.value.path()).read_text(encoding="utf-8")
    assert saved.startswith("<!doctype html>") and "<script" not in saved
    assert saved.count('class="dot mark"') == sum(len(s.violated) for s in series)
    report = browser.new_page()
    report.set_content(saved)  # opens on its own: nothing to load
    assert report.locator("svg.m-line").count() == len(series)
    report.close()


def test_bias_page_draws_a_row_per_metric_and_facet_and_a_bar_per_feature(browser: Any, world: World) -> None:
    report = world.lake.bias.report(
        "hr.applicants",
        facet="sex",
        facet_values=["Female"],
        label="hired",
        positive_values=[1],
        predicted="score",
        predicted_threshold=0.5,
        resamples=300,
    )
    rows = metric_intervals(report)
    page = _page(browser, world, "ada")
    page.goto(world.url + "/bias")
    page.fill("input[name=source]", "hr.applicants")
    page.fill("input[name=facet]", "sex")
    page.fill("input[name=facet_value]", "Female")
    page.fill("input[name=label]", "hired")
    page.fill("input[name=positive]", "1")
    page.fill("input[name=predicted]", "score")
    page.fill("input[name=predicted_threshold]", "0.5")
    page.fill("input[name=attributions]", ATTRIBUTIONS)
    page.click("button:has-text('Report')")
    page.wait_for_selector("#b-metric-chart svg")
    assert page.locator("#b-facets g.interval").count() == 4  # a and d, label and prediction
    assert page.locator("#b-facets rect.band").count() == 2  # facet d's four-fifths band, per outcome
    assert page.locator("#b-metric-chart g.interval").count() == len(rows) == len(report.metrics)
    assert page.locator("#b-metric-chart g.interval.outside").count() == sum(r.outside for r in rows)
    assert page.locator("#b-metric-chart path.ci").count() == sum(
        r.value is not None and r.low is not None and r.high is not None for r in rows
    )
    assert page.locator("#b-attributions rect.bar").count() == 3
    first = page.locator("#b-attributions g title").first.text_content()
    assert first.startswith("amount: mean |SHAP| 0.31")
    _shot(page, "42-bias-charts")


def test_bias_form_adds_a_facet_column_and_reports_the_intersection(browser: Any, world: World) -> None:
    from mlake.bias import Condition, Facet

    want = world.lake.bias.report(
        "hr.applicants",
        facet=Facet.all_of(Condition("sex", ("Female",)), Condition("score", threshold=0.6)),
        label="hired",
        positive_values=[1],
        resamples=0,
    )
    page = _page(browser, world, "ada")
    page.goto(world.url + "/bias")
    page.fill("input[name=source]", "hr.applicants")
    page.fill("input[name=facet]", "sex")
    page.fill("input[name=facet_value]", "Female")
    page.fill("input[name=label]", "hired")
    page.fill("input[name=positive]", "1")
    page.click("button:has-text('Add a facet column')")
    page.wait_for_function("document.querySelectorAll('input[name=facet]').length === 2")
    assert page.locator("#b-facets").count() == 0  # adding a column reports nothing yet
    assert page.locator("input[name=facet_value]").first.input_value() == "Female"  # the form comes back filled
    page.locator("input[name=facet]").nth(1).fill("score")
    page.locator("input[name=facet_threshold]").nth(1).fill("0.6")
    page.press("input[name=label]", "Enter")  # Enter reports (the first submit button is Report)
    page.wait_for_selector("#b-facets svg")
    assert page.locator("input[name=facet]").count() == 2
    title = page.locator("h2.card-title").first.text_content() or ""
    assert want.facet in title  # "sex in {Female} and score > 0.6"
    cells = page.locator("table.b-groups tbody tr td:nth-child(2)").all_text_contents()
    assert [int(c.replace(",", "")) for c in cells] == [g.rows for g in want.groups]
    _shot(page, "43-bias-intersectional-facet")


def test_stream_page_charts_and_a_live_tail_that_pauses(browser: Any, world: World) -> None:
    page = _page(browser, world, "bob")
    page.goto(world.url + f"/streams/{STREAM}")
    assert page.locator("#s-throughput rect.bar").count() == 30
    assert page.locator("#s-lags .m-series").count() == 2  # the group and the delivery
    assert page.locator("#s-tail tbody tr").count() == CLICKS
    world.lake.streams.put_batch(STREAM, [(f"u{i}", {"live": i}) for i in range(3)])
    expect(page.locator("#s-tail tbody tr.s-new")).to_have_count(3, timeout=10_000)
    assert "'live': " in page.locator("#s-tail tbody tr").first.inner_text()

    page.click("#s-pause")
    expect(page.locator("#s-live-state")).to_have_text("paused")
    world.lake.streams.put_batch(STREAM, [("u9", {"paused": 1})])
    time.sleep(5)  # two polls' time: nothing arrives while paused
    assert page.locator("#s-tail tbody tr.s-new").count() == 3
    page.click("#s-pause")
    expect(page.locator("#s-tail tbody tr.s-new")).to_have_count(4, timeout=10_000)
    assert "'paused': 1" in page.locator("#s-tail tbody tr").first.inner_text()
    expect(page.locator("#s-live-state")).to_contain_text("live")
    # every fifth poll redraws the charts on the server: the lag charts come back with more samples
    page.wait_for_function(
        "() => document.querySelectorAll('#s-lags .m-series')[0]?.querySelectorAll('circle.dot').length >= 2",
        timeout=20_000,
    )
    assert page.locator("#s-throughput rect.bar").count() == 30
    _shot(page, "43-stream-live")


def test_no_grant_no_stream_page_and_no_tail(browser: Any, world: World) -> None:
    page = _page(browser, world, "bob")
    response = page.goto(world.url + f"/streams/{VAULT}")
    assert response.status == 403 and "zebra" not in page.content()
    assert page.locator("#s-live").count() == 0
    status, text = page.evaluate(
        """async (url) => { const r = await fetch(url, {headers: {Accept: 'application/json'}});
                            return [r.status, await r.text()]; }""",
        f"/streams/{VAULT}/live?from=0:oldest",
    )
    assert status == 403 and "zebra" not in text
    page.goto(world.url + "/streams")
    assert VAULT not in page.locator("main").inner_text()
    page.errors.clear()
