"""The extension point later areas use: an area adds REST routes, pages, a table tab and a home panel."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from tests.governed_lake import Governed
from tests.server.conftest import client_for

from mlake.server import extensions
from mlake.server.app import create_app
from mlake.server.extensions import Area, HomePanel, NavItem, TableTab, register_area
from mlake.server.settings import ServerSettings
from mlake.server.studio.render import render

pytestmark = pytest.mark.anyio


@pytest.fixture
def checks_area(tmp_path: Path) -> Iterator[None]:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "checks_tab.html").write_text("<p class='checks'>{{ c.failing }} failing checks on {{ table }}</p>")
    (templates / "checks_panel.html").write_text("<p class='failing'>{{ c.failing }} failing</p>")
    (templates / "checks_page.html").write_text(
        "{% extends 'base.html' %}{% block content %}<h1>Checks</h1>{% endblock %}"
    )

    def api() -> APIRouter:
        r = APIRouter(tags=["checks"])

        @r.get("/checks")
        def checks() -> list[dict[str, Any]]:
            return [{"table": "shop.orders", "status": "failed"}]

        return r

    def pages() -> APIRouter:
        r = APIRouter(include_in_schema=False)

        @r.get("/checks", response_class=HTMLResponse)
        def page(request: Request) -> HTMLResponse:
            return render(request, "checks_page.html", title="Checks")

        return r

    def tab(lake: Any, table: str, params: Mapping[str, str]) -> dict[str, Any]:
        return {"failing": 2}

    register_area(
        Area(
            name="checks",
            api=api,
            pages=pages,
            nav=(NavItem("Checks", "/checks", "check", 40),),
            table_tabs=(TableTab("checks", "Checks", "checks_tab.html", tab, 50),),
            home_panels=(HomePanel("failing", "Failing checks", "checks_panel.html", lambda lake: {"failing": 2}, 10),),
            templates=templates,
            tags=({"name": "checks", "description": "test area"},),
        )
    )
    try:
        yield
    finally:
        extensions._AREAS.pop("checks", None)


async def test_an_area_plugs_in(checks_area: None, governed: Governed) -> None:
    app = create_app(governed.lake, ServerSettings())
    async with client_for(app, governed.admin_token) as c:
        assert (await c.get("/api/v1/checks")).json()[0]["status"] == "failed"
        assert "/api/v1/checks" in (await c.get("/api/v1/openapi.json")).json()["paths"]
        html = {"Accept": "text/html"}
        home = (await c.get("/", headers=html)).text
        assert "Failing checks" in home and "2 failing" in home and 'href="/checks"' in home
        tab = (await c.get("/tables/shop.orders?tab=checks", headers=html)).text
        assert "2 failing checks on shop.orders" in tab
        assert "<h1>Checks</h1>" in (await c.get("/checks", headers=html)).text


async def test_without_the_area_there_is_no_trace_of_it(governed: Governed) -> None:
    app = create_app(governed.lake, ServerSettings())
    async with client_for(app, governed.admin_token) as c:
        home = (await c.get("/", headers={"Accept": "text/html"})).text
        assert "Failing checks" not in home and 'href="/checks"' not in home
        assert (await c.get("/api/v1/checks")).status_code == 404


def test_builtin_areas_use_the_same_registry() -> None:
    names = [a.name for a in extensions.load_areas()]
    assert names[:4] == ["catalog", "sql", "dashboards", "governance"]
