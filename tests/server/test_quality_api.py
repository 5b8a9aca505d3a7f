"""The quality REST API through the real app: profiles, checks, suggestions, reports, history, anomalies and
stored suites — as the caller may see the data (bob: row filter and masks on customers; alice: no grants)."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pyarrow as pa
import pytest
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio


def _orders(ids: list[int], customers: list[int | None], amounts: list[float]) -> pa.Table:
    return pa.table({"order_id": ids, "customer_id": pa.array(customers, pa.int64()), "amount": amounts})


BASICS = "checks:\n  - unique: order_id\n  - in_range: {column: amount, min: 15}\n  - not_null: customer_id\n"


async def test_profile_a_table_a_snapshot_and_sql(admin: httpx.AsyncClient, governed: Governed) -> None:
    orders = governed.lake.table("shop.orders")
    first = orders.history()[-1].snapshot_id
    orders.append(_orders([14], [None], [5.0]))
    now = (await admin.get("/api/v1/tables/shop.orders/quality/profile", params={"key": "order_id"})).json()
    assert now["rows"] == 5 and now["key"] == ["order_id"] and now["kept"] is False
    customer = next(c for c in now["columns"] if c["name"] == "customer_id")
    assert customer["nulls"] == 1 and customer["null_rate"] == 0.2
    old = (await admin.get("/api/v1/tables/shop.orders/quality/profile", params={"snapshot_id": first})).json()
    assert old["rows"] == 4 and old["snapshot_id"] == first
    assert governed.lake.quality.history("shop.orders").num_rows == 0  # GET keeps nothing
    kept = await admin.post("/api/v1/tables/shop.orders/quality/profile", json={"columns": ["amount"], "top_k": 3})
    assert kept.status_code == 200 and kept.json()["kept"] is True
    assert [c["name"] for c in kept.json()["columns"]] == ["amount"]
    assert governed.lake.quality.history("shop.orders", metric="rows").num_rows == 1
    sql = await admin.post("/api/v1/quality/profile", json={"sql": "SELECT amount * 2 AS twice FROM shop.orders"})
    body = sql.json()
    assert sql.status_code == 200 and body["rows"] == 5 and body["columns"][0]["max"] == 198.0
    assert body["source"].startswith("query:") and body["kept"] is False


async def test_profiles_obey_grants_masks_and_row_filters(
    analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    p = (await analyst.get("/api/v1/tables/shop.customers/quality/profile")).json()
    assert p["rows"] == 3  # country = 'DE'
    email = next(c for c in p["columns"] if c["name"] == "email")
    assert email["top_values"] and all(t["value"].startswith("***") for t in email["top_values"])
    kept = (await analyst.post("/api/v1/tables/shop.customers/quality/profile", json={})).json()
    assert kept["kept"] is False  # a restricted view is measured, never kept
    sql = (await analyst.post("/api/v1/quality/profile", json={"sql": "SELECT email FROM shop.customers"})).json()
    assert all(t["value"].startswith("***") for t in sql["columns"][0]["top_values"])
    for call in (
        outsider.get("/api/v1/tables/shop.customers/quality/profile"),
        outsider.post("/api/v1/quality/profile", json={"sql": "SELECT * FROM shop.orders"}),
        analyst.get("/api/v1/tables/vault.secrets/quality/profile"),
        analyst.post("/api/v1/quality/profile", json={"sql": "SELECT * FROM vault.secrets"}),
    ):
        r = await call
        assert r.status_code == 403 and r.json()["code"] == "permission_denied", r.text
    r = await analyst.post("/api/v1/quality/profile", json={"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert r.status_code == 403 and r.json()["code"] == "sql_not_allowed"
    governed.lake.governance.audit.flush()
    events = governed.lake.governance.audit_events(action="quality.profile")
    assert {(e.principal, e.outcome) for e in events} >= {("bob", "ok"), ("bob", "denied"), ("alice", "denied")}


async def test_run_checks_from_yaml_json_and_a_stored_suite(admin: httpx.AsyncClient, governed: Governed) -> None:
    r = await admin.post("/api/v1/tables/shop.orders/quality/checks", json={"yaml": BASICS, "sample_rows": 1})
    run = r.json()
    assert r.status_code == 200 and run["passed"] is False and run["kept"] is True and run["rows"] == 4
    failed = {c["check"]: c for c in run["results"] if c["status"] == "fail"}
    assert list(failed) == ["in_range(amount)"]
    check = failed["in_range(amount)"]
    assert check["failing_rows"] == 1 and check["metric"] == "failing_rows" and check["threshold"] == 1.0
    assert check["samples"] == [{"order_id": 12, "customer_id": 3, "amount": 12.25}]  # bounded: sample_rows=1
    as_json = await admin.post(
        "/api/v1/tables/shop.orders/quality/checks",
        json={"checks": [{"not_null": "amount"}, {"type": "row_count", "min": 10, "severity": "warn"}], "save": False},
    )
    statuses = {c["check"]: c["status"] for c in as_json.json()["results"]}
    assert as_json.json()["passed"] is True and statuses == {"not_null(amount)": "pass", "row_count": "warn"}
    put = await admin.put("/api/v1/tables/shop.orders/quality/suites/orders basics", json={"yaml": BASICS})
    assert put.status_code == 201 and put.json()["checks"] == 3 and put.json()["owner"] == "root"
    again = await admin.put("/api/v1/tables/shop.orders/quality/suites/orders basics", json={"yaml": BASICS})
    assert again.status_code == 200
    stored = await admin.post("/api/v1/tables/shop.orders/quality/checks", json={"suite": "orders basics"})
    assert stored.json()["suite"] == "orders basics" and stored.json()["passed"] is False
    via_run = await admin.post(f"/api/v1/tables/shop.orders/quality/suites/{quote('orders basics')}/run", json={})
    assert via_run.status_code == 200
    suite = (await admin.get("/api/v1/tables/shop.orders/quality/suites/orders basics")).json()
    assert suite["last_passed"] is False and suite["last_result"]["run_id"] == via_run.json()["run_id"]
    assert "samples" not in suite["last_result"]["results"][0]
    failing = (await admin.get("/api/v1/quality/suites", params={"failing": True})).json()
    assert [(s["table"], s["name"]) for s in failing] == [("shop.orders", "orders basics")]
    listed = (await admin.get("/api/v1/tables/shop.orders/quality/suites")).json()
    assert [s["name"] for s in listed] == ["orders basics"]
    assert (await admin.delete("/api/v1/tables/shop.orders/quality/suites/orders basics")).status_code == 204
    assert (await admin.get("/api/v1/quality/suites")).json() == []


async def test_bad_check_requests_are_clear_errors(admin: httpx.AsyncClient) -> None:
    cases = [
        ({"yaml": BASICS, "suite": "x"}, 422, "exactly one"),
        ({}, 422, "exactly one"),
        ({"yaml": "checks:\n  - not_null: nope\n"}, 400, "no column(s) nope"),
        ({"yaml": "checks: ["}, 400, "not valid YAML"),
        ({"yaml": "a: &x [1]\nchecks: *x\n"}, 400, "aliases"),
        ({"yaml": "/etc/passwd.yaml"}, 400, "list of checks"),
        ({"checks": [{"in_range": {"column": "amount", "min": "abc"}}]}, 400, None),
        ({"suite": "missing"}, 404, "no stored suite"),
        ({"yaml": BASICS, "sample_rows": 1000}, 422, "sample_rows"),
    ]
    for body, status, words in cases:
        r = await admin.post("/api/v1/tables/shop.orders/quality/checks", json=body)
        assert r.status_code == status, (body, r.text)
        problem = r.json()
        assert problem["code"] and "Traceback" not in r.text
        if words:
            assert words in problem["message"], (body, problem)
    r = await admin.post("/api/v1/tables/shop.nope/quality/checks", json={"yaml": BASICS})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await admin.put(
        "/api/v1/tables/shop.orders/quality/suites/x", json={"yaml": "table: shop.customers\n" + BASICS}
    )
    assert r.status_code == 400 and "is for shop.customers" in r.json()["message"]


async def test_checks_obey_grants_and_masks(
    analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    yaml = "checks:\n  - in_range: {column: age, max: 35}\n"
    run = (await analyst.post("/api/v1/tables/shop.customers/quality/checks", json={"yaml": yaml})).json()
    assert run["rows"] == 3 and run["kept"] is False
    assert run["results"][0]["samples"] == [{"customer_id": 5, "email": "***@example.com", "country": "DE", "age": 40}]
    r = await outsider.post("/api/v1/tables/shop.customers/quality/checks", json={"yaml": yaml})
    assert r.status_code == 403
    hostile = "checks:\n  - type: sql\n    query: select * from vault.secrets\n"
    r = await analyst.post("/api/v1/tables/shop.orders/quality/checks", json={"yaml": hostile})
    assert r.status_code == 403 and "vault.secrets" in r.json()["message"]
    await admin.put("/api/v1/tables/shop.customers/quality/suites/contract", json={"yaml": yaml})
    await admin.post("/api/v1/tables/shop.customers/quality/suites/contract/run", json={})
    seen = (await analyst.get("/api/v1/tables/shop.customers/quality/suites/contract")).json()
    assert seen["yaml"] == yaml and seen["last_result"] is None and seen["last_result_hidden"] is True
    assert (await analyst.get("/api/v1/quality/suites", params={"failing": True})).json() == []
    r = await analyst.delete("/api/v1/tables/shop.customers/quality/suites/contract")
    assert r.status_code == 403 and "its owner" in r.json()["message"]
    assert (await outsider.get("/api/v1/quality/suites")).json() == []
    r = await outsider.get("/api/v1/tables/shop.customers/quality/suites/contract")
    assert r.status_code == 403


async def test_suggestion_report_history_and_anomalies(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, governed: Governed
) -> None:
    s = (await admin.get("/api/v1/tables/shop.orders/quality/suggestion", params={"name": "orders suggested"})).json()
    assert s["yaml"].startswith("name: orders suggested") and s["suite"]["checks"][0]["reason"]
    assert "table: shop.orders" in s["yaml"]  # the suggestion names its table: it may be stored for it only
    put = await admin.put("/api/v1/tables/shop.orders/quality/suites/suggested", json={"yaml": s["yaml"]})
    assert put.status_code == 201 and put.json()["checks"] == len(s["suite"]["checks"])
    elsewhere = await admin.put("/api/v1/tables/shop.customers/quality/suites/suggested", json={"yaml": s["yaml"]})
    assert elsewhere.status_code == 400 and "is for shop.orders" in elsewhere.json()["message"]
    for _ in range(3):
        await admin.post("/api/v1/tables/shop.orders/quality/profile", json={})
    governed.lake.table("shop.orders").append(_orders([20, 21], [None, None], [1.0, 2.0]))
    await admin.post("/api/v1/tables/shop.orders/quality/profile", json={})
    history = (await admin.get("/api/v1/tables/shop.orders/quality/history", params={"metric": "rows"})).json()
    assert [r["value"] for r in history["rows"]] == [4.0, 4.0, 4.0, 6.0] and history["truncated"] is False
    assert history["rows"][0]["actor"] == "root" and history["rows"][0]["run_at"].endswith("+00:00")
    newest = (await admin.get("/api/v1/tables/shop.orders/quality/history", params={"limit": 2})).json()
    assert len(newest["rows"]) == 2 and newest["truncated"] is True
    anomalies = (await admin.get("/api/v1/tables/shop.orders/quality/anomalies")).json()
    jumped = {(a["column"], a["metric"]) for a in anomalies}
    assert ("customer_id", "null_rate") in jumped and ("", "rows") in jumped
    html = await admin.get("/api/v1/tables/shop.orders/quality/report")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"] == 'attachment; filename="shop_orders-quality.html"'
    assert "style-src 'unsafe-inline'" in html.headers["content-security-policy"]
    assert "script" not in html.headers["content-security-policy"] and "<script" not in html.text
    assert "Metric history" in html.text and "customer_id" in html.text
    report = json.loads((await admin.get("/api/v1/tables/shop.orders/quality/report?format=json")).text)
    assert report["profile"]["rows"] == 6 and report["anomalies"]
    r = await analyst.get("/api/v1/tables/shop.customers/quality/history")
    assert r.status_code == 403 and "row filter" in r.json()["message"]
    assert (await analyst.get("/api/v1/tables/shop.orders/quality/history")).status_code == 200
    masked = json.loads((await analyst.get("/api/v1/tables/shop.customers/quality/report?format=json")).text)
    email = next(c for c in masked["profile"]["columns"] if c["name"] == "email")
    assert all(t["value"].startswith("***") for t in email["top_values"])


async def test_openapi_documents_the_quality_routes(admin: httpx.AsyncClient) -> None:
    doc = (await admin.get("/api/v1/openapi.json")).json()
    for path in (
        "/api/v1/tables/{name}/quality/profile",
        "/api/v1/quality/profile",
        "/api/v1/tables/{name}/quality/checks",
        "/api/v1/tables/{name}/quality/suggestion",
        "/api/v1/tables/{name}/quality/report",
        "/api/v1/tables/{name}/quality/history",
        "/api/v1/tables/{name}/quality/anomalies",
        "/api/v1/quality/suites",
        "/api/v1/quality/anomalies",
        "/api/v1/tables/{name}/quality/suites/{suite}",
        "/api/v1/tables/{name}/quality/suites/{suite}/run",
    ):
        assert path in doc["paths"], path
    assert "quality" in {t["name"] for t in doc["tags"]}


async def test_recent_anomalies_across_tables(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    lake = governed.lake
    for _ in range(2):
        await admin.post("/api/v1/tables/shop.orders/quality/profile", json={})
        await admin.post("/api/v1/tables/shop.customers/quality/profile", json={})
    lake.table("shop.orders").append(_orders([30, 31, 32, 33], [None] * 4, [1.0] * 4))
    customers = lake.table("shop.customers")
    customers.append(customers.to_arrow())  # twice the rows, every one a duplicate
    await admin.post("/api/v1/tables/shop.orders/quality/profile", json={})
    await admin.post("/api/v1/tables/shop.customers/quality/profile", json={})
    everything = (await admin.get("/api/v1/quality/anomalies")).json()
    assert {(a["target"], a["column"], a["metric"]) for a in everything} >= {
        ("shop.orders", "", "rows"),
        ("shop.orders", "customer_id", "null_rate"),
        ("shop.customers", "", "duplicate_rate"),
    }
    seen = {a["target"] for a in (await analyst.get("/api/v1/quality/anomalies")).json()}
    assert seen == {"shop.orders"}  # customers' history describes rows bob may not see
    assert (await outsider.get("/api/v1/quality/anomalies")).json() == []
    assert (await admin.get("/api/v1/quality/anomalies", params={"days": 0})).status_code == 422
    page = await admin.get("/quality", headers={"Accept": "text/html"})
    assert "Anomalies this week" in page.text and "customer_id null_rate went from 0.00% to 50.00%" in page.text


async def test_the_engine_is_chosen_per_request(admin: httpx.AsyncClient, outsider: httpx.AsyncClient) -> None:
    """``engine`` picks duckdb or ray (tests/quality/test_engines.py compares them); anything else is refused
    before any work, and so is a caller without grants, whatever the engine."""
    on_duckdb = await admin.post("/api/v1/tables/shop.orders/quality/profile", json={"engine": "duckdb", "save": False})
    assert on_duckdb.status_code == 200 and on_duckdb.json()["rows"] == 4
    for path, body in (
        ("/api/v1/tables/shop.orders/quality/profile", {"engine": "spark"}),
        ("/api/v1/tables/shop.orders/quality/checks", {"yaml": BASICS, "engine": "spark"}),
    ):
        refused = await admin.post(path, json=body)
        assert refused.status_code == 422 and "duckdb" in refused.text
    checked = await admin.post(
        "/api/v1/tables/shop.orders/quality/checks", json={"yaml": BASICS, "engine": "duckdb", "save": False}
    )
    assert checked.status_code == 200 and checked.json()["rows"] == 4
    assert (
        await outsider.post("/api/v1/tables/shop.orders/quality/checks", json={"yaml": BASICS, "engine": "ray"})
    ).status_code in (403, 404)
