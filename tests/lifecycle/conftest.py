"""A lake on a local warehouse and one on an S3-compatible server (moto on loopback, as in
tests/tables/test_object_store.py), each with the place its colder tier goes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import mlake
from mlake.lake import Lake


@dataclass
class Warehouse:
    lake: Lake
    cold: str  # a tier location of the same kind as the warehouse
    kind: str


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.slow)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    if request.param == "local":
        lake = mlake.connect(tmp_path / "home", threads=2)
        try:
            yield Warehouse(lake, str(tmp_path / "cold"), "local")
        finally:
            lake.close()
        return
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    s3.create_bucket(Bucket="cold")
    lake = mlake.connect(
        tmp_path / "home", warehouse="s3://lake/wh", s3_endpoint=endpoint, s3_region="us-east-1", threads=2
    )
    try:
        yield Warehouse(lake, "s3://cold/tier", "s3")
    finally:
        lake.close()
        server.stop()
