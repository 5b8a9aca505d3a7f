"""Studio in a real browser: Playwright drives Debian's Chromium against a live server on the demo lake.

Walks the main pages — browse, preview, SQL with a chart, a time-travel view, a failed query and the
quarantine, a denied table, a dashboard, a failed check — and saves a screenshot of each under
test-artifacts/studio/.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import uvicorn
from tests.live_server import chromium

import mlake
from mlake.demo import build_demo
from mlake.lake import Lake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "studio"



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Studio:
    def __init__(self, lake: Lake, url: str, tokens: dict[str, str]) -> None:
        self.lake, self.url, self.tokens = lake, url, tokens


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio") / "lake"
    lake = mlake.connect(home, threads=2, user="owner")
    build_demo(lake, customers=300)
    gov = lake.governance
    gov.create_role("analyst")
    gov.create_principal("ada", superuser=True, display_name="Ada Admin")
    gov.create_principal("bob", roles=["analyst"])
    gov.grant("analyst", "select", "tag:pii=false")
    tokens = {"ada": gov.create_token("ada")[1], "bob": gov.create_token("bob")[1]}
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(lake, ServerSettings(port=port)), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield Studio(lake, f"http://127.0.0.1:{port}", tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        lake.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _page(browser: Any, studio: Studio, who: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(studio.url + "/")
    assert page.url.endswith("/login?next=/")
    page.fill("input[name=token]", studio.tokens[who])
    page.click("button:has-text('Log in')")
    page.wait_for_url(studio.url + "/")
    return page


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert not page.errors, page.errors


def test_browse_the_catalog(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ada")
    assert page.locator(".stat b").first.inner_text() != "0"
    assert page.locator(".panel-activity li").count() >= 5
    _shot(page, "01-home")
    page.keyboard.press("/")  # the search shortcut
    page.keyboard.type("clickstream")
    page.keyboard.press("Enter")
    page.wait_for_url("**/catalog?q=clickstream")
    rows = page.locator("table.catalog tbody tr")
    names = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("shop.events" in n or n.startswith("events") for n in names)  # the clickstream table is found
    page.click("a:text-is('events')")
    page.wait_for_selector("table.schema")
    assert "ts" in page.locator("table.schema").inner_text()
    _shot(page, "02-table-overview")


def test_preview_with_paging_and_sorting(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ada")
    page.goto(studio.url + "/tables/shop.orders?tab=data")
    page.wait_for_selector("#rows table.grid tbody tr")
    assert page.locator("#rows tbody tr").count() == 50
    page.click("#rows th[data-col=amount]")
    page.wait_for_selector("#rows th[data-col=amount] .arrow:has-text('▲')")
    page.click("#rows th[data-col=amount]")  # descending
    page.wait_for_selector("#rows th[data-col=amount] .arrow:has-text('▼')")
    amounts = page.locator("#rows tbody tr td:nth-child(7)").all_inner_texts()
    values = [float(a.replace(",", "")) for a in amounts[:5]]
    assert values == sorted(values, reverse=True)
    page.click("#next")
    page.wait_for_selector("#page-info:has-text('rows 51')")
    _shot(page, "03-table-data")


def test_sql_with_a_chart(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ada")
    page.goto(studio.url + "/sql")
    page.fill("#sql-input", "SELECT channel, count(*) AS orders FROM shop.orders GROUP BY ALL ORDER BY 2 DESC")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#grid table.grid tbody tr")
    assert "rows" in page.locator("#status").inner_text()
    assert page.locator("#sql-highlight .hl-k").count() >= 4  # keywords are highlighted
    page.click(".result .tabs a[data-view=chart]")
    page.wait_for_selector("#chart svg.chart rect.bar")
    assert page.locator("#chart rect.bar").count() >= 4
    _shot(page, "04-sql-chart")
    page.click("#save-query")
    page.fill("#save-query-form input[name=name]", "Orders by channel")
    page.select_option("#save-query-form select[name=dashboard]", "new")
    page.fill("#save-query-form input[name=new_dashboard]", "Sales")
    page.click("#save-query-form button.primary")
    page.wait_for_url("**/dashboards/*")
    page.wait_for_selector(".tile svg.chart rect.bar")
    _shot(page, "05-dashboard")


def test_time_travel_view(browser: Any, studio: Studio) -> None:
    products = studio.lake.table("shop.products")
    before = products.count()
    first = products.history()[-1].snapshot_id
    products.delete("product_id <= 100")
    page = _page(browser, studio, "ada")
    page.goto(studio.url + "/tables/shop.products?tab=history")
    rows = page.locator("table.history tbody tr")
    assert rows.count() >= 2
    page.locator(f"table.history tr:has-text('{first}') a:has-text('View data')").click()
    page.wait_for_selector(".time-travel")
    assert str(first) in page.locator(".time-travel").inner_text()
    page.wait_for_selector("#page-info:has-text('of')")
    assert f"of {before:,}" in page.locator("#page-info").inner_text()
    _shot(page, "06-time-travel")


def test_history_buttons_are_whole_at_1400_px(browser: Any, studio: Studio) -> None:
    # The commands a user saw were long ingest lines listing many files; the table's command column grew
    # with them and squeezed the buttons ("SQ"). The demo's own commands are short, so write long ones.
    table = studio.lake.create_table("scratch.long_commands", pa.table({"id": [1]}), exist_ok=True)
    folder = "/home/a-data-scientist/projects/churn-model/raw-exports/2026-11-30/"
    for day in range(3):
        files = " ".join(f"{folder}orders-part-{day}-{i:04d}.csv" for i in range(6))
        table.append(pa.table({"id": [day]}), command=f"mlake ingest {files} --into scratch.long_commands")
    page = _page(browser, studio, "ada")  # a 1400 x 900 window
    page.goto(studio.url + "/tables/scratch.long_commands?tab=history")
    card = page.locator("section.card:has(table.history)").bounding_box()
    for button in page.locator("table.history .actions a").all():
        box = button.bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 0.5, button.inner_text()
        assert button.evaluate("e => e.scrollWidth <= e.clientWidth")  # "SQL", not "SQ"
    _shot(page, "06b-history")


def test_failed_query_and_quarantine_are_shown(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ada")
    quarantined = page.locator(".stat.warn b").inner_text()
    assert int(quarantined.replace(",", "")) > 0  # the demo's dirty rows failed their checks at ingest
    page.goto(studio.url + "/sql")
    page.fill("#sql-input", "SELECT no_such_column FROM shop.orders")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".toast.error")
    assert "no_such_column" in page.locator(".toast.error").first.inner_text()
    _shot(page, "07-failed-query")
    page.goto(studio.url + "/tables/shop.orders__quarantine?tab=data")
    page.wait_for_selector("#rows table.grid tbody tr")
    assert page.locator("#rows tbody tr").count() >= 1
    _shot(page, "08-quarantine")


def test_denied_table(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "bob")
    assert "customers" not in page.locator(".content").inner_text()  # pii=true: not listed for bob
    page.goto(studio.url + "/tables/shop.customers")
    assert page.locator("h1").inner_text() == "Access denied"
    assert "no grant on table shop.customers" in page.locator(".problem-message").inner_text()
    _shot(page, "09-denied-table")
    page.goto(studio.url + "/sql")
    page.fill("#sql-input", "SELECT * FROM shop.customers")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".toast.error")
    assert "no grant on table shop.customers" in page.locator(".toast.error").first.inner_text()
    page.goto(studio.url + "/audit")
    audit_text = page.locator("table.audit").inner_text()
    assert "denied" in audit_text, audit_text[:3000]
    _shot(page, "10-audit-own-events")


def test_feature_search_and_group_page(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ada")
    page.click(".sidebar nav a:has-text('Features')")
    page.wait_for_url("**/features")
    assert page.locator(".group-card").count() == 3  # the demo's customer_orders, customer_clicks, customer_views_1h
    page.keyboard.press("/")  # on this page the shortcut searches features
    page.keyboard.type("spend")
    page.keyboard.press("Enter")
    page.wait_for_url("**/features?q=spend*")
    assert page.locator("table.feature-hits a:text-is('spend_30d')").count() == 1
    _shot(page, "11-features-search")
    page.click("table.feature-hits a:text-is('spend_30d')")
    page.wait_for_selector("table.feature-schema")
    assert page.locator("tr#f-spend_30d").is_visible()
    assert page.locator("table.feature-schema svg.spark rect.bar").count() >= 20  # a histogram per feature
    customer = studio.lake.sql("SELECT min(customer_id) FROM features.customer_orders").scalar()
    page.fill("#online-lookup input[name=customer_id]", str(customer))
    page.click("#online-lookup button")
    page.wait_for_selector("#online-result table tbody tr")
    assert page.locator("#online-result tbody tr").count() == 3
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "12-feature-group")
    page.click("table.training-sets a:has-text('churn-training')")
    page.wait_for_selector("#ts-rows table.grid tbody tr")
    assert page.locator("#ts-rows tbody tr").count() == 50
    _shot(page, "13-training-set")


def test_a_failed_check(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ada")
    page.goto(studio.url + "/tables/shop.orders?tab=quality")
    page.wait_for_selector("#profile-host .q-col svg.q-hist")  # the profile arrives with its charts
    assert page.locator("#profile-host .q-col").count() == 8
    page.wait_for_selector("#history-host .q-note, #history-host .q-strip")  # history (the demo ran a suite)
    page.click("#suggest-suite")
    page.wait_for_selector("#suite-dialog[open]")
    assert "not_null" in page.input_value("#suite-form textarea[name=yaml]")  # a suite suggested from the profile
    page.fill("#suite-form input[name=name]", "orders basics")
    page.fill(
        "#suite-form textarea[name=yaml]",
        "checks:\n  - unique: order_id\n  - in_range: {column: amount, min: 0}\n  - not_null: customer_id\n",
    )
    page.click("#suite-form button[type=submit]")
    page.wait_for_url("**/tables/shop.orders?tab=quality&suite=orders+basics")
    page.click("#run-suite")
    page.wait_for_selector(".q-results[data-passed=false]")
    failed = page.locator("tr.q-check.fail")
    assert failed.count() == 2  # the demo's orders repeat ids and have negative amounts
    assert "FAILED" in failed.first.inner_text() and "unique(order_id)" in failed.first.inner_text()
    assert "passed" in page.locator("tr.q-check.pass").inner_text()
    failed.nth(1).locator("details.q-samples summary").click()
    assert page.locator("tr.q-check.fail").nth(1).locator(".q-sample-grid tbody tr").count() >= 1
    page.wait_for_selector("#history-host .q-strip i.bad")  # the run joined the suite's history
    _shot(page, "14-quality-failed-check")
    page.goto(studio.url + "/")
    panel = page.locator(".panel-failing-checks")
    assert "orders basics" in panel.inner_text() and "unique(order_id)" in panel.inner_text()
    _shot(page, "15-home-failing-checks")
    page.goto(studio.url + "/quality")
    assert "failing" in page.locator("table.q-suites tr:has-text('orders basics')").inner_text()
    _shot(page, "16-quality-page")
