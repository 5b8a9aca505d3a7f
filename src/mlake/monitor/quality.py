"""Model quality once ground truth is known: binary classification and regression metrics, overall and
per group (a column's values, or a bias facet d against the rest).

Definitions are scikit-learn's (and tests check them against it): precision, recall and F1 for the
positive outcome; ROC AUC from the ranks of the scores (ties share their average rank); log loss with
probabilities clipped to [ε, 1 − ε], ε the float64 machine epsilon; R² = 1 − SSres/SStot. A rate whose
denominator is empty is ``nan`` (scikit-learn returns 0 with a warning), so an undefined value is never
mistaken for a bad one. Multi-class metrics are not built yet.
"""

from __future__ import annotations

import math
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
class RegressionQuality:
    group: str
    rows: int
    mae: float
    rmse: float
    r2: float


@dataclass(frozen=True)
class QualityReport:
    """``overall`` plus one entry per group (empty when no grouping was asked for)."""

    overall: ClassificationQuality | RegressionQuality
    groups: tuple[ClassificationQuality | RegressionQuality, ...]
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
