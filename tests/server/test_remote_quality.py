"""``mlake.connect(url).quality``: data quality against a server, with the local API's result types,
as admin and as an analyst whose masks and row filter apply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.governed_lake import Governed

import mlake
from mlake.client import RemoteLake
from mlake.errors import NotFoundError, PermissionDeniedError, ValidationError
from mlake.quality import InRange, NotNull, Suite, Unique
from mlake.quality.history import METRICS_SCHEMA
from mlake.quality.profile_result import Profile
from mlake.quality.suite import SuiteResult


@pytest.fixture
def clients(app: FastAPI, governed: Governed) -> Iterator[dict[str, RemoteLake]]:
    with TestClient(app, base_url="http://studio.test") as admin, TestClient(app, base_url="http://studio.test") as bob:
        yield {
            "admin": mlake.connect("http://studio.test", token=governed.admin_token, client=admin),
            "bob": mlake.connect("http://studio.test", token=governed.analyst_token, client=bob),
        }


def test_profiles_come_back_as_the_local_profile(clients: dict[str, RemoteLake], governed: Governed) -> None:
    remote = clients["admin"].quality
    p = remote.profile("shop.customers", key="customer_id", save=False)
    local = governed.lake.quality.profile("shop.customers", key=["customer_id"], save=False)
    assert isinstance(p, Profile) and p.rows == local.rows == 6 and p.duplicate_keys == 0
    assert p["email"].nulls == local["email"].nulls == 1
    assert p["age"].mean == pytest.approx(local["age"].mean)
    assert p["age"].histogram == local["age"].histogram
    assert p["country"].top_values == local["country"].top_values
    # the round trip keeps everything the JSON has
    rt = p.to_dict()
    assert {k: v for k, v in rt.items() if k != "seconds"} == {
        k: v for k, v in Profile.from_dict(rt).to_dict().items() if k != "seconds"
    }
    assert "<" in p._repr_html_()

    # a query (text or a remote result), and a table as it was at an earlier snapshot
    q = remote.profile("SELECT amount FROM shop.orders WHERE amount > 20")
    assert q.rows == 2 and q.table is None
    assert remote.profile(clients["admin"].sql("SELECT * FROM shop.orders")).rows == 4
    first = governed.lake.table("shop.orders").history()[-1].snapshot_id
    governed.lake.table("shop.orders").append(pa.table({"order_id": [14], "customer_id": [6], "amount": [5.0]}))
    assert remote.profile("shop.orders", save=False).rows == 5
    assert remote.profile("shop.orders", snapshot_id=first, save=False).rows == 4
    with pytest.raises(ValidationError):
        remote.profile("SELECT 1", snapshot_id=first)


def test_an_analyst_profiles_what_the_masks_and_filter_leave(clients: dict[str, RemoteLake]) -> None:
    p = clients["bob"].quality.profile("shop.customers", save=False)
    assert p.rows == 3  # the row filter keeps country = 'DE'
    assert p["country"].top_values == [("DE", 3)]
    assert all(v % 10 == 0 for v, _ in p["age"].top_values)  # masked to tens
    with pytest.raises(PermissionDeniedError):
        clients["bob"].quality.profile("vault.secrets")


def test_checks_suites_and_their_results(clients: dict[str, RemoteLake], tmp_path: Path) -> None:
    q = clients["admin"].quality
    suite = Suite([NotNull("email"), Unique("customer_id"), InRange("age", min=30)], name="people")
    result = q.check("shop.customers", suite, sample_rows=2)
    assert isinstance(result, SuiteResult) and not result.passed
    assert result["not_null(email)"].failing_rows == 1
    assert result["unique(customer_id)"].passed
    age = next(r for r in result.results if r.kind == "in_range")
    assert age.failing_rows == 1 and age.samples and age.samples[0]["age"] == 27
    assert result.suite == "people" and "1/3 check(s) passed" in result.summary()

    path = tmp_path / "orders.yaml"
    path.write_text("checks:\n  - not_null: order_id\n  - row_count: {min: 1}\n")
    assert q.check("shop.orders", path).passed
    assert q.check("shop.orders", "checks:\n  - unique: order_id\n").passed
    with pytest.raises(ValidationError):  # refused before anything is sent
        q.check("shop.orders", {"checks": [{"no_such_check": "x"}]})
    with pytest.raises(ValidationError, match="table"):
        q.check("SELECT * FROM shop.orders", suite)

    suggestion = q.suggest("shop.orders", name="orders suggested")
    assert suggestion.suite.name == "orders suggested" and len(suggestion.reasons) == len(suggestion.suite.checks)
    assert "not_null" in suggestion.yaml

    stored = q.suites.save("shop.orders", "orders basics", suggestion.yaml)
    assert stored.name == "orders basics" and stored.last_run_at is None
    assert [s.name for s in q.suites.list("shop.orders")] == ["orders basics"]
    run = q.check("shop.orders", q.suites.get("shop.orders", "orders basics"))
    assert run.passed and run.suite == "orders basics"
    again = q.suites.get("shop.orders", "orders basics")
    assert again.last_passed is True and again.last_run_at is not None
    failing = q.suites.save("shop.orders", "too strict", "checks:\n  - in_range: {column: amount, min: 50}\n")
    assert not q.suites.run("shop.orders", failing.name).passed
    assert [s.name for s in q.suites.failing()] == ["too strict"]
    q.suites.delete("shop.orders", "too strict")
    with pytest.raises(NotFoundError):
        q.suites.get("shop.orders", "too strict")


def test_history_anomalies_and_reports(clients: dict[str, RemoteLake], governed: Governed, tmp_path: Path) -> None:
    q = clients["admin"].quality
    for _ in range(3):
        q.profile("shop.orders")
    history = q.history("shop.orders", metric="rows", kind="profile")
    assert history.schema == METRICS_SCHEMA and history.num_rows == 3
    assert history.column("value").to_pylist() == [4.0, 4.0, 4.0]
    local = governed.lake.quality.history("shop.orders", metric="rows", kind="profile")
    assert history.to_pylist() == local.to_pylist()

    # a planted jump: half of the amounts go missing
    governed.lake.table("shop.orders").append(
        pa.table({"order_id": range(100, 110), "customer_id": [1] * 10, "amount": pa.array([None] * 10, pa.float64())})
    )
    q.profile("shop.orders")
    found = q.anomalies("shop.orders", min_history=2)
    assert any(a.column == "amount" and a.metric == "null_rate" for a in found)
    assert {(a.column, a.metric) for a in q.recent_anomalies(days=1)} >= {("amount", "null_rate")}

    report = q.report("shop.orders", tmp_path / "orders.html", key=["order_id"], save=False)
    assert report.profile.rows == 14 and report.dimensions is not None and report.suggested is not None
    html = (tmp_path / "orders.html").read_text()
    assert "<html" in html.lower() and "http://" not in html.split("<body", 1)[1][:2000].lower()
    q.report("shop.orders", tmp_path / "orders.json", save=False)
    assert json.loads((tmp_path / "orders.json").read_text())["profile"]["rows"] == 14
    with pytest.raises(ValidationError):
        q.report("shop.orders", tmp_path / "orders.pdf")
    governed.lake.create_table(
        "shop.visits",
        pa.table({"minutes": [float(i % 17) for i in range(60)], "bought": [i % 17 > 8 for i in range(60)]}),
    )
    report = q.report("shop.visits", target="bought", save=False)
    assert report.readiness is not None and report.readiness.target == "bought"
    assert report.readiness.task == "classification" and report.dimensions and report.dimensions.scores
    # readiness and dimensions on their own: typed as locally, with the same numbers
    ready = q.readiness("shop.visits", "bought")
    local_ready = governed.lake.quality.readiness("shop.visits", "bought")
    assert ready.task == local_ready.task and ready.features == local_ready.features
    assert [f.feature for f in ready.feature_power] == [f.feature for f in local_ready.feature_power]
    dims = q.dimensions("shop.orders", key=["order_id"], max_age=timedelta(days=1))
    local_dims = governed.lake.quality.dimensions("shop.orders", key=["order_id"], max_age="1d")
    assert dims.to_dict()["scores"] == local_dims.to_dict()["scores"]
    # annotator agreement: the labels are read through the server, the statistics computed here
    votes = pa.table({"item": [1, 1, 2, 2, 3, 3], "annotator": list("abababab")[:6], "label": list("xxyyxz")})
    governed.lake.create_table("labels.votes", votes)
    remote_agreement = q.agreement("labels.votes")
    assert remote_agreement.to_dict() == governed.lake.quality.agreement("labels.votes").to_dict()
    assert q.agreement(votes).to_dict() == remote_agreement.to_dict()


def test_an_analyst_cannot_read_a_history_that_describes_hidden_rows(clients: dict[str, RemoteLake]) -> None:
    clients["admin"].quality.profile("shop.customers")
    with pytest.raises(PermissionDeniedError):
        clients["bob"].quality.history("shop.customers")
    assert clients["bob"].quality.history("shop.orders").num_rows == 0
