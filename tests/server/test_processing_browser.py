"""The recipe editor and the pipeline page in Chromium, on the demo lake of the Studio browser tests.

A 3-step recipe is built from the searchable transform list with the keyboard, a broken step shows its
message, the fix clears it, and the recipe is saved and run; the demo pipeline's graph is shown and a
run is started with "Run now". Screenshots go to test-artifacts/studio/.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.server.test_studio_browser import Studio, _page, _shot, browser, studio  # noqa: F401

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_build_a_recipe_fix_a_broken_step_save_and_run(browser: Any, studio: Studio) -> None:  # noqa: F811
    page = _page(browser, studio, "ada")
    page.goto(studio.url + "/recipes/new?table=shop.orders")
    page.wait_for_selector("#preview .sample-table")
    search = page.locator("#transform-search")
    search.click()
    search.type("filter")
    page.click('#transform-list li[data-op="filter"]')
    page.keyboard.type("amount > 0")  # the new step's first field has the focus
    search.click()
    search.type("standard scale")
    page.keyboard.press("Enter")
    page.keyboard.type("amuont")  # a typo: step 2 breaks
    search.click()
    search.type("one hot")
    page.keyboard.press("Enter")
    page.keyboard.type("channel")
    broken = page.locator('li.step.broken[data-step="2"] .step-message')
    broken.wait_for()
    assert "Step 2 (standard_scale)" in broken.inner_text() and "amuont" in broken.inner_text()
    assert "After step 1 of 3" in page.locator("#preview h2").inner_text()  # the last good sample
    _shot(page, "30-recipe-broken-step")
    page.fill("#s2-columns", "amount")
    expect(page.locator("#preview h2")).to_contain_text("After step 3 of 3")
    assert page.locator("li.step.broken").count() == 0
    assert "channel_" in page.locator("#preview .sample-table thead").inner_text()  # one-hot columns
    page.locator("li.step .step-title").first.click()  # the sample after step 1
    expect(page.locator("#preview h2")).to_contain_text("After step 1 of 3")
    page.fill("#recipe-name", "orders_ui")
    page.click("#save-recipe")
    page.wait_for_url("**/recipes/orders_ui?saved=1")
    page.fill("#run-into", "shop.orders_ui")
    page.click("#run-recipe")
    page.wait_for_selector("#run-result")
    assert "rows into shop.orders_ui" in page.locator("#run-result").inner_text()
    page.wait_for_selector("#preview .sample-table")
    _shot(page, "31-recipe-saved-and-run")
    assert studio.lake.table("shop.orders_ui").count() > 0


def test_pipeline_graph_and_run_now(browser: Any, studio: Studio) -> None:  # noqa: F811
    page = _page(browser, studio, "ada")
    page.goto(studio.url + "/pipelines")
    page.click("a:text-is('orders_daily')")
    page.wait_for_selector("svg.dag")
    assert page.locator("svg.dag .dag-node").count() == 2
    before = page.locator("table.runs tbody tr").count()
    page.click("#run-now")
    page.wait_for_url("**/pipelines/orders_daily?run=*")
    assert page.locator("table.runs tbody tr").count() == before + 1
    assert page.locator("svg.dag .dag-node.cached, svg.dag .dag-node.succeeded").count() == 2
    _shot(page, "32-pipeline")
