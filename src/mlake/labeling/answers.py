"""Annotators' answers as integer codes: the one shape every consolidation algorithm works on.

Answers arrive as a long table — one row per (item, annotator, answer) — in Arrow or pandas. The
algorithms never look at item, annotator or class *values*; they work on dense integer codes so that
every step is a numpy gather or ``bincount`` rather than a pandas group-by. Encoding happens once, here,
together with the checks that make consolidation meaningful (one answer per annotator and item, answers
inside the schema), so that every algorithm gets the same clean input and reports errors the same way.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mlake.errors import AnswerOutsideSchemaError, DuplicateAnswerError, LabelingError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: How many offending rows an error message quotes before it says "and N more".
_QUOTED_ROWS = 5


@dataclass(frozen=True)
class AnswerColumns:
    """Names of the columns that hold the item, the annotator and the answer in an answers table."""

    item: str = "item"
    annotator: str = "annotator"
    label: str = "label"


@dataclass(frozen=True)
class EncodedAnswers:
    """Categorical answers as codes: answer ``n`` is annotator ``annotator[n]`` saying ``label[n]`` about ``item[n]``.

    ``items``, ``annotators`` and ``classes`` map codes back to the caller's values. Rows are sorted by item,
    so the answers of item ``t`` are the slice ``item_starts[t]:item_starts[t + 1]``.
    """

    item: IntArray
    annotator: IntArray
    label: IntArray
    items: npt.NDArray[Any]
    annotators: npt.NDArray[Any]
    classes: tuple[Hashable, ...]

    @property
    def n_answers(self) -> int:
        return int(self.item.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    @property
    def n_annotators(self) -> int:
        return int(self.annotators.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def item_starts(self) -> IntArray:
        """Offsets of each item's first answer (length ``n_items + 1``), for ``np.add.reduceat`` and slicing."""
        counts = np.bincount(self.item, minlength=self.n_items)
        return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def answers_frame(answers: pa.Table | pd.DataFrame, *, needed: Sequence[str]) -> pd.DataFrame:
    """The answer columns as a pandas frame, with a clear error when one is missing."""
    names = list(answers.column_names) if isinstance(answers, pa.Table) else [str(c) for c in answers.columns]
    missing = [c for c in needed if c not in names]
    if missing:
        raise LabelingError(
            f"the answers have no column {', '.join(repr(c) for c in missing)} (columns: {', '.join(names)})",
            hint="name the columns with columns=AnswerColumns(...) (or BoxColumns(...) for boxes)",
        )
    if isinstance(answers, pa.Table):
        return answers.select(list(needed)).to_pandas()
    return answers[list(needed)].reset_index(drop=True)  # the index is each answer's position in the input


def quote_rows(frame: pd.DataFrame, mask: npt.NDArray[np.bool_], columns: Sequence[str]) -> str:
    """A short, readable list of the offending rows: their position in the input (the frame's index) and values."""
    rows = np.flatnonzero(mask)[:_QUOTED_ROWS]
    values = {c: frame[c].iloc[rows].tolist() for c in columns}  # Python scalars: readable reprs
    positions = frame.index[rows].tolist()  # input positions, even after rows were filtered out
    shown = [f"row {p} (" + ", ".join(f"{c}={values[c][k]!r}" for c in columns) + ")" for k, p in enumerate(positions)]
    total = int(np.count_nonzero(mask))
    more = f" and {total - _QUOTED_ROWS} more" if total > _QUOTED_ROWS else ""
    return "; ".join(shown) + more


def check_no_duplicates(item: IntArray, annotator: IntArray, frame: pd.DataFrame, columns: AnswerColumns) -> None:
    """Refuse two answers by one annotator on one item: every algorithm here counts an annotator once per item."""
    n_annotators = int(annotator.max()) + 1 if annotator.size else 1
    key = item * n_annotators + annotator
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    repeated = np.zeros(key.shape[0], dtype=bool)
    repeated[order[1:][sorted_key[1:] == sorted_key[:-1]]] = True
    if repeated.any():
        raise DuplicateAnswerError(
            f"{int(repeated.sum())} duplicate submission(s): an annotator answered the same item again: "
            + quote_rows(frame, repeated, [columns.item, columns.annotator]),
            hint="keep one answer per annotator and item (e.g. the latest) before consolidating",
        )


def annotator_weights(annotators: npt.NDArray[Any], weights: Mapping[Hashable, float] | None) -> FloatArray:
    """Each annotator's weight, in code order; all 1 when ``weights`` is None.

    An annotator who answered but has no weight is an error rather than silently weightless: a typo in a
    name would otherwise drop that annotator's answers without anyone noticing.
    """
    if weights is None:
        return np.ones(annotators.shape[0])
    names = annotators.tolist()
    missing = [a for a in names if a not in weights]
    if missing:
        more = f" and {len(missing) - _QUOTED_ROWS} more" if len(missing) > _QUOTED_ROWS else ""
        raise LabelingError(
            f"no weight for annotator(s) {missing[:_QUOTED_ROWS]}{more}",
            hint="give every annotator who answered a weight (e.g. their reliability)",
        )
    out = np.array([float(weights[a]) for a in names])
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise LabelingError("annotator weights must be finite and non-negative", hint="use reliabilities in [0, 1]")
    return out


def encode_categorical(
    answers: pa.Table | pd.DataFrame,
    *,
    classes: Sequence[Hashable] | None = None,
    columns: AnswerColumns | None = None,
) -> EncodedAnswers:
    """Encode categorical answers; rows whose answer is null are answers not given and are skipped.

    ``classes`` is the label schema: its order is the order of posterior columns and decides ties. When it
    is ``None`` the classes are the distinct answers, sorted (crowd-kit's order, so its tie-breaking agrees).
    An answer outside ``classes`` raises :class:`AnswerOutsideSchemaError`; an annotator answering an item
    twice raises :class:`DuplicateAnswerError`.
    """
    cols = columns or AnswerColumns()
    frame = answers_frame(answers, needed=[cols.item, cols.annotator, cols.label])
    for name in (cols.item, cols.annotator):
        nulls = frame[name].isna().to_numpy()
        if nulls.any():
            raise LabelingError(
                f"{int(nulls.sum())} answer(s) have no {name}: "
                + quote_rows(frame, nulls, [cols.item, cols.annotator]),
                hint=f"every answer needs the {name} it belongs to",
            )
    frame = frame[frame[cols.label].notna().to_numpy()]
    if frame.empty:
        raise LabelingError("there are no answers to consolidate", hint="collect at least one answer per item")

    if classes is None:
        try:
            class_values = tuple(sorted(pd.unique(frame[cols.label]).tolist()))
        except TypeError:
            raise LabelingError(
                f"the answers in {cols.label!r} mix types that cannot be ordered (e.g. numbers and text)",
                hint="give the label schema with classes=[...] (its order decides ties), or use one type",
            ) from None
    else:
        class_values = tuple(classes)
        if len(set(class_values)) != len(class_values):
            raise LabelingError(f"the label schema repeats a class: {list(class_values)}", hint="list each class once")
    label = pd.Index(class_values).get_indexer(frame[cols.label])
    outside = label < 0
    if outside.any():
        raise AnswerOutsideSchemaError(
            f"{int(outside.sum())} answer(s) are not in the label schema {list(class_values)}: "
            + quote_rows(frame, outside, [cols.item, cols.annotator, cols.label]),
            hint="fix or drop these answers, or add the class to the schema",
        )

    item, items = pd.factorize(frame[cols.item], sort=True)
    annotator, annotators = pd.factorize(frame[cols.annotator], sort=True)
    item = item.astype(np.int64)
    annotator = annotator.astype(np.int64)
    check_no_duplicates(item, annotator, frame, cols)

    order = np.argsort(item, kind="stable")
    return EncodedAnswers(
        item=item[order],
        annotator=annotator[order],
        label=label.astype(np.int64)[order],
        items=np.asarray(items),
        annotators=np.asarray(annotators),
        classes=class_values,
    )
