"""Shared data for the processing tests: a train and a test split with every kind of column."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from mlake.processing.recipe import DuckDBExecutor, Recipe


def make_frame(n: int, seed: int, id_start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "Hello", "World!", "data,", "lake"]
    x = rng.normal(50, 10, n)
    x[rng.random(n) < 0.15] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(id_start, id_start + n),
            "k": rng.choice(["k1", "k2", "k3"], n),
            "x": x,
            "v": rng.gamma(2.0, 3.0, n) + 0.1,
            "w": rng.normal(0, 1, n),
            "g": rng.choice(["red", "green", "blue", "teal"], n, p=[0.5, 0.3, 0.15, 0.05]),
            "c": pd.Series(rng.choice(["a", "b", "c"], n)).where(rng.random(n) > 0.2, None),
            "y": rng.integers(0, 2, n),
            "s": ["  ".join(rng.choice(words, 3)) for _ in range(n)],
            "d": [f"2024-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}" for _ in range(n)],
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 3607 + id_start * 7, unit="s"),
            "flag": rng.choice([True, False], n),
        }
    )


@pytest.fixture(scope="session")
def train() -> pd.DataFrame:
    return make_frame(300, 1)


@pytest.fixture(scope="session")
def test_split() -> pd.DataFrame:
    df = make_frame(120, 2, id_start=1000)
    df.loc[df.index[:3], "g"] = "purple"  # a category the fit data never saw
    return df


def fit_apply(
    train: pd.DataFrame, test: pd.DataFrame, steps: list[dict[str, Any]], **tables: pd.DataFrame
) -> pd.DataFrame:
    """Fit ``steps`` on ``train``, apply the fitted recipe to ``test``; the result as pandas."""
    con = duckdb.connect()
    con.register("train", train)
    con.register("test", test)
    for name, df in tables.items():
        con.register(name, df)
    ex = DuckDBExecutor(con)
    fitted = Recipe(steps=steps).fit(ex, "train")
    compiled = fitted.compile(ex, "test")
    return con.sql(compiled.sql()).to_df()
