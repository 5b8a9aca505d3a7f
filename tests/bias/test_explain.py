"""SHAP attributions: additive, ranking the features the model uses, by facet, stored as tables, and
attribution drift (Model Monitor's NDCG) as a monitor check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlake.bias import Facet
from mlake.bias.explain import attribution_ndcg, by_facet, explain
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
