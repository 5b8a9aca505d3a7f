"""A drift baseline: the statistics of a reference table that drift tests need, without the table.

Model Monitor keeps a baseline (statistics + constraints) computed from the training data and compares
every new batch with it; the training data need not be read again. :class:`DriftBaseline` is that
baseline for drift: a JSON-serialisable record per column.

Per numeric column it keeps the row and null counts, mean, standard deviation, minimum and maximum;
the **quantile sketch** — the reference's exact quantiles at K + 1 evenly spaced levels
(``quantile_levels``, default K = 2,000) — from which the KS and Wasserstein tests are computed with a
stated error bound; fixed PSI bins (reference deciles) with their counts; and, for columns with at most
32 distinct values, their exact value counts. A reference of at most ``keep_values_up_to`` rows (1,000 by
default: the size below which Evidently's defaults use the KS test) keeps its sorted values too, so the
small-reference tests are exact; pass ``keep_values_up_to=0`` to never store row values.

Per categorical column (strings, booleans, dictionaries) it keeps the count of every category, which makes
chi-square, the Z-test, Jensen–Shannon and PSI exact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from mlake.errors import ValidationError
from mlake.tables.frames import as_arrow, column_of

BASELINE_FORMAT = 1
DEFAULT_QUANTILE_LEVELS = 2000
DEFAULT_KEEP_VALUES_UP_TO = 1000
LOW_CARDINALITY = 32
PSI_BINS = 10


@dataclass(frozen=True)
class NumericBaseline:
    column: str
    rows: int
    nulls: int  # nulls, NaN and ±inf: left out of every test, as Evidently does
    count: int
    mean: float
    std: float  # population standard deviation (ddof 0), Evidently's norm for the Wasserstein distance
    min: float
    max: float
    quantiles: list[float]  # K + 1 values at levels 0, 1/K, ..., 1 ("inverted CDF" quantiles: observed values)
    psi_edges: list[float]  # inner bin edges; bins are (-inf, e1], (e1, e2], ..., (ek, inf)
    psi_counts: list[int]
    value_counts: list[tuple[float, int]] | None = None  # when at most LOW_CARDINALITY distinct values
    values: list[float] | None = None  # sorted, when count <= keep_values_up_to
    kind: str = "numeric"

    @property
    def levels(self) -> int:
        return len(self.quantiles) - 1

    def sorted_values(self) -> NDArray[np.float64] | None:
        return None if self.values is None else np.asarray(self.values, dtype=np.float64)


@dataclass(frozen=True)
class CategoricalBaseline:
    column: str
    rows: int
    nulls: int
    count: int
    counts: list[tuple[str, int]]
    kind: str = "categorical"


ColumnBaseline = NumericBaseline | CategoricalBaseline


@dataclass(frozen=True)
class DriftBaseline:
    """The reference side of every drift test, per column; ``to_json``/``from_json`` store it anywhere."""

    rows: int
    columns: dict[str, ColumnBaseline]
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it has no baseline
    format: int = BASELINE_FORMAT

    @classmethod
    def from_table(
        cls,
        data: Any,
        *,
        columns: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        quantile_levels: int = DEFAULT_QUANTILE_LEVELS,
        keep_values_up_to: int = DEFAULT_KEEP_VALUES_UP_TO,
    ) -> DriftBaseline:
        """Compute a baseline from a reference table (read once). ``categorical`` forces numeric columns to be
        treated as categories (codes, ratings)."""
        if quantile_levels < 10:
            raise ValidationError(f"quantile_levels must be at least 10 (got {quantile_levels})")
        table = as_arrow(data)
        names = list(columns) if columns is not None else table.column_names
        out: dict[str, ColumnBaseline] = {}
        skipped: dict[str, str] = {}
        forced = set(categorical)
        for name in names:
            array = column_of(table, name, role="reference").combine_chunks()
            kind = column_kind(array, forced_categorical=name in forced)
            if kind is None:
                skipped[name] = f"type {array.type} is neither numeric nor categorical"
            elif kind == "numeric":
                numeric = _numeric_baseline(name, array, quantile_levels, keep_values_up_to)
                if numeric is None:
                    skipped[name] = "no finite values in the reference"
                else:
                    out[name] = numeric
            else:
                out[name] = _categorical_baseline(name, array)
        return cls(rows=table.num_rows, columns=out, skipped=skipped)

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> DriftBaseline:
        raw = json.loads(text)
        if raw.get("format") != BASELINE_FORMAT:
            raise ValidationError(
                f"drift baseline format {raw.get('format')!r} is not supported (this version reads {BASELINE_FORMAT})",
                hint="recompute the baseline from its reference table",
            )
        columns: dict[str, ColumnBaseline] = {}
        for name, c in raw["columns"].items():
            if c["kind"] == "numeric":
                c["value_counts"] = [tuple(p) for p in c["value_counts"]] if c["value_counts"] is not None else None
                columns[name] = NumericBaseline(**c)
            else:
                c["counts"] = [tuple(p) for p in c["counts"]]
                columns[name] = CategoricalBaseline(**c)
        return cls(rows=raw["rows"], columns=columns, skipped=raw.get("skipped", {}), format=raw["format"])


def column_kind(array: pa.Array | pa.ChunkedArray, *, forced_categorical: bool = False) -> str | None:
    kind = array.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if forced_categorical:
        return "categorical"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind):
        return "categorical"
    return None


def finite_values(array: pa.Array | pa.ChunkedArray) -> NDArray[np.float64]:
    """The non-null, finite values of a numeric column as float64."""
    values = np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return values[np.isfinite(values)]


def category_counts(array: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Counts per category (as text), nulls left out."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    counted = pc.value_counts(array.drop_null())
    return {
        str(v): int(n)
        for v, n in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)
    }


def quantile_sketch(values: NDArray[np.float64], levels: int) -> NDArray[np.float64]:
    """Exact quantiles at 0, 1/K, ..., 1 with the inverted-CDF rule (each is an observed value)."""
    return np.asarray(np.quantile(values, np.linspace(0.0, 1.0, levels + 1), method="inverted_cdf"), dtype=np.float64)


def psi_bins(values: NDArray[np.float64], bins: int = PSI_BINS) -> NDArray[np.float64]:
    """Inner edges at the reference's deciles (fewer when values repeat)."""
    inner = np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="inverted_cdf")
    return np.unique(inner)


def bin_counts(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Counts in the bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1).astype(np.int64)


def _numeric_baseline(name: str, array: pa.Array, levels: int, keep_values_up_to: int) -> NumericBaseline | None:
    values = finite_values(array)
    rows = len(array)
    if len(values) == 0:
        return None
    distinct, counts = np.unique(values, return_counts=True)
    value_counts = (
        [(float(v), int(c)) for v, c in zip(distinct, counts, strict=True)]
        if len(distinct) <= LOW_CARDINALITY
        else None
    )
    edges = psi_bins(values)
    return NumericBaseline(
        column=name,
        rows=rows,
        nulls=rows - len(values),
        count=len(values),
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
        quantiles=quantile_sketch(values, levels).tolist(),
        psi_edges=edges.tolist(),
        psi_counts=bin_counts(values, edges).tolist(),
        value_counts=value_counts,
        values=np.sort(values).tolist() if len(values) <= keep_values_up_to else None,
    )


def _categorical_baseline(name: str, array: pa.Array) -> CategoricalBaseline:
    counts = category_counts(array)
    total = sum(counts.values())
    return CategoricalBaseline(
        column=name, rows=len(array), nulls=len(array) - total, count=total, counts=sorted(counts.items())
    )
