"""CSRF: state changes made with the Studio cookie from a page on another port are refused (issue 10)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi import FastAPI

from mlake.server.state import COOKIE
from tests.governed_lake import Governed
from tests.live_server import chromium
from tests.security.attempts import ATTEMPTS
from tests.security.conftest import client_for

CSV = b"a,b\n1,2\n"


def _upload(table: str) -> dict[str, object]:
    return {"data": {"table": table}, "files": {"files": ("x.csv", CSV, "text/csv")}}


@pytest.mark.anyio
async def test_cookie_requests_need_the_servers_own_origin(shared_app: FastAPI, shared: Governed) -> None:
    lake = shared.lake
    async with client_for(shared_app, None) as browser:
        browser.cookies.set(COOKIE, shared.admin_token)
        for headers in (
            {"Origin": "http://studio.test:9999"},
            {"Origin": "null"},
            {"Referer": "http://evil.example/page"},
            {"Origin": "https://studio.test.evil.example"},
        ):
            r = await browser.post("/api/v1/ingest", headers=headers, **_upload("csrf.forged"))  # type: ignore[arg-type]
            ATTEMPTS.record("CSRF (httpx)", r.status_code == 403)
            assert r.status_code == 403, (headers, r.text)
            assert r.json()["code"] == "forbidden_origin"
        r = await browser.delete("/api/v1/tables/shop.orders", headers={"Origin": "http://127.0.0.1:1"})
        assert r.status_code == 403 and lake.table_exists("shop.orders")
        ok = await browser.post("/api/v1/ingest", headers={"Origin": "http://studio.test"}, **_upload("csrf.own"))  # type: ignore[arg-type]
        assert ok.status_code == 201, ok.text
        ok = await browser.post(
            "/api/v1/ingest", headers={"Referer": "http://studio.test/catalog"}, **_upload("csrf.own")
        )  # type: ignore[arg-type]
        assert ok.status_code == 201, ok.text
    assert not lake.table_exists("csrf.forged")
    async with client_for(shared_app, None) as anon:  # a login form posted from elsewhere is refused too
        r = await anon.post("/login", data={"token": shared.admin_token}, headers={"Origin": "http://x:1"})
        assert r.status_code == 403 and "set-cookie" not in r.headers
    async with client_for(shared_app, shared.admin_token) as api:  # a Bearer token needs no Origin
        r = await api.post("/api/v1/ingest", headers={"Origin": "http://elsewhere:1"}, **_upload("csrf.bearer"))  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
    lake.drop_table("csrf.own")
    lake.drop_table("csrf.bearer")


EVIL = """<!doctype html><title>loading</title><script>
const fd = new FormData();
fd.append('table', 'csrf.pwned');
fd.append('files', new Blob(['a,b\\n1,2\\n'], {type: 'text/csv'}), 'x.csv');
fetch('%(target)s/api/v1/ingest', {method: 'POST', body: fd, mode: 'no-cors', credentials: 'include'})
  .then(() => { document.title = 'sent'; }, () => { document.title = 'sent'; });
</script>"""


@pytest.fixture
def evil_site(tmp_path: Path, live: str) -> Iterator[str]:
    (tmp_path / "evil.html").write_text(EVIL % {"target": live})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/evil.html"
    finally:
        server.shutdown()


@pytest.mark.slow
@pytest.mark.browser
def test_a_page_on_another_port_cannot_ingest_with_the_studio_cookie(
    live: str, evil_site: str, shared: Governed
) -> None:
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.goto(f"{live}/login")
        page.fill("input[name=token]", shared.admin_token)
        page.click("button.primary")
        page.wait_for_load_state()
        assert any(c["name"] == COOKIE for c in page.context.cookies())
        page.goto(evil_site)
        page.wait_for_function("document.title === 'sent'", timeout=20_000)
        held = not shared.lake.table_exists("csrf.pwned")
        ATTEMPTS.record("CSRF (Chromium)", held)
        assert held, "a page on another port ingested a table with the Studio cookie"
        # Studio's own pages still can: the same request from its origin goes through.
        page.goto(f"{live}/")
        status = page.evaluate(
            """async () => {
                const fd = new FormData();
                fd.append('table', 'csrf.studio');
                fd.append('files', new Blob(['a,b\\n1,2\\n'], {type: 'text/csv'}), 'x.csv');
                return (await fetch('/api/v1/ingest', {method: 'POST', body: fd})).status;
            }"""
        )
        assert status == 201 and shared.lake.table_exists("csrf.studio")
        shared.lake.drop_table("csrf.studio")
