"""Every Clarify bias metric is a function of a small table of counts, so a report counts rows once.

A row falls in one cell of a five-way contingency table:

    facet (a, d) × label (0, 1) × predicted label (0, 1) × group (CDD strata) × flip (none, F+, F−)

Axes that a report does not use have size one (no predicted label: one "prediction" cell; no group
variable: one group; no fliptest: one flip cell). The metrics in :mod:`mlake.bias.metrics` read sums of
cells, never rows.

This is also what makes the bootstrap cheap. Resampling *n* rows with replacement and counting them gives
the same distribution of cell counts as one draw from ``Multinomial(n, counts / n)``, so a resample of a
million rows costs one multinomial draw over a few dozen cells instead of a million-row gather. The
bootstrap distribution of every metric is therefore exactly the one a row bootstrap would give (the
fliptest's neighbour votes are the one exception: they are computed once, on the original rows, and then
carried with each row as an attribute — see :mod:`mlake.bias.fliptest`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FACET_A, FACET_D = 0, 1
FLIP_NONE, FLIP_PLUS, FLIP_MINUS = 0, 1, 2


def count_cells(
    facet_d: NDArray[np.bool_],
    label: NDArray[np.bool_],
    predicted: NDArray[np.bool_] | None,
    group: NDArray[np.int64] | None,
    n_groups: int,
    flip: NDArray[np.int64] | None,
) -> NDArray[np.int64]:
    """The contingency table of the rows given (all arrays already restricted to usable rows)."""
    p_size = 2 if predicted is not None else 1
    g_size = max(n_groups, 1) if group is not None else 1
    l_size = 3 if flip is not None else 1
    index = facet_d.astype(np.int64) * 2 + label.astype(np.int64)
    index = index * p_size + (predicted.astype(np.int64) if predicted is not None else 0)
    index = index * g_size + (group if group is not None else 0)
    index = index * l_size + (flip if flip is not None else 0)
    size = 2 * 2 * p_size * g_size * l_size
    counts = np.bincount(index, minlength=size)
    return counts.reshape(2, 2, p_size, g_size, l_size)


def bootstrap_cells(cells: NDArray[np.int64], resamples: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``resamples`` bootstrap replicates of the contingency table, shape ``(resamples, *cells.shape)``.

    A row bootstrap draws n rows with replacement; the counts of those rows per cell follow
    ``Multinomial(n, cells / n)`` exactly, which is what is drawn here.
    """
    flat = cells.reshape(-1).astype(np.float64)
    n = int(flat.sum())
    if n == 0:
        return np.zeros((resamples, *cells.shape))
    draws = rng.multinomial(n, flat / n, size=resamples)
    return draws.reshape(resamples, *cells.shape).astype(np.float64)


def _per_table(d: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(d.reshape(d.shape[0], -1).sum(axis=1), dtype=np.float64)


@dataclass(frozen=True)
class Cells:
    """Sums over a (batch of) contingency table(s); every accessor returns an array over the batch axis.

    ``data`` has shape ``(B, 2, 2, P, G, L)``; B is 1 for the point estimate.
    """

    data: NDArray[np.float64]

    @property
    def has_predictions(self) -> bool:
        return bool(self.data.shape[3] == 2)

    def n(self, facet: int | None = None) -> NDArray[np.float64]:
        """Rows in a facet (or all rows)."""
        d = self.data if facet is None else self.data[:, facet]
        return _per_table(d)

    def label(self, facet: int | None, y: int) -> NDArray[np.float64]:
        """Rows with observed label ``y`` (in a facet, or overall)."""
        d = self.data[:, :, y] if facet is None else self.data[:, facet, y]
        return _per_table(d)

    def predicted(self, facet: int | None, p: int) -> NDArray[np.float64]:
        """Rows with predicted label ``p``."""
        d = self.data[:, :, :, p] if facet is None else self.data[:, facet, :, p]
        return _per_table(d)

    def confusion(self, facet: int | None, y: int, p: int) -> NDArray[np.float64]:
        """Rows with label ``y`` and prediction ``p``: TP is (1, 1), FP (0, 1), FN (1, 0), TN (0, 0)."""
        d = self.data[:, :, y, p] if facet is None else self.data[:, facet, y, p]
        return _per_table(d)

    def by_group(self, outcome_axis: int) -> NDArray[np.float64]:
        """Counts per (facet, outcome, group): shape ``(B, 2, 2, G)``; ``outcome_axis`` 2 is the label, 3 the
        prediction."""
        other = 3 if outcome_axis == 2 else 2
        return np.asarray(self.data.sum(axis=(other, 5)), dtype=np.float64)

    def flips(self, kind: int) -> NDArray[np.float64]:
        """Facet-d rows of a fliptest kind (F+ or F−)."""
        d = self.data[:, FACET_D, :, :, :, kind]
        return _per_table(d)
