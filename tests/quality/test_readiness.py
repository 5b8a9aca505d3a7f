"""The ML readiness report finds a planted leaky feature and gives sample-size advice by the rules of thumb."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlake.errors import NotFoundError, ValidationError


@pytest.fixture
def churn(lake):
    rng = np.random.default_rng(5)
    n = 1200
    tenure = rng.integers(1, 60, n)
    spend = rng.gamma(2, 30, n)
    spend[:4] = [9000, 12000, 15000, 20000]  # planted anomalies
    plan = rng.choice(["basic", "plus", "pro"], n)
    logit = -0.04 * tenure + 0.01 * spend + np.where(plan == "basic", 0.8, 0) - 0.3
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    # recorded after the customer left: a near-perfect proxy of the label
    cancel_requests = churned * rng.integers(1, 4, n) + (~churned) * (rng.uniform(size=n) < 0.01)
    lake.create_table(
        "r.churn",
        pa.table(
            {
                "customer_id": np.arange(n),
                "tenure": tenure,
                "spend": spend,
                "plan": plan,
                "cancel_requests": cancel_requests,
                "churned": churned,
            }
        ),
    )
    return lake


def test_readiness_finds_the_leaky_feature(churn):
    r = churn.quality.readiness("r.churn", "churned", folds=3, sample_rows=5000)
    assert r.task == "classification" and r.rows == 1200
    assert r.leaky_features == ["cancel_requests"]
    assert r.feature_power[0].feature == "cancel_requests" and r.feature_power[0].metric == "ROC AUC"
    warning = next(w for w in r.warnings if "cancel_requests" in w)  # evidence to check, not a verdict
    assert warning.startswith("possible target leakage (to check, not a finding): cancel_requests")
    assert "known at the moment of prediction" in warning and "likely" not in warning
    assert r.dropped == {"customer_id": "identifier (every value distinct)"}
    assert r.baseline["score"] > r.baseline["trivial_score"]
    assert r.baseline["trivial_score"] == pytest.approx(0.5)
    assert set(r.target_distribution["counts"]) == {"true", "false"}
    assert 0 < r.anomalies["share"] < 0.05 and len(r.anomalies["examples"]) == 5
    assert {e["spend"] for e in r.anomalies["examples"][:4]} == {9000, 12000, 15000, 20000}
    assert r.duplicates["rows"] == 0
    assert r.encoded_dimensions == 6  # tenure, spend, cancel_requests, plan (3 categories)
    tabular = r.sample_size[0]
    assert tabular.required == 60 and tabular.actual == 1200 and tabular.ok
    curve = r.learning_curve
    assert len(curve["sizes"]) == len(curve["scores"]) == 6
    assert curve["sizes"] == sorted(curve["sizes"])
    # the leaky feature makes scores near 1: the fitted curve may not promise more than a perfect score
    assert curve["plateau"] <= 1.0 and all(p <= 1.0 for p in curve["projections"].values())
    assert set(r.target_distribution["classes"]) == set(r.target_distribution["counts"])  # one spelling of labels
    d = r.to_dict()
    assert d["leaky_features"] == ["cancel_requests"] and "_repr_html_" not in d


def test_sample_size_rules_of_thumb(lake):
    rng = np.random.default_rng(2)
    n = 60
    series = np.repeat(["a", "b", "c"], n // 3)
    lake.create_table(
        "r.small",
        pa.table(
            {
                "series_id": series,
                "x1": rng.normal(size=n),
                "x2": rng.normal(size=n),
                "cat": rng.choice([f"c{i}" for i in range(8)], n),
                "review": [" ".join(["good"] * (5 + i % 10)) for i in range(n)],
                "label": rng.choice(["pos", "neg"], n),
                "y": rng.normal(size=n),
            }
        ),
    )
    r = lake.quality.readiness("r.small", "label", features=["x1", "x2", "cat"], folds=3)
    rules = {a.rule.split(":")[0]: a for a in r.sample_size}
    assert rules["supervised tabular"].required == 10 * (2 + 8) and not rules["supervised tabular"].ok
    assert "binary classes" in rules
    assert any("sample size: supervised tabular" in w for w in r.warnings)

    ts = lake.quality.readiness(
        "r.small", "y", features=["x1", "x2"], data_kind="timeseries", series="series_id", folds=3
    )
    assert ts.task == "regression" and ts.baseline["metric"] == "R²"
    series_rule = next(a for a in ts.sample_size if a.rule.startswith("time series"))
    assert series_rule.actual == 20 and not series_rule.ok

    senti = lake.quality.readiness("r.small", "label", features=["x1"], data_kind="sentiment", text="review", folds=3)
    words = next(a for a in senti.sample_size if a.rule.startswith("sentiment"))
    assert words.actual == pytest.approx(np.median([5 + i % 10 for i in range(n)])) and not words.ok

    img = lake.quality.readiness("r.small", "label", features=["x1"], data_kind="image", folds=3)
    per_class = next(a for a in img.sample_size if a.rule.startswith("image"))
    assert per_class.required == 1000 and not per_class.ok


def test_readiness_bad_input(lake):
    lake.create_table("r.t", pa.table({"x": list(range(20)), "y": [1] * 20}))
    with pytest.raises(ValidationError, match="single value"):
        lake.quality.readiness("r.t", "y")
    with pytest.raises(NotFoundError, match="no column"):
        lake.quality.readiness("r.t", "nope")
    with pytest.raises(ValidationError, match="Unknown data kind"):
        lake.quality.readiness("r.t", "y", data_kind="video")


def test_words_per_text_are_counted_per_text_and_empty_texts_have_none(lake):
    rng = np.random.default_rng(5)
    n = 200
    # half the texts are long, half a few words: the average (over 500) passes, the texts do not
    texts = [" ".join(["word"] * (1000 if i % 2 else 10)) for i in range(n - 2)] + ["", "   "]
    lake.create_table(
        "r.reviews", pa.table({"review": texts, "label": list(rng.integers(0, 2, n)), "x": rng.normal(size=n)})
    )
    r = lake.quality.readiness("r.reviews", "label", features=["x"], data_kind="sentiment", text="review", folds=3)
    words = next(a for a in r.sample_size if a.rule.startswith("sentiment"))
    counts = [len(t.split()) for t in texts]  # str.split() gives no words for an empty text
    assert words.actual == pytest.approx(float(np.median(counts)))
    assert not words.ok and f"{sum(c >= 200 for c in counts)} of {n} texts" in words.note
    assert np.mean(counts) > 200  # what an average would have passed


def test_no_readiness_statement_materializes_the_source(lake, sql_source, statements, materializing):
    """DuckDB plans ``count(DISTINCT ...)`` beside other aggregates as a GROUP BY over a materialized copy of
    the whole input: the whole-table counts (rows, duplicate rows) must not, and they stay pandas' counts."""
    import pandas as pd

    from mlake.quality.readiness import readiness

    rng = np.random.default_rng(11)
    n = 600
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "cat": rng.choice(["a", "b", "c"], n),
            "series": rng.integers(0, 5, n),
            "review": [" ".join(["fine"] * (3 + i % 7)) for i in range(n)],
            "y": rng.uniform(size=n) < 0.5,
        }
    )
    frame = pd.concat([frame, frame.iloc[:25]], ignore_index=True)  # 25 exact duplicate rows
    r = readiness(sql_source(pa.Table.from_pandas(frame)), "y", series="series", text="review", folds=3)
    assert len(statements) >= 4
    assert materializing(statements) == []
    assert r.rows == len(frame) and r.duplicates["rows"] == int(frame.duplicated().sum()) == 25
    assert r.target_distribution["counts"] == {str(k).lower(): int(v) for k, v in frame["y"].value_counts().items()}
