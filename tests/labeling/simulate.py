"""Simulated annotators of known reliability, shared by the labeling tests and the benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd


def categorical_answers(
    n_items: int,
    accuracies: list[float] | np.ndarray,
    n_classes: int,
    *,
    per_item: tuple[int, int] = (1, 9),
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Answers of annotators with the given accuracies: each item gets between ``per_item`` annotators
    (chosen at random); an annotator answers the truth with their accuracy, otherwise a uniformly chosen
    wrong class. Returns (answers with columns item, annotator, label; the true class of each item)."""
    rng = np.random.default_rng(seed)
    accuracies = np.asarray(accuracies, dtype=float)
    n_annotators = accuracies.size
    truth = rng.integers(0, n_classes, n_items)
    low, high = per_item
    counts = rng.integers(low, min(high, n_annotators) + 1, n_items)
    # Choose `counts[t]` distinct annotators per item: rank random keys and keep the first counts[t].
    keys = rng.random((n_items, n_annotators))
    ranks = keys.argsort(axis=1).argsort(axis=1)
    item, annotator = np.nonzero(ranks < counts[:, None])
    right = rng.random(item.size) < accuracies[annotator]
    wrong = (truth[item] + rng.integers(1, n_classes, item.size)) % n_classes
    label = np.where(right, truth[item], wrong)
    answers = pd.DataFrame({"item": item, "annotator": annotator, "label": label})
    return answers, truth
