"""The counterfactual fliptest's neighbour vote, computed once per report.

Clarify's FT looks at each member of facet *d*, finds its k nearest neighbours in facet *a* (k = 5, or 1
when facet *a* has 9 rows or fewer, as smclarify does) and asks whether their majority prediction
differs from the model's prediction for the *d* member:

- F+ : the *d* member was predicted unfavourably, its *a* neighbours favourably;
- F− : the *d* member was predicted favourably, its *a* neighbours unfavourably.

Features are standardised (z-scores over the usable rows) before the neighbour search so that a
feature measured in large units does not decide the neighbourhood alone; Clarify's documentation does
not say, smclarify uses raw values — ``standardize=False`` gives that behaviour.

The bootstrap treats each row's flip kind as an attribute of the row (it is not recomputed per
resample: refitting a neighbour index a thousand times on a million rows would cost minutes for a
second-order effect). The confidence interval of FT therefore covers the sampling of *d* rows, not the
variability of the neighbour search itself; docs/bias.md says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from mlake.bias.cells import FLIP_MINUS, FLIP_NONE, FLIP_PLUS
from mlake.errors import MlakeError, SchemaError
from mlake.tables.frames import column_of

DEFAULT_NEIGHBOURS = 5
SMALL_FACET_ROWS = 9


def feature_matrix(table: pa.Table, columns: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Numeric features as a float matrix and which rows have all of them present."""
    matrix = np.empty((table.num_rows, len(columns)), dtype=np.float64)
    present = np.ones(table.num_rows, dtype=bool)
    for j, name in enumerate(columns):
        column = column_of(table, name, role="fliptest feature")
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise SchemaError(
                f"the fliptest feature {name!r} has type {column.type}; the neighbour search needs numbers",
                hint="encode it as numbers first, or leave it out of fliptest_features",
            )
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        values = np.asarray(values, dtype=np.float64)
        present &= np.isfinite(values)
        matrix[:, j] = values
    return matrix, present


def flip_kinds(
    features: NDArray[np.float64],
    facet_d: NDArray[np.bool_],
    predicted: NDArray[np.bool_],
    *,
    standardize: bool = True,
) -> NDArray[np.int64]:
    """Per row: FLIP_PLUS / FLIP_MINUS for facet-d rows whose a-neighbours vote the other way, else FLIP_NONE."""
    try:
        from scipy.spatial import cKDTree
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MlakeError(
            "the fliptest (FT) needs scipy for its neighbour search",
            hint="pip install 'mlake[ml]', or leave fliptest_features out",
        ) from exc
    kinds = np.full(len(facet_d), FLIP_NONE, dtype=np.int64)
    a_rows = np.flatnonzero(~facet_d)
    d_rows = np.flatnonzero(facet_d)
    if len(a_rows) == 0 or len(d_rows) == 0:
        return kinds
    x = features
    if standardize:
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        x = (x - x.mean(axis=0)) / scale
    k = DEFAULT_NEIGHBOURS if len(a_rows) > SMALL_FACET_ROWS else 1
    k = min(k, len(a_rows))
    _, neighbours = cKDTree(x[a_rows]).query(x[d_rows], k=k, workers=-1)
    neighbours = np.asarray(neighbours, dtype=np.int64).reshape(len(d_rows), k)
    votes = predicted[a_rows][neighbours].mean(axis=1)
    # k is 5 or 1, so the majority vote never ties.
    neighbour_positive = votes > 0.5
    own = predicted[d_rows]
    kinds[d_rows[~own & neighbour_positive]] = FLIP_PLUS
    kinds[d_rows[own & ~neighbour_positive]] = FLIP_MINUS
    return kinds
