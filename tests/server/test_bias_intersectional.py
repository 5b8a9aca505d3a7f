"""Intersectional facets over REST (a live server, raw HTTP and the typed client) and in the Studio form,
each cross-checked against the Python core's report for the same facet on the same rows."""

from __future__ import annotations

import html as html_lib
import re

import httpx
import numpy as np
import pyarrow as pa
import pytest
from fastapi import FastAPI
from tests.governed_lake import Governed
from tests.live_server import free_port, live_server

import mlake
from mlake.bias import Condition, Facet, Outcome, bias_report

FACET = Facet.all_of(Condition("sex", ("Female",)), Condition("age", threshold=40))


def people(n: int = 600) -> pa.Table:
    rng = np.random.default_rng(5)
    sex = rng.choice(["Female", "Male"], n)
    age = rng.integers(20, 65, n)
    hired = (rng.random(n) < np.where((sex == "Female") & (age > 40), 0.25, 0.5)).astype(int)
    score = np.clip(0.4 * hired + rng.normal(0.3, 0.2, n), 0, 1)
    return pa.table({"sex": sex, "age": age, "hired": hired, "score": score})


def core(data: pa.Table, resamples: int, label_threshold: float | None = None) -> dict[str, object]:
    label = (
        Outcome.of("hired", threshold=label_threshold)
        if label_threshold is not None
        else Outcome.of("hired", positive_values=[1])
    )
    return bias_report(
        data, FACET, label, predicted_label=Outcome.of("score", threshold=0.5), resamples=resamples
    ).to_dict()


@pytest.mark.slow
def test_rest_takes_a_list_of_facet_conditions(app: FastAPI, governed: Governed) -> None:
    data = people()
    governed.lake.create_table("hr.people", data)
    ask = {
        "source": "hr.people",
        "facets": [{"column": "sex", "values": ["Female"]}, {"column": "age", "threshold": 40}],
        "label": "hired",
        "positive_values": [1],
        "predicted": "score",
        "predicted_threshold": 0.5,
        "resamples": 50,
    }
    want = core(data, 50)
    with live_server(app, free_port()) as url:
        auth = {"Authorization": f"Bearer {governed.admin_token}"}
        with httpx.Client(base_url=f"{url}/api/v1", headers=auth, timeout=60) as http:
            got = http.post("/bias/report", json=ask)
            assert got.status_code == 200, got.text
            assert got.json() == want
            both = http.post("/bias/report", json={**ask, "facet": "sex"})
            assert both.status_code == 400 and "not both" in both.text
            neither = http.post("/bias/report", json={k: v for k, v in ask.items() if k != "facets"})
            assert neither.status_code == 400 and "facet" in neither.text
            empty = http.post("/bias/report", json={**ask, "facets": [{"column": "sex"}]})
            assert empty.status_code == 400 and "exactly one of values= or threshold=" in empty.text
        refused = httpx.post(
            f"{url}/api/v1/bias/report", json=ask, headers={"Authorization": f"Bearer {governed.outsider_token}"}
        )
        assert refused.status_code in (403, 404)
        with mlake.connect(url, token=governed.admin_token) as remote:
            typed = remote.bias.report(
                "hr.people",
                facet=FACET,
                label="hired",
                positive_values=[1],
                predicted="score",
                predicted_threshold=0.5,
                resamples=50,
            )
    assert typed.to_dict() == want
    assert typed == governed.lake.bias.report(
        "hr.people",
        facet=FACET,
        label="hired",
        positive_values=[1],
        predicted="score",
        predicted_threshold=0.5,
        resamples=50,
    )


def group_rows(page: str) -> dict[str, int]:
    body = page.split('class="data b-groups"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<tr><td>(\w)</td><td class=\"num\">([\d,]+)</td>", body)
    return {g: int(n.replace(",", "")) for g, n in cells}


@pytest.mark.anyio
async def test_studio_form_takes_several_facet_columns_and_thresholds(
    admin: httpx.AsyncClient, governed: Governed
) -> None:
    data = people()
    governed.lake.create_table("hr.people", data)
    html = {"Accept": "text/html"}
    base = [("source", "hr.people"), ("label", "hired"), ("positive", "1")]
    # "Add a facet column" gives the form back with one more row, and reports nothing yet
    more = await admin.get(
        "/bias",
        params=[*base, ("facet", "sex"), ("facet_value", "Female"), ("facet_threshold", ""), ("add_facet", "1")],
        headers=html,
    )
    assert more.status_code == 200 and more.text.count('name="facet"') == 2 and "ci-bar" not in more.text
    assert 'value="Female"' in more.text and 'name="add_facet"' in more.text
    rows = [
        ("facet", "sex"),
        ("facet_value", "Female"),
        ("facet_threshold", ""),
        ("facet", "age"),
        ("facet_value", ""),
        ("facet_threshold", "40"),
    ]
    page = await admin.get(
        "/bias", params=[*base, *rows, ("predicted", "score"), ("predicted_threshold", "0.5")], headers=html
    )
    assert page.status_code == 200 and "Cannot report" not in page.text, page.text[-2000:]
    want = core(data, 0)
    assert html_lib.escape(str(want["facet"])) in page.text  # "sex in {Female} and age > 40"
    assert group_rows(page.text) == {g["facet"]: g["rows"] for g in want["groups"]}  # type: ignore[attr-defined]
    assert page.text.count('name="facet"') == 2 and 'value="40"' in page.text
    # a numeric label threshold and a lone facet threshold, as in the core
    alone = await admin.get(
        "/bias",
        params=[
            ("source", "hr.people"),
            ("label", "hired"),
            ("label_threshold", "0.5"),
            ("facet", "age"),
            ("facet_threshold", "40"),
        ],
        headers=html,
    )
    one = bias_report(data, Facet.of("age", threshold=40), Outcome.of("hired", threshold=0.5), resamples=0)
    assert group_rows(alone.text) == {g.facet: g.rows for g in one.groups}
    bad = await admin.get(
        "/bias", params=[*base, ("facet", "sex"), ("facet_value", "Female"), ("facet_threshold", "x")], headers=html
    )
    assert "Cannot report" in bad.text and "not a number" in bad.text
    both = await admin.get(
        "/bias",
        params=[*base, *rows[:3], ("facet", "age"), ("facet_value", "41"), ("facet_threshold", "40")],
        headers=html,
    )
    assert "Cannot report" in both.text and "both values and a threshold" in both.text
