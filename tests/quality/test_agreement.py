"""Agreement statistics against known values and against the krippendorff package."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlake.quality.agreement import agreement, cronbach_alpha, fleiss_kappa, krippendorff_alpha, majority_vote

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units, missing values.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def triples(matrix: list[list[float | None]]) -> list[tuple[int, int, float | None]]:
    return [(unit, rater, v) for rater, row in enumerate(matrix) for unit, v in enumerate(row)]


def test_krippendorff_textbook_values():
    data = triples(TEXTBOOK)
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(data, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(data, "ratio") == pytest.approx(0.797, abs=5e-4)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=6, max_size=6),
        min_size=2,
        max_size=5,
    )
)
def test_krippendorff_nominal_matches_the_package(matrix):
    pairable = sum(sum(row[u] is not None for row in matrix) >= 2 for u in range(6))
    values = {v for row in matrix for v in row if v is not None}
    if pairable == 0 or len(values) < 2:
        return
    reliability = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
    try:
        expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    except ValueError:
        return  # the package refuses data where only one value is pairable
    ours = krippendorff_alpha(triples(matrix), "nominal")
    if math.isnan(expected):
        return
    assert ours == pytest.approx(expected, abs=1e-9)


def test_fleiss_kappa_wikipedia_example():
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    data = []
    for item, row in enumerate(counts):
        rater = 0
        for category, n in enumerate(row):
            for _ in range(n):
                data.append((item, rater, category))
                rater += 1
    kappa, used, left = fleiss_kappa(data)
    assert kappa == pytest.approx(0.210, abs=5e-4) and used == 10 and left == 0


def test_cronbach_alpha_against_the_formula():
    rng = np.random.default_rng(0)
    true = rng.normal(size=50)
    scores = np.column_stack([true + rng.normal(scale=0.5, size=50) for _ in range(4)])
    k = scores.shape[1]
    expected = k / (k - 1) * (1 - scores.var(axis=0, ddof=1).sum() / scores.sum(axis=1).var(ddof=1))
    assert cronbach_alpha(scores.tolist()) == pytest.approx(expected)
    assert cronbach_alpha([[1, 2], [2, 3], [3, 4]]) == pytest.approx(1.0)


def test_majority_vote_with_ties_and_per_item_agreement():
    data = [
        ("a", 1, "cat"),
        ("a", 2, "cat"),
        ("a", 3, "dog"),
        ("b", 1, "dog"),
        ("b", 2, "bird"),
        ("c", 1, "cat"),
        ("c", 2, "cat"),
        ("c", 3, None),
    ]
    out = {c.item: c for c in majority_vote(data)}
    assert out["a"].label == "cat" and out["a"].agreement == pytest.approx(2 / 3) and not out["a"].tie
    assert out["b"].tie and out["b"].label == "dog"  # dog is more frequent overall than bird
    assert out["c"].agreement == 1.0 and out["c"].raters == 2


def test_agreement_report_from_a_lake_table(lake):
    rows = [(u, r, v) for u, r, v in triples(TEXTBOOK) if v is not None]
    lake.create_table(
        "l.labels",
        pa.table(
            {"item": [r[0] for r in rows], "annotator": [f"a{r[1]}" for r in rows], "label": [r[2] for r in rows]}
        ),
    )
    report = lake.quality.agreement("l.labels")
    assert report.krippendorff_alpha == pytest.approx(0.743, abs=5e-4)
    assert report.items == 12 and report.annotators == 4
    assert report.cronbach_alpha is not None
    assert any("Fleiss" in n for n in report.notes)  # items with fewer raters are left out
    assert report.to_dict()["consensus"][0]["item"] == 0
    text = lake.quality.agreement([(1, "x", "pos"), (1, "y", "pos"), (2, "x", "neg"), (2, "y", "pos")])
    assert text.cronbach_alpha is None and "numeric ratings only" in text.notes[-1]
    assert len(text.low_agreement()) == 1
    frame = lake.quality.agreement(
        pa.table({"i": [1, 1], "r": ["a", "b"], "l": ["x", "x"]}), item="i", rater="r", label="l"
    )
    assert frame.mean_item_agreement == 1.0


def test_agreement_bad_input():
    from mlake.errors import ValidationError

    with pytest.raises(ValidationError):
        agreement([])
    with pytest.raises(ValidationError, match="numeric labels"):
        krippendorff_alpha([(1, 1, "a"), (1, 2, "b")], "interval")


def test_a_repeated_item_annotator_rating_counts_once_the_last_one(lake):
    # 3 annotators, 4 items; annotator a rates item 1 twice: first "x" (agreeing with b), then "y"
    clean = [(1, "a", "y"), (1, "b", "x"), (2, "a", "x"), (2, "b", "x"), (3, "a", "y"), (3, "b", "x"),
             (4, "a", "y"), (4, "b", "y")]
    repeated = [(1, "a", "x"), *clean]
    report = agreement(repeated)
    reference = agreement(clean)
    matrix = np.array([[{"x": 0, "y": 1}[lab] for (i, r, lab) in clean if r == who] for who in ("a", "b")], float)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert report.krippendorff_alpha == pytest.approx(expected, abs=1e-12) == reference.krippendorff_alpha
    assert report.fleiss_kappa == reference.fleiss_kappa and report.fleiss_left_out == 0
    assert report.ratings == 8 and any("1 repeated (item, annotator)" in n for n in report.notes)
    assert [c.label for c in report.consensus] == [c.label for c in reference.consensus]
    # from a table: the row written last wins
    lake.create_table("l.votes", pa.table({"item": [r[0] for r in repeated], "annotator": [r[1] for r in repeated],
                                           "label": [r[2] for r in repeated]}))
    assert lake.quality.agreement("l.votes").krippendorff_alpha == pytest.approx(expected, abs=1e-12)
