"""Numbers: binning (uniform, quantile, given edges), clipping, winsorizing, outlier removal by IQR or
z-score, rounding, safe ratios."""

from __future__ import annotations

from typing import ClassVar, Literal

from mlake.processing.base import Frame, Params, Transform, as_float, lit, q, with_columns


def _bin_expr(col: str, edges: list[float]) -> str:
    """The bin index of ``col`` given fitted edges: how many inner edges are ≤ the value (as
    scikit-learn's KBinsDiscretizer assigns ordinal bins)."""
    inner = edges[1:-1]
    if not inner:
        return f"CASE WHEN {col} IS NULL THEN NULL ELSE 0 END"
    terms = " + ".join(f"CAST({col} >= {lit(e)} AS INTEGER)" for e in inner)
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE {terms} END"


class _FittedBins(Transform):
    """Bins whose edges are learnt from the fit data (no ``op``: not a transform of its own); applying them
    is the same for every way of choosing the edges."""

    group: ClassVar[str] = "numeric"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    fitted: ClassVar[bool] = True
    columns: list[str]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(
            frame.name, frame.schema, {c: _bin_expr(q(c), (params or {}).get(c, [])) for c in self.columns}
        )


class BinUniform(_FittedBins):
    """Equal-width bins between the minimum and maximum of the fit data (ordinal bin index)."""

    op: ClassVar[str] = "bin_uniform"
    bins: int = 5

    def fit(self, frame: Frame) -> Params | None:
        row = frame.rows(f"SELECT {', '.join(f'min({q(c)}), max({q(c)})' for c in self.columns)} FROM {frame.name}")[0]
        out: Params = {}
        for i, c in enumerate(self.columns):
            lo, hi = as_float(row[2 * i]), as_float(row[2 * i + 1])
            out[c] = [] if lo is None or hi is None else [lo + (hi - lo) * k / self.bins for k in range(self.bins + 1)]
        return out


class BinQuantile(_FittedBins):
    """Bins holding equal shares of the fit data (edges are its quantiles; ordinal bin index)."""

    op: ClassVar[str] = "bin_quantile"
    bins: int = 4

    def fit(self, frame: Frame) -> Params | None:
        qs = ", ".join(str(k / self.bins) for k in range(self.bins + 1))
        out: Params = {}
        for c in self.columns:
            edges = frame.rows(f"SELECT quantile_cont({q(c)}, [{qs}]) FROM {frame.name}")[0][0]
            out[c] = [] if edges is None else sorted({float(e) for e in edges})
        return out


class BinEdges(Transform):
    """Bins with given edges: the bin index, or a label per bin when ``labels`` are given."""

    op: ClassVar[str] = "bin_edges"
    group: ClassVar[str] = "numeric"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    columns: list[str]
    edges: list[float]
    labels: list[str] | None = None

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        def expr(c: str) -> str:
            index = _bin_expr(q(c), [float("-inf"), *self.edges, float("inf")])
            if not self.labels:
                return index
            return f"[{', '.join(lit(label) for label in self.labels)}][({index}) + 1]"

        return with_columns(frame.name, frame.schema, {c: expr(c) for c in self.columns})


class Clip(Transform):
    """Limit values to [lower, upper]."""

    op: ClassVar[str] = "clip"
    group: ClassVar[str] = "numeric"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    columns: list[str]
    lower: float | None = None
    upper: float | None = None

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        def expr(c: str) -> str:
            e = q(c)
            if self.lower is not None:
                e = f"greatest({e}, {lit(self.lower)})"
            if self.upper is not None:
                e = f"least({e}, {lit(self.upper)})"
            return f"CASE WHEN {q(c)} IS NULL THEN NULL ELSE {e} END"

        return with_columns(frame.name, frame.schema, {c: expr(c) for c in self.columns})


class Winsorize(Transform):
    """Clip to the ``lower`` and ``upper`` quantiles of the fit data."""

    op: ClassVar[str] = "winsorize"
    group: ClassVar[str] = "numeric"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    fitted: ClassVar[bool] = True
    columns: list[str]
    lower: float = 0.05
    upper: float = 0.95

    def fit(self, frame: Frame) -> Params | None:
        exprs = ", ".join(
            f"quantile_cont({q(c)}, {self.lower}), quantile_cont({q(c)}, {self.upper})" for c in self.columns
        )
        row = frame.rows(f"SELECT {exprs} FROM {frame.name}")[0]
        return {c: [as_float(row[2 * i]), as_float(row[2 * i + 1])] for i, c in enumerate(self.columns)}

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {}
        for c in self.columns:
            lo, hi = (params or {}).get(c, [None, None])
            exprs[c] = f"CASE WHEN {q(c)} IS NULL THEN NULL ELSE least(greatest({q(c)}, {lit(lo)}), {lit(hi)}) END"
        return with_columns(frame.name, frame.schema, exprs)


class RemoveOutliersIqr(Transform):
    """Drop rows outside ``[Q1 - k·IQR, Q3 + k·IQR]`` of the fit data (nulls are kept)."""

    op: ClassVar[str] = "remove_outliers_iqr"
    group: ClassVar[str] = "numeric"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    fitted: ClassVar[bool] = True
    columns: list[str]
    factor: float = 1.5

    def fit(self, frame: Frame) -> Params | None:
        exprs = ", ".join(f"quantile_cont({q(c)}, 0.25), quantile_cont({q(c)}, 0.75)" for c in self.columns)
        row = frame.rows(f"SELECT {exprs} FROM {frame.name}")[0]
        out: Params = {}
        for i, c in enumerate(self.columns):
            q1, q3 = as_float(row[2 * i]), as_float(row[2 * i + 1])
            out[c] = (
                [None, None]
                if q1 is None or q3 is None
                else [q1 - self.factor * (q3 - q1), q3 + self.factor * (q3 - q1)]
            )
        return out

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        conds = []
        for c in self.columns:
            lo, hi = (params or {}).get(c, [None, None])
            if lo is not None:
                conds.append(f"({q(c)} IS NULL OR {q(c)} BETWEEN {lit(lo)} AND {lit(hi)})")
        return f"SELECT * FROM {frame.name}" + (f" WHERE {' AND '.join(conds)}" if conds else "")


class RemoveOutliersZscore(Transform):
    """Drop rows whose |z-score| (mean and population deviation of the fit data) exceeds ``threshold``."""

    op: ClassVar[str] = "remove_outliers_zscore"
    group: ClassVar[str] = "numeric"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    fitted: ClassVar[bool] = True
    columns: list[str]
    threshold: float = 3.0

    def fit(self, frame: Frame) -> Params | None:
        exprs = ", ".join(f"avg({q(c)}), stddev_pop({q(c)})" for c in self.columns)
        row = frame.rows(f"SELECT {exprs} FROM {frame.name}")[0]
        return {c: [as_float(row[2 * i]), as_float(row[2 * i + 1])] for i, c in enumerate(self.columns)}

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        conds = []
        for c in self.columns:
            mean, std = (params or {}).get(c, [None, None])
            if mean is not None and std:
                conds.append(f"({q(c)} IS NULL OR abs({q(c)} - {lit(mean)}) / {lit(std)} <= {lit(self.threshold)})")
        return f"SELECT * FROM {frame.name}" + (f" WHERE {' AND '.join(conds)}" if conds else "")


class Round(Transform):
    """Round to ``decimals`` places."""

    op: ClassVar[str] = "round"
    group: ClassVar[str] = "numeric"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    columns: list[str]
    decimals: int = 0

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(frame.name, frame.schema, {c: f"round({q(c)}, {int(self.decimals)})" for c in self.columns})


class Ratio(Transform):
    """``numerator / denominator`` as a new column; null where the denominator is zero or null."""

    op: ClassVar[str] = "ratio"
    group: ClassVar[str] = "numeric"
    numerator: str
    denominator: str
    name: str

    def inputs(self) -> list[str]:
        return [self.numerator, self.denominator]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        expr = f"CAST({q(self.numerator)} AS DOUBLE) / nullif(CAST({q(self.denominator)} AS DOUBLE), 0)"
        return with_columns(frame.name, frame.schema, {self.name: expr})
