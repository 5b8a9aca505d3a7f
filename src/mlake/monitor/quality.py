"""Model quality once ground truth is known: binary classification and regression metrics, overall and
per group (a column's values, or a bias facet d against the rest).

Definitions are scikit-learn's (and tests check them against it): precision, recall and F1 for the
positive outcome; ROC AUC from the ranks of the scores (ties share their average rank); log loss with
probabilities clipped to [ε, 1 − ε], ε the float64 machine epsilon; R² = 1 − SSres/SStot. A rate whose
denominator is empty is ``nan`` (scikit-learn returns 0 with a warning), so an undefined value is never
mistaken for a bad one.

Multi-class (:func:`multiclass_quality`): accuracy; precision, recall and F1 *macro*-averaged over the
classes (the mean of each class's one-vs-rest figure, a class whose figure is undefined left out, as
scikit-learn's ``zero_division=np.nan`` does) and F1 weighted by class support; given one probability
column per class, ROC AUC one-vs-rest macro-averaged and log loss of the true class's probability (each
row's probabilities normalised to sum to one, then clipped as above).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from mlake.bias.spec import Facet, Outcome, group_codes
from mlake.errors import SchemaError, ValidationError
from mlake.tables.frames import as_arrow, column_of

EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class ClassificationQuality:
    group: str
    rows: int
    positives: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    auc: float | None  # None without a score column
    log_loss: float | None


@dataclass(frozen=True)
class MulticlassQuality:
    group: str
    rows: int
    classes: int
    accuracy: float
    precision: float  # macro
    recall: float  # macro
    f1: float  # macro
    f1_weighted: float
    auc: float | None  # macro one-vs-rest; None without probability columns
    log_loss: float | None


@dataclass(frozen=True)
class RegressionQuality:
    group: str
    rows: int
    mae: float
    rmse: float
    r2: float


@dataclass(frozen=True)
class QualityReport:
    """``overall`` plus one entry per group (empty when no grouping was asked for)."""

    overall: ClassificationQuality | MulticlassQuality | RegressionQuality
    groups: tuple[ClassificationQuality | MulticlassQuality | RegressionQuality, ...]
    rows_excluded: int


def _div(a: float, b: float) -> float:
    return a / b if b else math.nan


def roc_auc(y: NDArray[np.bool_], score: NDArray[np.float64]) -> float:
    """Mann–Whitney form of the area under the ROC curve (tied scores count one half)."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average_rank = first + (counts + 1) / 2.0  # 1-based average rank of each distinct score
    ranks = np.repeat(average_rank, counts)
    positive_rank_sum = float(ranks[y[order]].sum())
    return (positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def log_loss(y: NDArray[np.bool_], probability: NDArray[np.float64]) -> float:
    p = np.clip(probability, EPS, 1 - EPS)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def _classification(
    name: str, y: NDArray[np.bool_], p: NDArray[np.bool_], s: NDArray[np.float64] | None
) -> ClassificationQuality:
    tp = int(np.sum(y & p))
    fp = int(np.sum(~y & p))
    fn = int(np.sum(y & ~p))
    n = len(y)
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    return ClassificationQuality(
        group=name,
        rows=n,
        positives=int(y.sum()),
        accuracy=_div(float(np.sum(y == p)), n),
        precision=precision,
        recall=recall,
        f1=f1,
        auc=roc_auc(y, s) if s is not None else None,
        log_loss=log_loss(y, s) if s is not None and n else None,
    )


def _regression(name: str, y: NDArray[np.float64], p: NDArray[np.float64]) -> RegressionQuality:
    err = y - p
    total = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return RegressionQuality(
        group=name,
        rows=len(y),
        mae=float(np.mean(np.abs(err))) if len(y) else math.nan,
        rmse=float(np.sqrt(np.mean(err**2))) if len(y) else math.nan,
        r2=1.0 - float(np.sum(err**2)) / total if total > 0 else math.nan,
    )


def _numbers(table: pa.Table, name: str, role: str) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    column = column_of(table, name, role=role)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_decimal(column.type)):
        raise SchemaError(f"the {role} column {name!r} has type {column.type}; it must hold numbers")
    values = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return values, np.isfinite(values)


def _groups(
    table: pa.Table, by: str | None, facet: Facet | None
) -> tuple[list[tuple[str, NDArray[np.bool_]]], NDArray[np.bool_]]:
    """(name, row mask) per group and which rows have the grouping columns present."""
    if by is not None and facet is not None:
        raise ValidationError("group by a column or by a facet, not both")
    if facet is not None:
        d, present = facet.resolve(table)
        return [("a", present & ~d), ("d", d)], present
    if by is not None:
        codes, names, present = group_codes(table, by)
        return [(n, present & (codes == i)) for i, n in enumerate(names)], present
    return [], np.ones(table.num_rows, dtype=bool)


def classification_quality(
    data: Any,
    label: Outcome,
    predicted_label: Outcome,
    *,
    score: str | None = None,
    by: str | None = None,
    facet: Facet | None = None,
) -> QualityReport:
    """Accuracy, precision, recall, F1 (and AUC, log loss given ``score``, the probability of the positive
    outcome) overall and per group."""
    table = as_arrow(data)
    y, usable = label.resolve(table, role="label")
    p, p_ok = predicted_label.resolve(table, role="predicted label")
    usable = usable & p_ok
    s = None
    if score is not None:
        s, s_ok = _numbers(table, score, "score")
        usable &= s_ok
    groups, g_ok = _groups(table, by, facet)
    usable &= g_ok
    overall = _classification("all", y[usable], p[usable], s[usable] if s is not None else None)
    per_group = tuple(
        _classification(name, y[usable & m], p[usable & m], s[usable & m] if s is not None else None)
        for name, m in groups
    )
    return QualityReport(overall, per_group, int(table.num_rows - usable.sum()))


def regression_quality(
    data: Any, target: str, prediction: str, *, by: str | None = None, facet: Facet | None = None
) -> QualityReport:
    """MAE, RMSE and R² overall and per group."""
    table = as_arrow(data)
    y, y_ok = _numbers(table, target, "target")
    p, p_ok = _numbers(table, prediction, "prediction")
    groups, g_ok = _groups(table, by, facet)
    usable = y_ok & p_ok & g_ok
    overall = _regression("all", y[usable], p[usable])
    per_group = tuple(_regression(name, y[usable & m], p[usable & m]) for name, m in groups)
    return QualityReport(overall, per_group, int(table.num_rows - usable.sum()))


def _nanmean(values: list[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


def _multiclass(
    name: str, y: NDArray[np.str_], p: NDArray[np.str_], probs: NDArray[np.float64] | None, classes: list[str]
) -> MulticlassQuality:
    n = len(y)
    precisions, recalls, f1s, supports = [], [], [], []
    for c in classes:
        yt, pt = y == c, p == c
        tp = int(np.sum(yt & pt))
        fp = int(np.sum(~yt & pt))
        fn = int(np.sum(yt & ~pt))
        precisions.append(_div(tp, tp + fp))
        recalls.append(_div(tp, tp + fn))
        f1s.append(_div(2 * tp, 2 * tp + fp + fn))
        supports.append(int(yt.sum()))
    weighted = [f * w for f, w in zip(f1s, supports, strict=True) if not math.isnan(f)]
    weights = sum(w for f, w in zip(f1s, supports, strict=True) if not math.isnan(f))
    auc = loss = None
    if probs is not None:
        auc = _nanmean([roc_auc(y == c, probs[:, j]) for j, c in enumerate(classes)])
        if n:
            total = probs.sum(axis=1, keepdims=True)
            normed = np.divide(probs, total, out=np.zeros_like(probs), where=total > 0)
            index = {c: j for j, c in enumerate(classes)}
            true = np.array([normed[i, index[v]] if v in index else 0.0 for i, v in enumerate(y)])
            loss = float(-np.mean(np.log(np.clip(true, EPS, 1 - EPS))))
    return MulticlassQuality(
        group=name,
        rows=n,
        classes=len(classes),
        accuracy=_div(float(np.sum(y == p)), n),
        precision=_nanmean(precisions),
        recall=_nanmean(recalls),
        f1=_nanmean(f1s),
        f1_weighted=_div(sum(weighted), weights),
        auc=auc,
        log_loss=loss,
    )


def _labels_as_text(table: pa.Table, name: str, role: str) -> tuple[NDArray[np.str_], NDArray[np.bool_]]:
    column = column_of(table, name, role=role)
    present = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
    text = pc.cast(column, pa.string()).fill_null("").to_numpy(zero_copy_only=False)
    return np.asarray(text, dtype=str), present


def multiclass_quality(
    data: Any,
    label: str,
    predicted: str,
    *,
    scores: Sequence[str] | None = None,
    classes: Sequence[Any] | None = None,
    by: str | None = None,
    facet: Facet | None = None,
) -> QualityReport:
    """Multi-class accuracy, macro precision/recall/F1, weighted F1 (and, given ``scores`` — one probability
    column per class of ``classes``, in that order — one-vs-rest macro AUC and log loss), overall and per
    group. Classes are compared as text (``1`` and ``"1"`` are one class); without ``classes`` they are
    the values seen in the label and predicted columns."""
    table = as_arrow(data)
    y, usable = _labels_as_text(table, label, "label")
    p, p_ok = _labels_as_text(table, predicted, "predicted label")
    usable = usable & p_ok
    probs = None
    if scores is not None:
        if classes is None or len(classes) != len(scores):
            raise ValidationError(
                "probability columns need their classes: one class per score column, in the same order",
                hint="e.g. scores=['p_cat', 'p_dog'], classes=['cat', 'dog']",
            )
        cols = []
        for column in scores:
            values, ok = _numbers(table, column, "score")
            cols.append(values)
            usable &= ok
        probs = np.column_stack(cols)
    names = [str(c) for c in classes] if classes is not None else sorted(set(y[usable]) | set(p[usable]))
    groups, g_ok = _groups(table, by, facet)
    usable &= g_ok

    def one(name: str, mask: NDArray[np.bool_]) -> MulticlassQuality:
        return _multiclass(name, y[mask], p[mask], probs[mask] if probs is not None else None, names)

    return QualityReport(
        one("all", usable), tuple(one(n, usable & m) for n, m in groups), int(table.num_rows - usable.sum())
    )
