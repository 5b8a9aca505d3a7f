"""One hostile upload (JSON nested 80 deep) or one table with broken metadata must not break the lake for
everyone: listing, the Studio home page and dropping keep working (issue 10, item 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI

from mlake.errors import BrokenTableError
from mlake.ingest.json import MAX_NESTING
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from mlake.tables.names import TableName
from tests.governed_lake import Governed
from tests.security.attempts import ATTEMPTS
from tests.security.conftest import client_for


def _deep(levels: int) -> dict[str, object]:
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return {"id": 7, "deep": value, "shallow": {"x": {"y": 2}}}


def test_deeply_nested_json_is_kept_as_text(governed: Governed, tmp_path: Path) -> None:
    lake = governed.lake
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(_deep(80)) + "\n" + json.dumps(_deep(80)) + "\n")
    lake.ingest(str(path), into="raw.deep")
    info = lake.table("raw.deep").describe()  # the metadata reads back
    types = {c.name: c.type for c in info.columns}
    assert types["deep"] == "string" and types["shallow"].startswith("struct")
    row = lake.sql("SELECT deep, shallow.x.y AS y FROM raw.deep LIMIT 1").to_pylist()[0]
    assert json.loads(str(row["deep"])) == _deep(80)["deep"] and row["y"] == 2
    ATTEMPTS.record("deep JSON", True)


def test_nesting_at_the_limit_stays_structured(governed: Governed, tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps(_deep(MAX_NESTING)) + "\n")
    governed.lake.ingest(str(path), into="raw.ok")
    deep_type = {c.name: c.type for c in governed.lake.table("raw.ok").describe().columns}["deep"]
    assert deep_type.startswith("struct")


def _break(governed: Governed, name: str) -> None:
    location = governed.lake._core.metadata_location(TableName.parse(name))
    assert location is not None
    Path(location.removeprefix("file://")).write_text('{"format-version": 2, "table-uuid": ' + "[" * 300)


@pytest.mark.anyio
async def test_one_broken_table_does_not_break_listing_or_dropping(governed: Governed) -> None:
    lake = governed.lake
    lake.create_table("raw.broken", {"x": [1]})
    _break(governed, "raw.broken")
    with pytest.raises(BrokenTableError, match="raw.broken"):
        lake.table("raw.broken").describe()
    app: FastAPI = create_app(lake, ServerSettings(auth=True, statement_timeout=5))
    for token in (governed.admin_token, governed.analyst_token):
        async with client_for(app, token) as c:
            r = await c.get("/api/v1/tables")
            assert r.status_code == 200, r.text
            names = {t["name"] for t in r.json()}
            assert "shop.orders" in names and "raw.broken" not in names
            page = await c.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 200
            ATTEMPTS.record("broken metadata", True)
    async with client_for(app, governed.analyst_token) as c:
        assert (await c.delete("/api/v1/tables/raw.broken")).status_code in (403, 404, 409)
    async with client_for(app, governed.admin_token) as c:
        r = await c.get("/api/v1/tables/raw.broken")
        assert r.status_code == 409 and r.json()["code"] == "broken_table"
        assert (await c.delete("/api/v1/tables/raw.broken")).status_code == 204
    assert not lake.table_exists("raw.broken")


@pytest.mark.slow
def test_the_cli_lists_and_drops_around_a_broken_table(governed: Governed) -> None:
    lake = governed.lake
    lake.create_table("raw.broken", {"x": [1]})
    _break(governed, "raw.broken")
    home = str(lake.settings.home)
    run = [sys.executable, "-m", "mlake", "--home", home, "tables"]
    listed = subprocess.run([*run, "list", "--json"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    by_name = {t["name"]: t for t in json.loads(listed.stdout)}
    assert "rows" in by_name["shop.orders"] and "broken" in by_name["raw.broken"]["error"]
    dropped = subprocess.run([*run, "drop", "raw.broken", "--yes"], capture_output=True, text=True, timeout=120)
    assert dropped.returncode == 0, dropped.stderr
    assert not lake.table_exists("raw.broken")
    location = Path(str(lake.settings.local_warehouse_path())) / "raw" / "broken"
    assert not location.exists()
