"""Per-feature data drift against a stored baseline, with Evidently's documented defaults.

The default test per column follows Evidently's ``DataDriftPreset``:

==================  ===============================================  =============================================
reference rows      numeric column                                   categorical column
==================  ===============================================  =============================================
≤ 1,000             KS, drift if p < 0.05 (≤ 5 distinct values:      chi-square, drift if p < 0.05 (≤ 2 values:
                    chi-square, or the Z-test for ≤ 2)               Z-test)
> 1,000             Wasserstein distance normed by the reference     Jensen–Shannon distance, drift if ≥ 0.1
                    std, drift if ≥ 0.1 (≤ 5 distinct: Jensen–
                    Shannon)
==================  ===============================================  =============================================

"Reference rows" and "distinct values" count non-null finite values (Evidently drops nulls and ±inf before
choosing a test). The dataset drifts when at least half of the columns drift. Every cut-off, threshold
and method is configurable (:class:`DriftOptions`); PSI is offered as a method too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mlake.errors import SchemaError, ValidationError
from mlake.monitor import stattests as st
from mlake.monitor.baseline import (
    CategoricalBaseline,
    DriftBaseline,
    NumericBaseline,
    category_counts,
    finite_values,
)
from mlake.tables.frames import as_arrow, column_of

SMALL_REFERENCE_ROWS = 1000
FEW_VALUES = 5
DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class DriftOptions:
    """What to test and when a test says "drift".

    ``method`` forces one test for every column, ``per_column`` for some; ``thresholds`` overrides a
    method's threshold (``{"wasserstein": 0.2}``). ``columns`` restricts the report to some columns.
    """

    small_reference_rows: int = SMALL_REFERENCE_ROWS
    few_values: int = FEW_VALUES
    drift_share: float = DRIFT_SHARE
    method: str | None = None
    per_column: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    columns: Sequence[str] | None = None

    def __post_init__(self) -> None:
        for name in [self.method, *self.per_column.values(), *self.thresholds]:
            if name is not None and name not in st.METHODS:
                raise ValidationError(f"unknown drift method {name!r}", hint=f"methods: {', '.join(st.METHODS)}")
        if not 0.0 < self.drift_share <= 1.0:
            raise ValidationError(f"drift_share must be in (0, 1] (got {self.drift_share})")

    def threshold(self, method: str) -> float:
        return self.thresholds.get(method, st.DEFAULT_THRESHOLDS[method])


@dataclass(frozen=True)
class FeatureDrift:
    column: str
    kind: str  # "numeric" or "categorical"
    method: str
    score: float  # a p-value (ks, chisquare, z) or a distance (wasserstein, jensenshannon, psi)
    score_kind: str  # "p_value" or "distance"
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_nulls: int
    current_nulls: int
    error_bound: float  # how far the score can be from the raw-data score (0: exact)
    statistic: float | None = None
    note: str | None = None

    @property
    def exact(self) -> bool:
        return self.error_bound == 0.0


@dataclass(frozen=True)
class DriftReport:
    features: tuple[FeatureDrift, ...]
    drifted_columns: int
    share_drifted: float
    drift_share: float
    dataset_drift: bool

    def feature(self, column: str) -> FeatureDrift:
        for f in self.features:
            if f.column == column:
                return f
        raise ValidationError(f"the drift report has no column {column!r}")

    def to_dict(self) -> dict[str, Any]:
        def safe(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
            if isinstance(v, dict):
                return {k: safe(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [safe(x) for x in v]
            return v

        result: dict[str, Any] = safe(asdict(self))
        return result


def default_method(kind: str, reference_rows: int, distinct: int, options: DriftOptions) -> str:
    """Evidently's choice of test (see the module docstring)."""
    few = distinct <= options.few_values
    if reference_rows <= options.small_reference_rows:
        if kind == "categorical" or few:
            return "chisquare" if distinct > 2 else "z"
        return "ks"
    if kind == "categorical" or few:
        return "jensenshannon"
    return "wasserstein"


def _distinct_union(ref: NumericBaseline, current: np.ndarray[Any, Any], cap: int) -> int:
    """Distinct values over reference and current, exact up to ``cap`` (more is reported as cap + 1).

    The baseline keeps value counts for low-cardinality columns only; a reference with more distinct
    values than ``cap`` decides the answer without looking at the current data.
    """
    if ref.value_counts is None or len(ref.value_counts) > cap:
        return cap + 1
    seen = {v for v, _ in ref.value_counts} | set(np.unique(current).tolist())
    return min(len(seen), cap + 1)


def _numeric_drift(ref: NumericBaseline, array: pa.ChunkedArray, options: DriftOptions) -> FeatureDrift:
    current = finite_values(array)
    base: dict[str, Any] = {
        "column": ref.column,
        "kind": "numeric",
        "reference_rows": ref.count,
        "current_rows": len(current),
        "reference_nulls": ref.nulls,
        "current_nulls": len(array) - len(current),
    }
    method = options.per_column.get(ref.column) or options.method
    if method is None:
        method = default_method("numeric", ref.count, _distinct_union(ref, current, options.few_values), options)
    threshold = options.threshold(method)
    if len(current) == 0:
        return FeatureDrift(
            method=method,
            score=math.nan,
            score_kind=st.METHODS[method],
            threshold=threshold,
            drifted=False,
            error_bound=0.0,
            note="no finite values in the current data",
            **base,
        )
    if method in ("chisquare", "z", "jensenshannon"):
        if ref.value_counts is None:
            raise ValidationError(
                f"the {method} test on numeric column {ref.column!r} needs value counts, which the baseline keeps "
                f"only for columns with at most 32 distinct values",
                hint="use ks, wasserstein or psi for this column, or declare it categorical when building the baseline",
            )
        outcome = _COUNT_TESTS[method](dict(ref.value_counts), st.numeric_counts(current))
    elif method == "ks":
        outcome = st.ks_test(ref, current)
    elif method == "wasserstein":
        outcome = st.wasserstein_test(ref, current)
    else:
        outcome = st.psi_numeric(ref, current)
    return _decide(method, threshold, outcome, base, note=None)


_COUNT_TESTS = {
    "chisquare": st.chisquare_test,
    "z": st.z_test,
    "jensenshannon": st.jensenshannon_test,
    "psi": st.psi_counts,
}


def _categorical_drift(ref: CategoricalBaseline, array: pa.ChunkedArray, options: DriftOptions) -> FeatureDrift:
    current = category_counts(array)
    reference = st.categorical_reference(ref)
    total = sum(current.values())
    base: dict[str, Any] = {
        "column": ref.column,
        "kind": "categorical",
        "reference_rows": ref.count,
        "current_rows": total,
        "reference_nulls": ref.nulls,
        "current_nulls": len(array) - total,
    }
    method = options.per_column.get(ref.column) or options.method
    if method is None:
        method = default_method("categorical", ref.count, len(set(reference) | set(current)), options)
    threshold = options.threshold(method)
    if method not in _COUNT_TESTS:
        raise ValidationError(
            f"the {method} test needs numbers; column {ref.column!r} is categorical",
            hint="use chisquare, z, jensenshannon or psi for categorical columns",
        )
    if total == 0:
        return FeatureDrift(
            method=method,
            score=math.nan,
            score_kind=st.METHODS[method],
            threshold=threshold,
            drifted=False,
            error_bound=0.0,
            note="no values in the current data",
            **base,
        )
    new = sorted(set(current) - set(reference))
    note = None
    if new:
        shown = ", ".join(new[:5]) + (" ..." if len(new) > 5 else "")
        note = f"{len(new)} categories not in the reference: {shown}"
    return _decide(method, threshold, _COUNT_TESTS[method](reference, current), base, note)


def _decide(
    method: str, threshold: float, outcome: st.TestOutcome, base: dict[str, Any], note: str | None
) -> FeatureDrift:
    kind = st.METHODS[method]
    drifted = outcome.score < threshold if kind == st.P_VALUE else outcome.score >= threshold
    if outcome.error_bound > 0 and kind == st.DISTANCE and abs(outcome.score - threshold) <= outcome.error_bound:
        note = (note + "; " if note else "") + (
            f"the score is within the baseline's approximation bound ({outcome.error_bound:.2g}) of the threshold"
        )
    return FeatureDrift(
        method=method,
        score=outcome.score,
        score_kind=kind,
        threshold=threshold,
        drifted=bool(drifted),
        error_bound=outcome.error_bound,
        statistic=outcome.statistic,
        note=note,
        **base,
    )


def detect_drift(baseline: DriftBaseline, current: Any, options: DriftOptions | None = None) -> DriftReport:
    """Test every baseline column of ``current`` against the baseline; the reference data is not needed."""
    options = options or DriftOptions()
    table = as_arrow(current)
    names = list(options.columns) if options.columns is not None else list(baseline.columns)
    unknown = [n for n in names if n not in baseline.columns]
    if unknown:
        raise ValidationError(
            f"the baseline has no statistics for {', '.join(map(repr, unknown))}",
            hint="recompute the baseline with these columns, or leave them out of options.columns",
        )
    features = []
    for name in names:
        ref = baseline.columns[name]
        array = column_of(table, name, role="current")
        if isinstance(ref, NumericBaseline):
            if not (
                pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type)
            ):
                raise SchemaError(
                    f"column {name!r} is numeric in the baseline but {array.type} in the current data",
                    hint="cast it back to a number, or rebuild the baseline",
                )
            features.append(_numeric_drift(ref, array, options))
        else:
            features.append(_categorical_drift(ref, array, options))
    drifted = sum(f.drifted for f in features)
    share = drifted / len(features) if features else 0.0
    return DriftReport(
        features=tuple(features),
        drifted_columns=drifted,
        share_drifted=share,
        drift_share=options.drift_share,
        dataset_drift=bool(features) and share >= options.drift_share,
    )


def detect_drift_between(
    reference: Any,
    current: Any,
    options: DriftOptions | None = None,
    *,
    categorical: Sequence[str] = (),
) -> DriftReport:
    """Drift between two raw tables: the baseline keeps every reference value, so every test is exact."""
    options = options or DriftOptions()
    baseline = DriftBaseline.from_table(
        reference, columns=options.columns, categorical=categorical, keep_values_up_to=2**62
    )
    return detect_drift(baseline, current, options)
