"""Drift tests: equal to scipy on raw data, within the documented bound from a stored baseline, and
choosing Evidently's default test for each column."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import stats
from scipy.spatial import distance

from mlake.errors import NotFoundError, SchemaError, ValidationError
from mlake.monitor import DriftBaseline, DriftOptions, detect_drift, detect_drift_between
from mlake.monitor.stattests import ks_statistic_from_sketch, wasserstein_from_sketch


def frame(rng: np.random.Generator, n: int, *, shift: float = 0.0, colours: tuple[float, ...] = (0.5, 0.3, 0.2)):
    return pa.table(
        {
            "amount": rng.normal(100 + shift, 15, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=list(colours)),
            "flag": rng.choice(["yes", "no"], n, p=[0.7, 0.3]),
            "rating": rng.integers(1, 4, n),  # three distinct numbers
        }
    )


def test_small_reference_uses_ks_and_chisquare_equal_to_scipy() -> None:
    rng = np.random.default_rng(1)
    ref, cur = frame(rng, 800), frame(rng, 600, shift=3.0, colours=(0.4, 0.4, 0.2))
    report = detect_drift_between(ref, cur)
    amount = report.feature("amount")
    assert amount.method == "ks"
    expected = stats.ks_2samp(ref["amount"].to_numpy(), cur["amount"].to_numpy())
    assert amount.score == pytest.approx(expected.pvalue, rel=1e-12)
    assert amount.statistic == pytest.approx(expected.statistic)
    assert amount.drifted == (expected.pvalue < 0.05)

    colour = report.feature("colour")
    assert colour.method == "chisquare"
    keys = ["blue", "green", "red"]
    r = np.array([np.sum(ref["colour"].to_numpy(zero_copy_only=False) == k) for k in keys], dtype=float)
    c = np.array([np.sum(cur["colour"].to_numpy(zero_copy_only=False) == k) for k in keys], dtype=float)
    assert colour.score == pytest.approx(stats.chisquare(c, r * c.sum() / r.sum()).pvalue, rel=1e-9)

    assert report.feature("flag").method == "z"
    assert report.feature("rating").method == "chisquare"  # numeric with three values


def test_large_reference_uses_wasserstein_and_jensenshannon_equal_to_scipy() -> None:
    rng = np.random.default_rng(2)
    ref, cur = frame(rng, 5000), frame(rng, 4000, shift=2.0, colours=(0.3, 0.3, 0.4))
    report = detect_drift_between(ref, cur)
    amount = report.feature("amount")
    assert amount.method == "wasserstein" and amount.exact
    ra, ca = ref["amount"].to_numpy(), cur["amount"].to_numpy()
    assert amount.score == pytest.approx(stats.wasserstein_distance(ra, ca) / np.std(ra), rel=1e-9)
    colour = report.feature("colour")
    assert colour.method == "jensenshannon"
    keys = ["blue", "green", "red"]
    r = np.array([np.mean(ref["colour"].to_numpy(zero_copy_only=False) == k) for k in keys])
    c = np.array([np.mean(cur["colour"].to_numpy(zero_copy_only=False) == k) for k in keys])
    assert colour.score == pytest.approx(distance.jensenshannon(r, c), rel=1e-9)
    assert colour.drifted == (distance.jensenshannon(r, c) >= 0.1)
    assert report.feature("rating").method == "jensenshannon"


def test_baseline_scores_stay_within_the_documented_bound_of_raw_scores() -> None:
    rng = np.random.default_rng(3)
    ref = frame(rng, 20_000)
    cur = frame(rng, 3_000, shift=1.5)
    baseline = DriftBaseline.from_table(ref, quantile_levels=500)
    raw = detect_drift_between(ref, cur, DriftOptions(method=None))
    stored = detect_drift(baseline, cur)
    w_raw, w_sketch = raw.feature("amount"), stored.feature("amount")
    assert not w_sketch.exact
    assert abs(w_sketch.score - w_raw.score) <= w_sketch.error_bound
    ks_raw = detect_drift_between(ref, cur, DriftOptions(per_column={"amount": "ks"})).feature("amount")
    ks_sketch = detect_drift(baseline, cur, DriftOptions(per_column={"amount": "ks"})).feature("amount")
    assert ks_sketch.statistic is not None and ks_raw.statistic is not None
    assert abs(ks_sketch.statistic - ks_raw.statistic) <= 0.5 / 500 + 1e-12
    # Counts are exact: the categorical and low-cardinality scores are the raw ones.
    for column in ("colour", "flag", "rating"):
        assert stored.feature(column).score == pytest.approx(raw.feature(column).score, rel=1e-12)
        assert stored.feature(column).exact


@settings(max_examples=60, deadline=None)
@given(
    seed=hst.integers(0, 2**32 - 1),
    n_ref=hst.integers(50, 3000),
    n_cur=hst.integers(1, 2000),
    levels=hst.sampled_from([10, 37, 200, 1000]),
    discrete=hst.booleans(),
    shift=hst.floats(-2, 2),
)
def test_sketch_error_bounds_hold_for_any_samples(
    seed: int, n_ref: int, n_cur: int, levels: int, discrete: bool, shift: float
) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.standard_t(3, n_ref)
    cur = rng.standard_t(3, n_cur) + shift
    if discrete:  # ties: repeated values on both sides
        ref, cur = np.round(ref), np.round(cur)
    q = np.quantile(ref, np.linspace(0, 1, levels + 1), method="inverted_cdf")
    d_exact = stats.ks_2samp(ref, cur).statistic
    assert abs(ks_statistic_from_sketch(q, np.sort(cur)) - d_exact) <= 0.5 / levels + 1e-12
    w_exact = stats.wasserstein_distance(ref, cur)
    bound = (ref.max() - ref.min()) / levels
    assert abs(wasserstein_from_sketch(q, np.sort(cur)) - w_exact) <= bound + 1e-9


def test_baseline_round_trips_through_json_without_the_reference() -> None:
    rng = np.random.default_rng(4)
    ref, cur = frame(rng, 3000), frame(rng, 2000, shift=5.0)
    baseline = DriftBaseline.from_table(ref)
    text = baseline.to_json()
    assert len(text) < 200_000  # a sketch, not the data
    restored = DriftBaseline.from_json(text)
    assert detect_drift(restored, cur) == detect_drift(baseline, cur)
    assert json.loads(text)["columns"]["amount"]["values"] is None  # 3,000 rows: no row values kept


def test_dataset_drift_follows_the_share_of_drifted_columns() -> None:
    rng = np.random.default_rng(5)
    ref = frame(rng, 4000)
    shifted = frame(rng, 4000, shift=10.0, colours=(0.1, 0.1, 0.8))  # amount and colour drift: 2 of 4
    report = detect_drift(DriftBaseline.from_table(ref), shifted)
    assert {f.column for f in report.features if f.drifted} == {"amount", "colour"}
    assert report.share_drifted == 0.5 and report.dataset_drift
    stricter = detect_drift(DriftBaseline.from_table(ref), shifted, DriftOptions(drift_share=0.75))
    assert not stricter.dataset_drift
    clean = detect_drift(DriftBaseline.from_table(ref), frame(rng, 4000))
    assert clean.drifted_columns == 0 and not clean.dataset_drift


def test_new_categories_nulls_and_psi() -> None:
    ref = pa.table({"c": ["a"] * 600 + ["b"] * 400, "x": np.linspace(0, 1, 1000)})
    cur = pa.table({"c": ["a"] * 500 + ["b"] * 300 + ["zzz"] * 100 + [None] * 100, "x": [None] * 10 + list(np.linspace(0, 1, 990))})
    report = detect_drift(DriftBaseline.from_table(ref), cur)
    c = report.feature("c")
    assert c.current_nulls == 100 and c.current_rows == 900
    assert c.note is not None and "zzz" in c.note and c.drifted  # a category never seen: chi-square p = 0
    assert report.feature("x").current_nulls == 10
    psi = detect_drift(DriftBaseline.from_table(ref), cur, DriftOptions(method="psi"))
    assert psi.feature("c").method == "psi" and psi.feature("c").drifted
    assert psi.feature("x").score < 0.1 and not psi.feature("x").drifted


def test_thresholds_and_methods_are_configurable() -> None:
    rng = np.random.default_rng(6)
    ref, cur = frame(rng, 4000), frame(rng, 4000, shift=3.0)  # Wasserstein/std ≈ 0.2
    default = detect_drift(DriftBaseline.from_table(ref), cur).feature("amount")
    assert default.drifted
    lenient = detect_drift(DriftBaseline.from_table(ref), cur, DriftOptions(thresholds={"wasserstein": 0.5}))
    assert not lenient.feature("amount").drifted and lenient.feature("amount").threshold == 0.5
    small_cutoff = detect_drift(DriftBaseline.from_table(ref), cur, DriftOptions(small_reference_rows=10_000))
    assert small_cutoff.feature("amount").method == "ks"


def test_errors_are_clear() -> None:
    rng = np.random.default_rng(7)
    baseline = DriftBaseline.from_table(frame(rng, 100))
    with pytest.raises(NotFoundError, match="'amount'"):
        detect_drift(baseline, pa.table({"colour": ["red"]}))
    with pytest.raises(SchemaError, match="numeric in the baseline"):
        detect_drift(baseline, frame(rng, 10).set_column(0, "amount", pa.array(["x"] * 10)))
    with pytest.raises(ValidationError, match="unknown drift method"):
        DriftOptions(method="magic")
    with pytest.raises(ValidationError, match="needs numbers"):
        detect_drift(baseline, frame(rng, 10), DriftOptions(per_column={"colour": "ks"}))
