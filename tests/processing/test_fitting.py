"""Fitted parameters come from the fit split only; recipes are validated step by step."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlake.processing.base import REGISTRY, RecipeValidationError
from mlake.processing.recipe import DuckDBExecutor, FittedRecipe, Recipe, python_script
from tests.processing.conftest import make_frame

FITTED_STEPS: list[dict[str, Any]] = [
    {"op": "fill_mean", "columns": ["x"]},
    {"op": "fill_median", "columns": ["w"]},
    {"op": "fill_mode", "columns": ["c"]},
    {"op": "standard_scale", "columns": ["x"]},
    {"op": "minmax_scale", "columns": ["v"]},
    {"op": "robust_scale", "columns": ["w"]},
    {"op": "maxabs_scale", "columns": ["y"]},
    {"op": "one_hot", "column": "g", "top_k": 2, "other": True, "keep": True},
    {"op": "ordinal_encode", "columns": ["k"]},
    {"op": "frequency_encode", "columns": ["g"], "suffix": "_freq"},
    {"op": "rare_category", "columns": ["g"], "min_count": 20},
    {"op": "target_encode", "column": "c", "target": "y", "name": "c_te"},
    {"op": "bin_uniform", "columns": ["v"]},
    {"op": "bin_quantile", "columns": ["w"]},
    {"op": "winsorize", "columns": ["x"]},
    {"op": "remove_outliers_iqr", "columns": ["x"]},
    {"op": "remove_outliers_zscore", "columns": ["v"]},
]


def test_every_fitted_transform_is_in_the_leakage_test() -> None:
    fitted = {op for op, cls in REGISTRY.items() if cls.fitted}
    assert fitted == {s["op"] for s in FITTED_STEPS}


def _fit(train: pd.DataFrame, test: pd.DataFrame) -> FittedRecipe:
    con = duckdb.connect()
    con.register("train", train)
    con.register("test", test)
    ex = DuckDBExecutor(con)
    fitted = Recipe(steps=FITTED_STEPS).fit(ex, "train")
    con.sql(fitted.compile(ex, "test").sql()).fetchall()  # the test split is read, transformed
    return fitted


TRAIN = make_frame(200, 11)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 80), scale=st.floats(-1e3, 1e3))
def test_fitted_parameters_depend_only_on_the_fit_split(seed: int, n: int, scale: float) -> None:
    """No leakage: whatever the test split holds, the parameters are those of the train split."""
    base = _fit(TRAIN, make_frame(5, 0, id_start=10_000))
    other = make_frame(n, seed, id_start=10_000)
    other["x"] = other["x"] * scale
    other["g"] = other["g"] + str(seed % 3)
    assert _close(_fit(TRAIN, other).params, base.params)


def _close(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-12 relative: DuckDB's parallel aggregates may add in another order."""
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return bool(a == b)


def test_target_encoding_is_out_of_fold_on_the_fit_data() -> None:
    """On the fit data, a row's encoding excludes its own fold's targets (no leakage of its label)."""
    train = make_frame(200, 3)
    con = duckdb.connect()
    con.register("train", train)
    ex = DuckDBExecutor(con)
    step = {"op": "target_encode", "column": "g", "target": "y", "folds": 4, "smoothing": 0.0, "name": "te"}
    fitted = Recipe(steps=[step]).fit(ex, "train")
    fold_sql = "hash(0, " + ", ".join(f'"{c}"' for c in train.columns) + ") % 4"
    folds = con.sql(f"SELECT id, CAST({fold_sql} AS INTEGER) AS fold FROM train").to_df()
    got = con.sql(fitted.compile(ex, "train", fitting=True).sql()).to_df().merge(folds, on="id")
    for _, row in got.sample(40, random_state=0).iterrows():
        others = got[(got.g == row.g) & (got.fold != row.fold)]
        assert row.te == pytest.approx(others.y.mean())
    served = con.sql(fitted.compile(ex, "train").sql()).to_df()
    assert served.groupby("g").te.first().to_dict() == pytest.approx(train.groupby("g").y.mean().to_dict())


def _validate(steps: list[dict[str, Any]]) -> None:
    con = duckdb.connect()
    con.register("train", TRAIN)
    Recipe(steps=steps).validate_on(DuckDBExecutor(con), "train")


def test_unknown_column_names_the_step() -> None:
    with pytest.raises(RecipeValidationError, match=r"Step 2 \(standard_scale\): unknown column 'vv'") as info:
        _validate([{"op": "fill_mean", "columns": ["x"]}, {"op": "standard_scale", "columns": ["vv"]}])
    assert info.value.step == 2 and "v" in (info.value.hint or "")


def test_type_mismatch_names_the_step() -> None:
    with pytest.raises(RecipeValidationError, match=r"Step 1 \(standard_scale\): column 'g' is VARCHAR"):
        _validate([{"op": "standard_scale", "columns": ["g"]}])


def test_a_column_a_step_removed_is_unknown_later() -> None:
    with pytest.raises(RecipeValidationError, match=r"Step 2 \(lowercase\)"):
        _validate([{"op": "drop", "columns": ["s"]}, {"op": "lowercase", "columns": ["s"]}])


def test_bad_sql_expression_names_the_step() -> None:
    with pytest.raises(RecipeValidationError, match=r"Step 1 \(derive\)"):
        _validate([{"op": "derive", "name": "z", "expression": "nope + 1"}])


def test_unknown_transform_suggests_close_names() -> None:
    with pytest.raises(RecipeValidationError, match="unknown transform") as info:
        Recipe(steps=[{"op": "standard_scal", "columns": ["v"]}])
    assert "standard_scale" in (info.value.hint or "")


def test_yaml_round_trip_and_python_export(tmp_path: Any) -> None:
    recipe = Recipe(name="r", steps=[*FITTED_STEPS[:4], {"op": "lowercase", "columns": ["s"]}])
    assert Recipe.from_yaml(recipe.to_yaml()).to_dict() == recipe.to_dict()
    con = duckdb.connect()
    con.register("train", TRAIN)
    ex = DuckDBExecutor(con)
    fitted = recipe.fit(ex, "train")
    assert FittedRecipe.from_dict(fitted.to_dict()).params == fitted.params
    compiled = fitted.compile(ex, "train")
    src = tmp_path / "in.parquet"
    con.sql("SELECT * FROM train").write_parquet(str(src))
    script = tmp_path / "r.py"
    script.write_text(python_script(compiled))
    import runpy

    runpy.run_path(str(script))["transform"](str(src), str(tmp_path / "out.parquet"))
    exported = duckdb.sql(f"SELECT * FROM '{tmp_path / 'out.parquet'}' ORDER BY id").to_df()
    direct = con.sql(f"SELECT * FROM ({compiled.sql()}) ORDER BY id").to_df()
    pd.testing.assert_frame_equal(exported, direct, check_dtype=False)


def test_the_docs_list_every_transform() -> None:
    from pathlib import Path

    from mlake.processing.recipe import transforms_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "processing.md").read_text()
    assert [op for op in REGISTRY if f"| `{op}` |" not in doc] == []
    block = doc.split("-->\n", 1)[1].split("<!-- transforms:end", 1)[0] if "transforms:start" in doc else ""
    assert block == transforms_markdown(), "regenerate the block with transforms_markdown()"
