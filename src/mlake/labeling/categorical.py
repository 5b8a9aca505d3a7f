"""Consolidation of categorical answers: majority vote and Dawid–Skene.

Both take a long table of answers (item, annotator, label) and return one :class:`CategoricalConsolidation`:
a label, a confidence and a posterior per item, and a reliability per annotator. Dawid–Skene follows the
reference implementation of crowd-kit step for step — the same majority-vote start, the same M-step
smoothing, the same stopping rule — so that its posteriors can be checked against crowd-kit to 1e-6; it is
written over integer codes, each EM step one sparse matrix product instead of pandas joins, which is what
makes it fast (see ``benchmarks/bench_consolidate.py``). Dawid–Skene needs scipy (the ``ml`` extra).
The formulas are in ``docs/labeling.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mlake.errors import AnswerOutsideSchemaError, LabelingError
from mlake.labeling.answers import (
    AnswerColumns,
    EncodedAnswers,
    FloatArray,
    IntArray,
    annotator_weights,
    encode_categorical,
)

#: Floor for probabilities before a logarithm (crowd-kit's ``_EPS``): an annotator who never confused two
#: classes in the data keeps a tiny, not a zero, chance of doing so, and a class no item seems to have keeps
#: a tiny prior, so one answer can never make a posterior exactly zero.
PROBABILITY_FLOOR = 1e-10


@dataclass(frozen=True)
class CategoricalConsolidation:
    """Consolidated labels of categorical answers.

    Per item (``items[t]``): ``label_index[t]`` indexes ``classes``; ``confidence[t]`` is its posterior
    probability; ``posteriors[t, k]`` is the probability that the item's true class is ``classes[k]``.

    Per annotator (``annotators[w]``): ``reliability[w]`` is the chance the annotator's answer is right
    (majority vote: the share of their answers equal to the consolidated label; Dawid–Skene: the expected
    accuracy ``Σ_k prior[k] · confusion[w, k, k]``); ``answers[w]`` how many answers they gave.
    ``confusion[w, k, j]`` (Dawid–Skene only) is the probability that annotator ``w`` answers ``classes[j]``
    when the true class is ``classes[k]`` — rows are true classes and sum to one.
    """

    method: Literal["majority_vote", "dawid_skene"]
    items: npt.NDArray[Any]
    classes: tuple[Hashable, ...]
    label_index: IntArray
    confidence: FloatArray
    posteriors: FloatArray
    annotators: npt.NDArray[Any]
    reliability: FloatArray
    answers: IntArray
    confusion: FloatArray | None = None
    priors: FloatArray | None = None
    iterations: int = 0
    converged: bool = True
    objective: tuple[float, ...] = ()

    @property
    def labels(self) -> npt.NDArray[Any]:
        """The consolidated label of each item, as the caller's class values."""
        return np.asarray(self.classes, dtype=object)[self.label_index]

    def to_arrow(self) -> pa.Table:
        """One row per item: ``item``, ``label``, ``confidence``, and one ``p_<class>`` column per class."""
        columns: dict[str, Any] = {
            "item": pa.array(self.items.tolist()),
            "label": pa.array(self.labels.tolist()),
            "confidence": pa.array(self.confidence),
        }
        for k, cls in enumerate(self.classes):
            columns[f"p_{cls}"] = pa.array(self.posteriors[:, k])
        return pa.table(columns)

    def annotators_to_arrow(self) -> pa.Table:
        """One row per annotator: ``annotator``, ``reliability``, ``answers``."""
        return pa.table(
            {
                "annotator": pa.array(self.annotators.tolist()),
                "reliability": pa.array(self.reliability),
                "answers": pa.array(self.answers),
            }
        )


@dataclass(frozen=True)
class GoldAccuracy:
    """Each annotator's record on gold items (items with a known answer): ``answered[w]`` gold items
    answered, ``correct[w]`` of them right, ``accuracy[w]`` = correct / answered (NaN with none answered), and
    ``lower_bound[w]``, its one-sided Clopper–Pearson lower bound at ``confidence_level`` — so that 3 of 3
    right is not mistaken for a proven perfect annotator."""

    annotators: npt.NDArray[Any]
    answered: IntArray
    correct: IntArray
    accuracy: FloatArray
    lower_bound: FloatArray
    confidence_level: float

    def to_arrow(self) -> pa.Table:
        return pa.table(
            {
                "annotator": pa.array(self.annotators.tolist()),
                "answered": pa.array(self.answered),
                "correct": pa.array(self.correct),
                "accuracy": pa.array(self.accuracy),
                "lower_bound": pa.array(self.lower_bound),
            }
        )


def gold_accuracy(
    answers: pa.Table | pd.DataFrame,
    gold: Mapping[Hashable, Hashable],
    *,
    classes: Sequence[Hashable] | None = None,
    confidence_level: float = 0.95,
    columns: AnswerColumns | None = None,
) -> GoldAccuracy:
    """Score every annotator against gold items; annotators who answered no gold item get NaN accuracy."""
    from scipy.stats import beta

    if not 0 < confidence_level < 1:
        raise LabelingError(f"confidence_level must be in (0, 1), not {confidence_level}", hint="e.g. 0.95")
    encoded = encode_categorical(answers, classes=classes, columns=columns)
    gold_items, gold_classes = _gold_codes(encoded, gold)
    truth = np.full(encoded.n_items, -1, dtype=np.int64)
    truth[gold_items] = gold_classes
    on_gold = truth[encoded.item] >= 0
    right = on_gold & (encoded.label == truth[encoded.item])
    answered = np.bincount(encoded.annotator[on_gold], minlength=encoded.n_annotators)
    correct = np.bincount(encoded.annotator[right], minlength=encoded.n_annotators)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(answered > 0, correct / np.maximum(answered, 1), np.nan)
        lower = np.where(
            correct > 0,
            beta.ppf(1 - confidence_level, correct, answered - correct + 1),
            np.where(answered > 0, 0.0, np.nan),
        )
    return GoldAccuracy(
        annotators=encoded.annotators,
        answered=answered.astype(np.int64),
        correct=correct.astype(np.int64),
        accuracy=accuracy,
        lower_bound=np.asarray(lower, dtype=np.float64),
        confidence_level=confidence_level,
    )


def majority_vote(
    answers: pa.Table | pd.DataFrame,
    *,
    classes: Sequence[Hashable] | None = None,
    weights: Mapping[Hashable, float] | None = None,
    columns: AnswerColumns | None = None,
) -> CategoricalConsolidation:
    """Each item gets the class with the most votes (or the largest sum of annotator ``weights``).

    Tie rule: among tied classes the one listed first in ``classes`` wins — with ``classes=None`` that is
    the smallest class in sorted order, which is also what crowd-kit's ``MajorityVote`` picks. The rule is
    deterministic and does not depend on the order of the answers. ``confidence`` is the winning class's
    share of the (weighted) votes.
    """
    encoded = encode_categorical(answers, classes=classes, columns=columns)
    vote_weights = annotator_weights(encoded.annotators, weights)
    posteriors = _vote_shares(encoded, vote_weights)
    label = np.argmax(posteriors, axis=1)  # first maximum = first class in schema order
    agrees = (encoded.label == label[encoded.item]).astype(np.float64)
    given = np.bincount(encoded.annotator, minlength=encoded.n_annotators)
    reliability = np.bincount(encoded.annotator, weights=agrees, minlength=encoded.n_annotators) / given
    return CategoricalConsolidation(
        method="majority_vote",
        items=encoded.items,
        classes=encoded.classes,
        label_index=label.astype(np.int64),
        confidence=posteriors[np.arange(encoded.n_items), label],
        posteriors=posteriors,
        annotators=encoded.annotators,
        reliability=reliability,
        answers=given.astype(np.int64),
    )


def dawid_skene(
    answers: pa.Table | pd.DataFrame,
    *,
    classes: Sequence[Hashable] | None = None,
    gold: Mapping[Hashable, Hashable] | None = None,
    max_iter: int = 100,
    tol: float = 1e-5,
    columns: AnswerColumns | None = None,
) -> CategoricalConsolidation:
    """Dawid–Skene EM: learn each annotator's confusion matrix and each item's posterior together.

    Starts from majority-vote posteriors, then alternates the M-step (priors and confusion matrices from the
    posteriors) and the E-step (posteriors from priors and confusion matrices) until the objective per answer
    improves by less than ``tol`` or ``max_iter`` E-steps ran. ``gold`` maps items to known true classes:
    their posteriors are pinned to those classes, which anchors the annotators' confusion matrices.
    Ties in the final posterior go to the class listed first in ``classes`` (sorted order by default).
    """
    if max_iter < 1:
        raise LabelingError(f"max_iter must be at least 1, not {max_iter}", hint="Dawid–Skene needs one EM step")
    encoded = encode_categorical(answers, classes=classes, columns=columns)
    return dawid_skene_encoded(encoded, gold=gold, max_iter=max_iter, tol=tol)


def dawid_skene_encoded(
    encoded: EncodedAnswers,
    *,
    gold: Mapping[Hashable, Hashable] | None = None,
    max_iter: int = 100,
    tol: float = 1e-5,
) -> CategoricalConsolidation:
    """Dawid–Skene over already encoded answers (see :func:`dawid_skene`)."""
    from scipy import sparse

    n_classes = encoded.n_classes
    cell = encoded.annotator * n_classes + encoded.label  # (annotator, answered class), flattened
    n_cells = encoded.n_annotators * n_classes
    # Item × cell answer counts. Both EM steps are one sparse product with it: the E-step sums each item's
    # log-probabilities of its answers, the M-step sums posteriors per (annotator, answered class). This
    # replaces a gather of n_answers × n_classes values per step, which dominates the time on 1M answers.
    answered = sparse.csr_matrix(
        (np.ones(encoded.n_answers), cell, encoded.item_starts), shape=(encoded.n_items, n_cells)
    )
    answered.sum_duplicates()
    answered_by_cell = answered.T.tocsr()
    # Cells an annotator used at least once. The others stay exactly zero rather than floored: they are
    # never looked up in the E-step, and leaving them out of each row's normalisation is what crowd-kit does.
    used = np.bincount(cell, minlength=n_cells) > 0
    pinned_items, pinned_classes = _gold_codes(encoded, gold)

    posteriors = _vote_shares(encoded, np.ones(encoded.n_annotators))
    _pin(posteriors, pinned_items, pinned_classes)
    priors = posteriors.mean(axis=0)
    counts, confusion = _m_step(posteriors, answered_by_cell, used, n_classes)

    objective: list[float] = []
    previous = -np.inf
    converged = False
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        posteriors = _e_step(priors, confusion, answered)
        _pin(posteriors, pinned_items, pinned_classes)
        priors = posteriors.mean(axis=0)
        counts, confusion = _m_step(posteriors, answered_by_cell, used, n_classes)
        current = _objective(posteriors, priors, counts, confusion, used) / encoded.n_answers
        objective.append(current)
        if current - previous < tol:
            converged = True
            break
        previous = current

    label = np.argmax(posteriors, axis=1)
    # confusion is (annotator, answered, true); the result's convention is (annotator, true, answered).
    by_true = confusion.reshape(encoded.n_annotators, n_classes, n_classes).transpose(0, 2, 1).copy()
    reliability = np.einsum("k,wkk->w", priors, by_true)
    return CategoricalConsolidation(
        method="dawid_skene",
        items=encoded.items,
        classes=encoded.classes,
        label_index=label.astype(np.int64),
        confidence=posteriors[np.arange(encoded.n_items), label],
        posteriors=posteriors,
        annotators=encoded.annotators,
        reliability=reliability,
        answers=np.bincount(encoded.annotator, minlength=encoded.n_annotators).astype(np.int64),
        confusion=by_true,
        priors=priors,
        iterations=iterations,
        converged=converged,
        objective=tuple(objective),
    )


def _vote_shares(encoded: EncodedAnswers, annotator_weights: FloatArray) -> FloatArray:
    """Each item's (weighted) vote share per class; an item whose voters all weigh zero gets a uniform row."""
    k = encoded.n_classes
    votes = np.bincount(
        encoded.item * k + encoded.label, weights=annotator_weights[encoded.annotator], minlength=encoded.n_items * k
    ).reshape(encoded.n_items, k)
    totals = votes.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, votes / totals, 1.0 / k)
    return shares


def _gold_codes(encoded: EncodedAnswers, gold: Mapping[Hashable, Hashable] | None) -> tuple[IntArray, IntArray]:
    if not gold:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    item_index = pd.Index(encoded.items)
    class_index = pd.Index(list(encoded.classes))
    keys = list(gold)
    items = item_index.get_indexer(pd.Index(keys))
    values = class_index.get_indexer(pd.Index([gold[key] for key in keys]))
    bad = [(key, gold[key]) for key, v in zip(keys, values, strict=True) if v < 0]
    if bad:
        raise AnswerOutsideSchemaError(
            f"gold answer(s) not in the label schema {list(encoded.classes)}: {bad[:5]}",
            hint="gold items must use the schema's classes",
        )
    known = items >= 0  # gold items nobody answered do not enter the model
    return items[known].astype(np.int64), values[known].astype(np.int64)


def _pin(posteriors: FloatArray, items: IntArray, classes: IntArray) -> None:
    if items.size:
        posteriors[items] = 0.0
        posteriors[items, classes] = 1.0


def _m_step(
    posteriors: FloatArray, answered_by_cell: Any, used: npt.NDArray[np.bool_], n_classes: int
) -> tuple[FloatArray, FloatArray]:
    """Expected counts per (annotator, answered class, true class), and the confusion matrices from them.

    Returns ``counts`` and ``confusion``, both ``(n_annotators * n_classes, n_classes)`` with rows
    ``annotator * n_classes + answered``; ``confusion`` sums to one over the answered classes of an annotator.
    """
    counts: FloatArray = np.asarray(answered_by_cell @ posteriors, dtype=np.float64)
    confusion = np.where(used[:, None], np.maximum(counts, PROBABILITY_FLOOR), 0.0)
    per_annotator = confusion.reshape(-1, n_classes, n_classes)
    per_annotator /= per_annotator.sum(axis=1, keepdims=True)
    return counts, confusion


def _e_step(priors: FloatArray, confusion: FloatArray, answered: Any) -> FloatArray:
    """Posteriors ∝ prior · Π over an item's answers of P(answer | true class), computed in logs."""
    log_confusion = np.zeros_like(confusion)
    np.log(confusion, out=log_confusion, where=confusion > 0)
    log_likelihood: FloatArray = np.asarray(answered @ log_confusion, dtype=np.float64)
    log_likelihood += np.log(np.maximum(priors, PROBABILITY_FLOOR))
    log_likelihood -= log_likelihood.max(axis=1, keepdims=True)
    scaled = np.exp(log_likelihood)
    scaled /= scaled.sum(axis=1, keepdims=True)
    return scaled


def _objective(
    posteriors: FloatArray, priors: FloatArray, counts: FloatArray, confusion: FloatArray, used: npt.NDArray[np.bool_]
) -> float:
    """crowd-kit's stopping objective: expected complete-data log-likelihood plus the posteriors' entropy.

    As in crowd-kit the log-prior term is counted once per *answer* (not once per item); keeping that makes
    both implementations stop at the same iteration, so their results can be compared to 1e-6. The
    expectation over answers equals a sum over the M-step's expected counts, so no pass over answers is needed.
    """
    log_confusion = np.log(confusion[used])
    joint = float(np.sum(counts[used] * log_confusion))
    joint += float(np.sum(counts[used].sum(axis=0) * np.log(np.maximum(priors, PROBABILITY_FLOOR))))
    clipped = np.maximum(posteriors, PROBABILITY_FLOOR)
    entropy = -float(np.sum(clipped * np.log(clipped)))
    return joint + entropy
