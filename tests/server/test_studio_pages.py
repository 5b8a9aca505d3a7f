"""Studio's pages through the real app: login, every page renders, access control shows as messages."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from tests.governed_lake import Governed
from tests.server.conftest import client_for

pytestmark = pytest.mark.anyio
HTML = {"Accept": "text/html"}


async def test_pages_need_a_login(app: FastAPI, governed: Governed) -> None:
    async with client_for(app, None) as anon:
        r = await anon.get("/catalog", headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/catalog"
        assert "API token" in (await anon.get("/login")).text
        bad = await anon.post("/login", data={"token": "mlk_x_y", "next": "/catalog"})
        assert bad.status_code == 401 and "not valid" in bad.text
        ok = await anon.post("/login", data={"token": governed.analyst_token, "next": "/catalog"})
        assert ok.status_code == 303 and ok.headers["location"] == "/catalog"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = await anon.get("/catalog", headers=HTML)  # the cookie logs in from now on
        assert page.status_code == 200 and "shop.orders" in page.text.replace("orders</a>", "shop.orders")
        evil = await anon.post("/login", data={"token": governed.analyst_token, "next": "//evil.example"})
        assert evil.headers["location"] == "/"


PAGES = [
    "/",
    "/catalog",
    "/catalog?q=pii",
    "/catalog?namespace=shop",
    "/tables/shop.orders",
    "/tables/shop.orders?tab=data",
    "/tables/shop.orders?tab=history",
    "/tables/shop.orders?tab=lineage",
    "/sql",
    "/sql?q=SELECT+1",
    "/dashboards",
    "/access",
    "/audit",
    "/audit?outcome=denied&page=2",
    "/api/v1/docs",
]


async def test_every_page_renders(admin: httpx.AsyncClient) -> None:
    for path in PAGES:
        r = await admin.get(path, headers=HTML)
        assert r.status_code == 200, (path, r.text[:500])
        assert "<html" in r.text and "mlake" in r.text and "Traceback" not in r.text


async def test_home_and_catalog_count_tables_alike(admin: httpx.AsyncClient, governed: Governed, tmp_path) -> None:
    import re

    dirty = tmp_path / "dirty.csv"
    dirty.write_text("id,n\n1,2\n2,x\n")
    governed.lake.ingest(dirty, into="shop.dirty", types={"n": "long"})  # makes shop.dirty__quarantine
    home = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (await admin.get("/", headers=HTML)).text))
    catalog = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (await admin.get("/catalog", headers=HTML)).text))
    tables = int(re.search(r"Tables (\d+)", home).group(1))
    assert re.search(rf"\b{tables} tables and 1 quarantine table you can see", catalog), catalog[:300]
    assert not re.search(r"\b1 tables\b", home + catalog)
    assert re.search(r"vault 1 table\b", home)  # one table in a namespace: singular


async def test_denied_table_page_is_a_message(analyst: httpx.AsyncClient) -> None:
    r = await analyst.get("/tables/vault.secrets", headers=HTML)
    assert r.status_code == 403
    assert "Access denied" in r.text and "no grant on table vault.secrets" in r.text
    catalog = (await analyst.get("/catalog", headers=HTML)).text
    assert "secrets" not in catalog  # not listed either


async def test_masked_and_filtered_table_page(analyst: httpx.AsyncClient) -> None:
    r = await analyst.get("/tables/shop.customers", headers=HTML)
    assert r.status_code == 200 and "masked" in r.text and "rows filtered" in r.text


async def test_missing_things_are_messages(admin: httpx.AsyncClient) -> None:
    r = await admin.get("/tables/shop.nothing", headers=HTML)
    assert r.status_code == 404 and "does not exist" in r.text
    r = await admin.get("/tables/not-a-name", headers=HTML)
    assert r.status_code == 400 and "namespace.table" in r.text
    r = await admin.get("/dashboards/999", headers=HTML)
    assert r.status_code == 404
    for path in ("/dashboards/99999999999999999999999", "/sql?query=99999999999999999999999", "/tables/a.b?tab=nope"):
        r = await admin.get(path, headers=HTML)
        assert r.status_code in (200, 404, 422) and "Traceback" not in r.text, path


async def test_static_assets_are_served_locally(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/", headers=HTML)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp  # the browser refuses anything remote
    assert "<script>" not in response.text  # no inline scripts: pages start from data-page
    docs = (await admin.get("/api/v1/docs", headers=HTML)).text
    assert "cdn" not in docs.lower() and "/api/v1/sql" in docs
    page = response.text
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    for asset in ("/static/studio.css", "/static/studio.js", "/static/favicon.svg"):
        assert (await admin.get(asset)).status_code == 200
