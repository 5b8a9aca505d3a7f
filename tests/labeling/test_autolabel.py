"""Auto-labeling on scikit-learn's digits with simulated annotators of known accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta
from sklearn.datasets import load_digits

from mlake.errors import LabelingError
from mlake.labeling import AutoLabelSettings, auto_label_round, dawid_skene, rounds_to_arrow
from mlake.labeling.autolabel import choose_threshold, threshold_curve

ANNOTATOR_ACCURACY = {"ann": 0.95, "bob": 0.9, "cy": 0.85}


def ask_people(items: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> list[tuple[int, str, int]]:
    """Each annotator answers each item: right with their accuracy, otherwise a random wrong digit."""
    rows = []
    for item in items.tolist():
        for name, accuracy in ANNOTATOR_ACCURACY.items():
            right = rng.random() < accuracy
            rows.append((item, name, int(truth[item] if right else (truth[item] + rng.integers(1, 10)) % 10)))
    return rows


def test_auto_labels_reach_the_accuracy_target_on_held_out_truth(capsys: pytest.CaptureFixture[str]) -> None:
    features, truth = load_digits(return_X_y=True)
    n = truth.size
    rng = np.random.default_rng(0)
    settings = AutoLabelSettings(accuracy_target=0.95, min_human_labels=300)
    answers = ask_people(rng.choice(n, 400, replace=False), truth, rng)
    auto_label: dict[int, int] = {}
    rounds = []
    for round_number in range(1, 5):
        consolidated = dawid_skene(pd.DataFrame(answers, columns=["item", "annotator", "label"]))
        human = np.full(n, None, dtype=object)
        human[consolidated.items.astype(int)] = consolidated.labels
        candidates = np.ones(n, dtype=bool)
        candidates[list(auto_label)] = False
        result = auto_label_round(features, human, round_number=round_number, settings=settings, candidates=candidates)
        rounds.append(result)
        decisions = result.decisions_to_arrow()
        assert decisions.num_rows == len(result.auto_items)
        if result.status == "threshold_met" and len(result.auto_items):
            assert set(decisions.column("round").to_pylist()) == {round_number}
            assert set(decisions.column("model_id").to_pylist()) == {result.model.model_id}
            assert set(decisions.column("threshold").to_pylist()) == {result.threshold}
            assert min(decisions.column("confidence").to_pylist()) >= result.threshold
        if result.status == "threshold_met":
            assert result.held_out_lower_bound >= settings.accuracy_target
        auto_label |= dict(zip(result.auto_items.tolist(), result.auto_labels.tolist(), strict=True))
        # People get the most informative items first: uncertainty never increases down the queue.
        assert (np.diff(result.queue_uncertainty) <= 1e-12).all()
        if result.queue.size == 0:
            break
        answers += ask_people(result.queue[:150], truth, rng)

    items = np.array(list(auto_label))
    accuracy = float((np.array([auto_label[i] for i in items]) == truth[items]).mean())
    fraction = items.size / n
    report = rounds_to_arrow(rounds)
    assert report.column("round").to_pylist() == [r.round for r in rounds]
    assert sum(report.column("auto_labeled").to_pylist()) == items.size
    met = [row for row in report.to_pylist() if row["status"] == "threshold_met"]
    assert met and all(row["held_out_lower_bound"] >= settings.accuracy_target for row in met)
    with capsys.disabled():
        print(f"\nauto-labeling on digits: {items.size} of {n} items auto-labeled ({fraction:.1%}), accuracy {accuracy:.4f}")
        for r in rounds:
            print(f"  round {r.round}: {r.status}; {len(r.auto_items)} auto-labeled; {r.reason}")
    assert any(r.status == "threshold_met" for r in rounds)
    assert accuracy >= settings.accuracy_target
    assert fraction > 0.3  # auto-labeling does real work, not just the trivially easy few


def test_no_model_before_enough_human_labels() -> None:
    features, truth = load_digits(return_X_y=True)
    human = np.full(truth.size, None, dtype=object)
    human[:100] = truth[:100]
    result = auto_label_round(features, human)  # default: 1,250 human labels first
    assert result.status == "waiting_for_labels" and "1250" in result.reason
    assert result.model is None and len(result.auto_items) == 0
    assert result.queue.tolist() == list(range(100, truth.size))


def test_an_unreachable_target_auto_labels_nothing_and_queues_everything() -> None:
    features, truth = load_digits(return_X_y=True)
    human = np.full(truth.size, None, dtype=object)
    human[:200] = truth[:200]
    result = auto_label_round(features, human, settings=AutoLabelSettings(accuracy_target=0.999, min_human_labels=200))
    assert result.status == "no_threshold" and result.threshold is None
    assert len(result.auto_items) == 0 and sorted(result.queue.tolist()) == list(range(200, truth.size))
    assert result.model is not None and result.model.trained_on + result.model.held_out == 200


def test_threshold_curve_matches_brute_force_clopper_pearson() -> None:
    rng = np.random.default_rng(4)
    confidence = rng.choice([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99], size=300)
    correct = rng.random(300) < confidence
    curve = threshold_curve(confidence, correct, 0.95)
    assert curve.thresholds.tolist() == sorted(set(confidence.tolist()), reverse=True)
    for t, covered, right, low in zip(curve.thresholds, curve.covered, curve.correct, curve.lower_bound, strict=True):
        above = confidence >= t
        assert covered == above.sum() and right == correct[above].sum()
        assert low == pytest.approx(beta.ppf(0.05, right, covered - right + 1))
    chosen = choose_threshold(curve, 0.8)
    assert chosen is not None
    passing = [t for t, low in zip(curve.thresholds, curve.lower_bound, strict=True) if low >= 0.8]
    assert curve.thresholds[chosen] == min(passing)


def test_bad_settings_and_inputs_are_refused() -> None:
    with pytest.raises(LabelingError, match="accuracy_target"):
        AutoLabelSettings(accuracy_target=1.5)
    with pytest.raises(LabelingError, match="3 items have features but there are 2 human label slots"):
        auto_label_round(np.zeros((3, 2)), [1, None])
    with pytest.raises(LabelingError, match=r"missing or infinite features \(rows \[1\]\)"):
        auto_label_round(np.array([[0.0, 1.0], [np.nan, 1.0]]), [1, None])
    with pytest.raises(LabelingError, match="features must be numeric"):
        auto_label_round([["a", "b"]], [None])
    with pytest.raises(LabelingError, match="mask of 2 booleans"):
        auto_label_round(np.zeros((2, 2)), [1, None], candidates=[True])
    with pytest.raises(LabelingError, match="only one class"):
        auto_label_round(np.zeros((4, 2)), [1, 1, None, None], settings=AutoLabelSettings(min_human_labels=2))


def test_sparse_features_give_the_same_round_as_dense_ones() -> None:
    from scipy import sparse

    features, truth = load_digits(return_X_y=True)
    human = np.full(truth.size, None, dtype=object)
    human[:600] = truth[:600]
    settings = AutoLabelSettings(min_human_labels=500)
    dense = auto_label_round(features, human, settings=settings, item_ids=[f"img{i}" for i in range(truth.size)])
    # A model that accepts sparse input (StandardScaler needs with_mean=False for it).
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler

    model = make_pipeline(MaxAbsScaler(), LogisticRegression(max_iter=2000))
    on_dense = auto_label_round(features, human, settings=settings, model=model)
    on_sparse = auto_label_round(sparse.csr_matrix(features), human, settings=settings, model=model)
    assert on_sparse.threshold == pytest.approx(on_dense.threshold)
    np.testing.assert_array_equal(on_sparse.auto_items, on_dense.auto_items)
    np.testing.assert_array_equal(on_sparse.queue, on_dense.queue)
    assert on_sparse.model.estimator == "Pipeline(MaxAbsScaler, LogisticRegression)"
    assert dense.auto_items[0].startswith("img") and dense.status == "threshold_met"
