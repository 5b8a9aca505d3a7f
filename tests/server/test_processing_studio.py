"""Studio's recipe editor and pipeline pages through the real app: the preview after each step, the
broken step named, save and run, the DAG with a run's statuses, "Run now", and what each principal sees."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio
HTML = {"Accept": "text/html"}
STEPS = [
    {"op": "filter", "condition": "amount > 15"},
    {"op": "standard_scale", "columns": ["amount"]},
    {"op": "log", "columns": ["order_id"], "offset": 1},
]
PIPELINE = """
name: nightly
steps:
  - {name: ids, kind: check, table: shop.orders, suite: "name: ids\\nchecks:\\n  - not_null: order_id\\n"}
  - {name: clean, kind: recipe, recipe: clean_orders, inputs: [shop.orders], output: shop.orders_clean, depends_on: [ids]}
  - {name: count, kind: sql, sql: "SELECT count(*) FROM shop.orders", depends_on: [ids]}
"""


async def test_preview_after_each_step_and_the_broken_step(admin: httpx.AsyncClient) -> None:
    first = await admin.post("/recipes/preview", json={"source": "shop.orders", "steps": STEPS, "upto": 1})
    assert first.status_code == 200
    assert "After step 1 of 3" in first.text and "3 sampled rows" in first.text  # amount > 15 keeps 3 of 4
    assert "step-error" not in first.text and "amount" in first.text and "Column statistics" in first.text
    last = await admin.post("/recipes/preview", json={"source": "shop.orders", "steps": STEPS})
    assert "After step 3 of 3" in last.text
    broken = [STEPS[0], {"op": "standard_scale", "columns": ["amuont"]}, STEPS[2]]
    r = await admin.post("/recipes/preview", json={"source": "shop.orders", "steps": broken})
    assert 'data-step="2"' in r.text and "Step 2 (standard_scale)" in r.text and "amuont" in r.text
    assert "After step 1 of 3" in r.text  # the sample shown is the last good one
    missing = await admin.post("/recipes/preview", json={"source": "shop.orders", "steps": [{"op": "filter"}]})
    assert 'data-step="1"' in missing.text and "condition" in missing.text
    bad_sql = [{"op": "derive", "column": "x", "expression": "no_such_fn(amount)"}]
    r = await admin.post("/recipes/preview", json={"source": "shop.orders", "steps": bad_sql})
    assert 'data-step="1"' in r.text and "Source sample" in r.text


async def test_save_run_and_list(admin: httpx.AsyncClient, governed: Governed) -> None:
    import json

    form = {"name": "clean_orders", "source": "shop.orders", "steps": json.dumps(STEPS)}
    saved = await admin.post("/recipes/save", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == "/recipes/clean_orders?saved=1"
    page = await admin.get("/recipes/clean_orders?saved=1", headers=HTML)
    assert "Saved as version 1" in page.text and "Run into table" in page.text and '"standard_scale"' in page.text
    ran = await admin.post("/recipes/clean_orders/run", data={"into": "shop.orders_clean"})
    assert ran.status_code == 303
    page = await admin.get(ran.headers["location"], headers=HTML)
    assert "wrote 3 rows into" in page.text
    assert governed.lake.table("shop.orders_clean").count() == 3
    bad = {**form, "steps": json.dumps([{"op": "standard_scale", "columns": ["nope"]}])}
    refused = await admin.post("/recipes/save", data=bad)
    assert refused.status_code == 422 and "Step 1 (standard_scale)" in refused.text
    listing = await admin.get("/recipes", headers=HTML)
    assert "clean_orders" in listing.text and "v1" in listing.text
    assert (await admin.post("/recipes/save", data=form)).headers["location"] == "/recipes/clean_orders?saved=2"
    older = await admin.get("/recipes/clean_orders?version=1", headers=HTML)
    assert 'href="/recipes/clean_orders?version=2"' in older.text and ">v1</span>" in older.text
    new = await admin.get("/recipes/new?table=shop.orders", headers=HTML)
    assert new.status_code == 200 and "standard_scale" in new.text  # the transform list is on the page


async def test_principals_see_only_what_they_may(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, governed: Governed
) -> None:
    lake = governed.lake
    lake.recipes.create(
        {"name": "secret_recipe", "source": "vault.secrets", "steps": [{"op": "select", "columns": ["k"]}]}
    )
    lake.recipes.create({"name": "orders_recipe", "source": "shop.orders", "steps": STEPS})
    listing = (await analyst.get("/recipes", headers=HTML)).text
    assert "orders_recipe" in listing and "secret_recipe" not in listing
    assert (await analyst.get("/recipes/secret_recipe", headers=HTML)).status_code == 404
    denied = await analyst.post("/recipes/preview", json={"source": "vault.secrets", "steps": []})
    assert denied.status_code in (403, 404) and "launch" not in denied.text
    assert (await analyst.get("/pipelines", headers=HTML)).status_code == 403
    assert (await analyst.post("/pipelines/nightly/run")).status_code == 403
    assert "/pipelines" not in re.sub(r"<main.*", "", (await analyst.get("/recipes", headers=HTML)).text, flags=re.S)
    assert (await admin.get("/pipelines", headers=HTML)).status_code == 200


async def test_pipeline_graph_runs_and_run_now(admin: httpx.AsyncClient, governed: Governed) -> None:
    lake = governed.lake
    lake.recipes.create({"name": "clean_orders", "source": "shop.orders", "steps": STEPS})
    lake.pipelines.save(PIPELINE)
    page = await admin.get("/pipelines/nightly", headers=HTML)
    assert page.status_code == 200 and "<svg" in page.text and "No runs yet" in page.text
    assert page.text.count('class="dag-edge"') == 2  # ids -> clean, ids -> count
    ran = await admin.post("/pipelines/nightly/run")
    assert ran.status_code == 303
    page = await admin.get(ran.headers["location"], headers=HTML)
    assert 'class="dag-node succeeded" data-step="clean"' in page.text
    assert re.search(r"\d+\.\d s", page.text)  # each step's timing
    assert "shop.orders_clean" in page.text
    listing = await admin.get("/pipelines", headers=HTML)
    assert "nightly" in listing.text and "succeeded" in listing.text
