"""Confident learning: the same issues, ranking and confident joint as cleanlab, on digits with planted errors."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint
from cleanlab.filter import find_label_issues as cleanlab_find_label_issues
from sklearn.datasets import load_digits

from mlake.errors import LabelingError
from mlake.labeling import find_label_issues, find_label_issues_with_model, out_of_fold_probabilities


@pytest.fixture(scope="module")
def noisy_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(1)
    flipped = rng.random(y.size) < 0.08
    noisy = y.copy()
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    return x, noisy, flipped


def test_label_issues_equal_cleanlab_and_find_planted_errors(noisy_digits: tuple[np.ndarray, ...]) -> None:
    x, noisy, flipped = noisy_digits
    probs, classes = out_of_fold_probabilities(x, noisy)
    assert classes == tuple(range(10))
    ours = find_label_issues(noisy, probs)
    ref = cleanlab_find_label_issues(noisy, probs, filter_by="confident_learning", return_indices_ranked_by="self_confidence")
    assert set(ours.rows.tolist()) == set(ref.tolist())
    # Same ranking (cleanlab's argsort is not stable, so compare the ranked scores, which are tie-proof).
    ref_scores = probs[ref, noisy[ref]]
    np.testing.assert_array_equal(ours.self_confidence, ref_scores)
    np.testing.assert_array_equal(ours.confident_joint, compute_confident_joint(noisy, probs, calibrate=False))
    precision = flipped[ours.rows].mean()
    recall = flipped[ours.rows].sum() / flipped.sum()
    assert precision > 0.6 and recall > 0.6  # planted errors are found, not just any rows
    assert ours.estimated_error_rate == pytest.approx(flipped.mean(), abs=0.04)
    table = ours.to_arrow()
    assert table.num_rows == len(ref) and (np.asarray(table.column("given").to_pylist()) == noisy[ours.rows]).all()
    # From features directly: the same cross-validation, so the same issues.
    from_features = find_label_issues_with_model(x, noisy)
    np.testing.assert_array_equal(from_features.rows, ours.rows)


def test_string_labels_and_a_brute_force_confident_joint() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(3), size=400)
    names = np.array(["ant", "bee", "cow"])
    labels = names[rng.integers(0, 3, 400)]
    ours = find_label_issues(labels, probs)
    # Brute force, row by row, from the definition.
    codes = np.searchsorted(names, labels)
    thresholds = [probs[codes == j, j].mean() for j in range(3)]
    joint = np.zeros((3, 3), dtype=int)
    issues = []
    for i in range(400):
        confident = [j for j in range(3) if probs[i, j] >= thresholds[j] - 1e-6]
        if not confident:
            continue
        guess = confident[0] if len(confident) == 1 else int(np.argmax(probs[i]))
        joint[codes[i], guess] += 1
        if guess != codes[i]:
            issues.append(i)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
    np.testing.assert_array_equal(ours.confident_joint, joint)
    assert sorted(ours.rows.tolist()) == issues
    assert (np.diff(ours.self_confidence) >= 0).all()
    assert set(ours.suggested.tolist()) <= set(names) and (ours.suggested != ours.given).all()


def test_misaligned_inputs_are_refused() -> None:
    with pytest.raises(LabelingError, match="one row per label"):
        find_label_issues([0, 1, 1], np.full((2, 2), 0.5))
    with pytest.raises(LabelingError, match="3 probability columns but 2 classes"):
        find_label_issues([0, 1], np.full((2, 3), 1 / 3))
    with pytest.raises(LabelingError, match="fewer than 5 folds"):
        out_of_fold_probabilities(np.zeros((6, 2)), [0, 0, 0, 0, 0, 1])
