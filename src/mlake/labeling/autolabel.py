"""Auto-labeling with an accuracy target (active learning), one round at a time.

A round trains a classifier on the human labels gathered so far, holds some of them out, and picks the
confidence threshold on that held-out set: auto-labels are made only for items at or above the threshold,
and the threshold is the lowest one at which the held-out accuracy is *provably* (one-sided Clopper–Pearson
lower bound at ``confidence_level``) at least the accuracy target. Items below it go to people, the most
informative first (the ones the model is least sure of), so each round's human labels teach the next model
the most. Every auto-label records the model, the round and the threshold it came from.

Ground Truth does the same (it starts after about 1,250 human labels, its validation set picks the
threshold); here the threshold rule and every number behind it are visible in :class:`AutoLabelRound`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mlake.errors import LabelingError
from mlake.labeling.answers import FloatArray, IntArray
from mlake.labeling.label_errors import default_classifier

Uncertainty = Literal["margin", "least_confidence", "entropy"]


@dataclass(frozen=True)
class AutoLabelSettings:
    """How auto-labeling decides.

    ``accuracy_target``: the accuracy auto-labels must reach. ``min_human_labels``: no model is trained
    before this many human labels (Ground Truth's 1,250 by default). ``holdout_fraction``: the share of
    human labels kept out of training to choose the threshold. ``confidence_level``: how sure the held-out
    accuracy's lower bound must be. ``uncertainty``: how items for people are ranked (``margin``: smallest
    gap between the two most probable classes first; ``least_confidence``; ``entropy``).
    """

    accuracy_target: float = 0.95
    min_human_labels: int = 1250
    holdout_fraction: float = 0.2
    confidence_level: float = 0.95
    uncertainty: Uncertainty = "margin"
    random_state: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.accuracy_target < 1:
            raise LabelingError(f"accuracy_target must be in (0, 1), not {self.accuracy_target}", hint="e.g. 0.95")
        if not 0 < self.holdout_fraction < 1:
            raise LabelingError(f"holdout_fraction must be in (0, 1), not {self.holdout_fraction}", hint="e.g. 0.2")
        if not 0 < self.confidence_level < 1:
            raise LabelingError(f"confidence_level must be in (0, 1), not {self.confidence_level}", hint="e.g. 0.95")
        if self.min_human_labels < 2:
            raise LabelingError("min_human_labels must be at least 2", hint="a model needs labels to learn from")
        if self.uncertainty not in ("margin", "least_confidence", "entropy"):
            raise LabelingError(
                f"unknown uncertainty {self.uncertainty!r}", hint="use margin, least_confidence or entropy"
            )


@dataclass(frozen=True)
class ModelRecord:
    """The model behind a round's decisions: ``model_id`` hashes the estimator's parameters, the rows it
    was trained on and the round, so two rounds share an id only if they made the same model."""

    model_id: str
    estimator: str
    trained_on: int
    held_out: int


@dataclass(frozen=True)
class ThresholdCurve:
    """For each candidate threshold (distinct held-out confidences, highest first): how many held-out
    items are at or above it, how many of those the model got right, their accuracy, and its lower bound."""

    thresholds: FloatArray
    covered: IntArray
    correct: IntArray
    accuracy: FloatArray
    lower_bound: FloatArray


@dataclass(frozen=True)
class AutoLabelRound:
    """The outcome of one round.

    ``status``: ``threshold_met`` (a threshold met the target; candidates at or above it were auto-labeled),
    ``no_threshold`` (none did; everything goes to people), or ``waiting_for_labels`` (fewer than
    ``min_human_labels``; no model yet). ``auto_items`` (item ids) got ``auto_labels`` with
    ``auto_confidence``; ``queue`` lists the other candidates for people, most informative first, with
    ``queue_uncertainty`` (higher = less sure).
    """

    round: int
    status: Literal["threshold_met", "no_threshold", "waiting_for_labels"]
    reason: str
    settings: AutoLabelSettings
    candidates: int
    auto_items: npt.NDArray[Any]
    auto_labels: npt.NDArray[Any]
    auto_confidence: FloatArray
    queue: npt.NDArray[Any]
    queue_uncertainty: FloatArray
    model: ModelRecord | None = None
    threshold: float | None = None
    held_out_accuracy: float | None = None
    held_out_lower_bound: float | None = None
    held_out_covered: int = 0
    curve: ThresholdCurve | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (REST ``POST .../auto?detail=true``, the remote client): arrays as lists, NaN as null."""
        curve = self.curve
        return {
            "round": self.round,
            "status": self.status,
            "reason": self.reason,
            "settings": asdict(self.settings),
            "candidates": self.candidates,
            "auto_items": _plain_list(self.auto_items),
            "auto_labels": _plain_list(self.auto_labels),
            "auto_confidence": _float_list(self.auto_confidence),
            "queue": _plain_list(self.queue),
            "queue_uncertainty": _float_list(self.queue_uncertainty),
            "model": asdict(self.model) if self.model is not None else None,
            "threshold": self.threshold,
            "held_out_accuracy": self.held_out_accuracy,
            "held_out_lower_bound": self.held_out_lower_bound,
            "held_out_covered": self.held_out_covered,
            "curve": None
            if curve is None
            else {
                "thresholds": _float_list(curve.thresholds),
                "covered": [int(v) for v in curve.covered],
                "correct": [int(v) for v in curve.correct],
                "accuracy": _float_list(curve.accuracy),
                "lower_bound": _float_list(curve.lower_bound),
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AutoLabelRound:
        curve = d.get("curve")
        return cls(
            round=d["round"],
            status=d["status"],
            reason=d["reason"],
            settings=AutoLabelSettings(**d["settings"]),
            candidates=d["candidates"],
            auto_items=np.array(d["auto_items"], dtype=object),
            auto_labels=np.array(d["auto_labels"], dtype=object),
            auto_confidence=_floats(d["auto_confidence"]),
            queue=np.array(d["queue"], dtype=object),
            queue_uncertainty=_floats(d["queue_uncertainty"]),
            model=ModelRecord(**d["model"]) if d.get("model") is not None else None,
            threshold=d.get("threshold"),
            held_out_accuracy=d.get("held_out_accuracy"),
            held_out_lower_bound=d.get("held_out_lower_bound"),
            held_out_covered=d.get("held_out_covered", 0),
            curve=None
            if curve is None
            else ThresholdCurve(
                _floats(curve["thresholds"]),
                np.array(curve["covered"], dtype=np.int64),
                np.array(curve["correct"], dtype=np.int64),
                _floats(curve["accuracy"]),
                _floats(curve["lower_bound"]),
            ),
        )

    @property
    def fraction_auto_labeled(self) -> float:
        """Share of this round's candidates that were auto-labeled."""
        return len(self.auto_items) / self.candidates if self.candidates else 0.0

    def decisions_to_arrow(self) -> pa.Table:
        """One row per auto-label: item, label, confidence, and the model, round and threshold behind it."""
        n = len(self.auto_items)
        return pa.table(
            {
                "item": pa.array(self.auto_items.tolist()),
                "label": pa.array(self.auto_labels.tolist()),
                "confidence": pa.array(self.auto_confidence, type=pa.float64()),
                "model_id": pa.array([self.model.model_id if self.model else None] * n, type=pa.string()),
                "round": pa.array([self.round] * n, type=pa.int64()),
                "threshold": pa.array([self.threshold] * n, type=pa.float64()),
            }
        )


def _plain_list(values: npt.NDArray[Any]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


def _float_list(values: FloatArray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in np.asarray(values, dtype=float).tolist()]


def _floats(values: list[float | None]) -> FloatArray:
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def auto_label_round(
    features: npt.ArrayLike,
    human_labels: npt.ArrayLike | pd.Series[Any],
    *,
    round_number: int = 1,
    settings: AutoLabelSettings | None = None,
    model: Any = None,
    candidates: npt.ArrayLike | None = None,
    item_ids: npt.ArrayLike | None = None,
) -> AutoLabelRound:
    """Run one auto-labeling round over ``features`` (items × features).

    ``human_labels`` has one entry per item, null where no person has labeled it. ``candidates`` (a boolean
    mask) marks the items that may be auto-labeled or queued; by default every item without a human label.
    ``model`` is any scikit-learn classifier with ``predict_proba`` (cloned, never modified; a standardised
    logistic regression by default). ``item_ids`` names items in the result (positions by default).
    """
    cfg = settings or AutoLabelSettings()
    x = _feature_matrix(features)
    labels = pd.Series(np.asarray(human_labels, dtype=object))
    n = x.shape[0]
    if labels.shape[0] != n:
        raise LabelingError(
            f"{n} items have features but there are {labels.shape[0]} human label slots",
            hint="pass one human label per item, null for items no person has labeled",
        )
    ids = np.arange(n) if item_ids is None else np.asarray(item_ids)
    if ids.shape[0] != n:
        raise LabelingError(f"{ids.shape[0]} item ids for {n} items", hint="give one id per row of features")
    labeled = labels.notna().to_numpy()
    if candidates is None:
        eligible = ~labeled
    else:
        mask = np.asarray(candidates, dtype=bool)
        if mask.shape != (n,):
            raise LabelingError(f"candidates must be a mask of {n} booleans, got shape {mask.shape}")
        eligible = mask & ~labeled
    pool = np.flatnonzero(eligible)
    n_human = int(labeled.sum())

    if n_human < cfg.min_human_labels:
        return _without_model(
            round_number,
            cfg,
            ids,
            pool,
            "waiting_for_labels",
            f"{n_human} human labels; auto-labeling starts at {cfg.min_human_labels}",
        )

    codes, classes = pd.factorize(labels[labeled], sort=True)
    if len(classes) < 2:
        raise LabelingError(
            f"the human labels hold only one class ({classes[0]!r}); a classifier needs two or more",
            hint="label items of other classes first",
        )
    train, holdout = _split(np.flatnonzero(labeled), codes, cfg, round_number)
    code_of = np.full(n, -1, dtype=np.int64)
    code_of[np.flatnonzero(labeled)] = codes

    from sklearn.base import clone

    estimator = clone(model) if model is not None else default_classifier(cfg.random_state)
    try:
        estimator.fit(x[train], code_of[train])
    except ValueError as exc:
        raise LabelingError(f"the model could not be trained: {exc}", hint="check the features") from None
    record = ModelRecord(
        model_id=_model_id(estimator, train, round_number),
        estimator=_describe(estimator),
        trained_on=int(train.size),
        held_out=int(holdout.size),
    )
    held_probs = _probabilities(estimator, x[holdout], len(classes))
    held_pred = held_probs.argmax(axis=1)
    held_conf = held_probs.max(axis=1)
    curve = threshold_curve(held_conf, held_pred == code_of[holdout], cfg.confidence_level)
    chosen = choose_threshold(curve, cfg.accuracy_target)

    probs = _probabilities(estimator, x[pool], len(classes)) if pool.size else np.zeros((0, len(classes)))
    confidence = probs.max(axis=1)
    predicted = probs.argmax(axis=1)
    uncertainty = _uncertainty(probs, cfg.uncertainty)
    if chosen is None:
        status: Literal["threshold_met", "no_threshold"] = "no_threshold"
        auto = np.zeros(pool.size, dtype=bool)
        reason = (
            f"no confidence threshold reaches accuracy {cfg.accuracy_target} on {holdout.size} held-out labels "
            f"with {cfg.confidence_level:.0%} confidence; all candidates go to people"
        )
    else:
        status = "threshold_met"
        auto = confidence >= curve.thresholds[chosen]
        reason = (
            f"threshold {curve.thresholds[chosen]:.4f}: held-out accuracy {curve.accuracy[chosen]:.4f} "
            f"(lower bound {curve.lower_bound[chosen]:.4f}) on {curve.covered[chosen]} of {holdout.size} "
            "held-out labels"
        )
    rest = np.flatnonzero(~auto)
    ranked = rest[np.lexsort((pool[rest], -uncertainty[rest]))]
    auto_positions = np.flatnonzero(auto)
    return AutoLabelRound(
        round=round_number,
        status=status,
        reason=reason,
        settings=cfg,
        candidates=int(pool.size),
        auto_items=ids[pool[auto_positions]],
        auto_labels=np.asarray(classes, dtype=object)[predicted[auto_positions]],
        auto_confidence=confidence[auto_positions],
        queue=ids[pool[ranked]],
        queue_uncertainty=uncertainty[ranked],
        model=record,
        threshold=None if chosen is None else float(curve.thresholds[chosen]),
        held_out_accuracy=None if chosen is None else float(curve.accuracy[chosen]),
        held_out_lower_bound=None if chosen is None else float(curve.lower_bound[chosen]),
        held_out_covered=0 if chosen is None else int(curve.covered[chosen]),
        curve=curve,
    )


def rounds_to_arrow(rounds: Sequence[AutoLabelRound]) -> pa.Table:
    """The auto-labeling report, one row per round: what the model achieved on held-out human labels at the
    chosen threshold, and how much it labeled."""
    return pa.table(
        {
            "round": pa.array([r.round for r in rounds], type=pa.int64()),
            "status": pa.array([r.status for r in rounds], type=pa.string()),
            "model_id": pa.array([r.model.model_id if r.model else None for r in rounds], type=pa.string()),
            "estimator": pa.array([r.model.estimator if r.model else None for r in rounds], type=pa.string()),
            "trained_on": pa.array([r.model.trained_on if r.model else 0 for r in rounds], type=pa.int64()),
            "held_out": pa.array([r.model.held_out if r.model else 0 for r in rounds], type=pa.int64()),
            "threshold": pa.array([r.threshold for r in rounds], type=pa.float64()),
            "held_out_covered": pa.array([r.held_out_covered for r in rounds], type=pa.int64()),
            "held_out_accuracy": pa.array([r.held_out_accuracy for r in rounds], type=pa.float64()),
            "held_out_lower_bound": pa.array([r.held_out_lower_bound for r in rounds], type=pa.float64()),
            "candidates": pa.array([r.candidates for r in rounds], type=pa.int64()),
            "auto_labeled": pa.array([len(r.auto_items) for r in rounds], type=pa.int64()),
            "queued": pa.array([len(r.queue) for r in rounds], type=pa.int64()),
        }
    )


def threshold_curve(confidence: FloatArray, correct: npt.NDArray[np.bool_], confidence_level: float) -> ThresholdCurve:
    """Accuracy and its one-sided Clopper–Pearson lower bound above every distinct confidence value.

    With ``k`` correct out of ``m`` covered, the bound is the ``1 - confidence_level`` quantile of
    Beta(k, m - k + 1): the smallest accuracy that would still produce ``k`` or more correct with probability
    ``1 - confidence_level``. It is exact (no normal approximation), which matters for the few items covered
    by high thresholds.
    """
    from scipy.stats import beta

    order = np.argsort(-confidence, kind="stable")
    conf_sorted = confidence[order]
    cum_correct = np.cumsum(correct[order])
    # A threshold at a value covers every item with that confidence: cut only where the value changes.
    last_of_value = np.flatnonzero(np.append(conf_sorted[1:] != conf_sorted[:-1], True))
    covered = last_of_value + 1
    right = cum_correct[last_of_value]
    with np.errstate(invalid="ignore"):
        lower = np.where(right > 0, beta.ppf(1 - confidence_level, right, covered - right + 1), 0.0)
    return ThresholdCurve(
        thresholds=conf_sorted[last_of_value],
        covered=covered.astype(np.int64),
        correct=right.astype(np.int64),
        accuracy=right / covered,
        lower_bound=np.asarray(lower, dtype=np.float64),
    )


def choose_threshold(curve: ThresholdCurve, accuracy_target: float) -> int | None:
    """Index in ``curve`` of the lowest threshold whose accuracy lower bound reaches the target (None if none).

    The lowest such threshold auto-labels the most items. Scanning many thresholds and keeping one that
    passes slightly favours luck, which the conservative exact bound absorbs in practice; the auto-labeling
    test checks the achieved accuracy on truth the model never saw.
    """
    passing = np.flatnonzero(curve.lower_bound >= accuracy_target)
    return int(passing[-1]) if passing.size else None


def _without_model(
    round_number: int,
    cfg: AutoLabelSettings,
    ids: npt.NDArray[Any],
    pool: IntArray,
    status: Literal["waiting_for_labels"],
    reason: str,
) -> AutoLabelRound:
    empty = np.zeros(0)
    return AutoLabelRound(
        round=round_number,
        status=status,
        reason=reason,
        settings=cfg,
        candidates=int(pool.size),
        auto_items=ids[:0],
        auto_labels=np.zeros(0, dtype=object),
        auto_confidence=empty,
        queue=ids[pool],
        queue_uncertainty=np.full(pool.size, np.nan),
    )


def _feature_matrix(features: Any) -> Any:
    """Features as a float matrix: a dense array, or a scipy sparse matrix kept sparse (e.g. TF-IDF of text)."""
    from scipy import sparse

    if sparse.issparse(features):
        matrix = sparse.csr_matrix(features, dtype=np.float64)
        values = matrix.data
    else:
        try:
            matrix = np.asarray(features, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise LabelingError(
                f"features must be numeric ({exc})", hint="encode text or categories as numbers first"
            ) from None
        values = matrix
    if matrix.ndim != 2:
        raise LabelingError(f"features must be a 2-D (items, features) matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(values)):
        bad = np.flatnonzero(~np.isfinite(matrix.toarray() if sparse.issparse(matrix) else matrix).all(axis=1))
        raise LabelingError(
            f"{bad.size} item(s) have missing or infinite features (rows {bad[:5].tolist()})",
            hint="impute or drop them before auto-labeling",
        )
    return matrix


def _split(labeled: IntArray, codes: IntArray, cfg: AutoLabelSettings, round_number: int) -> tuple[IntArray, IntArray]:
    """Stratified train/held-out split of the labeled positions (plain random when strata are impossible)."""
    from sklearn.model_selection import train_test_split

    seed = cfg.random_state + round_number
    try:
        train, holdout = train_test_split(labeled, test_size=cfg.holdout_fraction, stratify=codes, random_state=seed)
    except ValueError:  # a class with one label, or fewer held-out slots than classes: split without strata
        train, holdout = train_test_split(labeled, test_size=cfg.holdout_fraction, random_state=seed)
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(holdout, dtype=np.int64))


def _probabilities(estimator: Any, x: Any, n_classes: int) -> FloatArray:
    """``predict_proba`` widened to every class code (a class missing from training gets probability 0)."""
    raw = np.asarray(estimator.predict_proba(x), dtype=np.float64)
    probs = np.zeros((x.shape[0], n_classes))
    probs[:, np.asarray(estimator.classes_, dtype=np.int64)] = raw
    return probs


def _uncertainty(probs: FloatArray, kind: Uncertainty) -> FloatArray:
    if probs.shape[0] == 0:
        return np.zeros(0)
    if kind == "least_confidence":
        result: FloatArray = 1.0 - probs.max(axis=1)
        return result
    if kind == "entropy":
        clipped = np.clip(probs, 1e-12, 1.0)
        result = -(clipped * np.log(clipped)).sum(axis=1)
        return result
    top2 = np.sort(probs, axis=1)[:, -2:] if probs.shape[1] > 1 else np.hstack([np.zeros_like(probs), probs])
    result = 1.0 - (top2[:, 1] - top2[:, 0])
    return result


def _describe(estimator: Any) -> str:
    steps = getattr(estimator, "steps", None)
    if steps:
        return "Pipeline(" + ", ".join(type(step).__name__ for _, step in steps) + ")"
    return type(estimator).__name__


def _model_id(estimator: Any, train: IntArray, round_number: int) -> str:
    digest = hashlib.sha256()
    digest.update(repr(sorted(estimator.get_params(deep=True).items(), key=lambda kv: kv[0])).encode())
    digest.update(np.ascontiguousarray(train).tobytes())
    digest.update(str(round_number).encode())
    return digest.hexdigest()[:16]
