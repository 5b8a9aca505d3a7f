"""The labeling REST API over the real app: a project, an annotator who sees only the rows its row filter
lets through, submitting, consolidating, progress, export/import, a review loop; refusals are the same
whether or not a project exists."""

from __future__ import annotations

import httpx
import pytest
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio


async def test_project_queue_answers_and_governance(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    body = {"name": "churn", "source_table": "shop.customers", "id_column": "customer_id", "labels": ["stay", "go"]}
    r = await admin.post("/api/v1/labeling/projects", json=body)
    assert r.status_code == 201, r.text
    governed.lake.governance.grant("analyst", "insert", "labeling.churn__answers")
    queue = (await analyst.get("/api/v1/labeling/projects/churn/next", params={"n": 50})).json()
    assert sorted(q["item_id"] for q in queue) == ["1", "3", "5"]  # bob's row filter: DE customers only
    assert all(q["row"]["email"] != "ann@example.com" for q in queue)  # masked
    r = await analyst.post("/api/v1/labeling/projects/churn/answers", json={"item_id": "2", "answer": "go"})
    assert r.status_code == 422 and "not among the items" in r.json()["message"]  # FR: not his to see
    r = await analyst.post("/api/v1/labeling/projects/churn/answers", json={"item_id": "1", "answer": "maybe"})
    assert r.status_code == 422 and r.json()["code"] == "answer_outside_schema"
    r = await analyst.post(
        "/api/v1/labeling/projects/churn/answers", json={"item_id": "1", "answer": "go", "seconds": 1}
    )
    assert r.status_code == 201, r.text
    r = await analyst.post("/api/v1/labeling/projects/churn/answers", json={"item_id": "1", "answer": "stay"})
    assert r.status_code == 409 and r.json()["code"] == "duplicate_answer"
    for name in ("churn", "nope"):
        r = await outsider.get(f"/api/v1/labeling/projects/{name}/next")
        assert r.status_code == 403 and "(or it does not exist)" in r.json()["message"]
    assert (await outsider.get("/api/v1/labeling/projects")).json() == []
    done = (await admin.post("/api/v1/labeling/projects/churn/consolidate", params={"method": "majority_vote"})).json()
    assert done["labels"] == [{"item_id": "1", "label": '"go"', "confidence": 1.0, "method": "majority_vote"}]
    progress = (await admin.get("/api/v1/labeling/projects/churn/progress")).json()
    assert progress["items"] == 6 and progress["answers"] == 1 and progress["annotators"][0]["annotator"] == "bob"
    exported = (await admin.get("/api/v1/labeling/projects/churn/export")).json()
    assert exported[0]["annotations"][0]["result"][0]["value"] == {"choices": ["go"]}
    await admin.post("/api/v1/labeling/projects", json={**body, "name": "churn_copy"})
    r = await admin.post("/api/v1/labeling/projects/churn_copy/import", json=exported)
    assert r.json() == {"imported": 1}


async def test_review_loop(admin: httpx.AsyncClient) -> None:
    body = {
        "name": "big_orders",
        "predictions_table": "shop.orders",
        "id_column": "order_id",
        "prediction_column": "customer_id",
        "confidence_column": "amount",
        "threshold": 30,
        "labels": ["1", "2", "3", "5", "9"],
    }
    r = await admin.post("/api/v1/labeling/review-loops", json=body)
    assert r.status_code == 201, r.text
    added = (await admin.post("/api/v1/labeling/review-loops/big_orders/activate")).json()
    assert sorted(i["item_id"] for i in added["items"]) == ["10", "12"]  # amounts below 30
    await admin.post("/api/v1/labeling/projects/big_orders/answers", json={"item_id": "10", "answer": "9"})
    report = (await admin.post("/api/v1/labeling/review-loops/big_orders/results")).json()
    assert report["reviewed"] == 1 and report["overruled"] == 1 and report["sent"] == 2
