"""The drift tests, each computed from a stored baseline column and the current values.

A test returns a :class:`TestOutcome`: its score (a p-value or a distance), and the bound on how far that
score can be from the one computed on the raw reference (0 when the baseline holds what the test needs
exactly). docs/monitoring.md derives each bound.

- KS: exact (``scipy.stats.ks_2samp``) when the baseline kept the reference values; otherwise the
  reference CDF is read from the quantile sketch. With inverted-CDF quantiles q0..qK, a point x with
  qi ≤ x < qi+1 has F(x) in [i/K, (i+1)/K), so taking the middle, (i + ½)/K, errs by at most 1/(2K);
  the KS statistic, a supremum of |F − Fcur|, inherits the same bound. The p-value is Smirnov's
  asymptotic one (as scipy's ``method="asymp"``) on the approximate statistic.
- Wasserstein (normed by the reference standard deviation, floored at 0.001, as Evidently): exact when
  values were kept; otherwise ∫|Q̂ref(p) − Qcur(p)|dp with Q̂ref the piecewise-linear quantile function
  through the sketch. On each level step both the true and the sketched quantile function lie in
  [qi, qi+1], so the error is at most Σ(qi+1 − qi)/K = (max − min)/K, divided by the norm.
- chi-square, Z-test, Jensen–Shannon distance, PSI: from category counts (exact).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlake.monitor.baseline import CategoricalBaseline, NumericBaseline, bin_counts

Counts = dict[str, int] | dict[float, int]

# Kinds of score: a p-value signals drift when small, a distance when large.
P_VALUE, DISTANCE = "p_value", "distance"
METHODS: dict[str, str] = {
    "ks": P_VALUE,
    "chisquare": P_VALUE,
    "z": P_VALUE,
    "wasserstein": DISTANCE,
    "jensenshannon": DISTANCE,
    "psi": DISTANCE,
}
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}


@dataclass(frozen=True)
class TestOutcome:
    score: float
    error_bound: float = 0.0
    statistic: float | None = None  # the test statistic behind a p-value (KS D, chi-square, z)


# ---- numeric -----------------------------------------------------------------------------------------


def sketch_cdf(quantiles: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The reference CDF at ``x`` read from the quantile sketch (error ≤ 1/(2K), see the module docstring)."""
    k = len(quantiles) - 1
    i = np.searchsorted(quantiles, x, side="right") - 1  # last level with q_i <= x
    estimate = (i + 0.5) / k
    estimate = np.where(i < 0, 0.0, estimate)
    return np.asarray(np.where(i >= k, 1.0, estimate), dtype=np.float64)


def ks_statistic_from_sketch(quantiles: NDArray[np.float64], current_sorted: NDArray[np.float64]) -> float:
    """sup |F̂ref − Fcur| over the jump points of both step functions (where the supremum is reached)."""
    points = np.union1d(quantiles, current_sorted)
    f_cur = np.searchsorted(current_sorted, points, side="right") / len(current_sorted)
    return float(np.max(np.abs(sketch_cdf(quantiles, points) - f_cur)))


def smirnov_p_value(d: float, n1: int, n2: int) -> float:
    """Two-sided asymptotic p-value of the two-sample KS statistic, as ``scipy.stats.ks_2samp(method="asymp")``."""
    from scipy.stats import kstwo

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(kstwo.sf(d, np.round(en)), 0.0, 1.0))


def ks_test(ref: NumericBaseline, current: NDArray[np.float64]) -> TestOutcome:
    from scipy.stats import ks_2samp

    exact = ref.sorted_values()
    if exact is not None:
        result = ks_2samp(exact, current)
        return TestOutcome(float(result.pvalue), 0.0, float(result.statistic))
    current_sorted = np.sort(current)
    d = ks_statistic_from_sketch(np.asarray(ref.quantiles), current_sorted)
    return TestOutcome(smirnov_p_value(d, ref.count, len(current)), 0.5 / ref.levels, d)


def wasserstein_from_sketch(quantiles: NDArray[np.float64], current_sorted: NDArray[np.float64]) -> float:
    """∫0^1 |Q̂ref(p) − Qcur(p)| dp with Q̂ref linear between the sketch's levels and Qcur a step function."""
    k = len(quantiles) - 1
    m = len(current_sorted)
    level_grid = np.linspace(0.0, 1.0, k + 1)
    # Both break sets are sorted: a stable sort merges the two runs; repeated breaks give empty segments.
    breaks = np.sort(np.concatenate([level_grid, np.arange(m + 1) / m]), kind="stable")
    p0, p1 = breaks[:-1], breaks[1:]
    width = p1 - p0
    # Qcur on (j/m, (j+1)/m] is the (j+1)-th smallest value.
    j = np.clip(np.ceil((p0 + p1) * (m / 2)).astype(np.int64) - 1, 0, m - 1)
    q_cur = current_sorted[j]
    u0 = np.interp(p0, level_grid, quantiles) - q_cur
    u1 = np.interp(p1, level_grid, quantiles) - q_cur
    a0, a1 = np.abs(u0), np.abs(u1)
    total = a0 + a1
    # Same sign: a trapezoid. Opposite signs: two triangles meeting where the line crosses zero.
    crossing = (u0 * u1) < 0
    area = np.where(crossing, (u0 * u0 + u1 * u1) / (2 * np.where(crossing, total, 1.0)), total / 2)
    return float(np.dot(area, width))


def wasserstein_test(ref: NumericBaseline, current: NDArray[np.float64]) -> TestOutcome:
    from scipy.stats import wasserstein_distance

    norm = max(ref.std, 0.001)
    exact = ref.sorted_values()
    if exact is not None:
        return TestOutcome(float(wasserstein_distance(exact, current)) / norm)
    distance = wasserstein_from_sketch(np.asarray(ref.quantiles), np.sort(current))
    bound = (ref.max - ref.min) / ref.levels / norm
    return TestOutcome(distance / norm, bound)


def numeric_counts(values: NDArray[np.float64]) -> dict[float, int]:
    distinct, counts = np.unique(values, return_counts=True)
    return {float(v): int(c) for v, c in zip(distinct, counts, strict=True)}


def psi_numeric(ref: NumericBaseline, current: NDArray[np.float64]) -> TestOutcome:
    edges = np.asarray(ref.psi_edges, dtype=np.float64)
    ref_share = np.asarray(ref.psi_counts, dtype=np.float64) / ref.count
    cur_share = bin_counts(current, edges) / len(current)
    return TestOutcome(_psi(ref_share, cur_share))


# ---- counts (categorical, or numeric with few values) ------------------------------------------------


def _aligned(ref: Counts, cur: Counts) -> tuple[list[object], NDArray[np.float64], NDArray[np.float64]]:
    keys: list[object] = sorted(set(ref) | set(cur), key=lambda v: (str(type(v)), v))
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)  # type: ignore[call-overload]
    c = np.array([cur.get(k, 0) for k in keys], dtype=np.float64)  # type: ignore[call-overload]
    return keys, r, c


def chisquare_test(ref: Counts, cur: Counts) -> TestOutcome:
    """Pearson's chi-square of the current counts against the reference shares scaled to the current size
    (Evidently's ``chisquare``); a category absent from the reference gives p = 0."""
    from scipy.stats import chisquare

    _, r, c = _aligned(ref, cur)
    expected = r * (c.sum() / r.sum())
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        result = chisquare(c, expected)
    p = float(result.pvalue)
    statistic = float(result.statistic)
    if np.isnan(p):  # a category the reference never saw
        p, statistic = 0.0, float("inf")
    return TestOutcome(p, 0.0, statistic)


def z_test(ref: Counts, cur: Counts) -> TestOutcome:
    """Two-proportion Z-test on the share of the first category (Evidently's ``z`` for binary columns)."""
    from scipy.stats import norm

    keys, r, c = _aligned(ref, cur)
    if len(keys) == 1:
        return TestOutcome(1.0, 0.0, 0.0)
    n1, n2 = r.sum(), c.sum()
    p1, p2 = 1 - r[0] / n1, 1 - c[0] / n2  # share of "not the first key", as Evidently codes it
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p = float(2 * (1 - norm.cdf(abs(z)))) if np.isfinite(z) else (1.0 if p1 == p2 else 0.0)
    return TestOutcome(p, 0.0, float(z))


def jensenshannon_test(ref: Counts, cur: Counts) -> TestOutcome:
    """Jensen–Shannon *distance* (natural log, as ``scipy.spatial.distance.jensenshannon``) of the shares."""
    from scipy.spatial.distance import jensenshannon

    _, r, c = _aligned(ref, cur)
    return TestOutcome(float(jensenshannon(r / r.sum(), c / c.sum())))


def _floor_zeros(share: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evidently's zero filling for PSI: an empty bin gets min/10⁶ (or 10⁻⁴) so the log stays finite."""
    out = share.copy()
    nonzero = out[out > 0]
    if len(nonzero) == 0:
        return out
    smallest = nonzero.min()
    out[out == 0] = smallest / 1e6 if smallest <= 0.0001 else 0.0001
    return out


def _psi(ref_share: NDArray[np.float64], cur_share: NDArray[np.float64]) -> float:
    r, c = _floor_zeros(ref_share), _floor_zeros(cur_share)
    return float(np.sum((r - c) * np.log(r / c)))


def psi_counts(ref: Counts, cur: Counts) -> TestOutcome:
    _, r, c = _aligned(ref, cur)
    return TestOutcome(_psi(r / r.sum(), c / c.sum()))


def categorical_reference(ref: CategoricalBaseline) -> dict[str, int]:
    return dict(ref.counts)
