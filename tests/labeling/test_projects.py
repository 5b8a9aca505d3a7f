"""Labeling projects on a real lake: queue, validated answers in a lake table, consolidation, progress,
auto-labeling rounds, and annotators as governed principals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from mlake import Lake
from mlake.errors import (
    AnswerOutsideSchemaError,
    BoxOutsideImageError,
    DuplicateAnswerError,
    LabelingError,
    PermissionDeniedError,
)


@pytest.fixture
def pets(lake: Lake) -> Lake:
    lake.create_table(
        "raw.pets",
        pa.table({"pet_id": [f"p{i}" for i in range(6)], "text": ["meow", "woof", "meow", "woof", "hiss", "woof"]}),
    )
    return lake


def test_queue_submit_consolidate_progress(pets: Lake) -> None:
    lab = pets.labeling
    lab.create_project("pets", "raw.pets", "pet_id", labels=["cat", "dog"], annotators_per_item=3, gold={"p0": "cat"})
    queue = lab.next_items("pets", 10)
    assert {q.item_id for q in queue} == {f"p{i}" for i in range(6)}
    assert [q.item_id for q in queue if q.gold] == ["p0"]
    truth = {"p0": "cat", "p1": "dog", "p2": "cat", "p3": "dog", "p4": "cat", "p5": "dog"}
    for who in ("ann", "bob", "cy"):
        pets.governance.create_principal(who)
        pets.governance.grant(who, "select", "raw.pets")
        pets.governance.grant(who, "insert", "labeling.pets__answers")
        me = pets.as_principal(who).labeling
        for item in me.next_items("pets", 10):
            wrong = who == "cy" and item.item_id in ("p4", "p0")
            answer = ("dog" if truth[item.item_id] == "cat" else "cat") if wrong else truth[item.item_id]
            me.submit("pets", item.item_id, answer, seconds=2.0)
        assert me.next_items("pets", 10) == []  # answered everything
    answers = lab.answers("pets")
    assert answers.num_rows == 18
    # every item has its 3 answers; only the gold item (which checks each annotator) is still shown to a new one
    assert [q.item_id for q in lab.next_items("pets", 10)] == ["p0"]
    result = lab.consolidate("pets", method="majority_vote")
    labels = {r["item_id"]: json.loads(r["label"]) for r in result.labels.to_pylist()}
    assert labels == truth
    stored = pets.sql("SELECT * FROM labeling.pets__labels ORDER BY item_id").to_pylist()
    assert [r["method"] for r in stored] == ["majority_vote"] * 6
    people = {r["annotator"]: r for r in pets.sql("SELECT * FROM labeling.pets__annotators").to_pylist()}
    assert people["cy"]["gold_accuracy"] == 0.0 and people["ann"]["gold_accuracy"] == 1.0
    assert people["cy"]["reliability"] == pytest.approx(4 / 6)
    progress = lab.progress("pets")
    assert (progress.items, progress.items_done, progress.answers) == (6, 6, 18)
    assert progress.agreement is not None and progress.agreement["krippendorff_alpha"] < 1
    assert {p["annotator"]: p["median_seconds"] for p in progress.annotators} == dict.fromkeys(
        ["ann", "bob", "cy"], 2.0
    )
    assert lab.consolidate("pets").method == "dawid_skene"


def test_bad_answers_are_refused_and_nothing_is_lost(pets: Lake) -> None:
    lab = pets.labeling
    lab.create_project("pets", "raw.pets", "pet_id", labels=["cat", "dog"])
    lab.submit("pets", "p1", "dog")
    with pytest.raises(AnswerOutsideSchemaError, match="outside the schema"):
        lab.submit("pets", "p2", "horse")
    with pytest.raises(DuplicateAnswerError):
        lab.submit("pets", "p1", "cat")
    with pytest.raises(LabelingError, match="not among the items"):
        lab.submit("pets", "nope", "cat")
    with pytest.raises(LabelingError, match="no column"):
        lab.create_project("other", "raw.pets", "missing", labels=["a"])
    with pytest.raises(LabelingError, match="1 to 9"):
        lab.create_project("other", "raw.pets", "pet_id", labels=["a"], annotators_per_item=10)
    with pytest.raises(LabelingError, match="exists already"):
        lab.create_project("pets", "raw.pets", "pet_id", labels=["a"])
    rows = lab.answers("pets").to_pylist()
    assert [(r["item_id"], json.loads(r["answer"])) for r in rows] == [("p1", "dog")]


def test_boxes_are_checked_against_the_image(lake: Lake) -> None:
    lake.create_table("raw.images", pa.table({"image_id": ["a", "b"], "width": [100, 50], "height": [80, 50]}))
    lab = lake.labeling
    lab.create_project("cars", "raw.images", "image_id", task="boxes", labels=["car"], annotators_per_item=2)
    box = {"x_min": 10, "y_min": 10, "x_max": 60, "y_max": 40, "label": "car"}
    with pytest.raises(BoxOutsideImageError):
        lab.submit("cars", "b", [box])  # 60 > width 50
    with pytest.raises(AnswerOutsideSchemaError):
        lab.submit("cars", "a", [{**box, "x_max": 5}])
    with pytest.raises(AnswerOutsideSchemaError):
        lab.submit("cars", "a", [{**box, "label": "bus"}])
    lab.submit("cars", "a", [box])
    lake.governance.create_principal("eve")
    lake.governance.grant("eve", "select", "raw.images")
    lake.governance.grant("eve", "insert", "labeling.cars__answers")
    lake.as_principal("eve").labeling.submit("cars", "a", [{**box, "x_max": 62}])
    result = lab.consolidate("cars")
    (row,) = [r for r in result.labels.to_pylist() if r["item_id"] == "a"]
    (merged,) = json.loads(row["label"])
    assert merged["label"] == "car" and merged["x_min"] == 10 and merged["x_max"] in (60, 62)


def test_rating_and_multilabel_and_text(pets: Lake) -> None:
    lab = pets.labeling
    lab.create_project("cute", "raw.pets", "pet_id", task="rating", bounds=(1, 5))
    with pytest.raises(AnswerOutsideSchemaError):
        lab.submit("cute", "p0", 6)
    lab.submit("cute", "p0", 4)
    assert json.loads(lab.consolidate("cute").labels.to_pylist()[0]["label"]) == 4.0
    lab.create_project("tags", "raw.pets", "pet_id", task="multilabel", labels=["fluffy", "loud"])
    with pytest.raises(AnswerOutsideSchemaError):
        lab.submit("tags", "p0", ["fluffy", "fluffy"])
    lab.submit("tags", "p0", ["loud"])
    assert json.loads(lab.consolidate("tags").labels.to_pylist()[0]["label"]) == ["loud"]
    lab.create_project("notes", "raw.pets", "pet_id", task="text")
    with pytest.raises(AnswerOutsideSchemaError):
        lab.submit("notes", "p0", "  ")
    lab.create_project("ents", "raw.pets", "pet_id", task="spans", labels=["SOUND"])
    with pytest.raises(AnswerOutsideSchemaError):
        lab.submit("ents", "p0", [{"start": 0, "end": 9, "label": "SOUND"}])  # "meow" has 4 characters
    lab.submit("ents", "p0", [{"start": 0, "end": 4, "label": "SOUND"}])


def test_annotators_are_governed_principals(pets: Lake) -> None:
    pets.labeling.create_project("pets", "raw.pets", "pet_id", labels=["cat", "dog"])
    gov = pets.governance
    gov.create_principal("mallory")
    mallory = pets.as_principal("mallory").labeling
    for name in ("pets", "no_such_project"):
        with pytest.raises(PermissionDeniedError) as refused:
            mallory.next_items(name)
        assert "(or it does not exist)" in str(refused.value)
        with pytest.raises(PermissionDeniedError):
            mallory.submit(name, "p0", "cat")
    assert mallory.list_projects() == []
    gov.grant("mallory", "select", "raw.pets")
    assert len(mallory.next_items("pets")) == 6
    with pytest.raises(PermissionDeniedError):  # may look, may not answer
        mallory.submit("pets", "p0", "cat")
    assert pets.labeling.answers("pets").num_rows == 0


def test_auto_label_rounds_record_model_round_and_threshold(lake: Lake) -> None:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=400, n_features=4, n_informative=3, n_redundant=0, class_sep=3.0, random_state=1
    )
    ids = [f"r{i}" for i in range(len(y))]
    lake.create_table("raw.points", pa.table({"rid": ids, **{f"f{k}": x[:, k] for k in range(4)}}))
    lab = lake.labeling
    lab.create_project("points", "raw.points", "rid", labels=["a", "b"])
    names = np.array(["a", "b"])
    lake.table("labeling.points__answers").append(
        pa.table(
            {
                "item_id": ids[:250],
                "annotator": ["sim"] * 250,
                "submitted_at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 250, pa.timestamp("us", tz="UTC")),
                "answer": [json.dumps(str(v)) for v in names[y[:250]]],
                "seconds": [1.0] * 250,
            }
        )
    )
    first = lab.auto_label("points", target_accuracy=0.9, min_human=100)
    assert first.round == 1 and first.status == "threshold_met" and first.threshold is not None
    auto = lake.sql("SELECT * FROM labeling.points__auto").to_pylist()
    assert len(auto) == len(first.auto_items) > 0
    assert {r["round"] for r in auto} == {1} and auto[0]["model_id"] == first.model.model_id  # type: ignore[union-attr]
    truth = dict(zip(ids, names[y], strict=True))
    right = sum(json.loads(r["label"]) == truth[r["item"]] for r in auto)
    assert right / len(auto) >= 0.9
    assert lab.auto_label("points", target_accuracy=0.9, min_human=100).round == 2
    assert lake.sql("SELECT count(*) AS n FROM labeling.points__rounds").to_pylist()[0]["n"] == 2
