"""Dawid–Skene consolidation of 1 M answers (100k items × 10 annotators, 5 classes), versus crowd-kit.

    .venv/bin/python -m benchmarks.bench_consolidate [--quick]

Ten simulated annotators of known accuracy (0.95 down to 0.5) each answer every item. Both contenders read
the same Parquet file of answers in a fresh process and run Dawid–Skene with the same settings (crowd-kit's
defaults: at most 100 iterations, tolerance 1e-5); the table's seconds are each process's whole call
(reading the file, the fit, saving the labels), ``fit_s`` the consolidation alone. The run then compares
the two label sets item by item and the largest posterior difference. Target: ≥ 5× faster, same labels.
``--quick`` uses 10k items.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from benchmarks.common import DATA, machine, report, run_contender

ANNOTATOR_ACCURACY = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5]
CLASSES = 5


def answers_path(n_items: int) -> str:
    return str(DATA / f"consolidate_{n_items}.parquet")


def prepare(n_items: int) -> None:
    """Write the answers once: every annotator answers every item, right with their accuracy."""
    import pandas as pd

    path = answers_path(n_items)
    if (DATA / f"consolidate_{n_items}.parquet").exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    truth = rng.integers(0, CLASSES, n_items)
    accuracy = np.asarray(ANNOTATOR_ACCURACY)
    item = np.repeat(np.arange(n_items), accuracy.size)
    annotator = np.tile(np.arange(accuracy.size), n_items)
    right = rng.random(item.size) < accuracy[annotator]
    wrong = (truth[item] + rng.integers(1, CLASSES, item.size)) % CLASSES
    answers = pd.DataFrame({"task": item, "worker": annotator, "label": np.where(right, truth[item], wrong)})
    answers.to_parquet(path, index=False)
    np.save(DATA / f"consolidate_{n_items}_truth.npy", truth)


def mlake_dawid_skene(n_items: int) -> dict[str, Any]:
    import pyarrow.parquet as pq
    import scipy.sparse  # noqa: F401  (imported lazily by dawid_skene; imported here, like crowd-kit, before the clock)

    from mlake.labeling import AnswerColumns, dawid_skene

    table = pq.read_table(answers_path(n_items))
    start = time.perf_counter()
    result = dawid_skene(table, columns=AnswerColumns(item="task", annotator="worker", label="label"))
    fit = time.perf_counter() - start
    order = np.argsort(result.items)
    np.save(DATA / "consolidate_labels_mlake.npy", result.labels.astype(np.int64)[order])
    np.save(DATA / "consolidate_posteriors_mlake.npy", result.posteriors[order])
    return {"fit_s": round(fit, 3), "iterations": result.iterations, "answers": table.num_rows}


def crowdkit_dawid_skene(n_items: int) -> dict[str, Any]:
    import warnings

    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    warnings.simplefilter("ignore")  # crowd-kit's pandas deprecation warnings
    frame = pd.read_parquet(answers_path(n_items))
    start = time.perf_counter()
    model = DawidSkene(n_iter=100, tol=1e-5).fit(frame)
    fit = time.perf_counter() - start
    labels = model.labels_.sort_index()
    probas = model.probas_.sort_index()[sorted(model.probas_.columns)]
    np.save(DATA / "consolidate_labels_crowdkit.npy", labels.to_numpy().astype(np.int64))
    np.save(DATA / "consolidate_posteriors_crowdkit.npy", probas.to_numpy())
    return {"fit_s": round(fit, 3), "iterations": len(model.loss_history_), "answers": len(frame)}


def main() -> str:
    n_items = 10_000 if "--quick" in sys.argv else 100_000
    prepare(n_items)
    ours = run_contender("benchmarks.bench_consolidate", "mlake_dawid_skene", n_items, name="mlake dawid_skene")
    base = run_contender("benchmarks.bench_consolidate", "crowdkit_dawid_skene", n_items, name="crowd-kit DawidSkene")
    ours_labels = np.load(DATA / "consolidate_labels_mlake.npy")
    base_labels = np.load(DATA / "consolidate_labels_crowdkit.npy")
    truth = np.load(DATA / f"consolidate_{n_items}_truth.npy")
    agreement = float((ours_labels == base_labels).mean())
    posterior_gap = float(
        np.abs(np.load(DATA / "consolidate_posteriors_mlake.npy") - np.load(DATA / "consolidate_posteriors_crowdkit.npy")).max()
    )
    speedup = base.seconds / ours.seconds
    fit_speedup = float(base.extra["fit_s"]) / max(float(ours.extra["fit_s"]), 1e-9)
    note = (
        f"{n_items * len(ANNOTATOR_ACCURACY):,} answers. mlake is {speedup:.1f}× faster end to end and "
        f"{fit_speedup:.1f}× faster in the fit (target ≥ 5×: {'met' if fit_speedup >= 5 else 'NOT met'}); "
        f"label agreement {agreement:.6f} ({int((ours_labels != base_labels).sum())} items differ), largest "
        f"posterior difference {posterior_gap:.2e}; accuracy against the simulated truth: mlake "
        f"{(ours_labels == truth).mean():.4f}, crowd-kit {(base_labels == truth).mean():.4f}. {machine()}"
    )
    table = report("Dawid–Skene on 1M answers: mlake vs crowd-kit", ours, [base], note)
    return table + "\n\n" + note


if __name__ == "__main__":
    main()
