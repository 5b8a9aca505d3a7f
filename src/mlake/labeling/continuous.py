"""Consolidation of numeric answers (ratings, measurements) by weighted median.

The median, not the mean: one careless annotator typing 1000 instead of 10 moves a mean arbitrarily far
but cannot move a median past the honest majority. Weights are annotator reliabilities (for instance from
:func:`mlake.labeling.dawid_skene` on the same annotators' categorical work, or accuracy on gold items),
so a reliable annotator counts for more.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mlake.errors import AnswerOutsideSchemaError, LabelingError
from mlake.labeling.answers import (
    AnswerColumns,
    FloatArray,
    IntArray,
    annotator_weights,
    answers_frame,
    check_no_duplicates,
    quote_rows,
)


@dataclass(frozen=True)
class NumericConsolidation:
    """Per item (``items[t]``): the weighted median ``value[t]``; ``confidence[t]``, the share of the item's
    answer weight within ``tolerance`` of it; ``spread[t]``, the weighted median absolute deviation from it;
    ``answers[t]``, how many answers it had."""

    items: npt.NDArray[Any]
    value: FloatArray
    confidence: FloatArray
    spread: FloatArray
    answers: IntArray
    tolerance: float

    def to_arrow(self) -> pa.Table:
        return pa.table(
            {
                "item": pa.array(self.items.tolist()),
                "value": pa.array(self.value),
                "confidence": pa.array(self.confidence),
                "spread": pa.array(self.spread),
                "answers": pa.array(self.answers),
            }
        )


def grouped_weighted_median(group: IntArray, values: FloatArray, weights: FloatArray, n_groups: int) -> FloatArray:
    """The lower weighted median of each group: the smallest value ``v`` whose group weight at or below ``v``
    is at least half the group's total weight (numpy's ``quantile(..., 0.5, weights=..., method="inverted_cdf")``).

    Weights must be non-negative; a group whose weights are all zero is taken with equal weights, so every
    group gets a median. Vectorised: one lexsort and one cumulative sum for all groups.
    """
    zero_total = np.bincount(group, weights=weights, minlength=n_groups) <= 0
    if zero_total.any():
        weights = np.where(zero_total[group], 1.0, weights)
    order = np.lexsort((values, group))
    g, v, w = group[order], values[order], weights[order]
    cumulative = np.cumsum(w)
    totals = np.bincount(g, weights=w, minlength=n_groups)
    ends = np.cumsum(np.bincount(g, minlength=n_groups))
    before = np.concatenate(([0.0], cumulative[ends[:-1] - 1])) if n_groups else np.zeros(0)
    within = cumulative - before[g]
    reached = within / totals[g] >= 0.5
    # First position in each group where half the weight is reached (argmax over a boolean picks the first True).
    key = np.where(reached, np.arange(g.shape[0]), g.shape[0])
    first = np.full(n_groups, g.shape[0], dtype=np.int64)
    np.minimum.at(first, g, key)
    return v[first]


def weighted_median(
    answers: pa.Table | pd.DataFrame,
    *,
    weights: Mapping[Hashable, float] | None = None,
    tolerance: float = 0.0,
    bounds: tuple[float, float] | None = None,
    columns: AnswerColumns | None = None,
) -> NumericConsolidation:
    """Consolidate numeric answers per item by the (lower) weighted median.

    ``weights`` maps annotators to reliabilities (all 1 when ``None``); an annotator missing from it is an
    error rather than silently weightless. ``bounds`` is the schema's allowed range, inclusive: answers
    outside it raise :class:`AnswerOutsideSchemaError`. Null answers are answers not given. If an item's
    answers all weigh zero it falls back to equal weights, so every answered item gets a value.
    """
    cols = columns or AnswerColumns()
    if tolerance < 0:
        raise LabelingError(f"tolerance must be non-negative, not {tolerance}", hint="use 0 for exact agreement")
    frame = answers_frame(answers, needed=[cols.item, cols.annotator, cols.label])
    frame = frame[frame[cols.label].notna().to_numpy()]
    if frame.empty:
        raise LabelingError("there are no answers to consolidate", hint="collect at least one answer per item")
    try:
        values = frame[cols.label].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnswerOutsideSchemaError(
            f"column {cols.label!r} holds non-numeric answers ({exc})", hint="numeric consolidation needs numbers"
        ) from None
    bad = ~np.isfinite(values)
    if bounds is not None:
        bad |= (values < bounds[0]) | (values > bounds[1])
    if bad.any():
        where = f" within [{bounds[0]}, {bounds[1]}]" if bounds is not None else ""
        raise AnswerOutsideSchemaError(
            f"{int(bad.sum())} answer(s) are not finite numbers{where}: "
            + quote_rows(frame, bad, [cols.item, cols.annotator, cols.label]),
            hint="fix or drop these answers",
        )
    item, items = pd.factorize(frame[cols.item], sort=True)
    annotator, annotators = pd.factorize(frame[cols.annotator], sort=True)
    item = item.astype(np.int64)
    check_no_duplicates(item, annotator.astype(np.int64), frame, cols)

    answer_weights = annotator_weights(np.asarray(annotators), weights)[annotator]
    n_items = len(items)
    totals = np.bincount(item, weights=answer_weights, minlength=n_items)
    weightless = totals[item] <= 0
    answer_weights = np.where(weightless, 1.0, answer_weights)
    totals = np.bincount(item, weights=answer_weights, minlength=n_items)

    value = grouped_weighted_median(item, values, answer_weights, n_items)
    deviation = np.abs(values - value[item])
    spread = grouped_weighted_median(item, deviation, answer_weights, n_items)
    close = np.bincount(item, weights=answer_weights * (deviation <= tolerance), minlength=n_items)
    return NumericConsolidation(
        items=np.asarray(items),
        value=value,
        confidence=close / totals,
        spread=spread,
        answers=np.bincount(item, minlength=n_items).astype(np.int64),
        tolerance=tolerance,
    )
