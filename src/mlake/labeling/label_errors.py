"""Finding likely label errors in a labeled table with confident learning (Northcutt, Jiang, Chuang 2021).

Given each row's label and out-of-fold predicted class probabilities (from a model that never saw the row),
a row is a likely error when the model is *confidently* sure of another class: its probability for some
class ``j`` reaches that class's threshold ``t_j`` — the model's average confidence in ``j`` on rows
labeled ``j`` — and the row's label is not ``j``. The thresholds are per class, so a class the model is
generally unsure of is not flooded with false alarms. Counting (given label, confident class) pairs gives
the *confident joint*, an estimate of how labels and truth are jointly distributed.

The rules follow cleanlab (``count.compute_confident_joint`` and ``filter.find_label_issues`` with
``filter_by="confident_learning"``, ranked by self-confidence), which the tests compare against; cleanlab is
not a runtime dependency. Without predicted probabilities, :func:`out_of_fold_probabilities` makes them with
scikit-learn cross-validation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mlake.errors import LabelingError
from mlake.labeling.answers import FloatArray, IntArray

#: How far below a class threshold a probability may fall and still count as confident (cleanlab's
#: ``1e-6`` tolerance): a row whose probability equals the class average must count, despite rounding.
THRESHOLD_SLACK = 1e-6
#: Lowest class threshold (cleanlab's): a class whose rows get near-zero probability would otherwise make
#: every row "confidently" that class.
THRESHOLD_FLOOR = 2e-6


@dataclass(frozen=True)
class LabelIssues:
    """Likely label errors, most suspicious first.

    ``rows`` are positions in the input; ``given`` the label each row has; ``suggested`` the class the
    model is confident of; ``self_confidence`` the model's probability of the given label (lower is more
    suspicious; it is the ranking key). ``confident_joint[i, j]`` counts rows labeled ``classes[i]`` that
    are confidently ``classes[j]``; ``thresholds[j]`` is class ``j``'s confidence threshold.
    """

    classes: tuple[Hashable, ...]
    rows: IntArray
    given: npt.NDArray[Any]
    suggested: npt.NDArray[Any]
    self_confidence: FloatArray
    confident_joint: IntArray
    thresholds: FloatArray
    n_rows: int

    @property
    def estimated_error_rate(self) -> float:
        """Share of the confident joint off its diagonal: an estimate of the fraction of wrong labels."""
        total = int(self.confident_joint.sum())
        return float(total - np.trace(self.confident_joint)) / total if total else 0.0

    def to_arrow(self) -> pa.Table:
        return pa.table(
            {
                "row": pa.array(self.rows),
                "given": pa.array(self.given.tolist()),
                "suggested": pa.array(self.suggested.tolist()),
                "self_confidence": pa.array(self.self_confidence),
            }
        )


def find_label_issues(
    labels: Sequence[Hashable] | npt.NDArray[Any] | pd.Series[Any],
    probabilities: npt.ArrayLike,
    *,
    classes: Sequence[Hashable] | None = None,
) -> LabelIssues:
    """List rows whose label the out-of-fold ``probabilities`` (rows × classes) confidently contradict.

    ``classes`` names the probability columns (sorted distinct labels by default, scikit-learn's order).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    label_values = np.asarray(labels, dtype=object)
    if probs.ndim != 2 or probs.shape[0] != label_values.shape[0]:
        raise LabelingError(
            f"probabilities must be a (rows, classes) array with one row per label; got shape {probs.shape} "
            f"for {label_values.shape[0]} labels",
            hint="pass out-of-fold predict_proba output aligned with the labels",
        )
    class_values = tuple(classes) if classes is not None else tuple(sorted(pd.unique(label_values)))
    if len(class_values) != probs.shape[1]:
        raise LabelingError(
            f"{probs.shape[1]} probability columns but {len(class_values)} classes {list(class_values)}",
            hint="give classes= in the order of the probability columns",
        )
    if len(class_values) < 2:
        raise LabelingError("label errors need at least two classes", hint="check the labels column")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise LabelingError("probabilities must be finite and non-negative", hint="pass predict_proba output")
    given = pd.Index(class_values).get_indexer(pd.Index(label_values))
    if np.any(given < 0):
        unknown = sorted({str(v) for v in label_values[given < 0]})[:5]
        raise LabelingError(f"labels {unknown} are not among the classes {list(class_values)}")
    given = given.astype(np.int64)
    k = len(class_values)

    thresholds = _class_thresholds(given, probs, k)
    confident = probs >= thresholds - THRESHOLD_SLACK
    n_confident = confident.sum(axis=1)
    # One confident class: that class. Several: the most probable class overall (cleanlab's rule).
    guess = np.where(n_confident > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    counted = n_confident > 0
    joint = np.bincount(given[counted] * k + guess[counted], minlength=k * k).reshape(k, k)
    np.fill_diagonal(joint, np.maximum(np.diagonal(joint), 1))  # every class keeps one correct example

    issue = counted & (guess != given)
    rows = np.flatnonzero(issue)
    self_confidence = probs[rows, given[rows]]
    order = np.argsort(self_confidence, kind="stable")
    rows, self_confidence = rows[order], self_confidence[order]
    names = np.asarray(class_values, dtype=object)
    return LabelIssues(
        classes=class_values,
        rows=rows.astype(np.int64),
        given=names[given[rows]],
        suggested=names[guess[rows]],
        self_confidence=self_confidence,
        confident_joint=joint.astype(np.int64),
        thresholds=thresholds,
        n_rows=int(probs.shape[0]),
    )


def find_label_issues_with_model(
    features: npt.ArrayLike,
    labels: Sequence[Hashable] | npt.NDArray[Any] | pd.Series[Any],
    *,
    model: Any = None,
    folds: int = 5,
    random_state: int = 0,
) -> LabelIssues:
    """:func:`find_label_issues` for a table with features but no predictions: the probabilities come from
    :func:`out_of_fold_probabilities` (each row predicted by a model that did not see its label)."""
    probabilities, classes = out_of_fold_probabilities(
        features, labels, model=model, folds=folds, random_state=random_state
    )
    return find_label_issues(labels, probabilities, classes=classes)


def out_of_fold_probabilities(
    features: npt.ArrayLike,
    labels: Sequence[Hashable] | npt.NDArray[Any] | pd.Series[Any],
    *,
    model: Any = None,
    folds: int = 5,
    random_state: int = 0,
) -> tuple[FloatArray, tuple[Hashable, ...]]:
    """Predicted probabilities for each row from a model trained on the other folds (stratified K-fold).

    ``model`` is any scikit-learn classifier with ``predict_proba`` (a scaled logistic regression by
    default). Returns the probabilities and the classes naming their columns.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    codes, classes = pd.factorize(pd.Series(list(labels)), sort=True)
    if (codes < 0).any():
        raise LabelingError("some labels are null", hint="drop unlabeled rows before looking for label errors")
    counts = np.bincount(codes)
    if counts.min() < folds:
        raise LabelingError(
            f"class {classes[int(counts.argmin())]!r} has {int(counts.min())} row(s), fewer than {folds} folds",
            hint="use fewer folds or label more rows of the rare class",
        )
    estimator = clone(model) if model is not None else default_classifier(random_state)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    probs = cross_val_predict(estimator, np.asarray(features), codes, cv=splitter, method="predict_proba")
    return np.asarray(probs, dtype=np.float64), tuple(classes.tolist())


def default_classifier(random_state: int = 0) -> Any:
    """A standardised multinomial logistic regression: quick, calibrated enough, no tuning needed."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=random_state))


def _class_thresholds(given: IntArray, probs: FloatArray, k: int) -> FloatArray:
    """Per class ``j``: the mean probability of ``j`` over rows labeled ``j`` (2, unreachable, if none)."""
    sums = np.bincount(given, weights=probs[np.arange(given.shape[0]), given], minlength=k)
    counts = np.bincount(given, minlength=k)
    thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), 2.0)
    result: FloatArray = np.maximum(thresholds, THRESHOLD_FLOOR)
    return result
