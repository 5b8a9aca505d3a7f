"""Every Clarify metric on a 16-row table whose values were worked out by hand (the arithmetic is below).

The table, by facet (sex: F is facet d, M is facet a), department (the CDD strata) and confusion cell:

    facet a (M), 10 rows: dept X: TP 3, FN 1, TN 1      dept Y: TP 2, FP 1, TN 2
    facet d (F),  6 rows: dept X: TP 1, TN 1            dept Y: FN 1, FP 2, TN 1

So na = 10, nd = 6; labels a: 6 positive / 4 negative, d: 2 / 4; predictions a: 6 / 4, d: 3 / 3.
"""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from mlake.bias import Condition, Facet, Outcome, bias_report, bias_reports_for_facets, facets_for_each_value
from mlake.errors import NotFoundError, SchemaError, ValidationError

CELLS = {  # (sex, dept, label, prediction): count
    ("M", "X", 1, 1): 3, ("M", "X", 1, 0): 1, ("M", "X", 0, 0): 1,
    ("M", "Y", 1, 1): 2, ("M", "Y", 0, 1): 1, ("M", "Y", 0, 0): 2,
    ("F", "X", 1, 1): 1, ("F", "X", 0, 0): 1,
    ("F", "Y", 1, 0): 1, ("F", "Y", 0, 1): 2, ("F", "Y", 0, 0): 1,
}  # fmt: skip


def hand_table() -> pa.Table:
    rows = [key for key, count in CELLS.items() for _ in range(count)]
    return pa.table(
        {
            "sex": [r[0] for r in rows],
            "dept": [r[1] for r in rows],
            "approved": [r[2] for r in rows],
            "score": [0.9 if r[3] else 0.1 for r in rows],
        }
    )


def kl(p: tuple[float, float], q: tuple[float, float]) -> float:
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True) if pi > 0)


# Label distributions (negative, positive): Pa = (0.4, 0.6), Pd = (4/6, 2/6).
PA, PD = (0.4, 0.6), (2 / 3, 1 / 3)
MID = (0.5 * (PA[0] + PD[0]), 0.5 * (PA[1] + PD[1]))
GAP = 0.6 - 1 / 3  # |Pa(y) − Pd(y)| for both y

EXPECTED = {
    "CI": (10 - 6) / 16,
    "DPL": 6 / 10 - 2 / 6,
    "KL": 0.4 * math.log(0.4 / (2 / 3)) + 0.6 * math.log(0.6 / (1 / 3)),
    "JS": 0.5 * (kl(PA, MID) + kl(PD, MID)),
    "LP": math.sqrt(2 * GAP**2),
    "TVD": 0.5 * 2 * GAP,
    "KS": GAP,
    # dept X: rejected 2 (d: 1), accepted 5 (d: 1) -> DD = 1/2 − 1/5, 7 rows;
    # dept Y: rejected 6 (d: 3), accepted 3 (d: 1) -> DD = 1/2 − 1/3, 9 rows.
    "CDDL": (7 * (1 / 2 - 1 / 5) + 9 * (1 / 2 - 1 / 3)) / 16,
    "DPPL": 6 / 10 - 3 / 6,
    "DI": (3 / 6) / (6 / 10),
    "DCAcc": 6 / 6 - 2 / 3,  # observed / predicted acceptances: a 6/6, d 2/3
    "DCR": 4 / 3 - 4 / 4,  # observed / predicted rejections: d 4/3, a 4/4
    "DAR": 5 / 6 - 1 / 3,  # precision a: TP 5 / 6 predicted positive; d: 1 / 3
    "DRR": 2 / 3 - 3 / 4,  # TN/(TN+FN): d 2/3, a 3/4
    "RD": 5 / 6 - 1 / 2,  # recall a: 5 of 6 positives; d: 1 of 2
    "AD": 8 / 10 - 3 / 6,
    "TE": 1 / 1 - 2 / 1,  # FPa/FNa − FPd/FNd
    # predicted per dept: X: rejected 3 (d: 1), accepted 4 (d: 1); Y: rejected 4 (d: 2), accepted 5 (d: 2)
    "CDDPL": (7 * (1 / 3 - 1 / 4) + 9 * (2 / 4 - 2 / 5)) / 16,
    # benefits: 2 false negatives (0), 11 correct (1), 3 false positives (2); mean 17/16
    "GE": ((11 * 1 + 3 * 4) / (17 / 16) ** 2 - 16) / (2 * 16),
}


def full_report(**options: object):
    return bias_report(
        hand_table(),
        Facet.of("sex", values=["F"]),
        Outcome.of("approved", positive_values=[1]),
        predicted_label=Outcome.of("score", threshold=0.5),
        group="dept",
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_metric_equals_the_hand_computed_value(code: str) -> None:
    report = full_report(resamples=0)
    assert report.metric(code).value == pytest.approx(EXPECTED[code], abs=1e-12)


def test_group_sizes_and_what_was_not_computed() -> None:
    report = full_report(resamples=0)
    a, d = report.groups
    assert (a.rows, a.label_positive, a.label_negative, a.predicted_positive, a.predicted_negative) == (10, 6, 4, 6, 4)
    assert (d.rows, d.label_positive, d.label_negative, d.predicted_positive, d.predicted_negative) == (6, 2, 4, 3, 3)
    assert [n.code for n in report.not_computed] == ["FT"]
    assert "fliptest_features" in report.not_computed[0].reason
    assert report.rows == 16 and report.rows_excluded == 0


def test_the_facet_is_too_small_warning_names_the_group() -> None:
    report = full_report(resamples=0)
    small = [w for w in report.warnings if w.code == "small_group"]
    assert len(small) == 2 and "facet d (the facet) has only 6 rows" in small[1].message


def test_bootstrap_interval_contains_the_estimate_and_is_reproducible() -> None:
    big = pa.concat_tables([hand_table()] * 50)  # 800 rows, same proportions
    options = {"predicted_label": Outcome.of("score", threshold=0.5), "group": "dept", "resamples": 500, "seed": 7}
    one = bias_report(big, Facet.of("sex", values=["F"]), Outcome.of("approved", positive_values=[1]), **options)  # type: ignore[arg-type]
    two = bias_report(big, Facet.of("sex", values=["F"]), Outcome.of("approved", positive_values=[1]), **options)  # type: ignore[arg-type]
    for m in one.metrics:
        assert m.ci is not None and m.ci.low is not None and m.ci.high is not None
        assert m.ci.low <= m.value <= m.ci.high, m.code
        assert m.value == pytest.approx(EXPECTED[m.code], abs=1e-12)
    assert one.to_dict() == two.to_dict()
    assert not [w for w in one.warnings if w.code == "small_group"]


def test_pre_training_only_without_predictions() -> None:
    report = bias_report(hand_table(), Facet.of("sex", values=["F"]), Outcome.of("approved", positive_values=[1]))
    assert [m.code for m in report.metrics] == ["CI", "DPL", "KL", "JS", "LP", "TVD", "KS"]
    assert {n.code for n in report.not_computed} >= {"CDDL", "DPPL", "GE", "FT"}


def test_threshold_facet_and_intersection() -> None:
    table = hand_table().append_column("age", pa.array([20 + 3 * i for i in range(16)]))
    older = bias_report(table, Facet.of("age", threshold=40), Outcome.of("approved", positive_values=[1]), resamples=0)
    assert older.groups[1].rows == sum(1 for i in range(16) if 20 + 3 * i > 40)
    both = Facet.all_of(Condition("sex", ("F",)), Condition("age", threshold=40))
    report = bias_report(table, both, Outcome.of("approved", positive_values=[1]), resamples=0)
    assert report.facet == "sex in {F} and age > 40"
    assert report.groups[1].rows == sum(1 for i in range(16) if i >= 10 and 20 + 3 * i > 40)


def test_nulls_are_left_out_and_counted() -> None:
    table = hand_table()
    sex = table.column("sex").to_pylist()
    sex[0] = None
    table = table.set_column(0, "sex", pa.array(sex))
    report = bias_report(table, Facet.of("sex", values=["F"]), Outcome.of("approved", positive_values=[1]))
    assert report.rows == 15 and report.rows_excluded == 1
    assert any(w.code == "rows_excluded" for w in report.warnings)


def test_fliptest_follows_the_documented_sign() -> None:
    # facet a: x = 0..9, predicted positive for x >= 4; facet d rows and their 5 nearest a-neighbours' vote:
    #   x=0.2 predicted 1, neighbours 0 -> F-;  x=9.1 predicted 0, neighbours 1 -> F+;  x=8.5 predicted 0 -> F+
    #   x=0.5 predicted 0 -> none;               x=9.5 predicted 1 -> none;               x=7.0 predicted 1 -> none
    xs = [float(i) for i in range(10)] + [0.2, 9.1, 8.5, 0.5, 9.5, 7.0]
    preds = [int(i >= 4) for i in range(10)] + [1, 0, 0, 0, 1, 1]
    table = pa.table({"g": ["a"] * 10 + ["d"] * 6, "x": xs, "y": [1, 0] * 8, "p": preds})
    report = bias_report(
        table,
        Facet.of("g", values=["d"]),
        Outcome.of("y", positive_values=[1]),
        predicted_label=Outcome.of("p", positive_values=[1]),
        fliptest_features=["x"],
        metrics=["FT"],
        resamples=0,
    )
    assert report.metric("FT").value == pytest.approx((2 - 1) / 6)


def test_undefined_metric_is_marked_not_hidden() -> None:
    # No false negatives in facet a -> FPa/FNa is infinite and TE with it.
    table = pa.table({"g": ["a", "a", "d", "d"], "y": [1, 0, 1, 0], "p": [1, 1, 0, 1]})
    report = bias_report(
        table,
        Facet.of("g", values=["d"]),
        Outcome.of("y", positive_values=[1]),
        predicted_label=Outcome.of("p", positive_values=[1]),
        metrics=["TE"],
        resamples=20,
    )
    te = report.metric("TE")
    assert not te.defined and te.note is not None and "undefined" in te.note
    assert report.to_dict()["metrics"][0]["value"] == "inf"


def test_errors_say_what_and_what_to_do() -> None:
    table = hand_table()
    label = Outcome.of("approved", positive_values=[1])
    with pytest.raises(NotFoundError, match="facet column 'gender'"):
        bias_report(table, Facet.of("gender", values=["F"]), label)
    with pytest.raises(ValidationError, match="no usable rows"):
        bias_report(table, Facet.of("sex", values=["X"]), label)
    with pytest.raises(SchemaError, match="threshold"):
        bias_report(table, Facet.of("sex", threshold=1), label)
    with pytest.raises(ValidationError, match="DPPL needs predicted_label"):
        bias_report(table, Facet.of("sex", values=["F"]), label, metrics=["DPPL"])
    with pytest.raises(ValidationError, match="unknown bias metric"):
        bias_report(table, Facet.of("sex", values=["F"]), label, metrics=["XYZ"])
    with pytest.raises(ValidationError, match="exactly one"):
        Facet.of("sex")


@settings(max_examples=60, deadline=None)
@given(
    cells=hst.lists(hst.tuples(hst.sampled_from("ad"), hst.integers(0, 1), hst.integers(0, 1)), min_size=4,
                    max_size=80),
)  # fmt: skip
def test_swapping_the_facets_mirrors_every_metric(cells: list[tuple[str, int, int]]) -> None:
    """Facet d and facet a exchanged: differences change sign, DI inverts, distances and GE stay."""
    groups = {g for g, _, _ in cells}
    if groups != {"a", "d"}:
        return
    table = pa.table({"g": [c[0] for c in cells], "y": [c[1] for c in cells], "p": [c[2] for c in cells]})
    options = {"predicted_label": Outcome.of("p", positive_values=[1]), "resamples": 0}
    label = Outcome.of("y", positive_values=[1])
    one = bias_report(table, Facet.of("g", values=["d"]), label, **options).values()  # type: ignore[arg-type]
    two = bias_report(table, Facet.of("g", values=["a"]), label, **options).values()  # type: ignore[arg-type]

    def same(x: float, y: float) -> bool:
        return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-12)

    for code in ("CI", "DPL", "DPPL", "DCAcc", "DCR", "DAR", "DRR", "RD", "AD", "TE"):
        assert same(one[code], -two[code]), code
    for code in ("LP", "TVD", "KS", "JS", "GE"):
        assert same(one[code], two[code]), code
    if math.isfinite(one["DI"]) and one["DI"] != 0:
        assert same(one["DI"], 1 / two["DI"])


def test_one_report_per_facet_value() -> None:
    table = hand_table()
    facets = facets_for_each_value(table, "dept")
    assert [f.label for f in facets] == ["dept in {X}", "dept in {Y}"]
    reports = bias_reports_for_facets(table, facets, Outcome.of("approved", positive_values=[1]), resamples=0)
    assert [r.groups[1].rows for r in reports] == [7, 9]
    assert reports[0].metric("CI").value == pytest.approx(-reports[1].metric("CI").value)
