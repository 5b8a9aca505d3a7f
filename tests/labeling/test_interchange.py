"""Label Studio JSON and COCO: a project's answers go out and come back the same; bad files are refused whole."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mlake import Lake
from mlake.errors import AnswerOutsideSchemaError, DuplicateAnswerError, LabelingError


def _answers(lake: Lake, name: str) -> list[tuple[str, str, object]]:
    rows = lake.labeling.answers(name).to_pylist()
    return sorted((r["item_id"], r["annotator"], json.loads(r["answer"])) for r in rows)


def test_boxes_round_trip_through_label_studio_and_coco(lake: Lake) -> None:
    lake.create_table("raw.images", pa.table({"image_id": ["a", "b"], "width": [200, 100], "height": [100, 50]}))
    lab = lake.labeling
    lab.create_project("cars", "raw.images", "image_id", task="boxes", labels=["car", "bus"])
    lab.submit("cars", "a", [{"x_min": 20, "y_min": 10, "x_max": 120, "y_max": 60, "label": "bus"}], seconds=3.5)
    lab.submit("cars", "b", [])
    tasks = lab.export("cars")
    (region,) = tasks[0]["annotations"][0]["result"]
    assert region["value"] == {"x": 10.0, "y": 10.0, "width": 50.0, "height": 50.0, "rectanglelabels": ["bus"]}
    coco = lab.export("cars", "coco")
    assert coco["annotations"][0]["bbox"] == [20, 10, 100, 50] and coco["categories"][1] == {"id": 2, "name": "bus"}
    lab.create_project("cars_ls", "raw.images", "image_id", task="boxes", labels=["car", "bus"])
    lab.create_project("cars_coco", "raw.images", "image_id", task="boxes", labels=["car", "bus"])
    assert lab.import_answers("cars_ls", json.loads(json.dumps(tasks))) == 2
    assert lab.import_answers("cars_coco", coco, "coco") == 1
    assert _answers(lake, "cars_ls") == _answers(lake, "cars")
    assert _answers(lake, "cars_coco") == [("a", "tester", _answers(lake, "cars")[0][2])]
    lab.consolidate("cars")
    labels = lab.export("cars", "coco", what="labels")
    assert [a["annotator"] for a in labels["annotations"]] == ["consensus"]
    with pytest.raises(DuplicateAnswerError):
        lab.import_answers("cars_coco", coco, "coco")
    outside = {**coco, "annotations": [{**coco["annotations"][0], "bbox": [150, 10, 100, 50]}]}
    with pytest.raises(LabelingError):
        lab.import_answers("cars", outside, "coco")
    with pytest.raises(LabelingError, match="list of tasks"):
        lab.import_answers("cars_ls", coco)  # a COCO file given as Label Studio JSON
    assert len(_answers(lake, "cars_coco")) == 1


def test_classification_and_spans_through_label_studio(lake: Lake) -> None:
    lake.create_table("raw.texts", pa.table({"tid": ["t1", "t2"], "text": ["Ann met Bob", "no names"]}))
    lab = lake.labeling
    lab.create_project("ner", "raw.texts", "tid", task="spans", labels=["PER"])
    lab.submit("ner", "t1", [{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 11, "label": "PER"}])
    lab.create_project("ner2", "raw.texts", "tid", task="spans", labels=["PER"])
    lab.import_answers("ner2", lab.export("ner"))
    assert _answers(lake, "ner2") == _answers(lake, "ner")
    lab.create_project("topic", "raw.texts", "tid", labels=["people", "other"])
    ls = [
        {"data": {"tid": "t1"}, "annotations": [{"completed_by": "tester", "result": [_choice("people")]}]},
        {"data": {"tid": "t2"}, "annotations": [{"completed_by": "tester", "result": [_choice("sports")]}]},
    ]
    with pytest.raises(AnswerOutsideSchemaError):
        lab.import_answers("topic", ls)
    assert _answers(lake, "topic") == []  # all or none
    ls[1]["annotations"][0]["result"] = [_choice("other")]
    assert lab.import_answers("topic", ls) == 2
    assert lab.export("topic")[0]["annotations"][0]["result"][0]["value"] == {"choices": ["people"]}
    with pytest.raises(LabelingError, match="COCO"):
        lab.export("topic", "coco")


def _choice(label: str) -> dict[str, object]:
    return {"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": [label]}}
