"""Scaling: standard, min-max, max-abs, robust (fitted); log, power, square root, row normalization."""

from __future__ import annotations

from typing import ClassVar, Literal

from mlake.processing.base import Frame, Params, Transform, as_float, lit, q, with_columns


class _Fitted(Transform):
    """Scalers: one statistics query over the fit data, then ``(x - center) / scale`` per column."""

    group: ClassVar[str] = "scaling"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    fitted: ClassVar[bool] = True
    columns: list[str]
    stats: ClassVar[tuple[str, ...]] = ()

    def fit(self, frame: Frame) -> Params | None:
        exprs = [s.format(q(c)) for c in self.columns for s in self.stats]
        row = frame.rows(f"SELECT {', '.join(exprs)} FROM {frame.name}")[0]
        n = len(self.stats)
        return {c: [as_float(v) for v in row[i * n : (i + 1) * n]] for i, c in enumerate(self.columns)}

    def center_scale(self, stats: list[float | None]) -> tuple[float | None, float | None]:
        raise NotImplementedError

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {}
        for c in self.columns:
            center, scale = self.center_scale((params or {}).get(c) or [None] * len(self.stats))
            exprs[c] = f"(CAST({q(c)} AS DOUBLE) - {lit(center)}) / {lit(scale)}"
        return with_columns(frame.name, frame.schema, exprs)


def _nonzero(scale: float | None) -> float | None:
    """A zero scale (a constant column) leaves the values unscaled, as scikit-learn does."""
    return 1.0 if scale == 0 else scale


class StandardScale(_Fitted):
    """Subtract the mean and divide by the (population) standard deviation of the fit data."""

    op: ClassVar[str] = "standard_scale"
    stats: ClassVar[tuple[str, ...]] = ("avg({})", "stddev_pop({})")

    def center_scale(self, stats: list[float | None]) -> tuple[float | None, float | None]:
        return stats[0], _nonzero(stats[1])


class MinMaxScale(_Fitted):
    """Rescale to [0, 1] with the minimum and maximum of the fit data."""

    op: ClassVar[str] = "minmax_scale"
    stats: ClassVar[tuple[str, ...]] = ("min({})", "max({})")

    def center_scale(self, stats: list[float | None]) -> tuple[float | None, float | None]:
        lo, hi = stats
        return lo, None if lo is None or hi is None else _nonzero(hi - lo)


class MaxAbsScale(_Fitted):
    """Divide by the largest absolute value of the fit data (keeps sparsity and sign)."""

    op: ClassVar[str] = "maxabs_scale"
    stats: ClassVar[tuple[str, ...]] = ("max(abs({}))",)

    def center_scale(self, stats: list[float | None]) -> tuple[float | None, float | None]:
        return 0.0, _nonzero(stats[0])


class RobustScale(_Fitted):
    """Subtract the median and divide by the interquartile range of the fit data (robust to outliers)."""

    op: ClassVar[str] = "robust_scale"
    stats: ClassVar[tuple[str, ...]] = ("quantile_cont({}, 0.5)", "quantile_cont({}, 0.25)", "quantile_cont({}, 0.75)")

    def center_scale(self, stats: list[float | None]) -> tuple[float | None, float | None]:
        med, q1, q3 = stats
        return med, None if q1 is None or q3 is None else _nonzero(q3 - q1)


class LogTransform(Transform):
    """Natural logarithm of ``x + offset`` (``offset=1`` is log1p); values at or below zero become null."""

    op: ClassVar[str] = "log"
    group: ClassVar[str] = "scaling"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    columns: list[str]
    offset: float = 1.0

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {
            c: f"CASE WHEN {q(c)} + {lit(self.offset)} > 0 THEN ln({q(c)} + {lit(self.offset)}) END"
            for c in self.columns
        }
        return with_columns(frame.name, frame.schema, exprs)


class PowerTransform(Transform):
    """Raise to a power, keeping the sign (``sign(x) * |x| ** exponent``)."""

    op: ClassVar[str] = "power"
    group: ClassVar[str] = "scaling"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    columns: list[str]
    exponent: float = 0.5

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {c: f"sign({q(c)}) * pow(abs(CAST({q(c)} AS DOUBLE)), {lit(self.exponent)})" for c in self.columns}
        return with_columns(frame.name, frame.schema, exprs)


class BoxCox(Transform):
    """Box-Cox with a given lambda (``(x**l - 1) / l``, ``ln x`` for l = 0); values ≤ 0 become null."""

    op: ClassVar[str] = "box_cox"
    group: ClassVar[str] = "scaling"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    columns: list[str]
    lmbda: float = 0.0

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        def expr(c: str) -> str:
            body = f"ln({q(c)})" if self.lmbda == 0 else f"(pow({q(c)}, {lit(self.lmbda)}) - 1) / {lit(self.lmbda)}"
            return f"CASE WHEN {q(c)} > 0 THEN {body} END"

        return with_columns(frame.name, frame.schema, {c: expr(c) for c in self.columns})


class NormalizeRows(Transform):
    """Divide the columns of each row by the row's L1, L2 or max norm (scikit-learn's Normalizer)."""

    op: ClassVar[str] = "normalize_rows"
    group: ClassVar[str] = "scaling"
    needs: ClassVar[Literal["numeric"]] = "numeric"
    columns: list[str]
    norm: Literal["l1", "l2", "max"] = "l2"

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        cols = [q(c) for c in self.columns]
        if self.norm == "l2":
            norm = f"sqrt({' + '.join(f'{c} * {c}' for c in cols)})"
        elif self.norm == "l1":
            norm = " + ".join(f"abs({c})" for c in cols)
        else:
            norm = f"greatest({', '.join(f'abs({c})' for c in cols)})"
        exprs = {c: f"CAST({q(c)} AS DOUBLE) / CASE WHEN ({norm}) = 0 THEN 1 ELSE ({norm}) END" for c in self.columns}
        return with_columns(frame.name, frame.schema, exprs)
