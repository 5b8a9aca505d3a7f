"""The REST API through the real app (httpx ASGI transport): catalog, SQL, ingest, governance, errors."""

from __future__ import annotations

import io

import httpx
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from tests.governed_lake import Governed
from tests.server.conftest import client_for

from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

pytestmark = pytest.mark.anyio


async def test_health_needs_no_token_but_everything_else_does(app: FastAPI) -> None:
    async with client_for(app, None) as anon:
        assert (await anon.get("/api/v1/health")).json()["status"] == "ok"
        r = await anon.get("/api/v1/tables")
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
        assert r.headers["www-authenticate"] == "Bearer"
    async with client_for(app, "mlk_0000_bogus") as bad:
        r = await bad.get("/api/v1/tables")
        assert r.status_code == 401 and r.json()["message"] == "The API token is not valid"


async def test_openapi_document_is_published(admin: httpx.AsyncClient) -> None:
    doc = (await admin.get("/api/v1/openapi.json")).json()
    paths = doc["paths"]
    for p in ("/api/v1/sql", "/api/v1/tables/{name}/rows", "/api/v1/ingest", "/api/v1/grants", "/api/v1/audit"):
        assert p in paths
    assert {t["name"] for t in doc["tags"]} >= {"catalog", "sql", "governance", "dashboards"}


async def test_catalog_endpoints(analyst: httpx.AsyncClient) -> None:
    tables = (await analyst.get("/api/v1/tables")).json()
    assert [t["name"] for t in tables] == ["shop.customers", "shop.orders"]  # vault.secrets is not listed
    found = (await analyst.get("/api/v1/tables", params={"q": "pii=false"})).json()
    assert [t["name"] for t in found] == ["shop.orders"]
    assert (await analyst.get("/api/v1/namespaces")).json() == [{"name": "shop", "tables": 2}]
    info = (await analyst.get("/api/v1/tables/shop.orders")).json()
    assert info["rows"] == 4 and info["tags"] == {"pii": "false"} and info["privileges"] == ["select"]
    history = (await analyst.get("/api/v1/tables/shop.orders/history")).json()
    assert history[-1]["is_current"] and history[-1]["total_rows"] == 4
    schema = (await analyst.get("/api/v1/tables/shop.orders/schema")).json()
    assert [c["name"] for c in schema] == ["order_id", "customer_id", "amount"]
    lineage = (await analyst.get("/api/v1/tables/shop.orders/lineage")).json()
    assert lineage["table"] == "shop.orders" and lineage["upstream"]


async def test_rows_paging_sorting_filter_and_time_travel(admin: httpx.AsyncClient, governed: Governed) -> None:
    orders = governed.lake.table("shop.orders")
    first = orders.history()[-1].snapshot_id
    orders.append({"order_id": [14, 15], "customer_id": [6, 6], "amount": [5.0, 500.0]})
    r = (
        await admin.get("/api/v1/tables/shop.orders/rows", params={"limit": 2, "order_by": "amount", "desc": True})
    ).json()
    assert [row[2] for row in r["rows"]] == [500.0, 99.0] and r["has_more"] and r["total_rows"] == 6
    r2 = (
        await admin.get(
            "/api/v1/tables/shop.orders/rows", params={"limit": 2, "offset": 2, "order_by": "amount", "desc": True}
        )
    ).json()
    assert [row[2] for row in r2["rows"]] == [35.5, 20.0]
    old = (await admin.get("/api/v1/tables/shop.orders/rows", params={"snapshot_id": first})).json()
    assert len(old["rows"]) == 4 and old["snapshot_id"] == first
    filtered = (await admin.get("/api/v1/tables/shop.orders/rows", params={"where": "amount > 90"})).json()
    assert sorted(row[0] for row in filtered["rows"]) == [13, 15]
    bad = await admin.get("/api/v1/tables/shop.orders/rows", params={"order_by": "amount; drop"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_argument"
    hostile = await admin.get("/api/v1/tables/shop.orders/rows", params={"where": "1=1 UNION SELECT * FROM glob('*')"})
    assert hostile.status_code in (400, 403)


async def test_sql_run_export_and_save(analyst: httpx.AsyncClient, governed: Governed) -> None:
    r = await analyst.post(
        "/api/v1/sql", json={"sql": "SELECT order_id, amount FROM shop.orders ORDER BY 1", "limit": 3}
    )
    body = r.json()
    assert r.status_code == 200 and body["truncated"] and len(body["rows"]) == 3
    assert body["columns"][1] == {"name": "amount", "type": "double", "kind": "number"}
    assert body["tables"][0]["ref"] == "shop.orders"
    csv = await analyst.post("/api/v1/sql/export", json={"sql": "SELECT * FROM shop.orders", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") == 5
    pq_bytes = await analyst.post("/api/v1/sql/export", json={"sql": "SELECT * FROM shop.orders", "format": "parquet"})
    assert pq.read_table(io.BytesIO(pq_bytes.content)).num_rows == 4
    arrow = await analyst.post("/api/v1/sql/export", json={"sql": "SELECT * FROM shop.orders", "format": "arrow"})
    assert ipc.open_stream(arrow.content).read_all().num_rows == 4
    denied = await analyst.post("/api/v1/sql/save", json={"sql": "SELECT 1 AS x", "table": "shop.x"})
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    governed.lake.governance.grant("bob", "alter", "scratch")
    saved = await analyst.post("/api/v1/sql/save", json={"sql": "SELECT * FROM shop.orders", "table": "scratch.o"})
    assert saved.status_code == 201 and saved.json()["rows"] == 4


async def test_sql_errors_are_problems(analyst: httpx.AsyncClient) -> None:
    cases = [
        ("SELECT * FROM read_csv('/etc/passwd')", 403, "sql_not_allowed"),
        ("SELECT * FROM vault.secrets", 403, "permission_denied"),
        ("SELECT nonsense FROM shop.orders", 400, "sql_error"),
        ("SELEC 1", 400, "sql_error"),
        # A principal is told the same about a missing table as about one it holds no grant on, so that
        # probing names teaches it nothing.
        ("SELECT * FROM shop.nope", 403, "permission_denied"),
    ]
    for sql, status, code in cases:
        r = await analyst.post("/api/v1/sql", json={"sql": sql})
        assert (r.status_code, r.json()["code"]) == (status, code), sql
        assert "Traceback" not in r.text
    r = await analyst.post("/api/v1/sql", json={"sql": ""})
    assert r.status_code == 422 and r.json()["code"] == "invalid_argument"


async def test_upload_ingest(admin: httpx.AsyncClient, governed: Governed) -> None:
    csv = b"id,name,score\n1,a,0.5\n2,b,0.7\nthree,c,x\n"
    r = await admin.post(
        "/api/v1/ingest",
        files=[("files", ("scores.csv", csv, "text/csv"))],
        data={"table": "uploads.scores", "description": "uploaded"},
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["rows_written"] + report["rows_quarantined"] == 3 and report["created_table"]
    assert governed.lake.table("uploads.scores").describe().description == "uploaded"
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [9]}), buf)
    r = await admin.post(
        "/api/v1/ingest",
        files=[("files", ("more.parquet", buf.getvalue(), "application/octet-stream"))],
        data={"table": "uploads.more"},
    )
    assert r.status_code == 201 and r.json()["rows_written"] == 1
    r = await admin.post(
        "/api/v1/ingest", files=[("files", ("x.csv", b"a\n1\n", "text/csv"))], data={"table": "Bad Name"}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument"


async def test_upload_needs_grants(analyst: httpx.AsyncClient) -> None:
    r = await analyst.post(
        "/api/v1/ingest", files=[("files", ("x.csv", b"a\n1\n", "text/csv"))], data={"table": "shop.orders"}
    )
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


async def test_metadata_edits_and_rollback(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, governed: Governed
) -> None:
    r = await admin.patch(
        "/api/v1/tables/shop.orders",
        json={"description": "All orders", "tags": {"domain": "sales"}, "column_docs": {"amount": "EUR"}},
    )
    body = r.json()
    assert body["description"] == "All orders" and body["tags"] == {"pii": "false", "domain": "sales"}
    assert next(c for c in body["columns"] if c["name"] == "amount")["doc"] == "EUR"
    assert (await analyst.patch("/api/v1/tables/shop.orders", json={"description": "x"})).status_code == 403
    orders = governed.lake.table("shop.orders")
    first = orders.history()[-1].snapshot_id
    orders.append({"order_id": [20], "customer_id": [1], "amount": [1.0]})
    r = await admin.post("/api/v1/tables/shop.orders/rollback", json={"snapshot_id": first})
    assert r.json()["rows"] == 4
    r = await admin.post("/api/v1/tables/shop.orders/rollback", json={"snapshot_id": 123})
    assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_namespaces_and_drop(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/api/v1/namespaces", json={"name": "tmp_ns"})).status_code == 201
    assert (await admin.post("/api/v1/namespaces", json={"name": "tmp_ns"})).json()["code"] == "already_exists"
    assert (await admin.delete("/api/v1/namespaces/tmp_ns")).status_code == 204
    assert (await admin.delete("/api/v1/namespaces/tmp_ns")).status_code == 404
    assert (await admin.delete("/api/v1/tables/vault.secrets")).status_code == 204
    assert (await admin.get("/api/v1/tables/vault.secrets")).status_code == 404


async def test_governance_endpoints(admin: httpx.AsyncClient, analyst: httpx.AsyncClient, app: FastAPI) -> None:
    r = await admin.post("/api/v1/principals", json={"name": "carol", "roles": ["analyst"]})
    assert r.status_code == 201 and r.json()["roles"] == ["analyst"]
    token = (await admin.post("/api/v1/tokens", json={"principal": "carol"})).json()["token"]
    async with client_for(app, token) as carol:
        me = (await carol.get("/api/v1/me")).json()
        assert me["name"] == "carol" and not me["superuser"]
        rows = (await carol.post("/api/v1/sql", json={"sql": "SELECT email FROM shop.customers"})).json()["rows"]
        assert all(r[0] is None or r[0].startswith("***") for r in rows)
    g = (await admin.post("/api/v1/grants", json={"grantee": "carol", "privilege": "select", "scope": "vault"})).json()
    assert g["scope_kind"] == "namespace"
    assert any(x["id"] == g["id"] for x in (await admin.get("/api/v1/grants")).json())
    assert (await admin.delete(f"/api/v1/grants/{g['id']}")).status_code == 204
    f = (
        await admin.post(
            "/api/v1/row-filters", json={"table": "shop.orders", "grantee": "carol", "predicate": "amount < 50"}
        )
    ).json()
    m = (
        await admin.post(
            "/api/v1/column-masks",
            json={"table": "shop.orders", "column": "amount", "grantee": "carol", "mask": "null"},
        )
    ).json()
    assert (await admin.delete(f"/api/v1/row-filters/{f['id']}")).status_code == 204
    assert (await admin.delete(f"/api/v1/column-masks/{m['id']}")).status_code == 204
    r = await analyst.post("/api/v1/principals", json={"name": "mallory", "superuser": True})
    assert r.status_code == 403
    bad = await admin.post("/api/v1/grants", json={"grantee": "carol", "privilege": "select", "scope": "a.b.c.d"})
    assert bad.status_code == 400
    events = (await admin.get("/api/v1/audit", params={"principal": "bob", "outcome": "denied"})).json()
    assert any(e["action"] == "principal.create" for e in events)
    own = (await analyst.get("/api/v1/audit")).json()
    assert own and {e["principal"] for e in own} == {"bob"}


async def test_dashboards_and_saved_queries(admin: httpx.AsyncClient, analyst: httpx.AsyncClient) -> None:
    q = (
        await admin.post(
            "/api/v1/queries",
            json={
                "name": "Revenue by customer",
                "sql": "SELECT customer_id, sum(amount) AS revenue FROM shop.orders GROUP BY 1",
                "chart": {"type": "bar", "x": "customer_id", "y": ["revenue"]},
            },
        )
    ).json()
    d = (await admin.post("/api/v1/dashboards", json={"name": "Sales", "refresh_seconds": 30})).json()
    board = (await admin.post(f"/api/v1/dashboards/{d['id']}/tiles", json={"query_id": q["id"], "width": 2})).json()
    assert board["tiles"][0]["query"]["chart"]["type"] == "bar"
    run = (await analyst.post(f"/api/v1/queries/{q['id']}/run")).json()
    assert len(run["rows"]) == 4
    assert (await analyst.delete(f"/api/v1/dashboards/{d['id']}")).status_code == 403  # not the owner
    masked = (
        await admin.post("/api/v1/queries", json={"name": "emails", "sql": "SELECT email FROM shop.customers"})
    ).json()
    rows = (await analyst.post(f"/api/v1/queries/{masked['id']}/run")).json()["rows"]
    assert all(r[0] is None or r[0].startswith("***") for r in rows)  # dashboards run as the viewer
    bad_chart = await admin.post("/api/v1/queries", json={"name": "x", "sql": "SELECT 1", "chart": {"type": "pie"}})
    assert bad_chart.status_code == 422


async def test_no_auth_is_loopback_only(governed: Governed) -> None:
    from mlake.errors import ConfigError

    with pytest.raises(ConfigError, match="loopback"):
        create_app(governed.lake, ServerSettings(host="0.0.0.0", auth=False))
    app = create_app(governed.lake, ServerSettings(host="127.0.0.1", auth=False))
    async with client_for(app, None) as local:
        me = (await local.get("/api/v1/me")).json()
        assert me["superuser"] and me["name"] == "owner"


async def test_rest_read_paths_obey_filters_and_masks(
    analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    page = (await analyst.get("/api/v1/tables/shop.customers/rows")).json()
    assert sorted(r[0] for r in page["rows"]) == [1, 3, 5]  # row filter country = 'DE'
    assert all(r[1] is None or r[1].startswith("***@") for r in page["rows"])  # email mask
    csv = (await analyst.get("/api/v1/tables/shop.customers/export", params={"format": "csv"})).text
    assert "ann@example.com" not in csv and csv.count("\n") == 4
    for path in (
        "/api/v1/tables/shop.customers/rows",
        "/api/v1/tables/shop.customers/export",
        "/api/v1/tables/shop.customers",
    ):
        r = await outsider.get(path)
        assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    events = (await admin.get("/api/v1/audit", params={"table": "shop.customers"})).json()
    assert {(e["principal"], e["outcome"]) for e in events} >= {("bob", "ok"), ("alice", "denied")}
    assert all(e["client"] for e in events)
