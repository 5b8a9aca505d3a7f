"""SageMaker Clarify's pre- and post-training bias metrics, written from Clarify's documented formulas.

Each metric is a function from :class:`~mlake.bias.cells.Cells` (a batch of contingency tables) to one
value per table, so the same code gives the point estimate (a batch of one) and a thousand bootstrap
replicates (a batch of a thousand) in one vectorised call.

Conventions (the docs page ``docs/bias.md`` states them with the formulas):

- *a* is the favoured facet (every row not in the facet), *d* the disfavoured facet.
- A ratio with a zero denominator is ``±inf`` when its numerator is not zero and ``nan`` (undefined)
  when both are zero; the report marks such a value as undefined rather than hiding it.
- Label distributions (KL, JS, Lp, TVD, KS) are over the binary outcome (positive / not positive).
- Where smclarify (Clarify's open-source library) differs from the documentation, the documentation is
  followed: TE is ``FPa/FNa − FPd/FNd`` (smclarify: ``FNd/FPd − FNa/FPa``) and FT is ``(F+ − F−)/nd``
  (smclarify returns the opposite sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlake.bias.cells import FACET_A, FACET_D, FLIP_MINUS, FLIP_PLUS, Cells

Array = NDArray[np.float64]


def ratio(numerator: Array, denominator: Array) -> Array:
    """``numerator / denominator`` with ``x/0 = ±inf`` and ``0/0 = nan``, without numpy warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(numerator / denominator, dtype=np.float64)


def _label_distribution(c: Cells, facet: int, use_prediction: bool = False) -> Array:
    """P_facet(y) for y in (0, 1), shape (B, 2)."""
    count = c.predicted if use_prediction else c.label
    n = c.n(facet)
    return np.stack([ratio(count(facet, 0), n), ratio(count(facet, 1), n)], axis=1)


def _kl(p: Array, q: Array) -> Array:
    """Σ p ln(p/q) along the last axis, with 0·ln(0/q) = 0 and p·ln(p/0) = inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return np.asarray(terms.sum(axis=-1), dtype=np.float64)


# ---- pre-training -------------------------------------------------------------------------------------


def class_imbalance(c: Cells) -> Array:
    """CI = (na − nd) / (na + nd)."""
    na, nd = c.n(FACET_A), c.n(FACET_D)
    return ratio(na - nd, na + nd)


def dpl(c: Cells) -> Array:
    """DPL = qa − qd, q = n(1)/n: the difference in the share of positive labels."""
    return ratio(c.label(FACET_A, 1), c.n(FACET_A)) - ratio(c.label(FACET_D, 1), c.n(FACET_D))


def kl(c: Cells) -> Array:
    """KL = Σy Pa(y) ln(Pa(y) / Pd(y))."""
    return _kl(_label_distribution(c, FACET_A), _label_distribution(c, FACET_D))


def js(c: Cells) -> Array:
    """JS = ½ [KL(Pa ‖ P) + KL(Pd ‖ P)], P = ½ (Pa + Pd)."""
    pa_, pd_ = _label_distribution(c, FACET_A), _label_distribution(c, FACET_D)
    mid = 0.5 * (pa_ + pd_)
    return 0.5 * (_kl(pa_, mid) + _kl(pd_, mid))


def lp(c: Cells, p: float = 2.0) -> Array:
    """Lp = (Σy |Pa(y) − Pd(y)|^p)^(1/p), p = 2 (Clarify's default)."""
    diff = np.abs(_label_distribution(c, FACET_A) - _label_distribution(c, FACET_D))
    return np.asarray((diff**p).sum(axis=-1) ** (1.0 / p), dtype=np.float64)


def tvd(c: Cells) -> Array:
    """TVD = ½ Σy |Pa(y) − Pd(y)|."""
    diff = np.abs(_label_distribution(c, FACET_A) - _label_distribution(c, FACET_D))
    return np.asarray(0.5 * diff.sum(axis=-1), dtype=np.float64)


def ks(c: Cells) -> Array:
    """KS = maxy |Pa(y) − Pd(y)| (over the label's values, as Clarify defines it)."""
    return np.asarray(
        np.abs(_label_distribution(c, FACET_A) - _label_distribution(c, FACET_D)).max(axis=-1), dtype=np.float64
    )


def _cdd(c: Cells, outcome_axis: int) -> Array:
    """CDD = (1/n) Σi ni · DDi, DDi = nd,i(0)/ni(0) − nd,i(1)/ni(1) within subgroup i.

    A subgroup with no rejections (or no acceptances) contributes 0 for that share, as smclarify does:
    Clarify's documentation does not cover the case and a share of nothing is taken as nothing.
    """
    counts = c.by_group(outcome_axis)  # (B, facet, outcome, G)
    n_i0 = counts[:, :, 0].sum(axis=1)
    n_i1 = counts[:, :, 1].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rejected_share = np.where(n_i0 > 0, counts[:, FACET_D, 0] / n_i0, 0.0)
        accepted_share = np.where(n_i1 > 0, counts[:, FACET_D, 1] / n_i1, 0.0)
    n_i = n_i0 + n_i1
    return ratio((n_i * (rejected_share - accepted_share)).sum(axis=1), n_i.sum(axis=1))


def cddl(c: Cells) -> Array:
    """CDDL: conditional demographic disparity of the observed labels."""
    return _cdd(c, 2)


# ---- post-training ------------------------------------------------------------------------------------


def dppl(c: Cells) -> Array:
    """DPPL = q̂a − q̂d, q̂ = n̂(1)/n: the difference in the share of positive predictions."""
    return ratio(c.predicted(FACET_A, 1), c.n(FACET_A)) - ratio(c.predicted(FACET_D, 1), c.n(FACET_D))


def disparate_impact(c: Cells) -> Array:
    """DI = q̂d / q̂a."""
    return ratio(ratio(c.predicted(FACET_D, 1), c.n(FACET_D)), ratio(c.predicted(FACET_A, 1), c.n(FACET_A)))


def dcacc(c: Cells) -> Array:
    """DCAcc = ca − cd, c = n(1)/n̂(1): observed over predicted acceptances."""
    ca = ratio(c.label(FACET_A, 1), c.predicted(FACET_A, 1))
    cd = ratio(c.label(FACET_D, 1), c.predicted(FACET_D, 1))
    return ca - cd


def dcr(c: Cells) -> Array:
    """DCR = rd − ra, r = n(0)/n̂(0): observed over predicted rejections."""
    rd = ratio(c.label(FACET_D, 0), c.predicted(FACET_D, 0))
    ra = ratio(c.label(FACET_A, 0), c.predicted(FACET_A, 0))
    return rd - ra


def _tp(c: Cells, f: int) -> Array:
    return c.confusion(f, 1, 1)


def _fp(c: Cells, f: int) -> Array:
    return c.confusion(f, 0, 1)


def _fn(c: Cells, f: int) -> Array:
    return c.confusion(f, 1, 0)


def _tn(c: Cells, f: int) -> Array:
    return c.confusion(f, 0, 0)


def dar(c: Cells) -> Array:
    """DAR = TPa/(TPa + FPa) − TPd/(TPd + FPd): the difference in precision."""
    a, d = FACET_A, FACET_D
    return ratio(_tp(c, a), _tp(c, a) + _fp(c, a)) - ratio(_tp(c, d), _tp(c, d) + _fp(c, d))


def drr(c: Cells) -> Array:
    """DRR = TNd/(TNd + FNd) − TNa/(TNa + FNa): the difference in negative predictive value."""
    a, d = FACET_A, FACET_D
    return ratio(_tn(c, d), _tn(c, d) + _fn(c, d)) - ratio(_tn(c, a), _tn(c, a) + _fn(c, a))


def rd(c: Cells) -> Array:
    """RD = TPa/(TPa + FNa) − TPd/(TPd + FNd): the difference in recall."""
    a, d = FACET_A, FACET_D
    return ratio(_tp(c, a), _tp(c, a) + _fn(c, a)) - ratio(_tp(c, d), _tp(c, d) + _fn(c, d))


def ad(c: Cells) -> Array:
    """AD = ACCa − ACCd."""
    a, d = FACET_A, FACET_D
    return ratio(_tp(c, a) + _tn(c, a), c.n(a)) - ratio(_tp(c, d) + _tn(c, d), c.n(d))


def te(c: Cells) -> Array:
    """TE = FPa/FNa − FPd/FNd (Clarify's documented form; smclarify computes FNd/FPd − FNa/FPa)."""
    a, d = FACET_A, FACET_D
    return ratio(_fp(c, a), _fn(c, a)) - ratio(_fp(c, d), _fn(c, d))


def cddpl(c: Cells) -> Array:
    """CDDPL: conditional demographic disparity of the predicted labels."""
    return _cdd(c, 3)


def fliptest(c: Cells) -> Array:
    """FT = (F+ − F−)/nd (Clarify's documented sign; smclarify returns (F− − F+)/nd)."""
    return ratio(c.flips(FLIP_PLUS) - c.flips(FLIP_MINUS), c.n(FACET_D))


def generalized_entropy(c: Cells, alpha: float = 2.0) -> Array:
    """GE(α=2) = 1/(n α(α−1)) Σi [(bi/b̄)^α − 1], bi = ŷi − yi + 1 ∈ {0, 1, 2}."""
    fn = c.confusion(None, 1, 0)  # benefit 0
    correct = c.confusion(None, 1, 1) + c.confusion(None, 0, 0)  # benefit 1
    fp = c.confusion(None, 0, 1)  # benefit 2
    n = fn + correct + fp
    mean = ratio(correct + 2 * fp, n)
    power_sum = correct * ratio(np.ones_like(mean), mean) ** alpha + fp * ratio(2 * np.ones_like(mean), mean) ** alpha
    return ratio(power_sum - n, n * alpha * (alpha - 1))


@dataclass(frozen=True)
class MetricDefinition:
    """A metric's code, when it applies, and the words a report shows with it."""

    code: str
    name: str
    stage: str  # "pre-training" or "post-training"
    needs: frozenset[str]  # of "prediction", "group", "fliptest"
    formula: str
    compute: Callable[[Cells], Array]
    ideal: float  # the value of no bias


def _m(
    code: str, name: str, stage: str, needs: set[str], formula: str, fn: Callable[[Cells], Array], ideal: float = 0.0
) -> MetricDefinition:
    return MetricDefinition(code, name, stage, frozenset(needs), formula, fn, ideal)


PRE, POST = "pre-training", "post-training"

# fmt: off
METRICS: dict[str, MetricDefinition] = {
    m.code: m
    for m in [
        _m("CI", "Class imbalance", PRE, set(), "(na − nd) / (na + nd)", class_imbalance),
        _m("DPL", "Difference in proportions of labels", PRE, set(), "na(1)/na − nd(1)/nd", dpl),
        _m("KL", "Kullback-Leibler divergence", PRE, set(), "Σy Pa(y) ln(Pa(y)/Pd(y))", kl),
        _m("JS", "Jensen-Shannon divergence", PRE, set(), "½ [KL(Pa‖P) + KL(Pd‖P)], P = ½(Pa + Pd)", js),
        _m("LP", "Lp-norm (p = 2)", PRE, set(), "(Σy |Pa(y) − Pd(y)|²)^½", lp),
        _m("TVD", "Total variation distance", PRE, set(), "½ Σy |Pa(y) − Pd(y)|", tvd),
        _m("KS", "Kolmogorov-Smirnov", PRE, set(), "maxy |Pa(y) − Pd(y)|", ks),
        _m("CDDL", "Conditional demographic disparity in labels", PRE, {"group"},
           "(1/n) Σi ni [nd,i(0)/ni(0) − nd,i(1)/ni(1)]", cddl),
        _m("DPPL", "Difference in positive proportions in predicted labels", POST, {"prediction"},
           "n̂a(1)/na − n̂d(1)/nd", dppl),
        _m("DI", "Disparate impact", POST, {"prediction"}, "(n̂d(1)/nd) / (n̂a(1)/na)", disparate_impact, 1.0),
        _m("DCAcc", "Difference in conditional acceptance", POST, {"prediction"},
           "na(1)/n̂a(1) − nd(1)/n̂d(1)", dcacc),
        _m("DCR", "Difference in conditional rejection", POST, {"prediction"},
           "nd(0)/n̂d(0) − na(0)/n̂a(0)", dcr),
        _m("DAR", "Difference in acceptance rates", POST, {"prediction"},
           "TPa/(TPa + FPa) − TPd/(TPd + FPd)", dar),
        _m("DRR", "Difference in rejection rates", POST, {"prediction"},
           "TNd/(TNd + FNd) − TNa/(TNa + FNa)", drr),
        _m("RD", "Recall difference", POST, {"prediction"}, "TPa/(TPa + FNa) − TPd/(TPd + FNd)", rd),
        _m("AD", "Accuracy difference", POST, {"prediction"}, "ACCa − ACCd", ad),
        _m("TE", "Treatment equality", POST, {"prediction"}, "FPa/FNa − FPd/FNd", te),
        _m("CDDPL", "Conditional demographic disparity in predicted labels", POST, {"prediction", "group"},
           "(1/n) Σi ni [n̂d,i(0)/n̂i(0) − n̂d,i(1)/n̂i(1)]", cddpl),
        _m("FT", "Counterfactual fliptest", POST, {"prediction", "fliptest"}, "(F+ − F−) / nd", fliptest),
        _m("GE", "Generalized entropy (α = 2)", POST, {"prediction"},
           "1/(2n) Σi [(bi/b̄)² − 1], bi = ŷi − yi + 1", generalized_entropy),
    ]
}
# fmt: on

PRE_TRAINING = tuple(code for code, m in METRICS.items() if m.stage == PRE)
POST_TRAINING = tuple(code for code, m in METRICS.items() if m.stage == POST)
