"""The feature store's REST API through the real app (httpx ASGI transport), as admin, analyst and outsider.

Analysts (bob) read ``customer_profile`` filtered to DE with ``age`` masked, and ``order_stats`` in
full; the outsider (alice) has no grant. See tests/governed_features.py.
"""

from __future__ import annotations

import io

import httpx
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from tests.governed_features import NOW, add_feature_groups
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio
ONLINE = "/api/v1/features/online"


@pytest.fixture
def app(governed: Governed) -> FastAPI:
    from mlake.server.app import create_app
    from mlake.server.settings import ServerSettings

    add_feature_groups(governed.lake)
    return create_app(governed.lake, ServerSettings(auth=True, statement_timeout=5))


async def test_openapi_documents_the_feature_routes(admin: httpx.AsyncClient) -> None:
    doc = (await admin.get("/api/v1/openapi.json")).json()
    for path in (
        ONLINE,
        "/api/v1/features/groups",
        "/api/v1/features/groups/{name}",
        "/api/v1/features/search",
        "/api/v1/features/groups/{name}/materialize",
        "/api/v1/features/training-sets",
        "/api/v1/features/training-sets/{training_set}/export",
    ):
        assert path in doc["paths"], path
    online = doc["paths"][ONLINE]["post"]
    assert online["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("OnlineResponse")
    assert "features" in {t["name"] for t in doc["tags"]}
    assert [p for p in doc["paths"] if p.endswith("/online")] == [ONLINE]  # one online-read endpoint


async def test_groups_are_listed_searched_and_described_as_the_caller_may(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient
) -> None:
    assert [g["name"] for g in (await analyst.get("/api/v1/features/groups")).json()] == [
        "customer_profile",
        "order_stats",
    ]
    assert (await outsider.get("/api/v1/features/groups")).json() == []
    hits = (await analyst.get("/api/v1/features/search", params={"q": "spend"})).json()
    assert [(h["group"], h["feature"]) for h in hits] == [("customer_profile", "spend")]
    by_tag = (await analyst.get("/api/v1/features/search", params={"tag": "domain=sales"})).json()
    assert [h["group"] for h in by_tag] == ["order_stats"]
    by_owner = (await analyst.get("/api/v1/features/search", params={"owner": "ml-team"})).json()
    assert [h["group"] for h in by_owner] == ["order_stats"]
    assert (await outsider.get("/api/v1/features/search", params={"q": "customer"})).json() == []
    info = (await analyst.get("/api/v1/features/groups/customer_profile", params={"distributions": True})).json()
    assert info["statistics"]["rows"] == 4 and info["statistics"]["features"]["age"]["max"] == 40
    assert info["distributions"]["country"]["values"] == [{"value": "DE", "count": 4}]
    assert info["ttl"] == "30d" and info["entities"] == [{"name": "customer_id", "type": "long"}]
    assert info["online"]["enabled"] and info["online"]["stores"][0]["up_to_date"]
    assert info["lineage"]["upstream"] and info["privileges"] == ["select"]
    full = (await admin.get("/api/v1/features/groups/customer_profile")).json()
    assert full["statistics"]["rows"] == 7
    denied = await outsider.get("/api/v1/features/groups/order_stats")
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    missing = await admin.get("/api/v1/features/groups/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_online_reads_obey_masks_filters_and_grants(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    body = {"features": ["customer_profile:age", "order_stats:*"], "entities": [{"customer_id": i} for i in (1, 2, 9)]}
    r = await analyst.post(ONLINE, json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["features"] == ["age", "orders"]
    assert [x["values"] for x in data["results"]] == [
        {"age": 30, "orders": 1},  # masked: round(age, -1) of 31
        {"age": None, "orders": 1},  # customer 2's latest profile row is hidden by the row filter
        {"age": None, "orders": None},
    ]
    assert [x["statuses"]["age"] for x in data["results"]] == ["present", "missing", "missing"]
    raw = (await admin.post(ONLINE, json=body)).json()
    assert [x["values"]["age"] for x in raw["results"]] == [31, 45, None]
    denied = await outsider.post(ONLINE, json=body)
    assert denied.status_code == 403 and "features.customer_profile" in denied.json()["message"]
    batch = {"features": ["order_stats:orders"], "entities": [{"customer_id": i} for i in range(100)]}
    assert len((await analyst.post(ONLINE, json=batch)).json()["results"]) == 100
    for bad, status in (
        ({"features": ["nope:x"], "entities": [{"customer_id": 1}]}, 404),
        ({"features": ["order_stats:*"], "entities": [{"id": 1}]}, 400),
        ({"features": ["no colon"], "entities": [{"customer_id": 1}]}, 400),
        ({"features": [], "entities": []}, 422),
        ({"features": ["order_stats:*"], "entities": [{"customer_id": 1}] * 10_001}, 422),
    ):
        response = await analyst.post(ONLINE, json=bad)
        assert response.status_code == status, (bad["features"], response.text[:300])
        assert response.json()["code"] in ("not_found", "invalid_argument")
    governed.lake.governance.audit.flush()
    events = governed.lake.governance.audit_events(action="features.online")
    assert {(e.principal, e.outcome) for e in events} >= {("bob", "ok"), ("alice", "denied"), ("root", "ok")}


async def test_training_sets_over_rest(
    analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    at = NOW.isoformat()
    body = {
        "features": ["customer_profile:*", "order_stats:orders"],
        "entities": {"rows": [{"customer_id": i, "at": at} for i in (1, 2, 3, 4)]},
        "entity_time": "at",
        "name": "bob-churn",
        "description": "as bob sees it",
    }
    r = await analyst.post("/api/v1/features/training-sets", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    ts_id = created["id"]
    assert created["rows"] == 4 and created["name"] == "bob-churn"
    assert [c["name"] for c in created["columns"]] == ["customer_id", "at", "age", "country", "spend", "orders"]
    assert created["entities"]["table"] == f"training_sets.ts_{ts_id}"
    page = (await analyst.get(f"/api/v1/features/training-sets/{ts_id}/rows", params={"limit": 3})).json()
    assert page["has_more"] and [row[0] for row in page["rows"]] == [1, 2, 3]
    ages = [row[2] for row in page["rows"]]
    assert ages == [30, 40, 30]  # masked; customer 2 matched its older, visible DE row (44 -> 40)
    parquet = await analyst.get(f"/api/v1/features/training-sets/{ts_id}/export", params={"format": "parquet"})
    assert parquet.status_code == 200 and "bob-churn" in parquet.headers["content-disposition"]
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("customer_id").to_pylist() == [1, 2, 3, 4] and table.column("age").to_pylist()[3] is None
    arrow = await analyst.get(f"/api/v1/features/training-sets/{ts_id}/export", params={"format": "arrow"})
    assert ipc.open_stream(arrow.content).read_all().equals(table)
    csv = await analyst.get(f"/api/v1/features/training-sets/{ts_id}/export", params={"format": "csv"})
    assert pacsv.read_csv(io.BytesIO(csv.content)).num_rows == 4
    by_name = (await analyst.get("/api/v1/features/training-sets/bob-churn")).json()
    assert by_name["id"] == ts_id and by_name["snapshots"].keys() == {
        "features.customer_profile",
        "features.order_stats",
    }
    assert [t["id"] for t in (await analyst.get("/api/v1/features/training-sets")).json()] == [ts_id]
    assert (await outsider.get("/api/v1/features/training-sets")).json() == []
    denied = await outsider.get(f"/api/v1/features/training-sets/{ts_id}/export")
    assert denied.status_code == 403
    refused = await outsider.post("/api/v1/features/training-sets", json=body)
    assert refused.status_code == 403
    assert (await admin.get(f"/api/v1/features/training-sets/{ts_id}")).json()["rows"] == 4
    by_group = (await admin.get("/api/v1/features/training-sets", params={"group": "order_stats"})).json()
    assert [t["id"] for t in by_group] == [ts_id]
    from_sql = await analyst.post(
        "/api/v1/features/training-sets",
        json={
            "features": ["order_stats:orders"],
            "entities": {"sql": "SELECT customer_id, now() AS at FROM shop.orders"},
            "name": "from-sql",
        },
    )
    assert from_sql.status_code == 201 and from_sql.json()["rows"] == 4
    secret = await analyst.post(
        "/api/v1/features/training-sets",
        json={
            "features": ["order_stats:orders"],
            "entities": {"sql": "SELECT 1 AS customer_id, now() AS at FROM vault.secrets"},
        },
    )
    assert secret.status_code == 403
    for bad in (
        {"features": ["order_stats:orders"], "entities": {}},
        {"features": ["order_stats:orders"], "entities": {"sql": "SELECT 1", "table": "shop.orders"}},
        {
            "features": ["order_stats:orders"],
            "entities": {"rows": [{"customer_id": 1, "at": "yesterday"}]},
            "entity_time": "at",
        },
    ):
        response = await analyst.post("/api/v1/features/training-sets", json=bad)
        assert response.status_code in (400, 422) and response.json()["code"] == "invalid_argument", response.text
    assert (await analyst.get("/api/v1/features/training-sets/nope")).status_code == 404


async def test_changes_over_rest_need_grants(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, governed: Governed
) -> None:
    group = {
        "name": "web_visits",
        "entities": {"customer_id": "long"},
        "event_time": "ts",
        "features": {"visits": {"type": "long", "description": "Visits that day"}},
        "ttl": "3d",
        "tags": {"pii": "false"},
    }
    assert (await analyst.post("/api/v1/features/groups", json=group)).status_code == 403
    created = await admin.post("/api/v1/features/groups", json=group)
    assert created.status_code == 201 and created.json()["ttl"] == "3d"
    assert (await admin.post("/api/v1/features/groups", json=group)).status_code == 409
    rows = {"rows": [{"customer_id": 1, "ts": NOW.isoformat(), "visits": 3}]}
    assert (await analyst.post("/api/v1/features/groups/web_visits/write", json=rows)).status_code == 403
    governed.lake.governance.grant("analyst", "insert", "features.web_visits")
    written = await analyst.post("/api/v1/features/groups/web_visits/write", json=rows)
    assert written.status_code == 200 and written.json()["rows_written"] == 1 and written.json()["online_entities"] == 1
    read = (
        await analyst.post(ONLINE, json={"features": ["web_visits:visits"], "entities": [{"customer_id": 1}]})
    ).json()
    assert read["results"][0]["values"] == {"visits": 3}
    from_sql = await admin.post(
        "/api/v1/features/groups/web_visits/write",
        json={"sql": "SELECT customer_id, now() AS ts, 7 AS visits FROM shop.orders", "online": False},
    )
    assert from_sql.json()["rows_written"] == 4 and from_sql.json()["online_entities"] is None
    assert (await analyst.post("/api/v1/features/groups/web_visits/materialize")).status_code == 403
    report = (await admin.post("/api/v1/features/groups/web_visits/materialize", json={"full": True})).json()
    assert report["entities_written"] == 4 and not report["incremental"]
    added = await admin.post(
        "/api/v1/features/groups/web_visits/features", json={"features": {"pages": {"type": "long"}}}
    )
    assert [f["name"] for f in added.json()["features"]] == ["visits", "pages"]
    patched = await admin.patch("/api/v1/features/groups/web_visits", json={"ttl": "none", "description": "Visits"})
    assert patched.json()["ttl"] == "none" and patched.json()["description"] == "Visits"
    assert (await admin.patch("/api/v1/features/groups/web_visits", json={})).status_code == 400
    assert (await analyst.delete("/api/v1/features/groups/web_visits")).status_code == 403
    assert (await admin.delete("/api/v1/features/groups/web_visits")).status_code == 204
    assert (await admin.get("/api/v1/features/groups/web_visits")).status_code == 404
    governed.lake.governance.audit.flush()
    actions = {(e.principal, e.action, e.outcome) for e in governed.lake.governance.audit_events()}
    assert actions >= {
        ("bob", "features.group.create", "denied"),
        ("root", "features.group.create", "ok"),
        ("bob", "features.write", "ok"),
        ("bob", "features.materialize", "denied"),
        ("root", "features.group.drop", "ok"),
    }


def test_the_standalone_serving_app_answers_the_same_path(governed: Governed) -> None:
    import asyncio

    from mlake.server.serving import create_app

    add_feature_groups(governed.lake)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(governed.lake))
        async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
            return await client.post(
                ONLINE, json={"features": ["customer_profile:age"], "entities": [{"customer_id": 1}]}
            )

    response = asyncio.run(go())
    assert response.json()["results"][0]["values"] == {"age": 31}  # no principal here: the lake as it is
