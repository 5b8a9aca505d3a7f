"""The monitoring REST routes through the real app: data capture, bias reports and monitors — each as the
caller may read and write (root: superuser; bob: analyst grants only; alice: no grants)."""

from __future__ import annotations

import httpx
import numpy as np
import pyarrow as pa
import pytest
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio


def applicants(n: int = 400) -> pa.Table:
    rng = np.random.default_rng(0)
    sex = rng.choice(["Female", "Male"], n)
    hired = (rng.random(n) < np.where(sex == "Female", 0.3, 0.5)).astype(int)
    score = np.clip(0.4 * hired + rng.normal(0.3, 0.2, n), 0, 1)
    return pa.table({"sex": sex, "hired": hired, "score": score})


def records(start: int, n: int) -> list[dict[str, object]]:
    return [
        {"inputs": {"amount": float(i), "region": "north"}, "outputs": i % 2, "request_id": f"r{i}"}
        for i in range(start, start + n)
    ]


async def test_capture_needs_a_write_grant_and_stores_every_record(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    refused = await outsider.post("/api/v1/capture/churn", json={"version": "v1", "records": records(0, 3)})
    assert refused.status_code == 403
    assert not governed.lake.table_exists("capture.churn")
    sent = await admin.post("/api/v1/capture/churn", json={"version": "v1", "records": records(0, 500), "wait": True})
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert body["accepted"] == 500 and body["logger"]["written"] == 500 and body["table"] == "capture.churn"
    assert body["request_ids"][:2] == ["r0", "r1"]
    assert governed.lake.table("capture.churn").count() == 500
    assert (
        await analyst.post("/api/v1/capture/churn", json={"version": "v1", "records": records(0, 1)})
    ).status_code == 403
    governed.lake.governance.grant("bob", "insert", "capture.churn")
    ok = await analyst.post("/api/v1/capture/churn", json={"version": "v2", "records": records(500, 10), "wait": True})
    assert ok.status_code == 202 and ok.json()["logger"]["written"] == 10
    assert governed.lake.table("capture.churn").count() == 510
    bad = await admin.post("/api/v1/capture/churn", json={"version": "v1", "records": []})
    assert bad.status_code == 422


async def test_bias_report_for_a_reader_only(
    admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    governed.lake.create_table("hr.applicants", applicants())
    ask = {
        "source": "hr.applicants",
        "facet": "sex",
        "facet_values": ["Female"],
        "label": "hired",
        "positive_values": [1],
        "predicted": "score",
        "predicted_threshold": 0.5,
        "resamples": 50,
    }
    report = await admin.post("/api/v1/bias/report", json=ask)
    assert report.status_code == 200, report.text
    metrics = {m["code"]: m for m in report.json()["metrics"]}
    assert {"CI", "DPL", "DPPL", "DI"} <= set(metrics)
    assert metrics["DPL"]["ci"]["low"] <= metrics["DPL"]["value"] <= metrics["DPL"]["ci"]["high"]
    refused = await outsider.post("/api/v1/bias/report", json=ask)
    assert refused.status_code in (403, 404)
    by_sql = await outsider.post("/api/v1/bias/report", json={**ask, "source": "SELECT * FROM hr.applicants"})
    assert by_sql.status_code in (403, 404)


async def test_monitors_are_shown_and_run_for_readers_only(
    admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    governed.lake.create_table("hr.applicants", applicants())
    governed.lake.monitoring.create("hiring", target="hr.applicants", columns=["sex", "score"])
    listed = (await admin.get("/api/v1/monitors")).json()
    assert [m["name"] for m in listed] == ["hiring"]
    assert (await outsider.get("/api/v1/monitors")).json() == []
    assert (await outsider.post("/api/v1/monitors/hiring/run")).status_code == 404
    governed.lake.table("hr.applicants").append(applicants(200).drop_columns(["score"]))
    run = await admin.post("/api/v1/monitors/hiring/run")
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "violations"
    assert ("completeness", "score") in {(v["check"], v["feature"]) for v in run.json()["violations"]}
    shown = (await admin.get("/api/v1/monitors/hiring/violations")).json()
    assert {(v["check_name"], v["feature"]) for v in shown} >= {("completeness", "score")}
    detail = (await admin.get("/api/v1/monitors/hiring")).json()
    assert detail["runs"][0]["status"] == "violations"


async def test_studio_monitoring_pages(
    admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    html = {"Accept": "text/html"}
    empty = await admin.get("/monitoring", headers=html)
    assert empty.status_code == 200 and "No monitors yet" in empty.text
    governed.lake.create_table("hr.applicants", applicants())
    governed.lake.monitoring.create("hiring", target="hr.applicants", columns=["sex", "score"])
    shifted = applicants(300)
    shifted = shifted.set_column(2, "score", pa.array(np.asarray(shifted["score"]) + 0.5))
    governed.lake.table("hr.applicants").append(shifted)
    governed.lake.monitoring.run("hiring")
    page = await admin.get("/monitoring", headers=html)
    assert page.status_code == 200 and "/monitoring/hiring" in page.text and "violations" in page.text
    assert "<span>Monitoring</span></a>" in page.text  # the sidebar entry
    detail = await admin.get("/monitoring/hiring", headers=html)
    assert detail.status_code == 200
    assert "Drift over time" in detail.text and 'class="num m-cell m-drifted"' in detail.text
    assert 'title="ks"' in detail.text and ">drift</span>" in detail.text  # a 400-row baseline: KS
    assert "hiring" not in (await outsider.get("/monitoring", headers=html)).text.split("<main", 1)[-1]
    assert (await outsider.get("/monitoring/hiring", headers=html)).status_code == 404


async def test_studio_bias_page_and_html_report(
    admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    html = {"Accept": "text/html"}
    governed.lake.create_table("hr.applicants", applicants())
    form = await admin.get("/bias", headers=html)
    assert form.status_code == 200 and 'name="facet"' in form.text and "ci-bar" not in form.text
    query = {
        "source": "hr.applicants",
        "facet": "sex",
        "facet_value": "Female",
        "label": "hired",
        "positive": "1",
        "predicted": "score",
        "predicted_threshold": "0.5",
    }
    page = await admin.get("/bias", params=query, headers=html)
    assert page.status_code == 200 and page.text.count('<svg class="ci-bar"') >= 10 and "DPPL" in page.text
    refused = await outsider.get("/bias", params=query, headers=html)
    assert refused.status_code == 200 and "Cannot report" in refused.text and "ci-bar" not in refused.text
    no_threshold = await admin.get("/bias", params={**query, "predicted": "", "predicted_threshold": ""}, headers=html)
    assert no_threshold.status_code == 200 and "DPL" in no_threshold.text and "DPPL" not in no_threshold.text
    ask = {
        "source": "hr.applicants",
        "facet": "sex",
        "facet_values": ["Female"],
        "label": "hired",
        "positive_values": [1],
        "resamples": 20,
        "format": "html",
    }
    report = await admin.post("/api/v1/bias/report", json=ask)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in report.text and '<svg class="ci-bar"' in report.text and "<script" not in report.text


async def test_create_and_delete_monitors_over_rest(
    admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    governed.lake.create_table("hr.applicants", applicants())
    body = {
        "name": "hiring-rest",
        "target": "hr.applicants",
        "columns": ["sex", "score"],
        "config": {
            "rows": "all",
            "labels": {"label": "hired", "predicted": "score", "threshold": 0.5, "prediction_threshold": 0.5},
        },
    }
    assert (await outsider.post("/api/v1/monitors", json=body)).status_code in (403, 404)
    created = await admin.post("/api/v1/monitors", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["rows"] == "all" and "accuracy" in created.json()["baseline_metrics"]["quality"]
    bad = await admin.post("/api/v1/monitors", json={**body, "name": "bad", "config": {"labels": "x"}})
    assert bad.status_code == 400  # a ValidationError
    unknown = await admin.post("/api/v1/monitors", json={**body, "name": "bad", "config": {"nope": 1}})
    assert unknown.status_code == 400
    run = (await admin.post("/api/v1/monitors/hiring-rest/run")).json()
    assert run["status"] == "ok", run["violations"]
    assert (await outsider.delete("/api/v1/monitors/hiring-rest")).status_code == 404
    assert (await admin.delete("/api/v1/monitors/hiring-rest")).status_code == 204
    assert (await admin.get("/api/v1/monitors/hiring-rest")).status_code == 404
