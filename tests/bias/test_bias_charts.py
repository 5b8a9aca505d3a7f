"""The numbers behind the bias pictures: positive rates per facet against pandas, Wilson intervals against
scipy, acceptable bands, and one chart row per metric and per facet/outcome."""

from __future__ import annotations

import pytest
from scipy import stats

from mlake.bias import Facet, Outcome
from mlake.bias.charts import (
    acceptable_band,
    attribution_chart,
    facet_chart,
    facet_intervals,
    metric_chart,
    metric_intervals,
    outcome_rates,
    wilson,
)
from mlake.bias.html import report_html
from mlake.bias.report import bias_report
from tests.charts_world import applicants


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return bias_report(
        applicants(),
        Facet.of("sex", values=["Female"]),
        Outcome.of("hired", positive_values=[1]),
        predicted_label=Outcome.of("score", threshold=0.5),
        resamples=50,
    )


def test_rates_per_facet_equal_pandas(report) -> None:  # type: ignore[no-untyped-def]
    df = applicants().to_pandas()
    df["facet"] = df["sex"].map({"Female": "d", "Male": "a"})
    df["predicted"] = (df["score"] > 0.5).astype(int)
    expected = df.groupby("facet").agg(rows=("hired", "size"), label=("hired", "mean"), predicted=("predicted", "mean"))
    rates = {(r.facet, r.outcome): r for r in outcome_rates(report)}
    assert len(rates) == 4
    for facet in ("a", "d"):
        assert rates[(facet, "label")].rows == expected.loc[facet, "rows"]
        assert rates[(facet, "label")].rate == pytest.approx(expected.loc[facet, "label"], abs=1e-12)
        assert rates[(facet, "predicted")].rate == pytest.approx(expected.loc[facet, "predicted"], abs=1e-12)
    # DI is facet d's positive-prediction rate over facet a's: the facet chart's band is drawn around it
    di = rates[("d", "predicted")].rate / rates[("a", "predicted")].rate  # type: ignore[operator]
    assert report.metric("DI").value == pytest.approx(di)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (117, 400), (1, 2)])
def test_wilson_interval_equals_scipy(k: int, n: int) -> None:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(k, n)  # type: ignore[misc]
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert wilson(0, 0) is None


def test_acceptable_bands() -> None:
    assert acceptable_band("DI", 1.0) == (0.8, 1.25)  # the four-fifths rule
    assert acceptable_band("DPPL", 0.0) == (-0.1, 0.1)
    assert acceptable_band("KL", 0.0, tolerance=0.05) == (0.0, 0.05)


def test_one_chart_row_per_metric_and_per_facet_outcome(report) -> None:  # type: ignore[no-untyped-def]
    rows = metric_intervals(report)
    assert [r.label for r in rows] == [m.code for m in report.metrics]
    svg = metric_chart(report)
    assert svg.count('<g class="interval') == len(report.metrics)
    outside = [r for r in rows if r.outside]
    assert svg.count('class="interval outside"') == len(outside)
    bands = {m.code: acceptable_band(m.code, m.ideal) for m in report.metrics}
    assert {r.label for r in outside} == {
        m.code for m in report.metrics if not bands[m.code][0] <= m.value <= bands[m.code][1]
    }
    facets = facet_intervals(report)
    assert [r.label for r in facets] == ["a · label", "d · label", "a · predicted", "d · predicted"]
    assert facets[0].band is None and facets[1].band is not None
    assert facet_chart(report).count('<g class="interval') == 4
    page = report_html(report)
    assert "b-facet-chart" in page and "b-metric-chart" in page and "<script" not in page


def test_attribution_bars_are_sorted_and_titled() -> None:
    svg = attribution_chart({"age": 0.1, "amount": 0.3, "<b>": 0.01}, baseline={"age": 0.3, "amount": 0.1})
    assert svg.count('class="bar"') == 3
    assert svg.index("amount: mean |SHAP| 0.3, rank 1; baseline 0.1, rank 2") < svg.index("age: mean")
    assert "&lt;b&gt;" in svg and "<b>" not in svg
