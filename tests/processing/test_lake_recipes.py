"""``lake.recipes`` on a real lake: versions, fitted parameters kept, runs with lineage, governance."""

from __future__ import annotations

import pandas as pd
import pytest

from mlake.errors import MlakeError, NotFoundError, PermissionDeniedError
from mlake.lake import Lake
from mlake.processing.base import RecipeValidationError
from tests.processing.conftest import make_frame

RECIPE = """
name: clean_orders
source: shop.orders
steps:
  - {op: fill_mean, columns: [x]}
  - {op: standard_scale, columns: [x, v]}
  - {op: one_hot, column: g, top_k: 2, other: true}
  - {op: rolling, column: v, by: [k], order_by: t, rows: 3, name: v_roll}
  - {op: select, columns: [id, k, x, v, g_red, g_green, g_other, v_roll]}
"""


@pytest.fixture
def shop(lake: Lake) -> Lake:
    lake.create_table("shop.orders", make_frame(200, 1).drop(columns=["flag"]))
    return lake


def test_versions_run_lineage_and_kept_parameters(shop: Lake) -> None:
    first = shop.recipes.create(RECIPE)
    second = shop.recipes.create(RECIPE.replace("rows: 3", "rows: 4"))
    assert (first.version, second.version) == (1, 2)
    assert [v.version for v in shop.recipes.versions("clean_orders")] == [1, 2]
    assert [r.name for r in shop.recipes.list()] == ["clean_orders"]

    run = shop.recipes.run("clean_orders", "shop.orders_clean", version=1)
    assert run.rows == 200 and run.fitted and run.version == 1
    out = shop.sql("SELECT avg(x) AS m, count(*) AS n FROM shop.orders_clean").to_pylist()[0]
    assert abs(out["m"]) < 1e-9 and out["n"] == 200
    graph = shop.lineage("shop.orders_clean")
    refs = {(e.source.kind, e.source.ref, e.source.snapshot_id) for e in graph.upstream}
    snap = shop.iceberg_table("shop.orders").current_snapshot()
    assert ("table", "shop.orders", snap.snapshot_id if snap else None) in refs
    assert any(ref == "recipe:clean_orders@v1" for _, ref, _ in refs)

    # new data arrives: the second run applies the parameters fitted on the first data
    fitted = shop.recipes.get("clean_orders", 1).fitted
    assert fitted is not None
    shop.table("shop.orders").append(make_frame(50, 9, id_start=500).drop(columns=["flag"]))
    again = shop.recipes.run("clean_orders", "shop.orders_clean", version=1)
    assert again.rows == 250 and not again.fitted
    assert shop.recipes.get("clean_orders", 1).fitted.params == fitted.params  # type: ignore[union-attr]
    assert "standard_scale" in shop.recipes.export("clean_orders", "sql", version=1)
    assert "def transform" in shop.recipes.export("clean_orders", "python")


@pytest.mark.slow
def test_ray_run_equals_duckdb_run(shop: Lake) -> None:
    pytest.importorskip("ray")
    shop.table("shop.orders").append(make_frame(30, 7, id_start=900).drop(columns=["flag"]))  # a second data file
    shop.recipes.create(RECIPE)
    shop.recipes.run("clean_orders", "shop.a")
    by_files = shop.recipes.run("clean_orders", "shop.b", engine="ray")
    assert by_files.partitions == 2  # one task per data file
    shop.governance.create_principal("bob")
    shop.governance.grant("bob", "select", "shop.orders")
    shop.governance.grant("bob", "alter", "shop")
    by_rows = shop.as_principal("bob").recipes.run("clean_orders", "shop.c", engine="ray")
    assert by_rows.partitions > 2  # a principal's rows come through its views, in chunks
    for other in ("shop.b", "shop.c"):
        diff = shop.sql(f"SELECT count(*) FROM (SELECT * FROM shop.a EXCEPT ALL SELECT * FROM {other})").scalar()
        assert diff == 0 and shop.sql(f"SELECT count(*) FROM {other}").scalar() == 230


def test_validation_names_the_step_before_saving(shop: Lake) -> None:
    with pytest.raises(RecipeValidationError, match=r"Step 2 \(standard_scale\): unknown column 'nope'"):
        shop.recipes.create(RECIPE.replace("[x, v]", "[x, nope]"))
    with pytest.raises(NotFoundError):
        shop.recipes.get("clean_orders")


def test_preview_on_a_sample(shop: Lake) -> None:
    shop.recipes.create(RECIPE)
    table = shop.recipes.preview("clean_orders", rows=5)
    assert table.num_rows == 5 and "v_roll" in table.column_names


def test_a_principal_without_grants_gets_nothing(shop: Lake) -> None:
    shop.recipes.create(RECIPE)
    shop.governance.create_principal("eve")
    eve = shop.as_principal("eve")
    assert eve.recipes.list() == []
    with pytest.raises(NotFoundError):
        eve.recipes.get("clean_orders")
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        eve.recipes.preview(RECIPE_OBJ(shop))
    with pytest.raises(MlakeError):
        eve.recipes.run("clean_orders", "shop.eves")


def RECIPE_OBJ(lake: Lake):
    return lake.recipes.get("clean_orders").recipe


SERVING = """
name: serving
source: shop.orders
steps:
  - {op: fill_median, columns: [x]}
  - {op: robust_scale, columns: [x, v]}
  - {op: one_hot, column: g, top_k: 2, other: true, keep: true}
  - {op: target_encode, column: c, target: y, name: c_te}
  - {op: bin_quantile, columns: [w]}
  - {op: date_parts, column: t, parts: [month, dayofweek]}
"""


def test_serving_applies_exactly_what_training_learned(shop: Lake) -> None:
    shop.recipes.create(SERVING)
    shop.recipes.run("serving", "shop.train_features")  # fits on the first 200 rows
    new = make_frame(30, 4, id_start=5000).drop(columns=["flag"])
    shop.table("shop.orders").append(new)
    shop.recipes.run("serving", "shop.all_features")  # applies the saved parameters to every row
    offline = shop.sql("SELECT * FROM shop.all_features WHERE id >= 5000 ORDER BY id").to_pandas()
    online = shop.recipes.transform("serving", new).to_pandas().sort_values("id")
    pd.testing.assert_frame_equal(
        offline.reset_index(drop=True), online[offline.columns].reset_index(drop=True), check_dtype=False
    )


def test_serving_refuses_steps_that_need_other_rows(shop: Lake) -> None:
    from mlake.processing.base import ProcessingError

    shop.recipes.create(RECIPE)
    shop.recipes.run("clean_orders", "shop.x")
    with pytest.raises(ProcessingError, match=r"Step 4 \(rolling\)"):
        shop.recipes.transform("clean_orders", make_frame(3, 1))


def test_a_granted_principal_runs_recipes_through_its_sandbox(shop: Lake) -> None:
    """Every kind of SQL the transforms compile to passes a principal's sandboxed engine."""
    from mlake.processing.recipe import Recipe

    shop.governance.create_principal("bob")
    shop.governance.grant("bob", "select", "shop.orders")
    shop.governance.grant("bob", "alter", "shop")
    bob = shop.as_principal("bob")
    steps = [
        {"op": "fill_mode", "columns": ["c"]},
        {"op": "target_encode", "column": "c", "target": "y", "name": "c_te"},
        {"op": "bin_quantile", "columns": ["w"]},
        {"op": "tokenize", "columns": ["s"]},
        {"op": "remove_stop_words", "columns": ["s_tokens"]},
        {"op": "ngrams", "column": "s_tokens"},
        {"op": "parse_date", "columns": ["d"], "formats": ["%Y-%m-%d"]},
        {"op": "date_parts", "column": "d"},
        {"op": "stratified_split", "by": ["g"]},
        {"op": "dedupe_by_key", "keys": ["k"], "order_by": "t"},
        {"op": "sample", "fraction": 1.0},
    ]
    bob.recipes.create(Recipe(name="bobs", source="shop.orders", steps=steps))
    run = bob.recipes.run("bobs", "shop.bobs_out")
    assert run.rows == 3
    assert [r.name for r in bob.recipes.list()] == ["bobs"]


def test_a_recipe_cannot_replace_its_own_source(shop: Lake) -> None:
    from mlake.errors import ValidationError

    shop.recipes.create(RECIPE)
    with pytest.raises(ValidationError, match="cannot also replace it"):
        shop.recipes.run("clean_orders", "shop.orders")
    assert shop.sql("SELECT count(*) FROM shop.orders").scalar() == 200
