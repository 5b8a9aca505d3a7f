"""REST faces of object tables through the real app (httpx's ASGI transport): bytes with their media type,
thumbnails, listing, adding from an allowed folder, and refusals for a principal without grants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import mlake
from mlake.objects.metadata import extract
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def world(tmp_path: Path, files: Path) -> AsyncIterator[dict[str, Any]]:
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner", ingest_allowed=[str(files)])
    lake.governance.create_principal("ada", superuser=True)
    lake.governance.create_principal("eve")
    lake.objects.add(str(files / "photos/cat"), into="raw.photos")
    app = create_app(lake, ServerSettings(auth=True))
    clients = {}
    for who in ("ada", "eve"):
        token = lake.governance.create_token(who)[1]
        clients[who] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers={"Authorization": f"Bearer {token}"}
        )
    oid = lake.objects.list("raw.photos").to_pylist()[0]["id"]
    yield {"lake": lake, "oid": oid, "files": files, **clients}
    for c in clients.values():
        await c.aclose()
    lake.close()


async def test_bytes_thumbnail_list_and_info(world: dict[str, Any]) -> None:
    ada, oid, files = world["ada"], world["oid"], world["files"]
    r = await ada.get(f"/api/v1/objects/raw.photos/{oid}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == (files / "photos/cat/a.png").read_bytes()
    r = await ada.get(f"/api/v1/objects/raw.photos/{oid}/thumbnail?size=20")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    meta = extract("t.png", r.content)
    assert (meta.width, meta.height) == (20, 15)
    listed = (await ada.get("/api/v1/objects/raw.photos")).json()
    assert [o["id"] for o in listed] == [oid]
    info = (await ada.get(f"/api/v1/objects/raw.photos/{oid}/info")).json()
    assert info["width"] == 40 and info["media_type"] == "image/png"
    assert (await ada.get("/api/v1/objects/raw.photos/0000000000000000")).status_code == 404


async def test_add_over_rest(world: dict[str, Any]) -> None:
    body = {"pattern": str(world["files"] / "docs"), "into": "raw.docs", "label_from": "folder"}
    r = await world["ada"].post("/api/v1/objects/add", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["rows_written"] == 1
    assert world["lake"].objects.list("raw.docs").to_pylist()[0]["label"] == "docs"


async def test_even_a_superuser_names_only_opened_server_folders(world: dict[str, Any]) -> None:
    # found by the API fuzz test: "~" walked the server's home folder, "~0" crashed on expanduser
    for pattern in ("~", "~0", "/etc/*", str(world["files"] / ".." / "*"), [str(world["files"]), "/etc"]):
        r = await world["ada"].post("/api/v1/objects/add", json={"pattern": pattern, "into": "raw.escape"})
        assert r.status_code == 403, (pattern, r.text)
    body = {"pattern": str(world["files"] / "docs"), "into": "raw.escape", "manifest": "/etc/passwd"}
    assert (await world["ada"].post("/api/v1/objects/add", json=body)).status_code == 403
    for bad in ("\x00", "", "   "):  # the fuzz test again: a NUL byte made every path call raise ValueError
        r = await world["ada"].post("/api/v1/objects/add", json={"pattern": bad, "into": "raw.escape"})
        assert r.status_code == 400, (bad, r.text)
    assert not world["lake"].table_exists("raw.escape")


def test_an_unknown_home_folder_is_a_clear_error() -> None:
    from mlake.errors import ObjectError
    from mlake.objects.service import find_files

    with pytest.raises(ObjectError, match="give a full path"):
        find_files("~no-such-user-0")


async def test_a_principal_without_grants_gets_nothing(world: dict[str, Any]) -> None:
    eve, oid = world["eve"], world["oid"]
    for path in (f"/{oid}", f"/{oid}/thumbnail", f"/{oid}/info", ""):
        r = await eve.get(f"/api/v1/objects/raw.photos{path}")
        assert r.status_code == 403, (path, r.status_code)
        assert b"PNG" not in r.content
    r = await eve.post("/api/v1/objects/add", json={"pattern": str(world["files"] / "docs"), "into": "raw.photos"})
    assert r.status_code == 403
    world["lake"].governance.grant("eve", "select", "raw.photos")
    assert (await eve.get(f"/api/v1/objects/raw.photos/{oid}")).status_code == 200
