"""``mlake.connect(url).objects``: the same calls as the local API, over the REST routes (the real app through
FastAPI's TestClient), with the server's grants applying."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mlake
from mlake.errors import ObjectError, PermissionDeniedError
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings


def test_remote_objects_match_local(tmp_path: Path, files: Path) -> None:
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner", ingest_allowed=[str(files)])
    try:
        lake.governance.create_principal("ada", superuser=True)
        lake.governance.create_principal("eve")
        tokens = {who: lake.governance.create_token(who)[1] for who in ("ada", "eve")}
        with TestClient(create_app(lake, ServerSettings(auth=True)), base_url="http://t") as client:
            remote = mlake.connect("http://t", token=tokens["ada"], client=client)
            report = remote.objects.add(files / "photos", into="raw.photos", label_from="folder")
            assert (report.rows_written, len(report.duplicates), len(report.errors)) == (4, 1, 1)
            rows = remote.objects.list("raw.photos").to_pylist()
            assert rows == lake.objects.list("raw.photos").to_pylist()
            a = next(r for r in rows if r["path"].endswith("a.png"))
            assert remote.objects.open("raw.photos", a["id"]) == (files / "photos/cat/a.png").read_bytes()
            row, chunks = remote.objects.stream("raw.photos", a["id"], chunk_size=16)
            assert row.sha256 == a["sha256"] and b"".join(chunks) == remote.objects.read("raw.photos", a["id"])
            assert remote.objects.get("raw.photos", a["id"]).width == 40
            assert remote.objects.get("raw.photos", a["id"]) == lake.objects.get("raw.photos", a["id"])
            assert remote.objects.thumbnail("raw.photos", a["id"], 16) == lake.objects.thumbnail(
                "raw.photos", a["id"], 16
            )
            with pytest.raises(ObjectError, match="malformed"):
                remote.objects.open("raw.photos", "nope")
            eve = mlake.connect("http://t", token=tokens["eve"], client=client)
            with pytest.raises(PermissionDeniedError):
                eve.objects.open("raw.photos", a["id"])
            with pytest.raises(PermissionDeniedError):
                eve.objects.list("raw.photos").to_pylist()
    finally:
        lake.close()
