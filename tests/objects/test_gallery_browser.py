"""The Gallery tab in a real browser (Playwright with Debian's Chromium, a live server): an image's thumbnail
loads, a text shows its start, an audio object gets a player. Screenshot under test-artifacts/objects/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import mlake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from tests.live_server import chromium, free_port, live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "objects"


@pytest.fixture
def studio(tmp_path: Path, files: Path) -> Iterator[tuple[str, str]]:
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner")
    lake.objects.add(str(files), into="raw.things", label_from="folder")
    lake.create_table("raw.plain", pa.table({"x": [1]}))
    lake.governance.create_principal("ada", superuser=True)
    token = lake.governance.create_token("ada")[1]
    port = free_port()
    try:
        with live_server(create_app(lake, ServerSettings(port=port)), port) as url:
            yield url, token
    finally:
        lake.close()


def test_gallery_shows_thumbnails_text_and_audio(studio: tuple[str, str]) -> None:
    url, token = studio
    with chromium() as browser:
        page: Any = browser.new_page(viewport={"width": 1200, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.fill("input[name=token]", token)
        page.click("button:has-text('Log in')")
        page.wait_for_url(url + "/")
        page.goto(url + "/tables/raw.things?tab=gallery")
        img = page.locator("figure.object-image img").first
        img.wait_for()
        page.wait_for_function("() => [...document.images].some(i => i.complete && i.naturalWidth > 0)")
        assert img.evaluate("i => i.naturalWidth") == 40  # a 40×30 PNG, thumbnailed no larger
        assert "hello" in page.locator("figure.object-text pre").inner_text()
        assert page.locator("figure.object-audio audio").count() == 1
        assert "unreadable image" in page.locator("figure.object-error").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)
        page.goto(url + "/tables/raw.plain")
        page.wait_for_selector("nav.tabs")
        assert page.locator("a:text-is('Gallery')").count() == 0  # only object tables have a gallery
        assert not errors, errors
