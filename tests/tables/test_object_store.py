"""An s3:// warehouse, end to end, against an S3-compatible server on loopback.

No MinIO or AWS here: moto's standalone server speaks the S3 REST API over real HTTP on 127.0.0.1, and
pyiceberg (pyarrow's S3 client), DuckDB (through s3fs) and maintenance (s3fs) all talk to it as they
would to any S3-compatible store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import mlake
from mlake.lake import Lake

moto_server = pytest.importorskip("moto.server")


@pytest.fixture
def s3_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
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
        yield lake
    finally:
        lake.close()
        server.stop()


@pytest.mark.slow
def test_s3_warehouse_end_to_end(s3_lake: Lake, tmp_path: Path) -> None:
    lake = s3_lake
    t = lake.create_table("shop.orders", pa.table({"id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]}))
    assert t.location.startswith("s3://lake/wh/")
    (tmp_path / "more.csv").write_text("id,amount\n4,4.0\n5,oops\n")
    report = lake.ingest(str(tmp_path / "more.csv"), into="shop.orders", types={"amount": "double"})
    assert report.rows_written == 1 and report.rows_quarantined == 1
    assert lake.sql("select sum(amount) from shop.orders").scalar() == 10.0
    assert lake.engine.remote  # DuckDB read s3:// through fsspec, not the materialising fallback
    plan = "\n".join(r[1] for r in lake.sql("explain select id from shop.orders").fetchall())
    assert "READ_PARQUET" in plan
    first = t.history()[0].snapshot_id
    assert lake.sql(f"select count(*) from shop.orders AT (VERSION => {first})").scalar() == 3
    t.rename_column("amount", "value")
    t.delete("id = 1")
    assert lake.sql("select id, value from shop.orders order by id").fetchall() == [(2, 2.0), (3, 3.0), (4, 4.0)]
    lake.sql("create table mart.big as select * from shop.orders where value > 2")
    assert lake.table("mart.big").count() == 2
    (rep,) = lake.maintain("shop.orders", expire_older_than="0s", retain_last=1, orphan_grace="0s")
    assert rep.files_compacted >= 2 and rep.orphans_removed > 0
    assert lake.sql("select count(*) from shop.orders").scalar() == 3
    lake.drop_table("mart.big")
    assert not lake.table_exists("mart.big")


@pytest.mark.slow
def test_s3_feature_store_materializes_incrementally(s3_lake: Lake) -> None:
    from datetime import UTC, datetime, timedelta

    fs = s3_lake.features
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    fs.create_group("spend", entities={"customer_id": "long"}, event_time="ts", features={"total": "double"})
    fs.write("spend", {"customer_id": [1, 2], "ts": [t0, t0], "total": [1.0, 2.0]}, online=False)
    first = fs.materialize("spend")
    assert first.entities_written == 2 and not first.incremental
    fs.write("spend", {"customer_id": [2], "ts": [t0 + timedelta(days=1)], "total": [5.0]}, online=False)
    second = fs.materialize("spend")
    assert second.incremental and second.rows_read == 1 and second.entities_written == 1
    got = fs.get_online_features([{"customer_id": 1}, {"customer_id": 2}], ["spend:total"])
    assert [v["total"] for v in got.values] == [1.0, 5.0]
    assert [s["total"] for s in got.statuses] == ["present", "present"]
