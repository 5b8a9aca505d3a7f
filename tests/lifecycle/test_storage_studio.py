"""Studio's storage page (usage, largest tables, growth chart, policies), the source pages and the table
page's Storage and Provenance tabs, through the real app — and what a principal without grants sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import mlake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from tests.lifecycle.test_lifecycle import events, make_history

HTML = {"Accept": "text/html"}


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[dict[str, Any]]:
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner")
    make_history(lake, "shop.orders", batches=3)
    lake.sources.register("acme-feed", kind="purchased", provider="Acme", license="proprietary-acme-7",
                          allowed_uses=["model_training"])  # fmt: skip
    lake.sources.attach("shop.orders", "acme-feed")
    lake.sql("create table mart.order_totals as select id, value from shop.orders")
    lake.storage.usage(record=True)
    lake.table("shop.orders").append(events(100, [0.0] * 50))
    lake.storage.set_policy("shop", retain_last=7)
    lake.storage.usage(record=True)
    lake.governance.create_principal("eve")
    app = create_app(lake, ServerSettings(auth=True))
    clients = {}
    for who, superuser in (("ada", True), ("eve", False)):
        if who == "ada":
            lake.governance.create_principal("ada", superuser=superuser)
        token = lake.governance.create_token(who)[1]
        clients[who] = TestClient(app, base_url="http://studio.test", headers={"Authorization": f"Bearer {token}"})
    yield {"lake": lake, **clients}
    for c in clients.values():
        c.close()
    lake.close()


def test_storage_page_shows_usage_growth_and_policies(studio: dict[str, Any]) -> None:
    page = studio["ada"].get("/storage", headers=HTML)
    assert page.status_code == 200, page.text
    text = page.text
    assert "Largest tables" in text and "shop.orders" in text and "mart.order_totals" in text
    assert "storage-growth" in text and "<polyline" in text  # the growth chart, drawn on the server
    assert "retain_last=7" in text and "2 measurement(s)" in text
    ns = studio["ada"].get("/storage?namespace=mart", headers=HTML).text
    assert "mart.order_totals" in ns and "shop.orders" not in ns.split("Largest tables")[1].split("Namespaces")[0]


def test_table_tabs_storage_and_provenance(studio: dict[str, Any]) -> None:
    tab = studio["ada"].get("/tables/shop.orders?tab=storage", headers=HTML).text
    assert "Current snapshot" in tab and "retain_last=7" in tab and "<polyline" in tab
    prov = studio["ada"].get("/tables/mart.order_totals?tab=provenance", headers=HTML).text
    assert "acme-feed" in prov and "proprietary-acme-7" in prov and "shop.orders" in prov


def test_source_pages(studio: dict[str, Any]) -> None:
    listing = studio["ada"].get("/sources", headers=HTML).text
    assert "acme-feed" in listing and "proprietary-acme-7" in listing and "model_training" in listing
    one = studio["ada"].get("/sources/acme-feed", headers=HTML).text
    assert "Acme" in one and "mart.order_totals" in one and "shop.orders" in one


def test_a_principal_without_grants_sees_nothing(studio: dict[str, Any]) -> None:
    eve = studio["eve"]
    page = eve.get("/storage", headers=HTML)
    assert page.status_code == 200
    assert "shop.orders" not in page.text and "mart.order_totals" not in page.text and "retain_last" not in page.text
    assert "<polyline" not in page.text
    one = eve.get("/sources/acme-feed", headers=HTML).text
    assert "mart.order_totals" not in one and "shop.orders" not in one
    for tab in ("storage", "provenance"):
        r = eve.get(f"/tables/shop.orders?tab={tab}", headers=HTML)
        assert r.status_code in (403, 404) and "proprietary" not in r.text and "retain_last" not in r.text
