"""Object tables on an s3:// warehouse, against moto's S3 server on loopback (real HTTP, no AWS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mlake
from mlake.lake import Lake

moto_server = pytest.importorskip("moto.server")


@pytest.fixture
def s3_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Lake, str]]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="lake")
    lake = mlake.connect(
        tmp_path / "home", warehouse="s3://lake/wh", s3_endpoint=endpoint, s3_region="us-east-1", threads=2
    )
    try:
        yield lake, endpoint
    finally:
        lake.close()
        server.stop()


@pytest.mark.slow
def test_objects_on_an_s3_warehouse(s3_lake: tuple[Lake, str], files: Path) -> None:
    lake, endpoint = s3_lake
    report = lake.objects.add(str(files / "photos"), into="raw.photos", label_from="folder")
    assert report.rows_written == 4 and len(report.duplicates) == 1
    rows = {Path(str(r["path"])).name: r for r in lake.objects.list("raw.photos").to_pylist()}
    a = rows["a.png"]
    assert str(a["uri"]).startswith("s3://lake/wh/") and "/objects/" in str(a["uri"])
    import boto3

    key = str(a["uri"]).removeprefix("s3://lake/")
    stored = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").get_object(Bucket="lake", Key=key)
    assert stored["Body"].read() == (files / "photos/cat/a.png").read_bytes()  # really in the bucket
    assert lake.objects.open("raw.photos", str(a["id"])) == (files / "photos/cat/a.png").read_bytes()
    assert len(lake.objects.thumbnail("raw.photos", str(a["id"]), size=16)) > 0
    keys = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").list_objects_v2(
        Bucket="lake", Prefix="wh/"
    )
    assert sum("/objects/" in o["Key"] for o in keys["Contents"]) == 3  # the duplicate is stored once
