"""SHAP attributions: additive, ranking the features the model uses, by facet, stored as tables, and
attribution drift (Model Monitor's NDCG) as a monitor check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlake.bias import Facet
from mlake.bias.explain import attribution_ndcg, by_facet, explain, partial_dependence
from mlake.errors import PermissionDeniedError, SchemaError, ValidationError
from mlake.lake import Lake
from mlake.monitor.checks import AttributionDrift, MonitorConfig

pytest.importorskip("shap")
pytestmark = pytest.mark.slow  # importing shap and scikit-learn takes seconds

FEATURES = ["x0", "x1", "x2", "x3"]


def dataset(n: int = 1500, seed: int = 0, x0_scale: float = 1.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[:, 0] *= x0_scale
    y = (2 * x[:, 0] + x[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return pa.table({**{f: x[:, i] for i, f in enumerate(FEATURES)}, "group": rng.choice(["a", "b"], n), "y": y})


def fitted(kind: str) -> object:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    data = dataset().to_pandas()
    model = RandomForestClassifier(30, max_depth=5, random_state=0) if kind == "tree" else LogisticRegression()
    return model.fit(data[FEATURES], data["y"])


@pytest.mark.parametrize("kind", ["tree", "kernel"])
def test_attributions_add_up_to_the_output_and_rank_what_the_model_uses(kind: str) -> None:
    e = explain(fitted(kind), dataset(seed=1), features=FEATURES, rows=150, background=50)
    assert e.method == kind
    total = sum(np.asarray(e.per_row[f]) for f in FEATURES) + np.asarray(e.per_row["base_value"])
    assert np.allclose(total, np.asarray(e.per_row["output"]), atol=1e-6)
    assert e.global_["feature"].to_pylist()[:2] == ["x0", "x1"]
    assert e.global_["rank"].to_pylist() == [1, 2, 3, 4]


def test_a_predict_function_is_explained_with_kernel_shap() -> None:
    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(3 * frame["x2"] - frame["x3"])

    e = explain(predict, dataset(), features=FEATURES, rows=40, background=40)
    # for a linear function KernelSHAP recovers w·(x − mean of the background) exactly
    assert e.method == "kernel" and e.global_["feature"].to_pylist()[:2] == ["x2", "x3"]
    assert np.allclose(np.asarray(e.per_row["x0"]), 0, atol=1e-8)


def test_by_facet_and_ndcg_by_hand() -> None:
    data = dataset(seed=2)
    e = explain(fitted("tree"), data, features=FEATURES, rows=200, background=50)
    facet = by_facet(e, data, Facet.of("group", values=["a"])).to_pylist()
    assert [r["feature"] for r in facet] == FEATURES
    assert facet[0]["rows_d"] + facet[0]["rows_a"] == 200
    rows = np.asarray(e.per_row["row"])
    in_d = np.asarray(data["group"].take(pa.array(rows))) == "a"
    assert facet[0]["mean_abs_d"] == pytest.approx(np.abs(np.asarray(e.per_row["x0"]))[in_d].mean())
    base = {"a": 3.0, "b": 2.0, "c": 1.0}
    assert attribution_ndcg(base, {"a": 9, "b": 5, "c": 1}) == 1.0
    swapped = (2.0 + 3.0 / math.log2(3) + 1.0 / 2) / (3.0 + 2.0 / math.log2(3) + 1.0 / 2)
    assert attribution_ndcg(base, {"a": 1, "b": 5, "c": 0}) == pytest.approx(swapped)


def test_explain_on_the_lake_stores_tables_and_monitor_flags_attribution_drift(lake: Lake) -> None:
    model = fitted("tree")
    lake.create_table("ml.scored", dataset(seed=3))
    e = lake.bias.explain(
        model, "ml.scored", features=FEATURES, into="ml.attributions", rows=100, facet=Facet.of("group", values=["a"])
    )
    stored = lake.table("ml.attributions").to_arrow()
    assert stored.num_rows == 100 and {"row", "x0", "base_value", "output", "group"} <= set(stored.column_names)
    assert lake.table("ml.attributions_global").to_arrow()["feature"].to_pylist() == e.global_["feature"].to_pylist()

    config = MonitorConfig(attribution=AttributionDrift(tuple(FEATURES), rows=150), drift=False, data_quality=False)
    lake.monitoring.create("attr", target="ml.scored", config=config, model=model)
    lake.table("ml.scored").append(dataset(seed=4))
    assert lake.monitoring.run("attr", model=model).violations == ()
    lake.table("ml.scored").append(dataset(seed=5, x0_scale=0.05))  # x0 barely varies: x1 now matters most
    [violation] = lake.monitoring.run("attr", model=model).violations
    assert violation.check == "attribution_drift" and violation.statistic is not None and violation.statistic < 0.9
    lake.table("ml.scored").append(dataset(seed=6))
    assert "skipped" in lake.monitoring.run("attr").summary["attribution"]


@pytest.mark.parametrize("kind", ["tree", "kernel"])
def test_partial_dependence_equals_scikit_learns(kind: str) -> None:
    from sklearn.inspection import partial_dependence as sk_partial_dependence

    model = fitted(kind)
    data = dataset(n=400, seed=2)
    ours = partial_dependence(model, data, features=FEATURES, grid_resolution=15, rows=None, individual=True)
    frame = data.to_pandas()[FEATURES]
    for j, name in enumerate(FEATURES):
        theirs = sk_partial_dependence(model, frame, [j], grid_resolution=15, method="brute", kind="both")
        mine = ours.filter(pa.compute.equal(ours["feature"], name))
        assert np.allclose(mine["value"].to_numpy(), theirs["grid_values"][0])
        assert np.allclose(mine["average"].to_numpy(), theirs["average"][0], atol=1e-12)
        ice = np.array(mine["individual"].to_pylist())  # (grid, rows)
        assert np.allclose(ice.T, theirs["individual"][0], atol=1e-12)


def test_partial_dependence_grid_and_bad_input() -> None:
    data = pa.table({"a": [0.0, 1.0, 1.0, 2.0] * 10, "b": np.linspace(0, 1, 40)})
    pd_table = partial_dependence(lambda f: f["a"] * 2 + f["b"], data, features=["a", "b"], grid_resolution=5)
    a = pd_table.filter(pa.compute.equal(pd_table["feature"], "a"))
    assert a["value"].to_pylist() == [0.0, 1.0, 2.0]  # fewer distinct values than the grid: those values
    assert np.allclose(a["average"].to_numpy(), np.array([0.0, 2.0, 4.0]) + 0.5)
    b = pd_table.filter(pa.compute.equal(pd_table["feature"], "b"))
    # the ends are the 5th and 95th percentiles by Cunnane's plotting positions (scipy's mquantiles):
    # n p + 0.4 + 0.2 p = 2.41 -> 0.59 x(2) + 0.41 x(3) of the 40 values i / 39
    assert np.allclose(b["value"].to_numpy(), np.linspace(1.41 / 39, 1 - 1.41 / 39, 5))
    with pytest.raises(ValidationError, match="cannot vary"):
        partial_dependence(lambda f: f["a"], data, features=["a"], vary=["c"])
    with pytest.raises(ValidationError, match="grid_resolution"):
        partial_dependence(lambda f: f["a"], data, features=["a"], grid_resolution=1)
    with pytest.raises(SchemaError, match="numeric"):
        partial_dependence(lambda f: f["a"], pa.table({"a": ["x"]}), features=["a"])


def test_partial_dependence_on_the_lake_is_stored_and_governed(lake: Lake) -> None:
    lake.create_table("ml.pd_source", dataset(n=300, seed=7))
    curves = lake.bias.partial_dependence(
        fitted("kernel"), "ml.pd_source", features=FEATURES, vary=["x0"], into="ml.pd", grid_resolution=10
    )
    assert curves.num_rows == 10 and lake.table("ml.pd").to_arrow().equals(curves)
    averages = curves["average"].to_numpy()
    assert np.all(np.diff(averages) > 0)  # the probability rises with x0, as the data were made
    lake.governance.create_principal("nobody")
    with pytest.raises(PermissionDeniedError):
        lake.as_principal("nobody").bias.partial_dependence(fitted("kernel"), "ml.pd_source", features=FEATURES)
