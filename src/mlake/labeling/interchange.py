"""Label Studio JSON and COCO, in and out: pure conversions between their formats and project answers.

An answer here is ``(item_id, annotator, answer, seconds)`` with ``answer`` in the project's own form
(a class, a list of ``{start, end, label}`` spans, a list of ``{x_min, y_min, x_max, y_max, label}``
boxes in pixels). Label Studio keeps boxes in percent of the image, so converting boxes needs the image's
``width``/``height`` (columns of the source row, or ``original_width``/``original_height`` in the file).

Label Studio: one task per item, ``data`` = the source row, ``annotations`` = the answers (``completed_by``
the annotator, ``lead_time`` the seconds), ``predictions`` = the consolidated label (model_version
``mlake-<method>``, score its confidence). COCO: ``images`` (id = the item id), ``categories`` (the
labels, ids from 1), ``annotations`` with ``bbox = [x, y, width, height]`` in pixels; on export from
answers each annotation carries ``annotator`` (an extra key COCO readers ignore), on import a file
without it is one annotator, ``"coco"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mlake.errors import LabelingError

Answer = tuple[str, str, Any, float | None]
BOX_TASKS = ("boxes",)
LABEL_STUDIO_TASKS = ("classification", "multilabel", "spans", "boxes")


def _size(row: Mapping[str, Any] | None) -> tuple[float | None, float | None]:
    row = row or {}
    return row.get("width"), row.get("height")


def _result(task: str, answer: Any, row: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One answer as Label Studio ``result`` regions."""
    if task == "classification":
        return [{"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": [answer]}}]
    if task == "multilabel":
        return [{"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": list(answer)}}]
    if task == "spans":
        return [
            {
                "from_name": "label",
                "to_name": "item",
                "type": "labels",
                "value": {"start": s["start"], "end": s["end"], "labels": [s["label"]]},
            }
            for s in answer
        ]
    width, height = _size(row)
    if not width or not height:
        raise LabelingError("Exporting boxes to Label Studio needs the image's width and height columns")
    return [
        {
            "from_name": "label",
            "to_name": "item",
            "type": "rectanglelabels",
            "original_width": width,
            "original_height": height,
            "value": {
                "x": 100 * b["x_min"] / width,
                "y": 100 * b["y_min"] / height,
                "width": 100 * (b["x_max"] - b["x_min"]) / width,
                "height": 100 * (b["y_max"] - b["y_min"]) / height,
                "rectanglelabels": [b["label"]],
            },
        }
        for b in answer
    ]


def _answer(task: str, result: Sequence[Mapping[str, Any]], row: Mapping[str, Any] | None) -> Any:
    """Label Studio ``result`` regions as one answer in the project's form."""
    if task in ("classification", "multilabel"):
        choices = [c for r in result if r.get("type") == "choices" for c in r["value"]["choices"]]
        if task == "classification":
            if len(choices) != 1:
                raise LabelingError(f"A classification answer needs one choice, got {choices}")
            return choices[0]
        return choices
    if task == "spans":
        return [
            {"start": r["value"]["start"], "end": r["value"]["end"], "label": r["value"]["labels"][0]}
            for r in result
            if r.get("type") == "labels"
        ]
    boxes = []
    for r in result:
        if r.get("type") != "rectanglelabels":
            continue
        width = r.get("original_width") or _size(row)[0]
        height = r.get("original_height") or _size(row)[1]
        if not width or not height:
            raise LabelingError("A Label Studio box without original_width/height needs width/height columns")
        v = r["value"]
        x, y = v["x"] * width / 100, v["y"] * height / 100
        boxes.append(
            {
                "x_min": x,
                "y_min": y,
                "x_max": x + v["width"] * width / 100,
                "y_max": y + v["height"] * height / 100,
                "label": v["rectanglelabels"][0],
            }
        )
    return boxes


def check_task(task: str, kinds: tuple[str, ...], what: str) -> None:
    if task not in kinds:
        raise LabelingError(f"{what} holds {', '.join(kinds)} answers; this project is {task}")


def to_label_studio(
    task: str,
    id_column: str,
    rows: Iterable[Mapping[str, Any]],
    answers: Iterable[Answer],
    labels: Mapping[str, tuple[Any, float, str]] | None = None,
) -> list[dict[str, Any]]:
    """Label Studio tasks: one per source row with its answers and (``labels``: item -> (label,
    confidence, method)) its consolidated label as a prediction."""
    check_task(task, LABEL_STUDIO_TASKS, "Label Studio JSON")
    by_item: dict[str, list[Answer]] = {}
    for a in answers:
        by_item.setdefault(a[0], []).append(a)
    out = []
    for row in rows:
        item = str(row[id_column])
        entry: dict[str, Any] = {"id": item, "data": {k: _jsonable(v) for k, v in row.items()}, "annotations": []}
        for _, who, answer, seconds in by_item.get(item, []):
            entry["annotations"].append(
                {"completed_by": who, "lead_time": seconds, "result": _result(task, answer, row)}
            )
        if labels and item in labels:
            label, confidence, method = labels[item]
            entry["predictions"] = [
                {"model_version": f"mlake-{method}", "score": confidence, "result": _result(task, label, row)}
            ]
        out.append(entry)
    return out


def from_label_studio(
    task: str, id_column: str, tasks: Sequence[Mapping[str, Any]], rows: Mapping[str, Mapping[str, Any]]
) -> list[Answer]:
    """The answers (``annotations``, not predictions) of Label Studio tasks; the item is ``data[id_column]``
    (else the task id); ``completed_by`` may be a name, an id or ``{"email": ...}``."""
    check_task(task, LABEL_STUDIO_TASKS, "Label Studio JSON")
    if not isinstance(tasks, list) or not all(isinstance(t, Mapping) for t in tasks):
        raise LabelingError(
            "Label Studio JSON is a list of tasks ({data, annotations})", hint="for a COCO file pass format='coco'"
        )
    out: list[Answer] = []
    for t in tasks:
        data = t.get("data") or {}
        item = str(data.get(id_column, t.get("id")))
        for a in t.get("annotations") or []:
            if a.get("was_cancelled"):
                continue
            who = a.get("completed_by", "label-studio")
            if isinstance(who, Mapping):
                who = who.get("email") or who.get("id")
            seconds = a.get("lead_time")
            out.append((item, str(who), _answer(task, a.get("result") or [], rows.get(item)), seconds))
    return out


def to_coco(
    labels: Sequence[str], rows: Iterable[Mapping[str, Any]], id_column: str, answers: Iterable[Answer]
) -> dict[str, Any]:
    """A COCO detection file of boxes answers (or consolidated boxes, with ``annotator`` "consensus")."""
    categories = {name: k + 1 for k, name in enumerate(labels)}
    images = []
    for row in rows:
        width, height = _size(row)
        file_name = row.get("path") or row.get("file_name") or str(row[id_column])
        images.append({"id": str(row[id_column]), "file_name": file_name, "width": width, "height": height})
    annotations: list[dict[str, Any]] = []
    for item, who, boxes, _ in answers:
        for b in boxes:
            w, h = b["x_max"] - b["x_min"], b["y_max"] - b["y_min"]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": item,
                    "category_id": categories[b["label"]],
                    "bbox": [b["x_min"], b["y_min"], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "annotator": who,
                }
            )
    return {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k, "name": name} for name, k in categories.items()],
    }


def from_coco(coco: Mapping[str, Any]) -> list[Answer]:
    """Boxes answers of a COCO file: one answer per (image, annotator); ``image_id`` is the item id, or
    the image's ``file_name`` stem when the ids are COCO's integers and the file names are the items."""
    categories = {c["id"]: c["name"] for c in coco.get("categories", [])}
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for a in coco.get("annotations", []):
        if a["category_id"] not in categories:
            raise LabelingError(f"COCO annotation {a.get('id')} has unknown category_id {a['category_id']}")
        x, y, w, h = a["bbox"]
        box = {"x_min": x, "y_min": y, "x_max": x + w, "y_max": y + h, "label": categories[a["category_id"]]}
        grouped.setdefault((str(a["image_id"]), str(a.get("annotator", "coco"))), []).append(box)
    return [(item, who, boxes, None) for (item, who), boxes in grouped.items()]


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
