"""Drift decisions and scores against Evidently's DataDriftPreset itself.

Evidently 0.7 needs pandas < 3, so it cannot live in mlake's environment; it runs in the benchmark's own
virtualenv (``benchmarks/.venv-evidently``, created by ``python -m benchmarks.bench_drift``). Without that
virtualenv this module is skipped and the scipy comparisons of test_drift.py stand alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks.bench_drift import EVIDENTLY_PYTHON
from benchmarks.common import run_contender

from mlake.monitor import DriftBaseline, detect_drift

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not EVIDENTLY_PYTHON.exists(), reason="Evidently's virtualenv is not set up"),
]

NUMERIC = ["normal", "skewed", "rating"]
CATEGORICAL = ["colour", "binary"]


def table(rng: np.random.Generator, n: int, shift: float, colours: list[float], new_category: bool) -> pa.Table:
    colour = rng.choice(["red", "green", "blue"], n, p=colours)
    if new_category:
        colour[: n // 20] = "violet"
    return pa.table(
        {
            "normal": rng.normal(shift, 1, n),
            "skewed": rng.lognormal(shift / 3, 0.8, n),
            "rating": rng.integers(1, 4, n).astype(np.float64),
            "colour": colour,
            "binary": rng.choice(["yes", "no"], n, p=[0.6 + shift / 10, 0.4 - shift / 10]),
        }
    )


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift", "colours", "new"),
    [
        (800, 600, 0.0, [0.5, 0.3, 0.2], False),  # small reference, no change
        (800, 600, 0.4, [0.3, 0.3, 0.4], True),  # small reference, drift and a new category
        (5000, 4000, 0.05, [0.5, 0.3, 0.2], False),  # large reference, a shift below the thresholds
        (5000, 4000, 0.5, [0.2, 0.3, 0.5], True),  # large reference, drift
    ],
)
def test_same_decisions_and_scores_as_evidently(
    tmp_path: Path, n_ref: int, n_cur: int, shift: float, colours: list[float], new: bool
) -> None:
    rng = np.random.default_rng(n_ref + int(shift * 100))
    ref, cur = table(rng, n_ref, 0.0, [0.5, 0.3, 0.2], False), table(rng, n_cur, shift, colours, new)
    ref_path, cur_path = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pq.write_table(ref, ref_path)
    pq.write_table(cur, cur_path)
    theirs = run_contender(
        "benchmarks.bench_drift", "evidently_drift", str(ref_path), str(cur_path), NUMERIC, CATEGORICAL,
        python=str(EVIDENTLY_PYTHON),
    ).extra  # fmt: skip
    ours = detect_drift(DriftBaseline.from_table(ref), cur)
    for f in ours.features:
        assert f.drifted == theirs["decisions"][f.column], (f.column, f.method, f.score, theirs["scores"][f.column])
        assert f.score == pytest.approx(theirs["scores"][f.column], rel=1e-6, abs=f.error_bound + 1e-9), f.column
    assert ours.dataset_drift == theirs["dataset_drift"]
