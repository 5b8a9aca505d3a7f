"""The bias metrics against Fairlearn, AIF360, scikit-learn and scipy where they define the same quantity.

Data: scikit-learn's bundled diabetes set (442 patients, no download). Facet d: sex == 2; label: disease
progression above the median; predictions: a logistic regression on the other features; CDD strata:
age over 50. Signs are mapped where a library orients a difference the other way (AIF360 subtracts the
privileged group from the unprivileged one; Clarify subtracts d from a).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlake.bias import Facet, Outcome, bias_report

pytestmark = pytest.mark.slow  # importing sklearn, fairlearn and aif360 takes seconds


@pytest.fixture(scope="module")
def diabetes() -> dict[str, Any]:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LogisticRegression

    x, target = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
    sex = np.where(x["sex"] == 2, "two", "one")
    y = (target > target.median()).astype(int).to_numpy()
    features = x.drop(columns=["sex"])
    pred = LogisticRegression(max_iter=5000).fit(features, y).predict(features)
    band = np.where(x["age"] > 50, "over 50", "50 or under")
    table = pa.table({"sex": sex, "y": y, "p": pred, "band": band})
    report = bias_report(
        table,
        Facet.of("sex", values=["two"]),
        Outcome.of("y", positive_values=[1]),
        predicted_label=Outcome.of("p", positive_values=[1]),
        group="band",
        resamples=2000,
        seed=1,
    )
    return {"sex": sex, "y": y, "pred": pred, "band": band, "report": report}


def _frame(d: dict[str, Any], metric: Any, y_pred: Any = None) -> pd.Series:
    from fairlearn.metrics import MetricFrame

    frame = MetricFrame(metrics=metric, y_true=d["y"], y_pred=d["pred"] if y_pred is None else y_pred,
                        sensitive_features=d["sex"])  # fmt: skip
    return frame.by_group


def test_post_training_rates_match_fairlearn(diabetes: dict[str, Any]) -> None:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    report, d = diabetes["report"], diabetes
    sel = _frame(d, selection_rate)
    assert report.metric("DPPL").value == pytest.approx(sel["one"] - sel["two"], abs=1e-12)
    assert abs(report.metric("DPPL").value) == pytest.approx(
        demographic_parity_difference(d["y"], d["pred"], sensitive_features=d["sex"]), abs=1e-12
    )
    di = report.metric("DI").value
    assert min(di, 1 / di) == pytest.approx(
        demographic_parity_ratio(d["y"], d["pred"], sensitive_features=d["sex"]), abs=1e-12
    )
    tpr = _frame(d, true_positive_rate)
    assert report.metric("RD").value == pytest.approx(tpr["one"] - tpr["two"], abs=1e-12)
    acc = _frame(d, accuracy_score)
    assert report.metric("AD").value == pytest.approx(acc["one"] - acc["two"], abs=1e-12)
    prec = _frame(d, precision_score)
    assert report.metric("DAR").value == pytest.approx(prec["one"] - prec["two"], abs=1e-12)
    npv = _frame(d, lambda yt, yp: precision_score(yt, yp, pos_label=0))
    assert report.metric("DRR").value == pytest.approx(npv["two"] - npv["one"], abs=1e-12)
    base = _frame(d, selection_rate, y_pred=d["y"])  # share of positive labels
    assert report.metric("DCAcc").value == pytest.approx(
        base["one"] / sel["one"] - base["two"] / sel["two"], abs=1e-12
    )
    assert report.metric("DCR").value == pytest.approx(
        (1 - base["two"]) / (1 - sel["two"]) - (1 - base["one"]) / (1 - sel["one"]), abs=1e-12
    )


def test_treatment_equality_from_sklearn_confusion_matrices(diabetes: dict[str, Any]) -> None:
    from sklearn.metrics import confusion_matrix

    d = diabetes
    te = []
    for facet in ("one", "two"):
        rows = d["sex"] == facet
        (_tn, fp), (fn, _tp) = confusion_matrix(d["y"][rows], d["pred"][rows])
        te.append(fp / fn)
    assert diabetes["report"].metric("TE").value == pytest.approx(te[0] - te[1], abs=1e-12)


def test_pre_training_and_entropy_match_aif360(diabetes: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import aif360.sklearn.metrics as aif

    d, report = diabetes, diabetes["report"]
    index = pd.Index(d["sex"], name="sex")
    y_true, y_pred = pd.Series(d["y"], index=index), pd.Series(d["pred"], index=index)
    # AIF360 orients CI and the parity differences as unprivileged minus privileged: the opposite sign.
    assert report.metric("CI").value == pytest.approx(-aif.class_imbalance(y_true, prot_attr="sex", priv_group="one"))
    assert report.metric("DPL").value == pytest.approx(
        -aif.statistical_parity_difference(y_true, prot_attr="sex", priv_group="one")
    )
    assert report.metric("DPPL").value == pytest.approx(
        -aif.statistical_parity_difference(y_true, y_pred, prot_attr="sex", priv_group="one")
    )
    assert report.metric("DI").value == pytest.approx(
        aif.disparate_impact_ratio(y_true, y_pred, prot_attr="sex", priv_group="one")
    )
    assert report.metric("RD").value == pytest.approx(
        -aif.equal_opportunity_difference(y_true, y_pred, prot_attr="sex", priv_group="one")
    )
    assert report.metric("KL").value == pytest.approx(aif.kl_divergence(y_true, prot_attr="sex", priv_group="one"))
    assert report.metric("GE").value == pytest.approx(aif.generalized_entropy_error(y_true, y_pred, alpha=2))


def test_label_distances_match_scipy(diabetes: dict[str, Any]) -> None:
    from scipy.spatial import distance

    d, report = diabetes, diabetes["report"]
    pa_ = np.array([1 - d["y"][d["sex"] == "one"].mean(), d["y"][d["sex"] == "one"].mean()])
    pd_ = np.array([1 - d["y"][d["sex"] == "two"].mean(), d["y"][d["sex"] == "two"].mean()])
    assert report.metric("JS").value == pytest.approx(distance.jensenshannon(pa_, pd_) ** 2)
    assert report.metric("LP").value == pytest.approx(distance.minkowski(pa_, pd_, 2))
    assert report.metric("TVD").value == pytest.approx(distance.cityblock(pa_, pd_) / 2)
    assert report.metric("KS").value == pytest.approx(distance.chebyshev(pa_, pd_))


def test_conditional_demographic_disparity_against_pandas(diabetes: dict[str, Any]) -> None:
    """AIF360's CDD averages over the protected groups rather than over strata, so the check is a pandas
    group-by of Clarify's documented formula."""
    d, report = diabetes, diabetes["report"]
    for column, code in (("y", "CDDL"), ("pred", "CDDPL")):
        frame = pd.DataFrame({"d": d["sex"] == "two", "o": d[column], "g": d["band"]})
        total = 0.0
        for _, s in frame.groupby("g"):
            rejected, accepted = s[s.o == 0], s[s.o == 1]
            total += len(s) * (rejected.d.mean() - accepted.d.mean())
        assert report.metric(code).value == pytest.approx(total / len(frame), abs=1e-12)


def test_bootstrap_interval_agrees_with_fairlearns_row_bootstrap(diabetes: dict[str, Any]) -> None:
    """The multinomial bootstrap of cell counts and Fairlearn's row bootstrap estimate the same interval;
    with 2,000 and 500 resamples the 2.5% and 97.5% quantiles agree to Monte-Carlo error (±0.025)."""
    from fairlearn.metrics import MetricFrame, selection_rate

    d = diabetes
    frame = MetricFrame(
        metrics=selection_rate,
        y_true=d["y"],
        y_pred=d["pred"],
        sensitive_features=d["sex"],
        n_boot=500,
        ci_quantiles=[0.025, 0.975],
        random_state=3,
    )
    # Fairlearn bootstraps the difference as |max − min|; far from zero it is the DPPL up to sign.
    low, high = (float(v) for v in frame.difference_ci())
    ci = d["report"].metric("DPPL").ci
    assert ci is not None and ci.low is not None and ci.high is not None
    assert -ci.high == pytest.approx(low, abs=0.025)
    assert -ci.low == pytest.approx(high, abs=0.025)
