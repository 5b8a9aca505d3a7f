"""The ML readiness report: is this table ready to train a model that predicts ``target``?

The open equivalent of SageMaker Data Wrangler's "Data Quality and Insights" report. Counts over the
whole table come from SQL (rows, target distribution, duplicates, observations per series, words per
text); everything that fits a model uses a reservoir sample of at most ``sample_rows`` rows (default
50,000, drawn with a fixed seed), so the report costs the same on a billion rows as on a million.

- **Target**: class balance (shares, imbalance ratio) or, for regression, its distribution.
- **Baseline**: a histogram gradient-boosting model, cross-validated (5 folds, stratified for classes),
  next to a trivial model (majority class / mean), so the score means something.
- **Feature power**: each feature alone, in a depth-3 decision tree (3-fold CV). A feature that alone
  predicts the target almost perfectly (ROC AUC ≥ 0.98 or balanced accuracy ≥ 0.95 for classes,
  R² ≥ 0.95 for numbers) is flagged as **possible target leakage**, to check: that is what a value recorded
  after the outcome looks like, but a legitimately strong feature (a petal width among flowers) looks the
  same. The report gives the evidence (the score alone) and leaves the verdict to someone who knows when
  the value is known.
- **Anomalies**: an Isolation Forest over the encoded features; rows whose anomaly score stands out
  (modified z-score above 3.5) are counted, the five most anomalous shown.
- **Duplicates**: exact duplicate rows (whole table).
- **Sample size**: the rules of thumb — supervised tabular: rows ≥ 10 × feature dimensions after
  encoding (one-hot categories count one each); binary classes: ≥ 10 minority cases per dimension;
  time series: ≥ 50–100 observations per series; image classification: ~1,000 images per class;
  document classification: ≥ 100 documents per category; sentiment analysis: ~200–300 words per text
  (per text: it holds when 90% of the texts have 200 words or more; empty texts have none).
- **Learning curve**: the baseline's score at growing training sizes, fitted with a power law
  ``score(n) = a − b·n^(−c)`` and extrapolated, to say how much more data would help.
"""

from __future__ import annotations

import html
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlake.errors import MlakeError, ValidationError
from mlake.quality.source import BOOLEAN, NUMERIC, STRING, TEMPORAL, Source, column_kind, q

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SAMPLE_ROWS = 50_000
FEATURE_SAMPLE = 10_000  # rows used for the one-feature models
SMALL_SAMPLE = 20_000
ANOMALY_Z = 3.5  # below this many rows the models train on one thread
MAX_CATEGORIES = 50  # text columns with more distinct values are free text (dropped) unless they are ids
LEAK_AUC = 0.98
LEAK_BALANCED_ACCURACY = 0.95
LEAK_R2 = 0.95
DATA_KINDS = ("tabular", "timeseries", "image", "document", "sentiment")


SENTIMENT_SHARE = 0.9  # the words-per-text rule holds when this share of texts has 200 words or more


@dataclass
class Advice:
    rule: str
    required: float
    actual: float
    ok: bool
    note: str = ""


@dataclass
class FeaturePower:
    feature: str
    score: float
    metric: str
    leakage: bool = False


@dataclass
class ReadinessReport:
    """What a person needs to know before training on a table; ``to_dict()`` for JSON."""

    source: str
    target: str
    task: str
    rows: int
    sample_rows: int
    features: list[str]
    dropped: dict[str, str]
    encoded_dimensions: int
    target_distribution: dict[str, Any]
    baseline: dict[str, Any]
    feature_power: list[FeaturePower]
    anomalies: dict[str, Any]
    duplicates: dict[str, Any]
    sample_size: list[Advice]
    learning_curve: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def leaky_features(self) -> list[str]:
        return [f.feature for f in self.feature_power if f.leakage]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["leaky_features"] = self.leaky_features
        d["seconds"] = round(self.seconds, 3)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReadinessReport:
        """The inverse of ``to_dict`` (for clients of the REST API)."""
        values = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        values["feature_power"] = [FeaturePower(**f) for f in d.get("feature_power") or []]
        values["sample_size"] = [Advice(**a) for a in d.get("sample_size") or []]
        return cls(**values)

    def _repr_html_(self) -> str:
        from mlake.quality.report import readiness_html

        title = f"ML readiness of {html.escape(self.source)} for {html.escape(self.target)}"
        return f"<div><b>{title}</b>{readiness_html(self)}</div>"


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError as exc:  # pragma: no cover - the ml extra is part of dev and all
        raise MlakeError(
            "The ML readiness report needs scikit-learn", hint="install it with pip install 'mlake[ml]'"
        ) from exc
    return sklearn


def readiness(
    source: Source,
    target: str,
    *,
    features: list[str] | None = None,
    task: str = "auto",
    data_kind: str = "tabular",
    series: str | None = None,
    text: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    folds: int = 5,
    seed: int = 0,
) -> ReadinessReport:
    """Assess ``source`` for predicting ``target`` (see the module docstring)."""
    started = time.perf_counter()
    _sklearn()
    if task not in ("auto", "classification", "regression"):
        raise ValidationError(f"Unknown task {task!r}", hint="use auto, classification or regression")
    if data_kind not in DATA_KINDS:
        raise ValidationError(f"Unknown data kind {data_kind!r}", hint=f"use one of {', '.join(DATA_KINDS)}")
    target_kind = column_kind(source.column_type(target))
    for col in [*(features or []), *(c for c in (series, text) if c)]:
        source.column_type(col)
    candidates = [c for c in (features or source.column_names()) if c != target and c != series]
    x = q(target)

    # --- whole-table counts (SQL) --------------------------------------------------------------------
    # The distinct row count is a SELECT of its own: beside other aggregates, DuckDB 2.0 plans a DISTINCT
    # aggregate as a GROUP BY over a materialized copy of the whole input (every column, here).
    hash_all = ", ".join(q(c) for c in source.column_names())
    head = source.fetch(
        f"SELECT * FROM (SELECT count(*), count({x}), approx_count_distinct({x}) FROM {source.from_clause()}), "
        f"(SELECT count(DISTINCT hash({hash_all})) FROM {source.from_clause()})"
    )[0]
    rows, labelled, target_distinct, distinct_rows = (int(v or 0) for v in head)
    if labelled < 10:
        raise ValidationError(
            f"{source.label} has {labelled} row(s) with a {target}; a readiness report needs at least 10"
        )
    if task == "auto":
        task = (
            "classification"
            if target_kind in (BOOLEAN, STRING)
            or (
                target_kind == NUMERIC
                and target_distinct <= 20
                and source.column_type(target).upper() not in ("DOUBLE", "FLOAT")
            )
            else "regression"
        )
    if task == "regression" and target_kind != NUMERIC:
        raise ValidationError(f"Regression needs a numeric target; {target} is {source.column_type(target)}")
    warnings_: list[str] = []
    if labelled < rows:
        warnings_.append(f"{rows - labelled:,} row(s) have no {target}; they are left out of the models")
    distribution = _target_distribution(source, target, task, labelled)
    if task == "classification":
        shares = distribution["shares"]
        if len(shares) < 2:
            raise ValidationError(f"{target} has a single value; there is nothing to predict")
        minority = min(shares.values())
        if minority < 0.1 or distribution["imbalance_ratio"] > 10:
            warnings_.append(
                f"classes are imbalanced (minority {minority:.1%}, ratio {distribution['imbalance_ratio']:.1f}:1); "
                "use stratified splits, class weights and metrics such as balanced accuracy or ROC AUC"
            )

    # --- a sample for the models -----------------------------------------------------------------------
    cols = ", ".join(q(c) for c in [*candidates, target])
    sample_sql = (
        f"SELECT {cols} FROM {source.from_clause()} WHERE {x} IS NOT NULL "
        f"USING SAMPLE reservoir({int(sample_rows)} ROWS) REPEATABLE ({int(seed)})"
    )
    frame = source.fetch_arrow(sample_sql).to_pandas()
    X, used, dropped, dims = _encode(frame, candidates, dict(source.columns))
    y, classes = _target_vector(frame[target], task)
    if not used:
        raise ValidationError(f"No usable feature to predict {target}", hint=f"dropped: {dropped}")
    # Small samples train faster on one thread: OpenMP's start-up costs more than it saves there.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1 if len(y) < SMALL_SAMPLE else None):
        baseline = _baseline(X, y, task, folds, seed)
        power = _feature_power(X, y, used, task, seed)
        anomalies = _anomalies(X, frame, used, seed)
        curve = _learning_curve(X, y, task, seed, labelled)
    leaks = [p for p in power if p.leakage]
    for p in leaks:
        warnings_.append(
            f"possible target leakage (to check, not a finding): {p.feature} alone predicts {target} with "
            f"{p.metric} {p.score:.3f} in a depth-3 tree. A value recorded after the outcome does that; so does a "
            "genuinely strong feature — keep it if it is known at the moment of prediction"
        )
    advice = _sample_size(source, rows, labelled, dims, task, distribution, data_kind, series, text)
    for a in advice:
        if not a.ok:
            warnings_.append(f"sample size: {a.rule} — have {a.actual:,.0f}, need {a.required:,.0f}. {a.note}".strip())
    duplicates = {"rows": rows - distinct_rows, "rate": (rows - distinct_rows) / rows if rows else 0.0}
    if duplicates["rate"] > 0.01:
        warnings_.append(
            f"{duplicates['rows']:,} duplicate row(s) ({duplicates['rate']:.1%}); they inflate cross-validated scores "
            "when copies land in both training and test folds"
        )
    if classes is not None:
        distribution["classes"] = classes
    return ReadinessReport(
        source=source.label,
        target=target,
        task=task,
        rows=rows,
        sample_rows=len(frame),
        features=used,
        dropped=dropped,
        encoded_dimensions=dims,
        target_distribution=distribution,
        baseline=baseline,
        feature_power=power,
        anomalies=anomalies,
        duplicates=duplicates,
        sample_size=advice,
        learning_curve=curve,
        warnings=warnings_,
        seconds=time.perf_counter() - started,
    )


def _target_distribution(source: Source, target: str, task: str, labelled: int) -> dict[str, Any]:
    x = q(target)
    if task == "classification":
        counts = source.fetch(
            f"SELECT {x}::VARCHAR, count(*) FROM {source.from_clause()} WHERE {x} IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        shares = {str(k): int(n) / labelled for k, n in counts}
        ratio = max(n for _, n in counts) / max(min(n for _, n in counts), 1)
        return {"counts": {str(k): int(n) for k, n in counts}, "shares": shares, "imbalance_ratio": ratio}
    row = source.fetch(
        f"SELECT avg({x}::DOUBLE), stddev_samp({x}::DOUBLE), min({x}::DOUBLE), max({x}::DOUBLE), "
        f"approx_quantile({x}::DOUBLE, [0.05, 0.5, 0.95]), skewness({x}::DOUBLE) FROM {source.from_clause()}"
    )[0]
    return {
        "mean": row[0],
        "std": row[1],
        "min": row[2],
        "max": row[3],
        "quantiles": dict(zip(("0.05", "0.5", "0.95"), row[4] or [], strict=False)),
        "skewness": row[5],
    }


def _encode(
    frame: pd.DataFrame, candidates: list[str], types: dict[str, str]
) -> tuple[np.ndarray, list[str], dict[str, str], int]:
    """Numeric matrix (NaN for missing; categories as integer codes) and the one-hot dimension count."""
    import numpy as np
    import pandas as pd

    used: list[str] = []
    dropped: dict[str, str] = {}
    columns: list[np.ndarray] = []
    dims = 0
    n = len(frame)
    for col in candidates:
        kind = column_kind(types[col])
        series = frame[col]
        nunique = int(series.nunique(dropna=True))
        if nunique <= 1:
            dropped[col] = "constant"
            continue
        if kind in (NUMERIC, BOOLEAN):
            values = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
            is_int = kind == NUMERIC and types[col].upper() not in ("DOUBLE", "FLOAT", "REAL")
            if is_int and n >= 50 and nunique >= 0.95 * series.notna().sum():
                dropped[col] = "identifier (every value distinct)"
                continue
            columns.append(values)
            dims += 1
        elif kind == TEMPORAL:
            stamps = pd.to_datetime(series, utc=True, errors="coerce")
            values = (stamps.astype("int64") / 1e9).where(stamps.notna()).to_numpy(dtype="float64")
            columns.append(values)
            dims += 1
        elif kind == STRING:
            if n >= 50 and nunique >= 0.95 * series.notna().sum():
                dropped[col] = "identifier or free text (every value distinct)"
                continue
            if nunique > MAX_CATEGORIES:
                dropped[col] = f"text with {nunique} distinct values (more than {MAX_CATEGORIES} categories)"
                continue
            codes = pd.Categorical(series).codes.astype("float64")
            codes[codes < 0] = np.nan
            columns.append(codes)
            dims += nunique
        else:
            dropped[col] = f"type {types[col]} is not used"
            continue
        used.append(col)
    matrix = np.column_stack(columns) if columns else np.empty((n, 0))
    return matrix, used, dropped, dims


def _target_vector(series: pd.Series, task: str) -> tuple[np.ndarray, list[str] | None]:
    import numpy as np
    import pandas as pd

    if task == "classification":
        # Labels spelt as SQL spells them (true/false), as in the target distribution.
        labels = series.map(lambda v: ("true" if v else "false") if isinstance(v, bool | np.bool_) else str(v))
        cat = pd.Categorical(labels)
        return cat.codes.astype(np.int64), [str(c) for c in cat.categories]
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(), None


def _scoring(task: str, y: np.ndarray) -> tuple[str, str]:
    """(sklearn scorer, name people read)."""
    import numpy as np

    if task == "regression":
        return "r2", "R²"
    return ("roc_auc", "ROC AUC") if len(np.unique(y)) == 2 else ("balanced_accuracy", "balanced accuracy")


def _splitter(task: str, y: np.ndarray, folds: int, seed: int) -> Any:
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification":
        smallest = int(np.bincount(y).min())
        return StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)


def _model(task: str, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return cls(max_iter=100, random_state=seed)


def _baseline(X: np.ndarray, y: np.ndarray, task: str, folds: int, seed: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.model_selection import cross_validate

    scorer, name = _scoring(task, y)
    scoring = [scorer] + (["balanced_accuracy"] if task == "classification" and scorer != "balanced_accuracy" else [])
    cv = _splitter(task, y, folds, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_validate(_model(task, seed), X, y, cv=cv, scoring=scoring)
        dummy = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
        trivial = cross_validate(dummy, X, y, cv=cv, scoring=scorer)
    main = scores[f"test_{scorer}"]
    out: dict[str, Any] = {
        "model": type(_model(task, seed)).__name__,
        "metric": name,
        "score": float(np.mean(main)),
        "std": float(np.std(main)),
        "folds": len(main),
        "trivial_score": float(np.mean(trivial["test_score"])),
    }
    if len(scoring) > 1:
        out["balanced_accuracy"] = float(np.mean(scores["test_balanced_accuracy"]))
    return out


def _feature_power(X: np.ndarray, y: np.ndarray, used: list[str], task: str, seed: int) -> list[FeaturePower]:
    import numpy as np
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), size=min(len(y), FEATURE_SAMPLE), replace=False)
    Xs, ys = X[idx], y[idx]
    scorer, name = _scoring(task, ys)
    cv = _splitter(task, ys, 3, seed)
    out = []
    for j, feature in enumerate(used):
        tree = (DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor)(
            max_depth=3, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                score = float(np.mean(cross_val_score(tree, Xs[:, [j]], ys, cv=cv, scoring=scorer)))
            except ValueError:
                continue
        if not math.isfinite(score):
            continue
        limit = {"ROC AUC": LEAK_AUC, "balanced accuracy": LEAK_BALANCED_ACCURACY, "R²": LEAK_R2}[name]
        out.append(FeaturePower(feature, score, name, leakage=score >= limit))
    out.sort(key=lambda f: -f.score)
    return out


def _anomalies(X: np.ndarray, frame: pd.DataFrame, used: list[str], seed: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.ensemble import IsolationForest

    filled = X.copy()
    for j in range(filled.shape[1]):
        col = filled[:, j]
        median = np.nanmedian(col) if np.isfinite(col).any() else 0.0
        col[~np.isfinite(col)] = median
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(filled)
    scores = -forest.score_samples(filled)  # the paper's anomaly score s: near 1 anomalous, near 0.5 ordinary
    # Rows whose score stands out from the others (modified z-score > 3.5, Iglewicz & Hoaglin); a fixed
    # cut-off such as s > 0.5 flags half the rows of data with discrete features.
    median = float(np.median(scores))
    mad = float(np.median(np.abs(scores - median))) or 1e-12
    flagged = 0.6745 * (scores - median) / mad > ANOMALY_Z
    worst = np.argsort(-scores)[:5]
    examples = [
        {k: _plain(v) for k, v in frame.iloc[int(i)][used].to_dict().items()} | {"anomaly_score": float(scores[i])}
        for i in worst
    ]
    return {
        "method": "IsolationForest",
        "rule": f"modified z-score of the anomaly score > {ANOMALY_Z}",
        "share": float(flagged.mean()),
        "rows": int(flagged.sum()),
        "examples": examples,
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _learning_curve(X: np.ndarray, y: np.ndarray, task: str, seed: int, total: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.model_selection import learning_curve

    scorer, name = _scoring(task, y)
    fractions = [0.1, 0.2, 0.35, 0.55, 0.8, 1.0]
    cv = _splitter(task, y, 3, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sizes, _, test = learning_curve(
                _model(task, seed), X, y, train_sizes=fractions, cv=cv, scoring=scorer, shuffle=True, random_state=seed
            )
        except ValueError as exc:
            return {"metric": name, "error": str(exc).splitlines()[0]}
    means = np.nanmean(test, axis=1)
    out: dict[str, Any] = {"metric": name, "sizes": [int(s) for s in sizes], "scores": [float(m) for m in means]}
    fit = _power_law(np.asarray(sizes, dtype=float), means)
    if fit is None:
        out["advice"] = "the learning curve is too noisy to extrapolate"
        return out
    a, b, c = fit
    n_now = float(sizes[-1])
    full = float(total)
    projections = {f"{k}x": min(float(a - b * (k * full) ** (-c)), 1.0) for k in (1, 2, 5, 10)}
    out.update(fit={"a": a, "b": b, "c": c, "formula": "score(n) = a - b * n^-c"}, projections=projections)
    gain = projections["2x"] - projections["1x"]
    at_sample = float(a - b * n_now ** (-c))
    out["plateau"] = a
    out["advice"] = (
        f"with all {total:,} labelled rows the model should reach {name} ≈ {projections['1x']:.3f} "
        f"(≈ {at_sample:.3f} on the {int(n_now):,}-row training folds); doubling the data would add ≈ {gain:+.3f}, "
        f"and the curve levels off near {a:.3f}"
    )
    return out


def _power_law(n: np.ndarray, score: np.ndarray) -> tuple[float, float, float] | None:
    import numpy as np
    from scipy.optimize import curve_fit

    ok = np.isfinite(score)
    if ok.sum() < 3:
        return None

    def f(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
        return np.asarray(a - b * np.power(x, -c), dtype=float)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = curve_fit(
                f,
                n[ok],
                score[ok],
                # every score used (ROC AUC, balanced accuracy, R²) is at most 1: so is its plateau
                p0=(min(float(score[ok].max()), 1.0), 1.0, 0.5),
                bounds=([-np.inf, 0, 0.01], [1.0, np.inf, 3]),
                maxfev=5000,
            )
    except (RuntimeError, ValueError):
        return None
    a, b, c = (float(v) for v in params)
    return a, b, c


def _sample_size(
    source: Source,
    rows: int,
    labelled: int,
    dims: int,
    task: str,
    distribution: dict[str, Any],
    data_kind: str,
    series: str | None,
    text: str | None,
) -> list[Advice]:
    out: list[Advice] = []
    if data_kind == "tabular":
        need = 10 * max(dims, 1)
        out.append(
            Advice(
                "supervised tabular: rows ≥ 10 × feature dimensions after encoding",
                need,
                labelled,
                labelled >= need,
                f"{dims} dimension(s) after one-hot encoding",
            )
        )
        if task == "classification" and len(distribution["counts"]) == 2:
            minority = min(distribution["counts"].values())
            need = 10 * max(dims, 1)
            out.append(
                Advice("binary classes: ≥ 10 minority cases per feature dimension", need, minority, minority >= need)
            )
    if task == "classification" and data_kind in ("image", "document"):
        per = 1000 if data_kind == "image" else 100
        smallest = min(distribution["counts"].values())
        what = (
            "image classification: ~1,000 images per class"
            if data_kind == "image"
            else ("document classification: ≥ 100 documents per category")
        )
        out.append(Advice(what, per, smallest, smallest >= per, "counted for the smallest class"))
    if data_kind == "timeseries" or series:
        if series:
            row = source.fetch(
                f"SELECT min(n), median(n) FROM (SELECT count(*) AS n FROM {source.from_clause()} GROUP BY {q(series)})"
            )[0]
            smallest, median = float(row[0] or 0), float(row[1] or 0)
        else:
            smallest = median = float(rows)
        out.append(
            Advice(
                "time series: ≥ 50–100 observations per series",
                50,
                median,
                median >= 50,
                f"median per series; the shortest has {smallest:,.0f} (100 is safer)",
            )
        )
    if data_kind == "sentiment" or (text and data_kind != "document"):
        if not text:
            raise ValidationError("Sentiment analysis advice needs text= (the column holding the texts)")
        # Words are runs of non-space characters, so an empty text has none (splitting it gives one ""). The
        # rule is about each text: a few long texts must not make an average pass for many short ones.
        median, enough, texts = source.fetch(
            f"SELECT median(w), count_if(w >= 200), count(*) FROM (SELECT len(regexp_extract_all({q(text)}, "
            f"'\\S+')) AS w FROM {source.from_clause()} WHERE {q(text)} IS NOT NULL)"
        )[0]
        median, enough, texts = float(median or 0), int(enough or 0), int(texts or 0)
        share = enough / texts if texts else 0.0
        out.append(
            Advice(
                "sentiment analysis: ~200–300 words per text",
                200,
                median,
                share >= SENTIMENT_SHARE,
                f"median words per text; {enough:,} of {texts:,} texts ({share:.0%}) have 200 or more "
                f"(the rule holds when {SENTIMENT_SHARE:.0%} do)",
            )
        )
    return out
