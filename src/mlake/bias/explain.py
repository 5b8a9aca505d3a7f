"""Feature attributions (SHAP), by facet, and attribution drift — Clarify's explanations, on Arrow tables.

    from mlake.bias.explain import explain, attribution_ndcg
    e = explain(model, table, features=["age", "income"])          # TreeSHAP for tree models, else KernelSHAP
    e.per_row       # one row per explained row: the attribution of each feature, the base value, the output
    e.global_       # feature, mean |attribution|, rank
    by_facet(e, table, Facet.of("sex", values=["F"]))              # mean |attribution| in facet d and in a
    attribution_ndcg(baseline.importance(), e.importance())       # 1.0: same ranking; < 0.9 is drift

``model`` is a scikit-learn-compatible estimator (``predict_proba`` is explained for classifiers — the
probability of the last class, the positive one of a binary model — else ``predict``) or a function
from a pandas DataFrame of the features to one number per row. ``method="auto"`` uses shap's
``TreeExplainer`` when the model is a tree model it supports (exact, fast) and ``KernelExplainer``
otherwise, with a background of ``background`` rows drawn from the data (k-means would bias categorical
codes; a uniform sample is what Clarify's default baseline does for tabular data). Features must be
numeric (encode categories first, as the model does). Attributions are additive: for every row,
base value + Σ attributions = the model's output (exactly for TreeSHAP, up to KernelSHAP's estimation error).

Attribution drift follows SageMaker Model Monitor: rank the features by global importance (mean |SHAP|)
on the baseline and on the current data; NDCG = DCG / iDCG with DCG = Σᵢ a(fᵢ) / log₂(i + 1) over the
*current* ranking f₁, f₂, … and a(f) the *baseline* importance, iDCG the same over the baseline ranking.
Model Monitor alerts below 0.90.

Needs the optional ``explain`` extra (``pip install 'mlake[explain]'``: shap).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from mlake.bias.spec import Facet
from mlake.errors import MlakeError, SchemaError, ValidationError
from mlake.tables.frames import as_arrow, column_of

NDCG_THRESHOLD = 0.9


@dataclass(frozen=True)
class Explanation:
    """Attributions of explained rows: ``per_row`` (Arrow) and the global ranking ``global_`` (Arrow)."""

    method: str  # "tree" or "kernel"
    features: tuple[str, ...]
    base_value: float
    per_row: pa.Table  # [row], one float column per feature, base_value, output
    global_: pa.Table  # feature, mean_abs, mean, rank (1 = most important)

    def importance(self) -> dict[str, float]:
        """Global importance by feature: mean |attribution|."""
        return dict(zip(self.global_["feature"].to_pylist(), self.global_["mean_abs"].to_pylist(), strict=True))


def _shap() -> Any:
    try:
        import shap
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MlakeError("explanations need shap", hint="pip install 'mlake[explain]'") from exc
    return shap


def _matrix(table: pa.Table, features: Sequence[str]) -> NDArray[np.float64]:
    cols = []
    for name in features:
        col = column_of(table, name, role="feature")
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)):
            raise SchemaError(
                f"feature {name!r} has type {col.type}; explanations need numeric features",
                hint="encode categories as numbers first (as the model does), or leave the column out",
            )
        cols.append(np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64))
    return np.column_stack(cols) if cols else np.empty((table.num_rows, 0))


def _predict_fn(model: Any, features: Sequence[str]) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """The number being explained, as a function of a feature matrix."""
    import pandas as pd

    def frame(x: NDArray[np.float64]) -> Any:
        return pd.DataFrame(np.atleast_2d(x), columns=list(features))

    if hasattr(model, "predict_proba"):
        return lambda x: np.asarray(model.predict_proba(frame(x)))[:, -1]
    if hasattr(model, "predict"):
        return lambda x: np.asarray(model.predict(frame(x)), dtype=np.float64).reshape(-1)
    if callable(model):
        return lambda x: np.asarray(model(frame(x)), dtype=np.float64).reshape(-1)
    raise ValidationError(f"cannot explain a {type(model).__name__}", hint="give an estimator or a predict function")


def _tree(
    shap: Any, model: Any, x: NDArray[np.float64], background: NDArray[np.float64], features: Sequence[str]
) -> tuple[Any, float] | None:
    """TreeSHAP attributions of the explained output, or None when shap has no tree explainer for it.

    A classifier's probability (what KernelSHAP explains too, rather than the log-odds margin) needs
    shap's interventional algorithm over the background rows."""
    import pandas as pd

    frame = pd.DataFrame(x, columns=list(features))
    try:
        if hasattr(model, "predict_proba"):
            bg = pd.DataFrame(background, columns=list(features))
            explainer = shap.TreeExplainer(model, data=bg, model_output="probability")
        else:
            explainer = shap.TreeExplainer(model)
        values = explainer.shap_values(frame, check_additivity=False)
    except Exception:  # shap raises bare Exceptions for models it cannot walk
        return None
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 3:  # (rows, features, outputs): the last output, as predict_proba[:, -1]
        arr = arr[:, :, -1]
    return arr, float(base[-1])


def explain(
    model: Any,
    data: Any,
    *,
    features: Sequence[str] | None = None,
    method: str = "auto",
    background: int = 100,
    rows: int | None = 1000,
    nsamples: int | str = "auto",
    seed: int = 0,
) -> Explanation:
    """SHAP attributions of ``model`` on (up to ``rows`` sampled rows of) ``data``; see the module docstring."""
    if method not in ("auto", "tree", "kernel"):
        raise ValidationError(f"unknown method {method!r}", hint="use 'auto', 'tree' or 'kernel'")
    shap = _shap()
    table = as_arrow(data)
    names = tuple(features) if features is not None else tuple(table.column_names)
    if not names:
        raise ValidationError("no features to explain")
    rng = np.random.default_rng(seed)
    if rows is not None and table.num_rows > rows:
        index = np.sort(rng.choice(table.num_rows, rows, replace=False))
    else:
        index = np.arange(table.num_rows)
    x_all = _matrix(table, names)
    x = x_all[index]
    predict = _predict_fn(model, names)
    pick = rng.choice(x_all.shape[0], min(background, x_all.shape[0]), replace=False)
    found = _tree(shap, model, x, x_all[pick], names) if method in ("auto", "tree") else None
    if found is None and method == "tree":
        raise ValidationError(f"shap has no tree explainer for {type(model).__name__}", hint="use method='kernel'")
    if found is not None:
        values, base, used = found[0], found[1], "tree"
    else:
        explainer = shap.KernelExplainer(predict, x_all[pick])
        values = np.asarray(explainer.shap_values(x, nsamples=nsamples, silent=True), dtype=np.float64)
        base, used = float(np.atleast_1d(explainer.expected_value)[-1]), "kernel"
    output = predict(x)
    per_row = {"row": pa.array(index, pa.int64())}
    for j, name in enumerate(names):
        per_row[name] = pa.array(values[:, j])
    per_row["base_value"] = pa.array(np.full(len(index), base))
    per_row["output"] = pa.array(output)
    mean_abs = np.abs(values).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(1, len(names) + 1)
    global_ = pa.table({"feature": list(names), "mean_abs": mean_abs, "mean": values.mean(axis=0), "rank": rank})
    return Explanation(used, names, base, pa.table(per_row), global_.sort_by("rank"))


def partial_dependence(
    model: Any,
    data: Any,
    *,
    features: Sequence[str],
    vary: Sequence[str] | None = None,
    grid_resolution: int = 20,
    percentiles: tuple[float, float] = (0.05, 0.95),
    rows: int | None = 1000,
    individual: bool = False,
    seed: int = 0,
) -> pa.Table:
    """Partial dependence of ``model``'s output (what :func:`explain` explains) on each feature of
    ``vary`` (default: all ``features``), over (up to ``rows`` sampled rows of) ``data``.

    For each grid value v of a feature, every row gets that feature set to v and the model's outputs are
    averaged: one row (``feature``, ``value``, ``average``) per grid value. The grid is scikit-learn's
    (``sklearn.inspection.partial_dependence``, method "brute"): ``grid_resolution`` evenly spaced values
    between the ``percentiles`` of the feature, or its distinct values when there are fewer; the test
    compares the two. With ``individual`` the curves of each row (ICE) come too, in a column
    ``individual`` (a list, one value per row, in the sampled rows' order)."""
    if grid_resolution < 2:
        raise ValidationError(f"grid_resolution must be at least 2, not {grid_resolution}")
    low, high = percentiles
    if not 0 <= low < high <= 1:
        raise ValidationError(f"percentiles must be two increasing fractions in [0, 1], not {percentiles}")
    table = as_arrow(data)
    names = tuple(features)
    chosen = tuple(vary) if vary is not None else names
    unknown = [f for f in chosen if f not in names]
    if unknown:
        raise ValidationError(f"cannot vary {', '.join(unknown)}: not among the model's features {list(names)}")
    x = _matrix(table, names)
    if rows is not None and x.shape[0] > rows:
        x = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], rows, replace=False))]
    predict = _predict_fn(model, names)
    out: dict[str, list[Any]] = {"feature": [], "value": [], "average": []}
    if individual:
        out["individual"] = []
    for name in chosen:
        j = names.index(name)
        column = x[:, j]
        distinct = np.unique(column[~np.isnan(column)])
        if len(distinct) < grid_resolution:
            grid = distinct
        else:
            lo, hi = _mquantiles(column[~np.isnan(column)], (low, high))
            if lo == hi:
                raise ValidationError(f"feature {name!r} has the same value at both percentiles {percentiles}")
            grid = np.linspace(lo, hi, grid_resolution)
        varied = np.repeat(x[np.newaxis, :, :], len(grid), axis=0)  # (grid, rows, features)
        varied[:, :, j] = grid[:, np.newaxis]
        predictions = predict(varied.reshape(-1, len(names))).reshape(len(grid), x.shape[0])
        for value, curve in zip(grid, predictions, strict=True):
            out["feature"].append(name)
            out["value"].append(float(value))
            out["average"].append(float(curve.mean()))
            if individual:
                out["individual"].append(curve.tolist())
    schema = {"feature": pa.string(), "value": pa.float64(), "average": pa.float64()}
    if individual:
        schema["individual"] = pa.list_(pa.float64())
    return pa.table({k: pa.array(v, schema[k]) for k, v in out.items()})


def _mquantiles(values: NDArray[np.float64], probs: tuple[float, float]) -> tuple[float, float]:
    """Quantiles with plotting positions alpha = beta = 0.4 (Cunnane's), as ``scipy.stats.mstats.mquantiles``
    computes them by default and scikit-learn's partial dependence takes its grid ends from (numpy's
    ``quantile`` has no such method)."""
    x = np.sort(values)
    n = len(x)
    out = []
    for p in probs:
        aleph = n * p + 0.4 + p * (1 - 0.4 - 0.4)
        k = int(np.floor(np.clip(aleph, 1, n - 1)))
        gamma = float(np.clip(aleph - k, 0, 1))
        out.append((1 - gamma) * x[k - 1] + gamma * x[k])
    return out[0], out[1]


def by_facet(explanation: Explanation, data: Any, facet: Facet) -> pa.Table:
    """Mean |attribution| of each feature in facet d and in the rest a (the rows the explanation covers)."""
    table = as_arrow(data).take(pa.array(explanation.per_row["row"]))
    member, present = facet.resolve(table)
    d, a = member & present, ~member & present
    out: dict[str, list[Any]] = {"feature": [], "mean_abs_d": [], "mean_abs_a": [], "rows_d": [], "rows_a": []}
    for name in explanation.features:
        v = np.abs(np.asarray(explanation.per_row[name]))
        out["feature"].append(name)
        out["mean_abs_d"].append(float(v[d].mean()) if d.any() else float("nan"))
        out["mean_abs_a"].append(float(v[a].mean()) if a.any() else float("nan"))
        out["rows_d"].append(int(d.sum()))
        out["rows_a"].append(int(a.sum()))
    return pa.table(out)


def attribution_ndcg(baseline: Mapping[str, float], current: Mapping[str, float], k: int | None = None) -> float:
    """Model Monitor's NDCG of the current ranking against the baseline importance (1.0 = same order).

    Features of the baseline missing from ``current`` rank last; ``k`` keeps the top k of each ranking."""
    if not baseline:
        raise ValidationError("the baseline has no attributions")
    ideal = sorted(baseline, key=lambda f: -baseline[f])
    ranked = sorted(baseline, key=lambda f: -current.get(f, float("-inf")))
    if k is not None:
        ideal, ranked = ideal[:k], ranked[:k]
    discount = 1.0 / np.log2(np.arange(2, len(ideal) + 2))
    idcg = float(np.sum(np.array([baseline[f] for f in ideal]) * discount))
    dcg = float(np.sum(np.array([baseline[f] for f in ranked]) * discount))
    return dcg / idcg if idcg > 0 else 1.0
