"""Bounding-box consolidation: IoU by hand, clustering by hand, and invariants under hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlake.errors import AnswerOutsideSchemaError, BoxOutsideImageError, DuplicateAnswerError, LabelingError
from mlake.labeling import BoxColumns, consolidate_boxes, iou, validate_boxes


def boxes_frame(rows: list[tuple[object, object, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "annotator", "x_min", "y_min", "x_max", "y_max"])


def test_iou_by_hand() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0], [2.0, 2.0, 4.0, 4.0]])
    # overlap 50 / union 150; disjoint; identical; contained: 4 / 100.
    np.testing.assert_allclose(iou(a, b), [[1 / 3, 0.0, 1.0, 0.04]])


def test_three_annotators_one_object_and_one_stray_box() -> None:
    answers = boxes_frame(
        [
            ("img", "a", 0, 0, 10, 10),
            ("img", "b", 1, 0, 11, 10),
            ("img", "c", 0, 1, 10, 11),
            ("img", "c", 50, 50, 60, 60),  # only c saw this: support 1/3 < 0.5, dropped
        ]
    )
    result = consolidate_boxes(answers)
    assert result.boxes.tolist() == [[0.0, 0.0, 10.0, 10.0]]  # coordinate-wise medians (lower median per coordinate)
    assert result.support.tolist() == [1.0] and result.members.tolist() == [3]
    # IoUs with the consolidated box: a 1, b 90/110, c 90/110.
    expected_agreement = (1 + 2 * 90 / 110) / 3
    assert result.agreement[0] == pytest.approx(expected_agreement)
    assert result.confidence[0] == pytest.approx(expected_agreement)
    kept_all = consolidate_boxes(answers, min_support=0.0)
    assert len(kept_all.items) == 2 and sorted(kept_all.support.tolist()) == pytest.approx([1 / 3, 1.0])


def test_one_annotator_never_merges_two_of_their_own_boxes_and_empty_answers_count() -> None:
    answers = boxes_frame(
        [
            ("img", "a", 0, 0, 10, 10),
            ("img", "a", 2, 0, 12, 10),  # a second object right next to the first, by the same annotator
            ("img", "b", 0, 0, 10, 10),
            ("img", "c", None, None, None, None),  # c looked and found nothing
        ]
    )
    result = consolidate_boxes(answers, min_support=0.0)
    assert sorted(result.members.tolist()) == [1, 2]
    np.testing.assert_allclose(sorted(result.support), [1 / 3, 2 / 3])


def test_annotator_weights_decide_the_median_and_the_support() -> None:
    answers = boxes_frame(
        [
            ("img", "expert", 0, 0, 10, 10),
            ("img", "novice1", 1, 1, 11, 11),  # IoU with the expert's box 81/119
            ("img", "novice2", 2, 0, 12, 10),  # IoU 80/120
            ("img", "novice2", 80, 80, 90, 90),
        ]
    )
    # The expert outweighs both novices: every coordinate's weighted median is the expert's.
    weights = {"expert": 3.0, "novice1": 1.0, "novice2": 1.0}
    result = consolidate_boxes(answers, weights=weights, min_support=0.0)
    main = int(np.argmax(result.support))
    assert result.boxes[main].tolist() == [0.0, 0.0, 10.0, 10.0]
    assert result.support[main] == pytest.approx(1.0)
    assert sorted(result.support.tolist()) == pytest.approx([0.2, 1.0])  # novice2's stray box: 1 of 5
    # A weightless annotator's box is kept with zero support when asked for, never crashes the median.
    silent = consolidate_boxes(answers, weights={**weights, "novice2": 0.0}, min_support=0.0)
    assert sorted(silent.support.tolist()) == pytest.approx([0.0, 1.0])
    assert consolidate_boxes(answers, weights={**weights, "novice2": 0.0}).members.tolist() == [3]


def test_classes_are_clustered_separately_and_schema_is_checked() -> None:
    answers = boxes_frame([("img", "a", 0, 0, 10, 10), ("img", "b", 0, 0, 10, 10)]).assign(kind=["cat", "dog"])
    cols = BoxColumns(label="kind")
    result = consolidate_boxes(answers, columns=cols, min_support=0.0)
    assert sorted(result.labels.tolist()) == ["cat", "dog"] and result.support.tolist() == [0.5, 0.5]
    with pytest.raises(AnswerOutsideSchemaError, match="kind='dog'"):
        consolidate_boxes(answers, columns=cols, classes=["cat"])
    with pytest.raises(AnswerOutsideSchemaError, match="have no kind"):
        consolidate_boxes(answers.assign(kind=["cat", None]), columns=cols)


def test_bad_boxes_raise_clear_errors() -> None:
    inside = boxes_frame([("img", "a", 0, 0, 10, 10)])
    sizes = {"img": (100.0, 50.0)}
    assert len(validate_boxes(inside, image_sizes=sizes)) == 1
    with pytest.raises(BoxOutsideImageError, match=r"row 1 \(item='img', annotator='b', x_min=90, y_min=0, x_max=101") as err:
        consolidate_boxes(boxes_frame([("img", "a", 0, 0, 10, 10), ("img", "b", 90, 0, 101, 10)]), image_sizes=sizes)
    assert err.value.code == "box_outside_image" and "clip boxes" in str(err.value)
    with pytest.raises(AnswerOutsideSchemaError, match="malformed"):
        consolidate_boxes(boxes_frame([("img", "a", 10, 0, 0, 10)]))
    with pytest.raises(DuplicateAnswerError, match="row 1"):
        consolidate_boxes(boxes_frame([("img", "a", 0, 0, 10, 10), ("img", "a", 0, 0, 10, 10)]))
    with pytest.raises(LabelingError, match="no image size"):
        consolidate_boxes(inside, image_sizes={"other": (1.0, 1.0)})


coordinate = st.integers(0, 200)


@st.composite
def box_sets(draw: st.DrawFn) -> list[tuple[float, float, float, float]]:
    """Up to four boxes on a 1000-pixel-wide strip, far apart so that distinct objects never overlap."""
    n = draw(st.integers(1, 4))
    out = []
    for k in range(n):
        x, y = draw(coordinate), draw(coordinate)
        w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
        out.append((float(x + 250 * k), float(y), float(x + 250 * k + w), float(y + h)))
    return out


@settings(max_examples=30, deadline=None)
@given(boxes=box_sets(), n_annotators=st.integers(1, 9), shift=st.integers(-50, 50))
def test_identical_answers_return_those_boxes_and_shift_with_the_image(
    boxes: list[tuple[float, float, float, float]], n_annotators: int, shift: int
) -> None:
    rows = [("img", f"ann{a}", *box) for a in range(n_annotators) for box in boxes]
    answers = boxes_frame(rows)
    result = consolidate_boxes(answers)
    assert sorted(map(tuple, result.boxes.tolist())) == sorted(boxes)
    np.testing.assert_allclose(result.confidence, 1.0)
    assert (result.members == n_annotators).all()
    moved = consolidate_boxes(answers.assign(x_min=answers.x_min + shift, x_max=answers.x_max + shift))
    assert sorted(map(tuple, moved.boxes.tolist())) == sorted((x0 + shift, y0, x1 + shift, y1) for x0, y0, x1, y1 in boxes)


@settings(max_examples=25, deadline=None)
@given(
    boxes=st.lists(st.tuples(coordinate, coordinate, st.integers(1, 60), st.integers(1, 60)), min_size=1, max_size=9)
)
def test_consolidated_boxes_lie_within_their_members_and_ignore_row_order(boxes: list[tuple[int, int, int, int]]) -> None:
    answers = boxes_frame([("img", f"a{i}", x, y, x + w, y + h) for i, (x, y, w, h) in enumerate(boxes)])
    result = consolidate_boxes(answers, min_support=0.0)
    lo = answers[["x_min", "y_min", "x_max", "y_max"]].min().to_numpy()
    hi = answers[["x_min", "y_min", "x_max", "y_max"]].max().to_numpy()
    assert ((result.boxes >= lo) & (result.boxes <= hi)).all()
    assert (result.confidence <= result.support + 1e-12).all() and (result.confidence > 0).all()
    shuffled = consolidate_boxes(answers.iloc[::-1].reset_index(drop=True), min_support=0.0)
    assert sorted(map(tuple, shuffled.boxes.tolist())) == sorted(map(tuple, result.boxes.tolist()))
