"""Studio's quality pages through the real app: the table tab and its fragments, the Quality page, and the
home page's failing checks (shown only when a check fails), as each viewer may see them."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio
HTML = {"Accept": "text/html"}
FAILING = "checks:\n  - unique: order_id\n  - in_range: {column: amount, min: 15}\n"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_quality_tab_and_its_fragments(admin: httpx.AsyncClient) -> None:
    tab = await admin.get("/tables/shop.orders?tab=quality", headers=HTML)
    assert tab.status_code == 200 and 'id="quality"' in tab.text
    assert "No checks for this table yet" in tab.text and "/static/quality.js" in tab.text
    assert ">Quality</a>" in tab.text  # the tab, and the sidebar entry
    profile = await admin.get("/tables/shop.orders/quality/profile")
    assert profile.status_code == 200 and "q-profile" in profile.text
    text = _text(profile.text)
    for words in ("Rows 4", "Columns 3", "order_id", "customer_id", "amount", "missing"):
        assert words in text, words
    assert '<svg class="q-hist"' in profile.text or "q-top" in profile.text
    again = await admin.get("/tables/shop.orders/quality/profile")
    assert "cached" in again.text  # the same snapshot through the same view is not profiled twice
    now = await admin.post("/tables/shop.orders/quality/profile", json={})
    assert now.status_code == 200 and "kept in history" in now.text
    history = await admin.get("/tables/shop.orders/quality/history")
    assert history.status_code == 200 and "1 profile run" in _text(history.text)
    run = await admin.post("/tables/shop.orders/quality/checks", json={"yaml": FAILING})
    assert run.status_code == 200 and 'data-passed="false"' in run.text
    assert "FAILED" in run.text and "in_range(amount)" in run.text and "unsaved suite" in run.text
    assert "failing row" in run.text and "12.25" in run.text  # a sample of the failing rows
    bad = await admin.post("/tables/shop.orders/quality/checks", json={"yaml": "checks:\n  - not_null: nope\n"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_argument"  # errors are JSON for the script


async def test_stored_suites_failing_checks_and_the_quality_page(admin: httpx.AsyncClient) -> None:
    home = await admin.get("/", headers=HTML)
    assert "Failing checks" not in home.text  # no placeholder while nothing fails
    await admin.put("/api/v1/tables/shop.orders/quality/suites/orders basics", json={"yaml": FAILING})
    page = await admin.get("/quality", headers=HTML)
    assert page.status_code == 200 and "orders basics" in page.text and "not run" in page.text
    run = await admin.post("/tables/shop.orders/quality/checks", json={"suite": "orders basics"})
    assert 'data-passed="false"' in run.text
    tab = await admin.get("/tables/shop.orders?tab=quality&suite=orders+basics", headers=HTML)
    assert "orders basics — failing" in tab.text and "FAILED" in tab.text and 'id="run-suite"' in tab.text
    home = await admin.get("/", headers=HTML)
    panel = _text(home.text.split("panel-failing-checks", 1)[1].split("</section>", 1)[0])
    assert "Failing checks" in home.text and "shop.orders · orders basics" in panel and "in_range(amount)" in panel
    page = _text((await admin.get("/quality", headers=HTML)).text)
    assert "failing shop.orders orders basics 2" in page and "Tables without checks" in page
    await admin.put(
        "/api/v1/tables/shop.orders/quality/suites/orders basics", json={"yaml": "checks:\n  - not_null: amount\n"}
    )
    await admin.post("/tables/shop.orders/quality/checks", json={"suite": "orders basics"})
    assert "Failing checks" not in (await admin.get("/", headers=HTML)).text


async def test_restricted_and_denied_viewers(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    await admin.put(
        "/api/v1/tables/shop.customers/quality/suites/contract", json={"yaml": "checks:\n  - not_null: email\n"}
    )
    await admin.post("/tables/shop.customers/quality/checks", json={"suite": "contract"})
    assert "Failing checks" in (await admin.get("/", headers=HTML)).text
    assert "Failing checks" not in (await analyst.get("/", headers=HTML)).text  # the result describes hidden rows
    tab = await analyst.get("/tables/shop.customers?tab=quality", headers=HTML)
    assert tab.status_code == 200 and "a row filter and a column mask" in tab.text
    assert "The last run of <b>contract</b> measured the whole table" in tab.text
    profile = await analyst.get("/tables/shop.customers/quality/profile")
    assert (
        "ann@example.com" not in profile.text and "***@example.com" in profile.text and "Rows 3" in _text(profile.text)
    )
    history = await analyst.get("/tables/shop.customers/quality/history")
    assert (
        history.status_code == 200 and "describes the whole table, which you read through a row filter" in history.text
    )
    run = await analyst.post("/tables/shop.customers/quality/checks", json={"suite": "contract"})
    assert "not kept" in run.text and "3 rows" in _text(run.text)
    assert (await outsider.get("/tables/shop.customers?tab=quality", headers=HTML)).status_code == 403
    r = await outsider.get("/tables/shop.customers/quality/profile")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = await outsider.post("/tables/shop.orders/quality/checks", json={"suite": "contract"})
    assert r.status_code == 403
    assert "contract" not in (await outsider.get("/quality", headers=HTML)).text


async def test_the_tab_measures_an_earlier_snapshot(admin: httpx.AsyncClient, governed: Governed) -> None:
    orders = governed.lake.table("shop.orders")
    first = orders.history()[-1].snapshot_id
    orders.append(orders.to_arrow())
    tab = await admin.get(f"/tables/shop.orders?tab=quality&snapshot={first}", headers=HTML)
    assert f'data-snapshot="{first}"' in tab.text and "as of snapshot" in tab.text
    old = _text((await admin.get("/tables/shop.orders/quality/profile", params={"snapshot": first})).text)
    now = _text((await admin.get("/tables/shop.orders/quality/profile")).text)
    assert "Rows 4" in old and "Duplicate rows 0" in old
    assert "Rows 8" in now and "Duplicate rows 4" in now
    run = await admin.post("/tables/shop.orders/quality/checks", json={"yaml": FAILING, "snapshot_id": first})
    assert f"snapshot <code>{first}</code>" in run.text and "4 rows" in _text(run.text)
