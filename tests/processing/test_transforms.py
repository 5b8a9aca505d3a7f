"""Every built-in transform, fitted on a train split and applied to a test split, against pandas or
scikit-learn doing the same by hand (the reference is computed from the *train* split's statistics)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import preprocessing as skp

from mlake.processing.base import REGISTRY
from mlake.processing.transforms.text import ENGLISH_STOP_WORDS
from tests.processing.conftest import fit_apply

Frame = pd.DataFrame
Expect = Callable[[Frame, Frame], Frame]


def col(name: str, fn: Callable[[Frame, Frame], Any]) -> Expect:
    """Expected: the test split with column ``name`` replaced by ``fn(train, test)``."""

    def expect(tr: Frame, te: Frame) -> Frame:
        out = te.copy()
        out[name] = fn(tr, te)
        return out

    return expect


def sk(name: str, scaler: Any) -> Expect:
    """Expected: scikit-learn's ``scaler`` fitted on the train split, applied to the test split."""
    return col(name, lambda tr, te: scaler.fit(tr[[name]]).transform(te[[name]])[:, 0])


def rows(fn: Callable[[Frame, Frame], Frame]) -> Expect:
    return fn


def by_key(te: Frame, fn: Callable[[pd.core.groupby.SeriesGroupBy], Any], column: str = "x") -> Any:
    s = te.sort_values("t")
    return fn(s.groupby("k")[column]).reindex(te.index)


def tokens(s: str) -> list[str]:
    return [t for t in re.split(r"\W+", s.lower()) if t]


def kbins(strategy: str) -> Expect:
    def fn(tr: Frame, te: Frame) -> Any:
        kw: dict[str, Any] = {"quantile_method": "linear"} if strategy == "quantile" else {}
        est = skp.KBinsDiscretizer(n_bins=4, encode="ordinal", strategy=strategy, **kw).fit(tr[["v"]])
        return est.transform(te[["v"]].clip(tr.v.min(), tr.v.max()))[:, 0]

    return col("v", fn)


def one_hot(tr: Frame, te: Frame) -> Frame:
    enc = skp.OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(tr[["g"]])
    out = te.drop(columns="g").copy()
    for i, name in enumerate(enc.get_feature_names_out(["g"])):
        out[name] = enc.transform(te[["g"]])[:, i]
    return out


def target_mean(tr: Frame, te: Frame) -> Any:
    m = tr.y.mean()
    agg = tr.assign(c=tr.c.fillna("\0")).groupby("c").y.agg(["sum", "count"])
    enc = (agg["sum"] + 1.0 * m) / (agg["count"] + 1.0)
    return te.c.fillna("\0").map(enc).fillna(m)


def iqr_keep(tr: Frame, te: Frame) -> Frame:
    q1, q3 = tr.x.quantile(0.25), tr.x.quantile(0.75)
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    return te[te.x.isna() | te.x.between(lo, hi)]


CASES: dict[str, tuple[dict[str, Any], Expect]] = {
    # missing values
    "drop_missing": ({"columns": ["x", "c"]}, rows(lambda tr, te: te.dropna(subset=["x", "c"]))),
    "fill_constant": ({"columns": ["x"], "value": 0}, col("x", lambda tr, te: te.x.fillna(0))),
    "fill_mean": ({"columns": ["x"]}, col("x", lambda tr, te: te.x.fillna(tr.x.mean()))),
    "fill_median": ({"columns": ["x"]}, col("x", lambda tr, te: te.x.fillna(tr.x.median()))),
    "fill_mode": ({"columns": ["c"]}, col("c", lambda tr, te: te.c.fillna(tr.c.mode()[0]))),
    "forward_fill": (
        {"columns": ["x"], "by": ["k"], "order_by": "t"},
        col("x", lambda tr, te: by_key(te, lambda g: g.ffill())),
    ),
    "backward_fill": (
        {"columns": ["x"], "by": ["k"], "order_by": "t"},
        col("x", lambda tr, te: by_key(te, lambda g: g.bfill())),
    ),
    "missing_indicator": ({"columns": ["x"]}, col("x_missing", lambda tr, te: te.x.isna().astype(int))),
    # scaling
    "standard_scale": ({"columns": ["v"]}, sk("v", skp.StandardScaler())),
    "minmax_scale": ({"columns": ["v"]}, sk("v", skp.MinMaxScaler())),
    "maxabs_scale": ({"columns": ["w"]}, sk("w", skp.MaxAbsScaler())),
    "robust_scale": ({"columns": ["v"]}, sk("v", skp.RobustScaler())),
    "log": ({"columns": ["v"]}, col("v", lambda tr, te: np.log1p(te.v))),
    "power": ({"columns": ["w"], "exponent": 0.5}, col("w", lambda tr, te: np.sign(te.w) * np.abs(te.w) ** 0.5)),
    "box_cox": ({"columns": ["v"], "lmbda": 0.5}, col("v", lambda tr, te: stats.boxcox(te.v, lmbda=0.5))),
    "normalize_rows": (
        {"columns": ["v", "w"]},
        rows(
            lambda tr, te: te.assign(
                **dict(zip(["v", "w"], skp.Normalizer().fit_transform(te[["v", "w"]]).T, strict=True))
            )
        ),
    ),
    # encoding
    "one_hot": ({"column": "g"}, one_hot),
    "ordinal_encode": (
        {"columns": ["g"]},
        col(
            "g",
            lambda tr, te: (
                skp.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
                .fit(tr[["g"]])
                .transform(te[["g"]])[:, 0]
            ),
        ),
    ),
    "frequency_encode": (
        {"columns": ["g"]},
        col("g", lambda tr, te: te.g.map(tr.g.value_counts(normalize=True)).fillna(0.0)),
    ),
    "rare_category": (
        {"columns": ["g"], "min_count": 30},
        col("g", lambda tr, te: te.g.where(te.g.map(tr.g.value_counts()).fillna(0) >= 30, "other")),
    ),
    "target_encode": ({"column": "c", "target": "y", "name": "c_te"}, col("c_te", target_mean)),
    "hash_encode": (
        {"columns": ["g"], "buckets": 8, "suffix": "_h"},
        col("g_h", lambda tr, te: te.g.map(lambda v: hash_of(v) % 8)),
    ),
    "bool_to_int": ({"columns": ["flag"]}, col("flag", lambda tr, te: te.flag.astype(int))),
    # text
    "lowercase": ({"columns": ["s"]}, col("s", lambda tr, te: te.s.str.lower())),
    "uppercase": ({"columns": ["s"]}, col("s", lambda tr, te: te.s.str.upper())),
    "strip": ({"columns": ["s"]}, col("s", lambda tr, te: te.s.str.split().str.join(" "))),
    "regex_replace": (
        {"columns": ["s"], "pattern": "a+", "replacement": "A"},
        col("s", lambda tr, te: te.s.str.replace("a+", "A", regex=True)),
    ),
    "remove_punctuation": ({"columns": ["s"]}, col("s", lambda tr, te: te.s.str.replace(r"[^\w\s]", "", regex=True))),
    "regex_extract": (
        {"columns": ["s"], "pattern": "[a-z]at"},
        col("s", lambda tr, te: te.s.str.extract("([a-z]at)")[0]),
    ),
    "contains": (
        {"columns": ["s"], "pattern": "cat"},
        col("s_contains", lambda tr, te: te.s.str.contains("cat").astype(int)),
    ),
    "text_length": ({"columns": ["s"]}, col("s_length", lambda tr, te: te.s.str.len())),
    "word_count": ({"columns": ["s"]}, col("s_words", lambda tr, te: te.s.str.split().str.len())),
    "tokenize": ({"columns": ["s"]}, col("s_tokens", lambda tr, te: te.s.map(tokens))),
    "remove_stop_words": (
        {"columns": ["s_tokens"]},
        col("s_tokens", lambda tr, te: te.s.map(lambda s: [t for t in tokens(s) if t not in ENGLISH_STOP_WORDS])),
    ),
    "ngrams": (
        {"column": "s_tokens", "n": 2},
        col(
            "s_tokens_2grams",
            lambda tr, te: te.s.map(lambda s: [" ".join(p) for p in zip(tokens(s), tokens(s)[1:], strict=False)]),
        ),
    ),
    # dates
    "parse_date": (
        {"columns": ["d"], "formats": ["%Y-%m-%d"]},
        col("d", lambda tr, te: pd.to_datetime(te.d, format="%Y-%m-%d")),
    ),
    "date_parts": (
        {"column": "t", "parts": ["year", "month", "day", "dayofweek", "hour"]},
        rows(
            lambda tr, te: te.assign(
                t_year=te.t.dt.year,
                t_month=te.t.dt.month,
                t_day=te.t.dt.day,
                t_dayofweek=te.t.dt.day_of_week,
                t_hour=te.t.dt.hour,
            )
        ),
    ),
    "cyclical": (
        {"column": "y", "period": 4},
        rows(lambda tr, te: te.assign(y_sin=np.sin(2 * np.pi * te.y / 4), y_cos=np.cos(2 * np.pi * te.y / 4))),
    ),
    "date_diff": (
        {"start": "t", "end": "t2", "unit": "hour", "name": "hours"},
        col("hours", lambda tr, te: ((te.t2.dt.floor("h") - te.t.dt.floor("h")) / pd.Timedelta(hours=1)).astype(int)),
    ),
    "date_trunc": ({"columns": ["t"], "unit": "day"}, col("t", lambda tr, te: te.t.dt.floor("D"))),
    "is_weekend": ({"column": "t"}, col("t_weekend", lambda tr, te: (te.t.dt.day_of_week >= 5).astype(int))),
    "epoch_seconds": (
        {"columns": ["t"]},
        col("t", lambda tr, te: (te.t - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)),
    ),
    # numeric
    "bin_uniform": ({"columns": ["v"], "bins": 4}, kbins("uniform")),
    "bin_quantile": ({"columns": ["v"], "bins": 4}, kbins("quantile")),
    "bin_edges": (
        {"columns": ["v"], "edges": [2.0, 5.0, 9.0]},
        col("v", lambda tr, te: np.searchsorted([2.0, 5.0, 9.0], te.v, side="right")),
    ),
    "clip": ({"columns": ["w"], "lower": -1, "upper": 1}, col("w", lambda tr, te: te.w.clip(-1, 1))),
    "winsorize": ({"columns": ["x"]}, col("x", lambda tr, te: te.x.clip(tr.x.quantile(0.05), tr.x.quantile(0.95)))),
    "remove_outliers_iqr": ({"columns": ["x"]}, rows(iqr_keep)),
    "remove_outliers_zscore": (
        {"columns": ["w"], "threshold": 1.5},
        rows(lambda tr, te: te[((te.w - tr.w.mean()) / tr.w.std(ddof=0)).abs() <= 1.5]),
    ),
    "round": ({"columns": ["v"], "decimals": 1}, col("v", lambda tr, te: te.v.round(1))),
    "ratio": ({"numerator": "v", "denominator": "w", "name": "r"}, col("r", lambda tr, te: te.v / te.w)),
    # rows
    "filter": ({"condition": "v > 5 AND g <> 'red'"}, rows(lambda tr, te: te[(te.v > 5) & (te.g != "red")])),
    "dedupe": ({}, rows(lambda tr, te: te.drop_duplicates())),
    "dedupe_by_key": ({"keys": ["k"], "order_by": "t"}, rows(lambda tr, te: te.sort_values("t").groupby("k").tail(1))),
    "sort": ({"order_by": "v DESC"}, rows(lambda tr, te: te.sort_values("v", ascending=False))),
    # columns
    "select": ({"columns": ["id", "v"]}, rows(lambda tr, te: te[["id", "v"]])),
    "drop": ({"columns": ["v", "w"]}, rows(lambda tr, te: te.drop(columns=["v", "w"]))),
    "rename": ({"mapping": {"v": "value"}}, rows(lambda tr, te: te.rename(columns={"v": "value"}))),
    "cast": (
        {"types": {"y": "DOUBLE", "d": "DATE"}},
        rows(lambda tr, te: te.assign(y=te.y.astype(float), d=pd.to_datetime(te.d))),
    ),
    "derive": ({"name": "vw", "expression": "v * w + 1"}, col("vw", lambda tr, te: te.v * te.w + 1)),
    "coalesce": ({"columns": ["c", "g"], "name": "cg"}, col("cg", lambda tr, te: te.c.fillna(te.g))),
    "concat": (
        {"columns": ["g", "c"], "name": "gc", "separator": "-"},
        col("gc", lambda tr, te: te.g + te.c.map(lambda c: "-" + c if isinstance(c, str) else "")),
    ),
    # joins and aggregates
    "join": ({"table": "colors", "on": ["g"]}, rows(lambda tr, te: te.merge(COLORS, on="g", how="left"))),
    "group_by": (
        {"keys": ["k"], "aggregations": {"total": ["sum", "v"], "n": ["count", "*"], "mean_w": ["avg", "w"]}},
        rows(
            lambda tr, te: te.groupby("k").agg(total=("v", "sum"), n=("v", "size"), mean_w=("w", "mean")).reset_index()
        ),
    ),
    "group_stats": (
        {"by": ["k"], "column": "v", "functions": ["avg", "max"]},
        rows(
            lambda tr, te: te.assign(
                v_avg_by_k=te.groupby("k").v.transform("mean"), v_max_by_k=te.groupby("k").v.transform("max")
            )
        ),
    ),
    # window features
    "rolling": (
        {"column": "v", "by": ["k"], "order_by": "t", "rows": 3, "name": "r"},
        col("r", lambda tr, te: by_key(te, lambda g: g.rolling(3, min_periods=1).mean().droplevel(0), "v")),
    ),
    "lag": (
        {"column": "v", "by": ["k"], "order_by": "t", "name": "r"},
        col("r", lambda tr, te: by_key(te, lambda g: g.shift(1), "v")),
    ),
    "lead": (
        {"column": "v", "by": ["k"], "order_by": "t", "name": "r"},
        col("r", lambda tr, te: by_key(te, lambda g: g.shift(-1), "v")),
    ),
    "diff": (
        {"column": "v", "by": ["k"], "order_by": "t", "name": "r"},
        col("r", lambda tr, te: by_key(te, lambda g: g.diff(), "v")),
    ),
    "cumulative_sum": (
        {"column": "v", "by": ["k"], "order_by": "t", "name": "r"},
        col("r", lambda tr, te: by_key(te, lambda g: g.cumsum(), "v")),
    ),
    "row_number": (
        {"by": ["k"], "order_by": "t", "name": "r"},
        col("r", lambda tr, te: by_key(te, lambda g: g.cumcount() + 1, "v")),
    ),
}

COLORS = pd.DataFrame({"g": ["red", "green", "blue"], "hex": ["#f00", "#0f0", "#00f"]})
PREPARE: dict[str, list[dict[str, Any]]] = {
    "remove_stop_words": [{"op": "tokenize", "columns": ["s"]}],
    "ngrams": [{"op": "tokenize", "columns": ["s"]}],
}
ORDERED = {"sort"}


def hash_of(value: str) -> int:
    import duckdb

    return int(duckdb.sql("SELECT hash(CAST($v AS VARCHAR))", params={"v": value}).fetchall()[0][0])


def prepared(df: Frame) -> Frame:
    out = df.copy()
    out["t2"] = out.t + pd.to_timedelta(out.id % 50, unit="h")
    return out


def test_every_transform_has_a_case() -> None:
    assert sorted(set(REGISTRY) - set(CASES) - {"sample", "stratified_split"}) == []
    assert len(REGISTRY) >= 60


@pytest.mark.parametrize("op", sorted(CASES))
def test_transform_matches_reference(op: str, train: Frame, test_split: Frame) -> None:
    params, expect = CASES[op]
    tr, te = prepared(train), prepared(test_split)
    steps = [*PREPARE.get(op, []), {"op": op, **params}]
    got = fit_apply(tr, te, steps, colors=COLORS)
    want = expect(tr, te)
    if op in PREPARE:
        assert set(want.columns) <= set(got.columns)
    else:
        assert set(got.columns) == set(want.columns), (got.columns, want.columns)
    got = got[list(want.columns)]
    if op not in ORDERED:
        key = ["k"] if op == "group_by" else ["id"]
        got, want = got.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True)
    else:
        got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    for name in want.columns:
        g, w = got[name], want[name]
        if g.map(lambda v: isinstance(v, list | np.ndarray)).any():
            assert [list(a) for a in g] == [list(b) for b in w], name
        elif pd.api.types.is_numeric_dtype(w) and not pd.api.types.is_bool_dtype(w):
            np.testing.assert_allclose(g.astype(float), w.astype(float), rtol=1e-9, atol=1e-9, err_msg=f"{op}: {name}")
        elif pd.api.types.is_datetime64_any_dtype(w):
            assert (pd.to_datetime(g).values == pd.to_datetime(w).values).all() or g.equals(w), name
        else:
            assert g.where(g.notna(), None).tolist() == w.where(w.notna(), None).tolist(), f"{op}: {name}"


def test_sample_is_deterministic_and_about_the_fraction(train: Frame) -> None:
    big = pd.concat([train] * 10, ignore_index=True).assign(id=lambda d: range(len(d)))
    first = fit_apply(big, big, [{"op": "sample", "fraction": 0.3, "seed": 7}])
    again = fit_apply(big, big, [{"op": "sample", "fraction": 0.3, "seed": 7}])
    other = fit_apply(big, big, [{"op": "sample", "fraction": 0.3, "seed": 8}])
    assert sorted(first.id) == sorted(again.id) != sorted(other.id)
    assert 0.25 * len(big) < len(first) < 0.35 * len(big)
    assert set(first.id) <= set(big.id)


def test_stratified_split_keeps_each_stratum_share(train: Frame) -> None:
    out = fit_apply(train, train, [{"op": "stratified_split", "by": ["g"], "train": 0.6, "validation": 0.2}])
    assert len(out) == len(train)
    for g, part in out.groupby("g"):
        n = len(part)
        counts = part.split.value_counts()
        assert counts.get("train", 0) == round(n * 0.6), g
        assert counts.get("train", 0) + counts.get("validation", 0) == round(n * 0.8), g
