"""The demo lake's sensitive attribute (customers.gender) gets a bias report through a lake query."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mlake
from mlake.bias import Condition, Facet, Outcome, bias_report, bias_reports_for_facets, facets_for_each_value
from mlake.demo import build_demo

pytestmark = pytest.mark.slow  # builds the demo lake


def test_demo_gender_gets_a_report_per_value(tmp_path: Path) -> None:
    lake = mlake.connect(tmp_path / "lake")
    build_demo(lake, customers=1500)
    rows = lake.sql(
        "select c.gender, c.age, l.churned from shop.customers c join shop.churn_labels l using (customer_id)"
    ).to_arrow()
    stayed = Outcome.of("churned", positive_values=[False])  # staying is the favourable outcome
    reports = {r.facet: r for r in bias_reports_for_facets(rows, facets_for_each_value(rows, "gender"), stayed)}
    assert set(reports) == {"gender in {female}", "gender in {male}", "gender in {nonbinary}"}

    gender = np.asarray(rows["gender"].to_pylist())
    stays = ~np.asarray(rows["churned"].to_pylist())
    for value in ("female", "male", "nonbinary"):
        dpl = reports[f"gender in {{{value}}}"].metric("DPL")
        assert dpl.value == pytest.approx(stays[gender != value].mean() - stays[gender == value].mean())
        assert dpl.ci is not None and dpl.ci.low is not None and dpl.ci.high is not None
        assert dpl.ci.low <= dpl.value <= dpl.ci.high

    # Nonbinary customers are 2% of the demo: a small group, whose interval is several times wider.
    nonbinary, men = reports["gender in {nonbinary}"], reports["gender in {male}"]
    assert nonbinary.groups[1].rows < 60
    nb_ci, men_ci = nonbinary.metric("DPL").ci, men.metric("DPL").ci
    assert nb_ci is not None and men_ci is not None
    assert (nb_ci.high - nb_ci.low) > 3 * (men_ci.high - men_ci.low)  # type: ignore[operator]

    older_men = Facet.all_of(Condition("gender", ("male",)), Condition("age", threshold=50))
    expected = int(np.sum((gender == "male") & (np.asarray(rows["age"].to_pylist()) > 50)))
    assert bias_report(rows, older_men, stayed, resamples=0).groups[1].rows == expected
