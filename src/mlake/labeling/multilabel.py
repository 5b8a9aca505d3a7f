"""Consolidation of multi-label answers: each annotator picks any set of classes for an item.

A multi-label answer is one yes/no answer per class of the schema: picking {cat, dog} out of
{cat, dog, bird} says "bird: no" as firmly as "cat: yes". So the answers are split into one binary
question per class and each is consolidated on its own (majority vote or Dawid–Skene), giving every
annotator a separate reliability per class — someone can be good at spotting cats and poor at birds —
and every class its own prior.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mlake.errors import AnswerOutsideSchemaError, LabelingError
from mlake.labeling.answers import AnswerColumns, FloatArray, answers_frame, check_no_duplicates, quote_rows
from mlake.labeling.categorical import dawid_skene, majority_vote


@dataclass(frozen=True)
class MultiLabelConsolidation:
    """``probability[t, k]``: how likely item ``items[t]`` has class ``classes[k]``; ``labels[t]``: the classes
    with probability above ``threshold`` (a 0.5 tie is "absent", as in each class's own yes/no vote).
    ``reliability[w, k]``: annotator ``annotators[w]``'s chance of answering class ``k``'s yes/no question
    right (every annotator answered every class's question on each item they labeled)."""

    method: Literal["majority_vote", "dawid_skene"]
    items: npt.NDArray[Any]
    classes: tuple[Hashable, ...]
    probability: FloatArray
    annotators: npt.NDArray[Any]
    reliability: FloatArray
    threshold: float

    @property
    def labels(self) -> list[tuple[Hashable, ...]]:
        chosen = self.probability > self.threshold
        return [tuple(c for c, on in zip(self.classes, row, strict=True) if on) for row in chosen]

    def to_arrow(self) -> pa.Table:
        columns: dict[str, Any] = {"item": pa.array(self.items.tolist()), "labels": pa.array(self.labels)}
        for k, cls in enumerate(self.classes):
            columns[f"p_{cls}"] = pa.array(self.probability[:, k])
        return pa.table(columns)


def consolidate_multi_label(
    answers: pa.Table | pd.DataFrame,
    *,
    classes: Sequence[Hashable],
    method: Literal["majority_vote", "dawid_skene"] = "dawid_skene",
    threshold: float = 0.5,
    max_iter: int = 100,
    tol: float = 1e-5,
    columns: AnswerColumns | None = None,
) -> MultiLabelConsolidation:
    """Consolidate answers whose ``label`` column holds a list of classes (an empty list: none apply; null:
    not answered). ``classes`` is the schema and is required — a class nobody picked is still a question
    everybody answered "no" to. ``max_iter`` and ``tol`` are Dawid–Skene's (see :func:`dawid_skene`)."""
    if method not in ("majority_vote", "dawid_skene"):
        raise LabelingError(f"unknown method {method!r}", hint="use majority_vote or dawid_skene")
    if not 0 <= threshold < 1:
        raise LabelingError(f"threshold must be in [0, 1), not {threshold}", hint="0.5 picks the likelier side")
    class_values = tuple(classes)
    if not class_values or len(set(class_values)) != len(class_values):
        raise LabelingError(f"the label schema must list each class once: {list(class_values)}")
    cols = columns or AnswerColumns()
    frame = answers_frame(answers, needed=[cols.item, cols.annotator, cols.label])
    frame = frame[frame[cols.label].notna().to_numpy()]
    if frame.empty:
        raise LabelingError("there are no answers to consolidate", hint="collect at least one answer per item")

    schema = pd.Index(class_values)
    chosen = np.zeros((len(frame), len(class_values)), dtype=bool)
    outside = np.zeros(len(frame), dtype=bool)
    for row, picked in enumerate(frame[cols.label].tolist()):
        if isinstance(picked, str | bytes) or not hasattr(picked, "__iter__"):
            outside[row] = True
            continue
        codes = schema.get_indexer(pd.Index(list(picked)))
        if (codes < 0).any():
            outside[row] = True
        else:
            chosen[row, codes] = True
    if outside.any():
        raise AnswerOutsideSchemaError(
            f"{int(outside.sum())} multi-label answer(s) are not lists of the schema's classes {list(class_values)}: "
            + quote_rows(frame, outside, [cols.item, cols.annotator, cols.label]),
            hint="each answer is a list of classes (empty when none applies)",
        )
    item_codes, _ = pd.factorize(frame[cols.item], sort=True)
    annotator_codes, _ = pd.factorize(frame[cols.annotator], sort=True)
    check_no_duplicates(item_codes.astype(np.int64), annotator_codes.astype(np.int64), frame, cols)

    binary = AnswerColumns(item="item", annotator="annotator", label="present")
    probability = []
    reliability = []
    items: npt.NDArray[Any] = np.zeros(0)
    annotators: npt.NDArray[Any] = np.zeros(0)
    for k in range(len(class_values)):
        question = pd.DataFrame(
            {
                "item": frame[cols.item].to_numpy(),
                "annotator": frame[cols.annotator].to_numpy(),
                "present": chosen[:, k],
            }
        )
        # [False, True]: a tied vote goes to "absent", the first class, matching ``labels``' strict threshold.
        if method == "dawid_skene":
            result = dawid_skene(question, classes=[False, True], columns=binary, max_iter=max_iter, tol=tol)
        else:
            result = majority_vote(question, classes=[False, True], columns=binary)
        items, annotators = result.items, result.annotators  # the same for every class: all rows are used
        probability.append(result.posteriors[:, 1])
        reliability.append(result.reliability)
    return MultiLabelConsolidation(
        method=method,
        items=items,
        classes=class_values,
        probability=np.column_stack(probability),
        annotators=annotators,
        reliability=np.column_stack(reliability),
        threshold=threshold,
    )
