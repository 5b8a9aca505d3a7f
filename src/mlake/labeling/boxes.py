"""Consolidation of bounding boxes: cluster the boxes annotators drew on an image, then take a median box.

Several annotators each draw zero or more boxes per image. Boxes that overlap enough (intersection over
union ≥ ``iou_threshold``) are taken to be the same object; an annotator contributes at most one box to
an object, so two neighbouring objects drawn by one person are never merged. Each object's box is the
coordinate-wise weighted median of its members (robust to one sloppy corner), and its confidence combines
how many annotators found it with how tightly their boxes agree. Formulas in ``docs/labeling.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mlake.errors import AnswerOutsideSchemaError, BoxOutsideImageError, DuplicateAnswerError, LabelingError
from mlake.labeling.answers import FloatArray, IntArray, annotator_weights, answers_frame, quote_rows
from mlake.labeling.continuous import grouped_weighted_median

COORDINATES = ("x_min", "y_min", "x_max", "y_max")


@dataclass(frozen=True)
class BoxColumns:
    """Column names of a box answers table. ``label`` (the box's class) is optional: set it to ``None``
    when every box is of one kind. Coordinates are pixels, ``x_min < x_max``, ``y_min < y_max``."""

    item: str = "item"
    annotator: str = "annotator"
    x_min: str = "x_min"
    y_min: str = "y_min"
    x_max: str = "x_max"
    y_max: str = "y_max"
    label: str | None = None

    @property
    def coordinates(self) -> list[str]:
        return [self.x_min, self.y_min, self.x_max, self.y_max]


@dataclass(frozen=True)
class BoxConsolidation:
    """One row per consolidated object: ``items[i]`` holds an object of class ``labels[i]`` (None without a
    label column) at ``boxes[i] = (x_min, y_min, x_max, y_max)``.

    ``support[i]`` is the weighted share of the item's annotators who drew it; ``agreement[i]`` the weighted
    mean IoU of their boxes with the consolidated one; ``confidence[i] = support[i] * agreement[i]``;
    ``members[i]`` how many boxes were merged.
    """

    items: npt.NDArray[Any]
    labels: npt.NDArray[Any]
    boxes: FloatArray
    confidence: FloatArray
    support: FloatArray
    agreement: FloatArray
    members: IntArray
    iou_threshold: float = field(default=0.5)

    def to_arrow(self) -> pa.Table:
        columns: dict[str, Any] = {"item": pa.array(self.items.tolist()), "label": pa.array(self.labels.tolist())}
        for k, name in enumerate(COORDINATES):
            columns[name] = pa.array(self.boxes[:, k])
        columns |= {
            "confidence": pa.array(self.confidence),
            "support": pa.array(self.support),
            "agreement": pa.array(self.agreement),
            "members": pa.array(self.members),
        }
        return pa.table(columns)


def iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Intersection over union of every box in ``a`` (n, 4) with every box in ``b`` (m, 4): an (n, m) array."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    intersection = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    result: FloatArray = np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)
    return result


def validate_boxes(
    answers: pa.Table | pd.DataFrame,
    *,
    image_sizes: Mapping[Hashable, tuple[float, float]] | None = None,
    classes: list[Hashable] | None = None,
    columns: BoxColumns | None = None,
) -> pd.DataFrame:
    """Check box answers and return them as a frame: malformed boxes, boxes past the image's edges
    (``image_sizes`` maps item → (width, height)), classes outside the schema and repeated submissions
    each raise their own :class:`~mlake.errors.LabelingError`, naming the rows.

    A row whose four coordinates are all null is an annotator who looked at the image and found nothing to
    box; it counts towards the item's annotators (and so lowers the support of boxes others drew).
    """
    cols = columns or BoxColumns()
    needed = [cols.item, cols.annotator, *cols.coordinates] + ([cols.label] if cols.label else [])
    frame = answers_frame(answers, needed=needed)
    if frame.empty:
        raise LabelingError("there are no box answers to consolidate", hint="collect at least one answer per item")
    for name in (cols.item, cols.annotator):
        nulls = frame[name].isna().to_numpy()
        if nulls.any():
            raise LabelingError(
                f"{int(nulls.sum())} box answer(s) have no {name}: " + quote_rows(frame, nulls, [cols.item]),
                hint=f"every answer needs the {name} it belongs to",
            )
    coords = frame[cols.coordinates].to_numpy(dtype=np.float64, na_value=np.nan)
    empty = np.isnan(coords).all(axis=1)
    drawn = ~empty
    malformed = drawn & (
        ~np.isfinite(coords).all(axis=1) | (coords[:, 2] <= coords[:, 0]) | (coords[:, 3] <= coords[:, 1])
    )
    if malformed.any():
        raise AnswerOutsideSchemaError(
            f"{int(malformed.sum())} box(es) are malformed (need finite x_min < x_max and y_min < y_max): "
            + quote_rows(frame, malformed, [cols.item, cols.annotator, *cols.coordinates]),
            hint="fix or drop these boxes",
        )
    if cols.label:
        unlabeled = drawn & frame[cols.label].isna().to_numpy()
        if unlabeled.any():
            raise AnswerOutsideSchemaError(
                f"{int(unlabeled.sum())} box(es) have no {cols.label}: "
                + quote_rows(frame, unlabeled, [cols.item, cols.annotator, *cols.coordinates]),
                hint="every drawn box needs its class",
            )
    if cols.label and classes is not None:
        outside = drawn & ~frame[cols.label].isin(classes).to_numpy()
        if outside.any():
            raise AnswerOutsideSchemaError(
                f"{int(outside.sum())} box(es) have a class outside the schema {classes}: "
                + quote_rows(frame, outside, [cols.item, cols.annotator, cols.label]),
                hint="fix or drop these boxes, or add the class to the schema",
            )
    if image_sizes is not None:
        missing = drawn & ~frame[cols.item].isin(list(image_sizes)).to_numpy()
        if missing.any():
            raise LabelingError(
                f"no image size for {int(missing.sum())} box(es): " + quote_rows(frame, missing, [cols.item]),
                hint="give the width and height of every image that has boxes",
            )
        size = np.array([image_sizes.get(i, (np.inf, np.inf)) for i in frame[cols.item].tolist()], dtype=np.float64)
        outside_image = drawn & (
            (coords[:, 0] < 0) | (coords[:, 1] < 0) | (coords[:, 2] > size[:, 0]) | (coords[:, 3] > size[:, 1])
        )
        if outside_image.any():
            raise BoxOutsideImageError(
                f"{int(outside_image.sum())} box(es) reach past the image's edges: "
                + quote_rows(frame, outside_image, [cols.item, cols.annotator, *cols.coordinates]),
                hint="clip boxes to [0, width] × [0, height] of their image",
            )
    repeated = frame.duplicated(subset=needed, keep="first").to_numpy()
    if repeated.any():
        raise DuplicateAnswerError(
            f"{int(repeated.sum())} duplicate submission(s): an annotator sent the same box (or empty answer) again: "
            + quote_rows(frame, repeated, [cols.item, cols.annotator, *cols.coordinates]),
            hint="keep one copy of each submission before consolidating",
        )
    return frame


def consolidate_boxes(
    answers: pa.Table | pd.DataFrame,
    *,
    iou_threshold: float = 0.5,
    min_support: float = 0.5,
    weights: Mapping[Hashable, float] | None = None,
    image_sizes: Mapping[Hashable, tuple[float, float]] | None = None,
    classes: list[Hashable] | None = None,
    columns: BoxColumns | None = None,
) -> BoxConsolidation:
    """Cluster each item's boxes by IoU and return one consolidated box per object found.

    Clustering is greedy and deterministic: boxes are visited by annotator weight (highest first), then
    annotator, then the order they were drawn; a box joins the object whose members it overlaps most (mean
    IoU ≥ ``iou_threshold``) among objects its annotator has not already contributed to, or starts a new
    object. Objects drawn by less than ``min_support`` of the item's annotator weight are dropped.
    """
    if not 0 < iou_threshold <= 1:
        raise LabelingError(f"iou_threshold must be in (0, 1], not {iou_threshold}", hint="0.5 is the usual choice")
    if not 0 <= min_support <= 1:
        raise LabelingError(f"min_support must be in [0, 1], not {min_support}", hint="0.5 keeps majority objects")
    cols = columns or BoxColumns()
    frame = validate_boxes(answers, image_sizes=image_sizes, classes=classes, columns=cols)
    annotator, annotators = pd.factorize(frame[cols.annotator], sort=True)
    weight = annotator_weights(np.asarray(annotators), weights)[annotator]
    coords = frame[cols.coordinates].to_numpy(dtype=np.float64, na_value=np.nan)
    drawn = ~np.isnan(coords).all(axis=1)
    label_values = frame[cols.label].to_numpy(dtype=object) if cols.label else np.full(len(frame), None, dtype=object)

    out_items: list[Any] = []
    out_labels: list[Any] = []
    member_object: list[IntArray] = []  # per object, the frame rows merged into it
    support: list[float] = []
    for item_value, rows in frame.groupby(cols.item, sort=True).indices.items():
        # Each annotator of the item counts once towards the denominator, whether they drew boxes or not.
        _, first_rows = np.unique(annotator[rows], return_index=True)
        total = float(weight[rows[first_rows]].sum())
        boxed = rows[drawn[rows]]
        if boxed.size == 0 or total <= 0:
            continue
        for label_value in pd.unique(label_values[boxed]):
            same = boxed[label_values[boxed] == label_value] if cols.label else boxed
            for cluster in _cluster(same, coords, annotator, weight, iou_threshold):
                share = float(weight[cluster].sum()) / total
                if share >= min_support:
                    out_items.append(item_value)
                    out_labels.append(label_value)
                    member_object.append(cluster)
                    support.append(share)

    n = len(member_object)
    if n == 0:
        empty = np.zeros(0)
        return BoxConsolidation(
            items=np.asarray(out_items, dtype=object),
            labels=np.asarray(out_labels, dtype=object),
            boxes=np.zeros((0, 4)),
            confidence=empty,
            support=empty,
            agreement=empty,
            members=np.zeros(0, dtype=np.int64),
            iou_threshold=iou_threshold,
        )
    rows_all = np.concatenate(member_object)
    group = np.repeat(np.arange(n), [m.size for m in member_object])
    member_weight = weight[rows_all]
    # Coordinate-wise medians still make a proper box: every member has x_min < x_max, so each weighted
    # order statistic of the x_min values lies strictly below the same statistic of the x_max values.
    boxes = np.column_stack([grouped_weighted_median(group, coords[rows_all, k], member_weight, n) for k in range(4)])
    overlap = _paired_iou(coords[rows_all], boxes[group])
    weight_sum = np.bincount(group, weights=member_weight, minlength=n)
    weighted_overlap = np.bincount(group, weights=member_weight * overlap, minlength=n)
    agreement = weighted_overlap / np.where(weight_sum > 0, weight_sum, 1.0)
    support_arr = np.asarray(support)
    return BoxConsolidation(
        items=np.asarray(out_items, dtype=object),
        labels=np.asarray(out_labels, dtype=object),
        boxes=boxes,
        confidence=support_arr * agreement,
        support=support_arr,
        agreement=agreement,
        members=np.asarray([m.size for m in member_object], dtype=np.int64),
        iou_threshold=iou_threshold,
    )


def _paired_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU of ``a[i]`` with ``b[i]`` for each ``i``."""
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 2], b[:, 2])
    y2 = np.minimum(a[:, 3], b[:, 3])
    intersection = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - intersection
    result: FloatArray = np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)
    return result


def _cluster(
    rows: IntArray, coords: FloatArray, annotator: npt.NDArray[Any], weight: FloatArray, iou_threshold: float
) -> list[IntArray]:
    """Greedy average-linkage clustering of one item's boxes of one class (see :func:`consolidate_boxes`)."""
    order = rows[np.lexsort((rows, annotator[rows], -weight[rows]))]
    overlaps = iou(coords[order], coords[order])
    position = {int(r): p for p, r in enumerate(order)}
    clusters: list[list[int]] = []
    owners: list[set[int]] = []
    for r in order.tolist():
        p = position[r]
        best, best_score = -1, iou_threshold
        for c, members in enumerate(clusters):
            if int(annotator[r]) in owners[c]:
                continue
            score = float(np.mean([overlaps[p, position[m]] for m in members]))
            if score >= best_score and (best < 0 or score > best_score):
                best, best_score = c, score
        if best < 0:
            clusters.append([r])
            owners.append({int(annotator[r])})
        else:
            clusters[best].append(r)
            owners[best].add(int(annotator[r]))
    return [np.asarray(c, dtype=np.int64) for c in clusters]
