"""Weighted median consolidation: against numpy's weighted quantile, by hand, and by its invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlake.errors import AnswerOutsideSchemaError, DuplicateAnswerError
from mlake.labeling import weighted_median
from mlake.labeling.continuous import grouped_weighted_median


def test_grouped_weighted_median_equals_numpy_inverted_cdf_quantile() -> None:
    rng = np.random.default_rng(0)
    n_groups = 200
    group = rng.integers(0, n_groups, 3000)
    group[:n_groups] = np.arange(n_groups)  # every group non-empty
    values = rng.normal(size=group.size).round(2)  # rounding makes repeated values, exercising ties
    weights = rng.uniform(0.1, 2.0, group.size)
    ours = grouped_weighted_median(group, values, weights, n_groups)
    for g in range(n_groups):
        ref = np.quantile(values[group == g], 0.5, weights=weights[group == g], method="inverted_cdf")
        assert ours[g] == pytest.approx(ref, abs=0)


def test_hand_computed_weighted_median_confidence_and_spread() -> None:
    answers = pd.DataFrame(
        {"item": ["a", "a", "a", "b", "b"], "annotator": ["x", "y", "z", "x", "y"], "label": [1.0, 2.0, 100.0, 4.0, 6.0]}
    )
    plain = weighted_median(answers, tolerance=1.0)
    # a: 1, 2, 100 → median 2; within 1 of 2: answers 1 and 2 → 2/3; deviations 1, 0, 98 → median 1.
    # b: 4, 6 with equal weight: the lower median 4 (half the weight is reached at 4).
    assert plain.value.tolist() == [2.0, 4.0]
    np.testing.assert_allclose(plain.confidence, [2 / 3, 0.5])
    assert plain.spread.tolist() == [1.0, 0.0]
    # z is trusted 3 times more than x and y together: the median moves to z's answer.
    trusting_z = weighted_median(answers, weights={"x": 0.5, "y": 0.5, "z": 3.0})
    assert trusting_z.value.tolist() == [100.0, 4.0]
    assert trusting_z.confidence[0] == pytest.approx(0.75)
    assert trusting_z.to_arrow().column_names == ["item", "value", "confidence", "spread", "answers"]


def test_numeric_answers_outside_bounds_or_repeated_are_refused() -> None:
    answers = pd.DataFrame({"item": [1, 1, 2], "annotator": ["x", "y", "x"], "label": [3.0, 7.0, 5.0]})
    with pytest.raises(AnswerOutsideSchemaError, match=r"within \[1, 5\].*label=7.0"):
        weighted_median(answers, bounds=(1, 5))
    with pytest.raises(DuplicateAnswerError, match="row 3"):
        weighted_median(pd.concat([answers, answers.iloc[[2]]], ignore_index=True))


values_st = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(value=values_st, n=st.integers(1, 9), weights=st.lists(st.floats(0.01, 10), min_size=9, max_size=9))
def test_identical_answers_consolidate_to_that_answer(value: float, n: int, weights: list[float]) -> None:
    answers = pd.DataFrame({"item": 0, "annotator": range(n), "label": value})
    result = weighted_median(answers, weights=dict(enumerate(weights)))
    assert result.value.tolist() == [value]
    assert result.confidence.tolist() == [1.0] and result.spread.tolist() == [0.0]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 9), st.integers(1, 5)), min_size=1, max_size=9),
    shift=st.integers(-100, 100),
)
def test_median_is_an_answer_between_min_and_max_and_moves_with_a_shift(
    rows: list[tuple[int, int]], shift: int
) -> None:
    # Integer values and weights keep the arithmetic exact, so the brute-force definition applies directly.
    values = [float(v) for v, _ in rows]
    weights = {i: float(w) for i, (_, w) in enumerate(rows)}
    answers = pd.DataFrame({"item": 0, "annotator": range(len(rows)), "label": values})
    result = weighted_median(answers, weights=weights).value[0]
    total = sum(weights.values())
    brute = min(v for v in values if sum(weights[i] for i, u in enumerate(values) if u <= v) >= total / 2)
    assert result == brute and min(values) <= result <= max(values)
    shifted = weighted_median(answers.assign(label=answers.label + shift), weights=weights).value[0]
    assert shifted == result + shift
