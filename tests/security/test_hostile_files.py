"""Hostile or odd input must give clear errors and leave the lake and the server working (issue 10)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import mlake
from mlake.errors import IngestError
from mlake.server.uploads import sweep_uploads, upload_folder, uploads_root
from tests.governed_lake import Governed
from tests.security.attempts import ATTEMPTS


def test_version_option() -> None:
    out = subprocess.run([sys.executable, "-m", "mlake", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"mlake {mlake.__version__}"


def test_a_file_of_blank_lines_is_refused(tmp_path: Path) -> None:
    lake = mlake.connect(tmp_path / "lake")
    path = tmp_path / "blank.csv"
    path.write_text("\n\n  \r\n\n")
    with pytest.raises(IngestError, match="only blank lines"):
        lake.ingest(str(path), into="raw.blank")
    assert not lake.table_exists("raw.blank")
    lake.close()


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    lake = mlake.connect(tmp_path / "lake")
    text = "name,city\nZoë,Köln\nÅsa,Malmö\n"
    (tmp_path / "le.csv").write_bytes(text.encode("utf-16"))  # BOM + little-endian
    lake.ingest(str(tmp_path / "le.csv"), into="raw.le")
    rows = sorted((r["name"], r["city"]) for r in lake.sql("SELECT name, city FROM raw.le").to_pylist())
    assert rows == sorted([("Zoë", "Köln"), ("Åsa", "Malmö")])
    assert lake.table("raw.le").columns == ["name", "city"]
    (tmp_path / "be.csv").write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    with pytest.raises(IngestError, match="UTF-16 big-endian"):
        lake.ingest(str(tmp_path / "be.csv"), into="raw.be")
    lake.close()


@pytest.mark.anyio
async def test_a_failing_cast_in_a_row_filter_is_a_400(shared: Governed, analyst: httpx.AsyncClient) -> None:
    r = await analyst.get("/api/v1/tables/shop.customers/rows", params={"where": "cast(email as int) = 1"})
    ATTEMPTS.record("REST rows where", r.status_code == 400)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "sql_error"


def test_the_connection_survives_a_failing_query(live: str, shared: Governed) -> None:
    headers = {"Authorization": f"Bearer {shared.analyst_token}"}
    with httpx.Client(base_url=live, headers=headers, timeout=30) as client:
        bad = client.get("/api/v1/tables/shop.customers/rows", params={"where": "cast(email as int) = 1"})
        assert bad.status_code == 400
        good = client.get("/api/v1/tables/shop.orders/rows")  # the same keep-alive connection
        assert good.status_code == 200 and good.json()["rows"]


def test_uploads_of_a_killed_process_are_swept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom mlake.server.uploads import upload_folder\n"
        f"with upload_folder(Path({str(home)!r})) as f:\n"
        "    (f / 'part.csv').write_bytes(b'x' * 1000)\n    print('ready', flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    with upload_folder(home) as mine:  # a live upload of this process must survive the sweep
        assert sweep_uploads(home) == 0  # the other process is alive and holds its folder
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        left = [p for p in uploads_root(home).iterdir() if p != mine]
        assert len(left) == 1 and (left[0] / "part.csv").exists()
        assert sweep_uploads(home) == 1
        assert list(uploads_root(home).iterdir()) == [mine]
    assert list(uploads_root(home).iterdir()) == []


def test_the_server_sweeps_at_start(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from mlake.server.app import create_app
    from mlake.server.settings import ServerSettings

    lake = mlake.connect(tmp_path / "lake")
    stale = uploads_root(lake.settings.home) / "deadbeef"
    stale.mkdir(parents=True)
    (stale / "000-big.csv").write_bytes(b"a\n" * 1000)
    with TestClient(create_app(lake, ServerSettings(auth=False))) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert not stale.exists()
    lake.close()
