"""Model-quality metrics against scikit-learn, overall and per group."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from sklearn import metrics as skm

from mlake.bias import Facet, Outcome
from mlake.errors import ValidationError
from mlake.monitor.quality import classification_quality, multiclass_quality, regression_quality, roc_auc

pytestmark = pytest.mark.slow  # importing scikit-learn takes seconds


def classification_table(seed: int = 0, n: int = 2000) -> pa.Table:
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], n)
    y = rng.random(n) < np.where(region == "north", 0.3, 0.5)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, n), 0, 1)
    score[:5] = [0.0, 1.0, 0.5, 0.5, 0.5]  # ties and the clipped ends of log loss
    return pa.table({"region": region, "y": y.astype(int), "score": score})


def test_classification_metrics_equal_sklearn_overall_and_per_region() -> None:
    table = classification_table()
    report = classification_quality(
        table,
        Outcome.of("y", positive_values=[1]),
        Outcome.of("score", threshold=0.5),
        score="score",
        by="region",
    )
    y = table["y"].to_numpy()
    s = table["score"].to_numpy()
    region = table["region"].to_numpy(zero_copy_only=False)
    p = (s > 0.5).astype(int)
    for result, rows in [(report.overall, np.ones(len(y), bool))] + [(g, region == g.group) for g in report.groups]:
        assert result.rows == rows.sum()
        assert result.accuracy == pytest.approx(skm.accuracy_score(y[rows], p[rows]))
        assert result.precision == pytest.approx(skm.precision_score(y[rows], p[rows]))
        assert result.recall == pytest.approx(skm.recall_score(y[rows], p[rows]))
        assert result.f1 == pytest.approx(skm.f1_score(y[rows], p[rows]))
        assert result.auc == pytest.approx(skm.roc_auc_score(y[rows], s[rows]))
        assert result.log_loss == pytest.approx(skm.log_loss(y[rows], s[rows]))
    assert {g.group for g in report.groups} == {"north", "south", "east"}


def test_per_facet_groups_are_a_and_d() -> None:
    table = classification_table(1)
    report = classification_quality(
        table,
        Outcome.of("y", positive_values=[1]),
        Outcome.of("score", threshold=0.5),
        facet=Facet.of("region", values=["north"]),
    )
    a, d = report.groups
    assert (a.group, d.group) == ("a", "d")
    assert a.rows + d.rows == report.overall.rows
    assert a.auc is None


def test_regression_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(2)
    n = 1500
    x = rng.normal(size=n)
    target = 3 * x + rng.normal(size=n)
    prediction = 2.8 * x
    prediction[:10] = np.nan  # missing predictions are left out
    group = rng.choice(["a", "b"], n)
    report = regression_quality(pa.table({"t": target, "p": prediction, "g": group}), "t", "p", by="g")
    ok = np.isfinite(prediction)
    assert report.rows_excluded == 10
    for result, rows in [(report.overall, ok)] + [(g, ok & (group == g.group)) for g in report.groups]:
        assert result.mae == pytest.approx(skm.mean_absolute_error(target[rows], prediction[rows]))
        assert result.rmse == pytest.approx(math.sqrt(skm.mean_squared_error(target[rows], prediction[rows])))
        assert result.r2 == pytest.approx(skm.r2_score(target[rows], prediction[rows]))


@settings(max_examples=80, deadline=None)
@given(
    labels=hst.lists(hst.booleans(), min_size=2, max_size=60),
    scores=hst.lists(hst.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]), min_size=60, max_size=60),
)
def test_auc_equals_sklearn_with_any_ties(labels: list[bool], scores: list[float]) -> None:
    y = np.array(labels)
    s = np.array(scores[: len(labels)])
    if y.all() or not y.any():
        assert math.isnan(roc_auc(y, s))
    else:
        assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))


def multiclass_table(seed: int = 0, n: int = 3000) -> pa.Table:
    """Three classes, a model right about 70 % of the time, probabilities that favour its prediction."""
    rng = np.random.default_rng(seed)
    classes = np.array(["cat", "dog", "emu"])
    y = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    logits = rng.normal(0, 1, (n, 3))
    logits[np.arange(n), y] += 1.2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = probs.argmax(axis=1)
    return pa.table(
        {
            "region": rng.choice(["north", "south"], n),
            "y": classes[y],
            "pred": classes[pred],
            **{f"p_{c}": probs[:, j] for j, c in enumerate(classes)},
        }
    )


def test_multiclass_metrics_equal_sklearn_overall_and_per_region() -> None:
    table = multiclass_table()
    classes = ["cat", "dog", "emu"]
    scores = [f"p_{c}" for c in classes]
    report = multiclass_quality(table, "y", "pred", scores=scores, classes=classes, by="region")
    frame = table.to_pandas()
    for q in (report.overall, *report.groups):
        part = frame if q.group == "all" else frame[frame["region"] == q.group]
        y, p, probs = part["y"], part["pred"], part[scores].to_numpy()
        assert q.rows == len(part) and q.classes == 3
        assert q.accuracy == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
        assert q.precision == pytest.approx(skm.precision_score(y, p, average="macro", zero_division=np.nan))
        assert q.recall == pytest.approx(skm.recall_score(y, p, average="macro", zero_division=np.nan))
        assert q.f1 == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=np.nan))
        assert q.f1_weighted == pytest.approx(skm.f1_score(y, p, average="weighted"))
        assert q.auc == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=classes))
        assert q.log_loss == pytest.approx(skm.log_loss(y, probs, labels=classes))
    assert [g.group for g in report.groups] == ["north", "south"]


def test_multiclass_without_scores_a_class_never_predicted_and_bad_input() -> None:
    table = pa.table({"y": [1, 2, 3, 3, None], "pred": ["1", "2", "2", "2", "3"]})  # 1 and "1": one class
    q = multiclass_quality(table, "y", "pred").overall
    assert (q.rows, q.classes, q.auc, q.log_loss) == (4, 3, None, None)
    assert q.accuracy == pytest.approx(0.5)
    # class 3 is never predicted: its precision is undefined and left out of the macro mean, as sklearn's nan
    ys, ps = ["1", "2", "3", "3"], ["1", "2", "2", "2"]
    assert q.precision == pytest.approx(skm.precision_score(ys, ps, average="macro", zero_division=np.nan))
    assert q.recall == pytest.approx(skm.recall_score(ys, ps, average="macro", zero_division=np.nan))
    with pytest.raises(ValidationError, match="one class per score column"):
        multiclass_quality(table, "y", "pred", scores=["y"])
