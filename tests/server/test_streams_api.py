"""The streams REST API over the real app (httpx ASGI transport): the producer endpoint with per-record
results, reads from a position, status, and grants on ``stream:NAME`` (403 with the same message whether
or not the stream exists)."""

from __future__ import annotations

import base64

import httpx
import pytest
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio


async def test_produce_read_and_status(admin: httpx.AsyncClient, governed: Governed) -> None:
    r = await admin.post("/api/v1/streams", json={"name": "clicks", "partitions": 2, "retention_seconds": 3600})
    assert r.status_code == 201, r.text
    assert r.json()["partitions"] == 2 and r.json()["retention_seconds"] == 3600
    assert (await admin.get("/api/v1/streams")).json() == ["clicks"]
    records = [{"key": f"u{i % 3}", "value": {"user": f"u{i % 3}", "n": i}} for i in range(10)]
    records.append({"key": "u1", "data_base64": base64.b64encode(b"x" * (2 * 1024 * 1024)).decode()})  # too large
    records.append({"key": "u2", "data_base64": base64.b64encode(b"raw").decode()})
    r = await admin.post("/api/v1/streams/clicks/records", json={"records": records})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["failed_count"] == 1
    assert body["records"][10]["error_code"] == "record_too_large" and not body["records"][10]["retryable"]
    assert all(res["sequence"] is not None for i, res in enumerate(body["records"]) if i != 10)

    partition = body["records"][0]["partition"]  # key u0
    r = await admin.get("/api/v1/streams/clicks/records", params={"partition": partition, "from": "oldest", "limit": 2})
    page = r.json()
    assert len(page["records"]) == 2
    rest = await admin.get(
        "/api/v1/streams/clicks/records", params={"partition": partition, "from": page["next_position"]}
    )
    values = [x["value"] for x in page["records"] + rest.json()["records"]]
    assert [v["n"] for v in values if isinstance(v, dict) and v["user"] == "u0"] == [0, 3, 6, 9]  # order per key
    raw = [x for x in rest.json()["records"] + page["records"] if x["data_base64"]]
    assert all(base64.b64decode(x["data_base64"]) == b"raw" for x in raw)

    governed.lake.streams.delivery("clicks", "raw.clicks").run(idle_timeout=0.2)
    status = (await admin.get("/api/v1/streams/clicks/status")).json()
    assert status["records_last_minute"] == 11
    (delivery,) = status["deliveries"]
    assert delivery["table"] == "raw.clicks" and delivery["error_rows"] == 1 and delivery["lag"]["lag_records"] == 0
    described = (await admin.get("/api/v1/streams/clicks")).json()
    assert described["name"] == "clicks" and described["groups"] == []
    assert (await admin.delete("/api/v1/streams/clicks")).status_code == 204
    assert (await admin.get("/api/v1/streams/clicks")).status_code == 404


async def test_bad_input_is_refused_with_reasons(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/api/v1/streams", json={"name": "Bad Name"})).status_code == 400
    await admin.post("/api/v1/streams", json={"name": "events"})
    both = {"records": [{"key": "k", "value": 1, "data_base64": "eA=="}]}
    assert (await admin.post("/api/v1/streams/events/records", json=both)).status_code == 422
    too_many = {"records": [{"key": "k", "value": i} for i in range(501)]}
    assert (await admin.post("/api/v1/streams/events/records", json=too_many)).status_code == 422
    r = await admin.get("/api/v1/streams/events/records", params={"from": "yesterday"})
    assert r.status_code == 400 and "position" in r.json()["message"]


async def test_grants_on_streams(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    await admin.post("/api/v1/streams", json={"name": "clicks"})
    put = {"records": [{"key": "k", "value": {"a": 1}}]}
    for path, method in [
        ("/api/v1/streams/clicks/records", "post"),
        ("/api/v1/streams/clicks/records", "get"),
        ("/api/v1/streams/clicks", "get"),
        ("/api/v1/streams/clicks/status", "get"),
        ("/api/v1/streams/clicks", "delete"),
    ]:
        r = await (outsider.post(path, json=put) if method == "post" else getattr(outsider, method)(path))
        assert r.status_code == 403, (path, method, r.text)
    there = await outsider.post("/api/v1/streams/clicks/records", json=put)
    not_there = await outsider.post("/api/v1/streams/nowhere/records", json=put)
    assert not_there.status_code == 403
    assert there.json()["message"].replace("clicks", "X") == not_there.json()["message"].replace("nowhere", "X")
    assert (await outsider.get("/api/v1/streams")).json() == []
    assert (await outsider.post("/api/v1/streams", json={"name": "mine"})).status_code == 403

    governed.lake.governance.grant("analyst", "write", "stream:clicks")  # bob is an analyst
    r = await analyst.post("/api/v1/streams/clicks/records", json=put)
    assert r.status_code == 200 and r.json()["failed_count"] == 0
    assert (await analyst.get("/api/v1/streams/clicks/records")).status_code == 403  # write is not read
    assert (await outsider.post("/api/v1/streams/clicks/records", json=put)).status_code == 403
    governed.lake.governance.grant("analyst", "read", "stream:clicks")
    got = (await analyst.get("/api/v1/streams/clicks/records")).json()["records"]
    assert [x["value"] for x in got] == [{"a": 1}]


async def test_studio_stream_pages(admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed) -> None:
    lake = governed.lake
    lake.streams.create("clicks")
    lake.streams.put_batch("clicks", [("u1", {"page": "/home-zebra"}), ("u2", b"not json")])
    lake.streams.delivery("clicks", "raw.clicks").run(idle_timeout=0.1)
    listing = await admin.get("/streams")
    assert listing.status_code == 200 and 'href="/streams/clicks"' in listing.text
    page = await admin.get("/streams/clicks")
    assert page.status_code == 200
    assert "/home-zebra" in page.text and "raw.clicks" in page.text and "not JSON" in page.text
    assert "zebra" not in (await outsider.get("/streams")).text
    refused = await outsider.get("/streams/clicks")
    assert refused.status_code == 403 and "zebra" not in refused.text
