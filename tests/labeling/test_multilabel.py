"""Multi-label consolidation: one yes/no question per class, checked by hand and against crowd-kit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from mlake.errors import AnswerOutsideSchemaError, DuplicateAnswerError
from mlake.labeling import consolidate_multi_label

pytestmark = pytest.mark.filterwarnings("ignore:The (inplace|copy) keyword")

CLASSES = ["cat", "dog", "bird"]


def test_majority_vote_by_hand() -> None:
    answers = pd.DataFrame(
        {
            "item": ["p1", "p1", "p1", "p2", "p2"],
            "annotator": ["ann", "bob", "cy", "ann", "bob"],
            "label": [["cat", "dog"], ["cat"], ["cat", "dog"], [], ["bird"]],
        }
    )
    result = consolidate_multi_label(answers, classes=CLASSES, method="majority_vote")
    # p1: cat 3/3, dog 2/3, bird 0/3. p2: cat 0/2, dog 0/2, bird 1/2 — a tie, which is "absent".
    np.testing.assert_allclose(result.probability, [[1, 2 / 3, 0], [0, 0, 0.5]])
    assert result.labels == [("cat", "dog"), ()]
    # bob: "no dog" on p1 where the majority said yes; "bird" on p2, consolidated as absent.
    np.testing.assert_allclose(result.reliability[1], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(result.reliability[0], [1.0, 1.0, 1.0])
    assert result.to_arrow().column("labels").to_pylist() == [["cat", "dog"], []]
    assert consolidate_multi_label(answers, classes=CLASSES, method="majority_vote", threshold=0.4).labels[1] == ("bird",)


@pytest.mark.slow
def test_dawid_skene_per_class_equals_crowdkit_on_the_yes_no_questions() -> None:
    rng = np.random.default_rng(8)
    n_items, accuracy = 300, np.array([0.95, 0.85, 0.75, 0.65])
    truth = rng.random((n_items, len(CLASSES))) < [0.5, 0.3, 0.1]
    rows = []
    for item in range(n_items):
        for annotator, acc in enumerate(accuracy):
            flip = rng.random(len(CLASSES)) > acc
            picked = [c for c, on in zip(CLASSES, truth[item] ^ flip, strict=True) if on]
            rows.append((item, annotator, picked))
    answers = pd.DataFrame(rows, columns=["item", "annotator", "label"])
    # Rare classes converge slowly (crowd-kit's pandas EM takes ~0.15 s per iteration here): cap both at 15.
    result = consolidate_multi_label(answers, classes=CLASSES, max_iter=15)
    for k, cls in enumerate(CLASSES):
        binary = pd.DataFrame(
            {"task": answers["item"], "worker": answers["annotator"], "label": [cls in p for p in answers["label"]]}
        )
        ref = DawidSkene(n_iter=15).fit(binary)
        np.testing.assert_allclose(result.probability[:, k], ref.probas_.loc[result.items, True].to_numpy(), atol=1e-6)
    assert ((result.probability > 0.5) == truth).mean() > 0.94  # 4 annotators of accuracy 0.65–0.95


def test_bad_multi_label_answers_are_refused() -> None:
    base = pd.DataFrame({"item": [1, 1], "annotator": ["a", "b"], "label": [["cat"], ["cow"]]})
    with pytest.raises(AnswerOutsideSchemaError, match="label=\\['cow'\\]"):
        consolidate_multi_label(base, classes=CLASSES)
    with pytest.raises(AnswerOutsideSchemaError, match="not lists"):
        consolidate_multi_label(base.assign(label=["cat", ["dog"]]), classes=CLASSES)
    with pytest.raises(DuplicateAnswerError):
        consolidate_multi_label(base.assign(annotator=["a", "a"], label=[["cat"], ["dog"]]), classes=CLASSES)
