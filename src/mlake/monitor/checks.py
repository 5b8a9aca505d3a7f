"""What a monitor checks, and the checks themselves: pure functions from (baseline, batch) to violations.

Four kinds, as in SageMaker Model Monitor, each producing :class:`Violation` rows:

- **data quality** against constraints suggested from the baseline (Model Monitor's ``constraints.json``
  suggested from ``statistics.json``): every baseline column is present with the same kind
  (``missing_column``, ``data_type``); completeness does not fall (``completeness``: the batch's null rate
  is above the baseline's by a one-sided binomial test at ``completeness_alpha``, or any null when the
  baseline had none); no category unseen in the baseline (``new_category``); no negative value in a
  column that had none (``non_negative``).
- **drift**: :func:`~mlake.monitor.drift.detect_drift` per feature (``drift``) and over the dataset
  (``dataset_drift``), with Evidently's defaults unless ``drift_options`` says otherwise.
- **model quality**, once labels are joined: each metric against its baseline value, a violation when it
  is worse by more than its tolerance (``model_quality``).
- **bias drift**: the post-training bias metrics of a facet against their baseline values
  (``bias_drift``), a violation when one moved by more than its tolerance.

Tolerances rather than "worse than the baseline at all" (Model Monitor's default comparison) because a
clean batch is as likely to score below its baseline as above it: the false-alarm rate over clean
batches is measured in tests/monitor/test_monitors.py and reported in docs/monitoring.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from mlake.bias.explain import NDCG_THRESHOLD, attribution_ndcg, explain
from mlake.bias.report import bias_report
from mlake.bias.spec import Facet, Outcome, Scalar
from mlake.errors import ValidationError
from mlake.monitor.baseline import CategoricalBaseline, DriftBaseline, NumericBaseline, category_counts, column_kind
from mlake.monitor.drift import DriftOptions, DriftReport, detect_drift
from mlake.monitor.quality import (
    ClassificationQuality,
    MulticlassQuality,
    RegressionQuality,
    classification_quality,
    multiclass_quality,
    regression_quality,
)

HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "auc", "r2"}
LOWER_IS_BETTER = {"log_loss", "mae", "rmse"}
DEFAULT_QUALITY_TOLERANCE: dict[str, float] = {
    "accuracy": 0.05,
    "precision": 0.1,
    "recall": 0.1,
    "f1": 0.1,
    "auc": 0.05,
    "log_loss": 0.1,
    "r2": 0.1,
}
DEFAULT_BIAS_METRICS = ("DPPL", "AD")
CHECKS = (
    "missing_column",
    "data_type",
    "completeness",
    "new_category",
    "non_negative",
    "drift",
    "dataset_drift",
    "model_quality",
    "bias_drift",
)


@dataclass(frozen=True)
class Violation:
    """One broken expectation of one run: which check, on which feature or metric, by how much."""

    check: str
    feature: str  # a column, a metric ("accuracy", "DPPL[sex=F]"), or "*" for the whole batch
    statistic: float | None
    threshold: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Labels:
    """Where the ground truth and the predictions are: columns of the target, or a label table joined by key.

    ``positive_values`` / ``threshold`` define the positive outcome for classification (of the label and,
    with ``prediction_threshold``, of the prediction); ``problem="regression"`` compares numbers;
    ``problem="multiclass"`` compares class values, with optional per-class probability columns
    (``class_scores``, one per class of ``classes``) for AUC and log loss."""

    label: str
    predicted: str
    table: str | None = None  # the label table; None when the label is a column of the target
    key: str | None = None  # the join key (same name on both sides)
    problem: str = "classification"  # or "regression"
    positive_values: tuple[Scalar, ...] | None = None
    threshold: float | None = None
    prediction_threshold: float | None = None  # the predicted label is a score cut here; default: as the label
    score: str | None = None  # the probability of the positive outcome, for AUC and log loss
    class_scores: tuple[str, ...] | None = None  # multiclass: one probability column per class
    classes: tuple[Scalar, ...] | None = None  # multiclass: the class of each class_scores column

    def __post_init__(self) -> None:
        if self.problem not in ("classification", "multiclass", "regression"):
            raise ValidationError(
                f"unknown problem {self.problem!r}", hint="use 'classification', 'multiclass' or 'regression'"
            )
        if self.problem == "multiclass" and (self.positive_values is not None or self.threshold is not None):
            raise ValidationError("a multi-class label has no positive outcome: leave positive_values/threshold out")
        if self.class_scores is not None and (self.classes is None or len(self.classes) != len(self.class_scores)):
            raise ValidationError("class_scores need classes: one class per score column, in the same order")
        if (self.table is None) != (self.key is None):
            raise ValidationError(
                "a label table needs a join key, and a key needs a label table",
                hint="give both table= and key=, or neither when the labels are target columns",
            )
        if self.problem == "classification" and (self.positive_values is None) == (self.threshold is None):
            raise ValidationError(
                f"the label {self.label!r} needs exactly one of positive_values= or threshold=",
                hint="positive_values=[1] or threshold=0.5 say which outcome is positive",
            )

    def outcomes(self) -> tuple[Outcome, Outcome]:
        values = list(self.positive_values) if self.positive_values is not None else None
        label = Outcome.of(self.label, positive_values=values, threshold=self.threshold)
        if self.prediction_threshold is not None:
            return label, Outcome.of(self.predicted, threshold=self.prediction_threshold)
        return label, Outcome.of(self.predicted, positive_values=values, threshold=self.threshold)


@dataclass(frozen=True)
class BiasDrift:
    """Bias drift: the post-training metrics of ``facet`` (``column`` in ``values`` or above ``threshold``)."""

    column: str
    values: tuple[Scalar, ...] | None = None
    threshold: float | None = None
    metrics: tuple[str, ...] = DEFAULT_BIAS_METRICS
    tolerance: float = 0.1

    def facet(self) -> Facet:
        return Facet.of(
            self.column, values=list(self.values) if self.values is not None else None, threshold=self.threshold
        )


@dataclass(frozen=True)
class AttributionDrift:
    """Attribution drift: NDCG of the current global SHAP ranking of ``features`` against the baseline's,
    a violation below ``threshold`` (Model Monitor's 0.90). Runs need the model (``run(name, model=...)``)."""

    features: tuple[str, ...]
    threshold: float = NDCG_THRESHOLD
    rows: int = 500  # rows explained per run (sampled)
    background: int = 100  # KernelSHAP background rows
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.features:
            raise ValidationError("attribution drift needs the model's features", hint="features=('age', 'income')")
        if not 0.0 < self.threshold <= 1.0:
            raise ValidationError(f"the NDCG threshold must be in (0, 1] (got {self.threshold})")


@dataclass(frozen=True)
class MonitorConfig:
    """Everything a monitor checks and where its target rows come from; stored as JSON with the monitor."""

    data_quality: bool = True
    completeness_alpha: float = 0.001
    drift: bool = True
    drift_options: Mapping[str, Any] = field(default_factory=dict)  # DriftOptions keyword arguments
    labels: Labels | None = None
    quality_tolerance: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_QUALITY_TOLERANCE))
    bias: BiasDrift | None = None
    attribution: AttributionDrift | None = None
    rows: str = "new"  # "new": rows added since the last run; "all": the whole table; "window": see below
    time_column: str | None = None  # with rows="window": rows whose time_column is within window_seconds
    window_seconds: float | None = None
    webhook: str | None = None  # POSTed a JSON summary when a run finds violations

    def __post_init__(self) -> None:
        if self.rows not in ("new", "all", "window"):
            raise ValidationError(f"unknown row selection {self.rows!r}", hint="use 'new', 'all' or 'window'")
        if self.rows == "window" and (self.time_column is None or not self.window_seconds):
            raise ValidationError(
                "rows='window' needs time_column= and window_seconds=",
                hint="e.g. time_column='ts', window_seconds=86400 for the last day",
            )
        if not 0.0 < self.completeness_alpha < 1.0:
            raise ValidationError(f"completeness_alpha must be in (0, 1) (got {self.completeness_alpha})")
        if self.webhook is not None and not self.webhook.startswith(("http://", "https://")):
            raise ValidationError(f"the webhook {self.webhook!r} is not an http(s) URL")
        if self.bias is not None and self.labels is not None and self.labels.problem != "classification":
            raise ValidationError(
                f"bias drift compares outcomes of a binary label, not of a {self.labels.problem} one",
                hint="monitor bias with a binary Labels (positive_values= or threshold=) in a second monitor",
            )
        self.drift_opts()  # reject unknown drift options now rather than at the first run

    def drift_opts(self) -> DriftOptions:
        try:
            return DriftOptions(**dict(self.drift_options))
        except TypeError as exc:
            raise ValidationError(
                f"bad drift options {dict(self.drift_options)!r}: {exc}",
                hint="see mlake.monitor.DriftOptions for the names",
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MonitorConfig:
        """The configuration from its ``to_dict()`` form (stored JSON, or a REST body); ValidationError when
        a field is missing, unknown or of the wrong kind."""
        try:
            return cls._from_dict(raw)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(
                f"bad monitor configuration: {exc}", hint="see mlake.monitor.checks.MonitorConfig for the fields"
            ) from exc

    @classmethod
    def _from_dict(cls, raw: Mapping[str, Any]) -> MonitorConfig:
        raw = dict(raw)
        if raw.get("labels"):
            lab = dict(raw["labels"])
            for field_name in ("positive_values", "class_scores", "classes"):
                if lab.get(field_name) is not None:
                    lab[field_name] = tuple(lab[field_name])
            raw["labels"] = Labels(**lab)
        if raw.get("bias"):
            b = dict(raw["bias"])
            b["values"] = tuple(b["values"]) if b.get("values") is not None else None
            b["metrics"] = tuple(b.get("metrics", DEFAULT_BIAS_METRICS))
            raw["bias"] = BiasDrift(**b)
        if raw.get("attribution"):
            att = dict(raw["attribution"])
            att["features"] = tuple(att["features"])
            raw["attribution"] = AttributionDrift(**att)
        if "quality_tolerance" in raw:
            raw["quality_tolerance"] = {str(k): float(v) for k, v in dict(raw["quality_tolerance"]).items()}
        for name in ("completeness_alpha", "window_seconds"):
            if raw.get(name) is not None:
                raw[name] = float(raw[name])
        return cls(**raw)


# --- data quality -------------------------------------------------------------------------------------


def data_quality(baseline: DriftBaseline, batch: pa.Table, alpha: float) -> list[Violation]:
    """Model Monitor's suggested constraints, derived from the baseline's statistics, checked on ``batch``."""
    out: list[Violation] = []
    for name, ref in baseline.columns.items():
        if name not in batch.column_names:
            out.append(Violation("missing_column", name, None, None, f"column {name!r} is not in the batch"))
            continue
        array = batch.column(name)
        kind = column_kind(array, forced_categorical=isinstance(ref, CategoricalBaseline))
        numeric_now = pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
        if isinstance(ref, NumericBaseline) and not numeric_now:
            out.append(Violation("data_type", name, None, None, f"numeric in the baseline, {array.type} now"))
            continue
        if kind is None:
            out.append(
                Violation("data_type", name, None, None, f"type {array.type} is neither numeric nor categorical")
            )
            continue
        out += _completeness(name, ref.rows, ref.nulls, array, alpha)
        if isinstance(ref, CategoricalBaseline):
            known = {c for c, _ in ref.counts}
            counts = category_counts(array)
            new = {c: n for c, n in counts.items() if c not in known}
            if new:
                share = sum(new.values()) / max(sum(counts.values()), 1)
                shown = ", ".join(repr(c) for c in sorted(new)[:5]) + (" …" if len(new) > 5 else "")
                out.append(
                    Violation(
                        "new_category",
                        name,
                        share,
                        0.0,
                        f"{len(new)} categor{'y' if len(new) == 1 else 'ies'} never seen in the baseline: {shown}",
                    )
                )
        elif ref.min >= 0:
            negatives = int(pc.sum(pc.less(array, 0)).as_py() or 0)
            if negatives:
                share = negatives / max(batch.num_rows, 1)
                out.append(
                    Violation("non_negative", name, share, 0.0, f"{negatives} negative values; the baseline had none")
                )
    return out


def _nulls(array: pa.ChunkedArray) -> int:
    """Nulls, NaN and ±inf: what the drift tests leave out, so what completeness counts as missing."""
    nulls = int(array.null_count)
    if pa.types.is_floating(array.type):
        finite = pc.is_finite(array)
        nulls += int(pc.sum(pc.invert(pc.fill_null(finite, True))).as_py() or 0)
    return nulls


def _completeness(name: str, ref_rows: int, ref_nulls: int, array: pa.ChunkedArray, alpha: float) -> list[Violation]:
    rows = len(array)
    if rows == 0:
        return []
    nulls = _nulls(array)
    rate, base = nulls / rows, ref_nulls / max(ref_rows, 1)
    if nulls == 0 or rate <= base:
        return []
    if base == 0.0:
        return [Violation("completeness", name, rate, 0.0, f"{nulls} missing values; the baseline had none")]
    p = float(stats.binomtest(nulls, rows, base, alternative="greater").pvalue)
    if p >= alpha:
        return []
    return [
        Violation(
            "completeness",
            name,
            rate,
            base,
            f"missing {rate:.2%} of values against {base:.2%} in the baseline (binomial p = {p:.2g})",
        )
    ]


# --- drift ----------------------------------------------------------------------------------------------


def drift(baseline: DriftBaseline, batch: pa.Table, options: DriftOptions) -> tuple[list[Violation], DriftReport]:
    """Per-feature and dataset drift against the baseline; columns missing from the batch are left to
    data quality (reported there as ``missing_column``)."""
    present = [c for c in (options.columns or list(baseline.columns)) if c in batch.column_names]
    kept = {k: getattr(options, k) for k in options.__dataclass_fields__}
    kept["columns"] = present
    report = detect_drift(baseline, batch, DriftOptions(**kept))
    out = [
        Violation(
            "drift",
            f.column,
            f.score,
            f.threshold,
            f"{f.method} {'p-value' if f.score_kind == 'p_value' else 'distance'} {f.score:.4g}"
            + (f"; {f.note}" if f.note else ""),
        )
        for f in report.features
        if f.drifted
    ]
    if report.dataset_drift:
        out.append(
            Violation(
                "dataset_drift",
                "*",
                report.share_drifted,
                report.drift_share,
                f"{report.drifted_columns} of {len(report.features)} features drifted",
            )
        )
    return out, report


# --- model quality and bias -------------------------------------------------------------------------------


def quality_figures(labels: Labels, data: pa.Table) -> dict[str, float]:
    """The model-quality metrics of labelled rows, as a flat dict (NaN left out)."""
    q: ClassificationQuality | MulticlassQuality | RegressionQuality
    if labels.problem == "regression":
        q = regression_quality(data, labels.label, labels.predicted).overall
    elif labels.problem == "multiclass":
        q = multiclass_quality(
            data, labels.label, labels.predicted, scores=labels.class_scores, classes=labels.classes
        ).overall
    else:
        label, predicted = labels.outcomes()
        q = classification_quality(data, label, predicted, score=labels.score).overall
    return {
        k: float(v)
        for k, v in asdict(q).items()
        if k not in ("group", "rows", "positives", "classes") and v is not None and math.isfinite(v)
    }


def quality_limit(metric: str, base: float, tolerance: float) -> float:
    """The worst acceptable value of ``metric`` given its baseline value: ``tolerance`` below a score that
    should be high, above an error (relative for MAE and RMSE, whose scale is the target's)."""
    if metric in HIGHER_IS_BETTER:
        return base - tolerance
    if metric in ("mae", "rmse"):
        return base * (1 + tolerance)
    return base + tolerance


def model_quality(
    baseline: Mapping[str, float], current: Mapping[str, float], tolerance: Mapping[str, float]
) -> list[Violation]:
    """Each metric with a tolerance, against the baseline: worse by more than the tolerance is a violation.

    Errors in the regression metrics (MAE, RMSE) are relative: a tolerance of 0.2 allows 20% more."""
    out = []
    for metric, tol in tolerance.items():
        if metric not in baseline or metric not in current:
            continue
        base, now = baseline[metric], current[metric]
        limit = quality_limit(metric, base, tol)
        bad = now < limit if metric in HIGHER_IS_BETTER else now > limit
        if bad:
            out.append(Violation("model_quality", metric, now, limit, f"{metric} {now:.4g}; baseline {base:.4g}"))
    return out


def bias_figures(check: BiasDrift, labels: Labels, data: pa.Table) -> dict[str, float]:
    """The chosen post-training bias metrics of the facet (no bootstrap: a run compares point values)."""
    label, predicted = labels.outcomes()
    report = bias_report(
        data, check.facet(), label, predicted_label=predicted, metrics=list(check.metrics), resamples=0
    )
    return {m.code: float(m.value) for m in report.metrics if m.value is not None and math.isfinite(m.value)}


def bias_drift(check: BiasDrift, baseline: Mapping[str, float], current: Mapping[str, float]) -> list[Violation]:
    facet = check.facet().label
    out = []
    for code in check.metrics:
        if code in baseline and code in current and abs(current[code] - baseline[code]) > check.tolerance:
            out.append(
                Violation(
                    "bias_drift",
                    f"{code}[{facet}]",
                    current[code],
                    check.tolerance,
                    f"{code} {current[code]:.4g}; baseline {baseline[code]:.4g}",
                )
            )
    return out


# --- attribution drift ----------------------------------------------------------------------------------


def attribution_importance(check: AttributionDrift, model: Any, data: pa.Table) -> dict[str, float]:
    """Global importance (mean |SHAP|) of the check's features on (a sample of) ``data``."""
    result = explain(
        model, data, features=check.features, rows=check.rows, background=check.background, seed=check.seed
    )
    return result.importance()


def attribution_drift(
    check: AttributionDrift, baseline: Mapping[str, float], current: Mapping[str, float]
) -> list[Violation]:
    ndcg = attribution_ndcg(baseline, current)
    if ndcg >= check.threshold:
        return []
    top_then = max(baseline, key=lambda f: baseline[f])
    top_now = max(current, key=lambda f: current[f])
    return [
        Violation(
            "attribution_drift",
            "*",
            ndcg,
            check.threshold,
            f"NDCG {ndcg:.3f} of the attribution ranking; most important was {top_then!r}, now {top_now!r}",
        )
    ]
