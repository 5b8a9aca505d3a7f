"""Human review loops: activation rules, reviewers through the same queue, results joined back, overrules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlake import Lake
from mlake.errors import LabelingError
from mlake.labeling.reviews import audit_fraction, pick_for_review


@pytest.fixture
def predictions(lake: Lake) -> Lake:
    lake.create_table(
        "ml.preds",
        pa.table(
            {
                "rid": [f"r{i}" for i in range(60)],
                "pred": ["cat" if i % 2 else "dog" for i in range(60)],
                "conf": [0.3 + 0.7 * (i % 10) / 10 for i in range(60)],
                "region": ["eu" if i < 5 else "us" for i in range(60)],
            }
        ),
    )
    return lake


def test_activate_review_and_overrule_metrics(predictions: Lake) -> None:
    lab = predictions.labeling
    lab.create_review_loop(
        "check",
        "ml.preds",
        "rid",
        "pred",
        "conf",
        threshold={"cat": 0.4},
        where="region = 'eu'",
        audit_percent=5,
        reviewers=2,
        seed=7,
    )
    added = lab.activate("check").to_pylist()
    reasons = {r["item_id"]: r["reason"] for r in added}
    low_cats = {f"r{i}" for i in range(60) if i % 2 and 0.3 + 0.7 * (i % 10) / 10 < 0.4}
    assert {i for i, why in reasons.items() if why == "confidence"} == low_cats
    assert {f"r{i}" for i in range(5)} <= set(reasons)
    audited = {i for i, why in reasons.items() if why == "audit"}
    expected = (
        {f"r{i}" for i in range(60) if audit_fraction(7, f"r{i}") < 0.05} - low_cats - {f"r{i}" for i in range(5)}
    )
    assert audited == expected
    assert lab.activate("check").num_rows == 0  # the same rows are not sent twice
    for who in ("rev1", "rev2"):
        predictions.governance.create_principal(who)
        predictions.governance.grant(who, "select", "labeling.check__items")
        predictions.governance.grant(who, "insert", "labeling.check__answers")
        me = predictions.as_principal(who).labeling
        for item in me.next_items("check", 500):
            me.submit("check", item.item_id, "dog" if item.row["reason"] == "confidence" else item.row["prediction"])
    report = lab.review_results("check")
    assert report.sent == report.reviewed == len(reasons)
    assert report.overruled == len(low_cats) and report.by_class["cat"]["overruled"] == len(low_cats)
    reviewed = predictions.sql("SELECT * FROM labeling.check__reviewed WHERE overruled").to_pylist()
    assert {r["item_id"] for r in reviewed} == low_cats and {r["reviewed_label"] for r in reviewed} == {"dog"}


def test_an_expired_loop_offers_nothing_and_takes_nothing(predictions: Lake) -> None:
    lab = predictions.labeling
    lab.create_review_loop(
        "old", "ml.preds", "rid", "pred", "conf", threshold=0.5, expires=datetime.now(UTC) + timedelta(seconds=-1)
    )
    lab.activate("old")
    assert lab.next_items("old") == []
    with pytest.raises(LabelingError, match="expired"):
        lab.submit("old", "r0", "dog")
    with pytest.raises(LabelingError, match="no column"):
        lab.create_review_loop("bad", "ml.preds", "rid", "pred", "nope")
    with pytest.raises(LabelingError, match="percentage"):
        lab.create_review_loop("bad", "ml.preds", "rid", "pred", "conf", audit_percent=120)


@given(st.integers(0, 10), st.floats(0, 50), st.floats(0, 50))
def test_the_audit_sample_is_deterministic_and_nested(seed: int, low: float, extra: float) -> None:
    rows = [{"item_id": f"x{i}", "prediction": "a", "confidence": 1.0} for i in range(300)]
    small = pick_for_review(rows, 0.0, set(), low, seed)
    large = pick_for_review(rows, 0.0, set(), low + extra, seed)
    assert small == pick_for_review(rows, 0.0, set(), low, seed)
    assert {r["item_id"] for r in small} <= {r["item_id"] for r in large}
    assert all(0 <= audit_fraction(seed, r["item_id"]) < 1 for r in rows[:5])
