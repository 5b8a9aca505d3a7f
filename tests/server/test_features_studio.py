"""Studio's feature-store pages through the real app: search, group page, training set page, home panel."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from tests.governed_features import NOW, add_feature_groups
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio
HTML = {"Accept": "text/html"}


@pytest.fixture
def app(governed: Governed) -> FastAPI:
    from mlake.server.app import create_app
    from mlake.server.settings import ServerSettings

    add_feature_groups(governed.lake)
    governed.lake.features.training_set(
        "SELECT customer_id, TIMESTAMPTZ '" + NOW.isoformat() + "' AS at FROM shop.customers",
        ["customer_profile:*", "order_stats:orders"],
        name="owner-set",
    )
    return create_app(governed.lake, ServerSettings(auth=True, statement_timeout=5))


async def test_search_page(admin: httpx.AsyncClient, outsider: httpx.AsyncClient) -> None:
    page = await admin.get("/features", headers=HTML)
    assert page.status_code == 200
    assert 'href="/features/groups/customer_profile"' in page.text and "order_stats" in page.text
    assert "owner-set" in page.text and '<a href="/features" class="active">' in page.text  # the sidebar entry
    found = (await admin.get("/features", params={"q": "spend"}, headers=HTML)).text
    assert 'href="/features/groups/customer_profile#f-spend"' in found and "order_stats" not in found
    by_tag = (await admin.get("/features", params={"tag": "domain=sales"}, headers=HTML)).text
    assert "order_stats" in by_tag and "/features/groups/customer_profile" not in by_tag
    none = (await admin.get("/features", params={"q": "zzz"}, headers=HTML)).text
    assert "No feature groups match" in none
    empty = (await outsider.get("/features", headers=HTML)).text
    assert "0 feature groups you can see" in empty and "customer_profile" not in empty


async def test_group_page(admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient) -> None:
    page = await admin.get("/features/groups/customer_profile", headers=HTML)
    assert page.status_code == 200, page.text[:500]
    text = page.text
    for expected in ("Age in years", "entity key", "event time", "30d", "owner-set", "Look up an entity", "Lineage"):
        assert expected in text, expected
    assert text.count('<svg class="chart spark"') >= 4  # event time + 3 features
    assert 'id="materialize"' in text  # superusers may materialize
    mine = (await analyst.get("/features/groups/customer_profile", headers=HTML)).text
    assert "1 masked" in mine and 'id="materialize"' not in mine
    assert re.search(r"Feature rows</span><b>4</b>", mine)  # the row filter applies to the statistics
    assert "owner-set" not in mine  # its entity rows are owner's own table: the analyst could not load it
    denied = await outsider.get("/features/groups/customer_profile", headers=HTML)
    assert denied.status_code == 403 and "Access denied" in denied.text
    missing = await admin.get("/features/groups/nope", headers=HTML)
    assert missing.status_code == 404 and "does not exist" in missing.text


async def test_training_set_page_and_home_panel(admin: httpx.AsyncClient, governed: Governed) -> None:
    ts = governed.lake.features.load_training_set("owner-set")
    page = await admin.get(f"/features/training-sets/{ts.id}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "<b>6</b> rows" in text and f"/api/v1/features/training-sets/{ts.id}/export?format=parquet" in text
    for table, snap in ts.snapshots.items():
        assert table in text and str(snap) in text
    assert ts.entities["table"] in text and "a SQL query" in text
    by_name = await admin.get("/features/training-sets/owner-set", headers=HTML)
    assert by_name.status_code == 200
    home = (await admin.get("/", headers=HTML)).text
    assert "Feature store" in home and 'href="/features/training-sets/' in home


async def test_assets_are_local_and_pages_have_no_inline_code(admin: httpx.AsyncClient) -> None:
    for path in ("/features", "/features/groups/order_stats"):
        text = (await admin.get(path, headers=HTML)).text
        assert "<script>" not in text and " style=" not in text  # the CSP allows neither
        for asset in re.findall(r'(?:src|href)="(/static/areas/features/[^"?]+)', text):
            assert (await admin.get(asset)).status_code == 200


async def test_group_page_with_column_grants(outsider: httpx.AsyncClient, governed: Governed) -> None:
    for column in ("customer_id", "spend"):
        governed.lake.governance.grant("alice", "select", f"features.customer_profile.{column}")
    page = await outsider.get("/features/groups/customer_profile", headers=HTML)
    assert page.status_code == 200, page.text[:500]
    assert 'data-features="customer_profile:spend"' in page.text  # the lookup asks only for what alice may read
    assert re.search(r"Writes</span><b>—</b>", page.text)  # write_time is not granted: not shown
