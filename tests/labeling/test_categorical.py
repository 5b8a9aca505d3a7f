"""Majority vote and Dawid–Skene, checked against crowd-kit on simulated annotators of known accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from crowdkit.aggregation import DawidSkene, MajorityVote
from hypothesis import given, settings
from hypothesis import strategies as st

from mlake.errors import AnswerOutsideSchemaError, DuplicateAnswerError, LabelingError
from mlake.labeling import AnswerColumns, dawid_skene, gold_accuracy, majority_vote
from tests.labeling.simulate import categorical_answers

pytestmark = pytest.mark.filterwarnings("ignore:The (inplace|copy) keyword")

ACCURACIES = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35]


def crowdkit_frame(answers: pd.DataFrame) -> pd.DataFrame:
    return answers.rename(columns={"item": "task", "annotator": "worker"})


@pytest.mark.parametrize(("n_classes", "seed"), [(2, 1), (4, 2), (7, 3)])
def test_dawid_skene_equals_crowdkit(n_classes: int, seed: int) -> None:
    answers, _ = categorical_answers(1500, ACCURACIES, n_classes, seed=seed)
    ours = dawid_skene(answers)
    ref = DawidSkene(n_iter=100, tol=1e-5).fit(crowdkit_frame(answers))

    assert ours.iterations == len(ref.loss_history_)
    np.testing.assert_allclose(ours.objective, ref.loss_history_, atol=1e-9)
    ref_post = ref.probas_.loc[ours.items, list(ours.classes)].to_numpy()
    np.testing.assert_allclose(ours.posteriors, ref_post, atol=1e-6)
    assert (ours.labels == ref.labels_.loc[ours.items].to_numpy()).all()
    np.testing.assert_allclose(ours.priors, ref.priors_.loc[list(ours.classes)].to_numpy(), atol=1e-6)
    # crowd-kit's errors_ rows are (worker, answered), columns true; ours are (annotator, true, answered).
    for w, name in enumerate(ours.annotators):
        ref_errors = ref.errors_.loc[name].reindex(list(ours.classes), fill_value=0.0)
        np.testing.assert_allclose(ours.confusion[w].T, ref_errors[list(ours.classes)].to_numpy(), atol=1e-6)


def test_dawid_skene_equals_crowdkit_for_a_fixed_number_of_iterations() -> None:
    answers, _ = categorical_answers(800, ACCURACIES[:6], 3, seed=5)
    ours = dawid_skene(answers, max_iter=7, tol=-np.inf)
    ref = DawidSkene(n_iter=7, tol=-np.inf).fit(crowdkit_frame(answers))
    assert ours.iterations == 7 and not ours.converged
    np.testing.assert_allclose(ours.posteriors, ref.probas_.loc[ours.items, list(ours.classes)].to_numpy(), atol=1e-6)


def test_dawid_skene_with_gold_equals_crowdkit_with_true_labels() -> None:
    answers, truth = categorical_answers(1000, ACCURACIES, 3, seed=7)
    gold_items = np.arange(0, 1000, 10)
    gold = {int(i): int(truth[i]) for i in gold_items}
    ours = dawid_skene(answers, gold=gold)
    ref = DawidSkene().fit(crowdkit_frame(answers), true_labels=pd.Series(gold))
    np.testing.assert_allclose(ours.posteriors, ref.probas_.loc[ours.items, list(ours.classes)].to_numpy(), atol=1e-6)
    assert (ours.labels[gold_items] == truth[gold_items]).all()


def test_gold_accuracy_by_hand_and_on_simulated_annotators() -> None:
    from scipy.stats import beta

    answers = pd.DataFrame(
        {"item": [1, 1, 2, 2, 3, 3], "annotator": ["a", "b", "a", "b", "a", "c"], "label": [0, 1, 1, 1, 0, 0]}
    )
    scores = gold_accuracy(answers, {1: 0, 2: 1, 99: 0})  # item 99 was never answered: it is ignored
    assert scores.answered.tolist() == [2, 2, 0] and scores.correct.tolist() == [2, 1, 0]
    np.testing.assert_allclose(scores.accuracy[:2], [1.0, 0.5])
    assert np.isnan(scores.accuracy[2]) and np.isnan(scores.lower_bound[2])
    assert scores.lower_bound[0] == pytest.approx(0.05**0.5)  # 2 of 2 right: Beta(2, 1) quantile = sqrt(0.05)
    assert scores.lower_bound[1] == pytest.approx(beta.ppf(0.05, 1, 2))
    assert scores.to_arrow().column("annotator").to_pylist() == ["a", "b", "c"]

    simulated, truth = categorical_answers(3000, [0.9, 0.7, 0.5], 3, per_item=(3, 3), seed=12)
    gold = {int(i): int(truth[i]) for i in range(0, 3000, 3)}
    measured = gold_accuracy(simulated, gold)
    np.testing.assert_allclose(measured.accuracy, [0.9, 0.7, 0.5], atol=0.04)
    assert (measured.lower_bound < measured.accuracy).all()


def test_dawid_skene_recovers_known_annotator_accuracies() -> None:
    accuracies = [0.95, 0.9, 0.8, 0.7, 0.6]
    answers, truth = categorical_answers(4000, accuracies, 4, per_item=(3, 5), seed=11)
    result = dawid_skene(answers)
    np.testing.assert_allclose(result.reliability, accuracies, atol=0.03)
    # Diagonal of each confusion matrix ≈ accuracy; rows are distributions.
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0, atol=1e-9)
    assert (result.labels.astype(int) == truth).mean() > (majority_vote(answers).labels.astype(int) == truth).mean()


def test_majority_vote_posteriors_equal_crowdkit_and_labels_differ_only_on_ties() -> None:
    answers, _ = categorical_answers(2000, ACCURACIES, 4, seed=3)
    ours = majority_vote(answers)
    ref = MajorityVote().fit(crowdkit_frame(answers))
    ref_post = ref.probas_.loc[ours.items, list(ours.classes)].to_numpy()
    np.testing.assert_allclose(ours.posteriors, ref_post, atol=1e-12)

    top = ours.posteriors.max(axis=1, keepdims=True)
    tied = (ours.posteriors == top).sum(axis=1) > 1
    ref_labels = ref.labels_.loc[ours.items].to_numpy()
    assert tied.any()  # the data has ties, so the tie rule is exercised
    assert (ours.labels[~tied] == ref_labels[~tied]).all()
    # Ours: the first tied class in schema (sorted) order; crowd-kit: another tied class, data-dependent.
    first_tied = np.argmax(ours.posteriors == top, axis=1)
    assert (ours.label_index == first_tied).all()
    ref_codes = pd.Index(list(ours.classes)).get_indexer(ref_labels)
    assert (ours.posteriors[np.arange(len(ref_codes)), ref_codes] == top[:, 0]).all()


def test_majority_vote_reliability_equals_crowdkit_without_ties() -> None:
    # Two classes and an odd number of annotators per item: no ties, so labels and skills must agree exactly.
    answers, _ = categorical_answers(1500, ACCURACIES[:7], 2, per_item=(3, 3), seed=4)
    ours = majority_vote(answers)
    ref = MajorityVote().fit(crowdkit_frame(answers))
    assert (ours.labels == ref.labels_.loc[ours.items].to_numpy()).all()
    np.testing.assert_allclose(ours.reliability, ref.skills_.loc[ours.annotators].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.confidence, ref.probas_.max(axis=1).loc[ours.items].to_numpy(), atol=1e-12)


def test_weighted_majority_vote_equals_crowdkit_with_skills() -> None:
    answers, _ = categorical_answers(500, ACCURACIES[:5], 3, seed=9)
    weights = {a: 0.3 + 0.1 * a for a in range(5)}
    ours = majority_vote(answers, weights=weights)
    ref = MajorityVote().fit(crowdkit_frame(answers), skills=pd.Series(weights))
    np.testing.assert_allclose(ours.posteriors, ref.probas_.loc[ours.items, list(ours.classes)].to_numpy(), atol=1e-12)


def test_hand_computed_votes_tie_rule_and_schema_order() -> None:
    answers = pd.DataFrame(
        {
            "task": ["t1", "t1", "t1", "t2", "t2", "t3"],
            "who": ["ann", "bob", "cy", "ann", "bob", "cy"],
            "answer": ["cat", "dog", "dog", "cat", "dog", "bird"],
        }
    )
    cols = AnswerColumns(item="task", annotator="who", label="answer")
    sorted_order = majority_vote(answers, columns=cols)
    assert sorted_order.classes == ("bird", "cat", "dog")
    assert list(sorted_order.labels) == ["dog", "cat", "bird"]  # t2 ties cat/dog: cat comes first when sorted
    np.testing.assert_allclose(sorted_order.confidence, [2 / 3, 1 / 2, 1.0])
    # ann agrees on t2 only (1 of 2), bob on t1 only (1 of 2), cy on t1 and t3 (2 of 2).
    np.testing.assert_allclose(sorted_order.reliability, [0.5, 0.5, 1.0])
    schema_order = majority_vote(answers, columns=cols, classes=["dog", "cat", "bird"])
    assert list(schema_order.labels) == ["dog", "dog", "bird"]  # t2 ties: dog is first in the schema
    table = schema_order.to_arrow()
    assert table.column_names == ["item", "label", "confidence", "p_dog", "p_cat", "p_bird"]
    assert table.column("label").to_pylist() == ["dog", "dog", "bird"]


def test_arrow_input_with_missing_answers_equals_pandas_input() -> None:
    answers, _ = categorical_answers(300, ACCURACIES[:9], 3, seed=2)
    with_nulls = answers.astype({"label": "float"})
    with_nulls.loc[::7, "label"] = np.nan  # answers not given
    table = pa.Table.from_pandas(with_nulls, preserve_index=False)
    from_arrow = dawid_skene(table)
    from_pandas = dawid_skene(with_nulls.dropna())
    np.testing.assert_allclose(from_arrow.posteriors, from_pandas.posteriors, atol=1e-12)
    assert from_arrow.answers.sum() == len(with_nulls.dropna())


def test_bad_answers_raise_labeling_errors_that_name_the_rows() -> None:
    answers = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": ["a", "b", "a", "a"], "label": ["x", "y", "x", "x"]})
    with pytest.raises(DuplicateAnswerError, match=r"row 3 \(item=2, annotator='a'\)") as dup:
        majority_vote(answers)
    assert dup.value.code == "duplicate_answer" and dup.value.hint
    with pytest.raises(AnswerOutsideSchemaError, match=r"not in the label schema \['x'\].*label='y'"):
        dawid_skene(answers.iloc[:3], classes=["x"])
    with pytest.raises(LabelingError, match="no column 'label'"):
        majority_vote(answers.drop(columns="label"))
    with pytest.raises(LabelingError, match="no weight for annotator"):
        majority_vote(answers.iloc[:3], weights={"a": 1.0})
    mixed = answers.iloc[:3].assign(label=["x", 1, "x"])
    with pytest.raises(LabelingError, match="mix types"):
        majority_vote(mixed)
    assert majority_vote(mixed, classes=["x", 1]).labels.tolist() == ["x", "x"]


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 5), st.integers(0, 3)),
        min_size=4,
        max_size=60,
        unique_by=lambda r: (r[0], r[1]),
    )
)
def test_dawid_skene_posteriors_equal_crowdkit_on_arbitrary_answers(rows: list[tuple[int, int, int]]) -> None:
    answers = pd.DataFrame(rows, columns=["item", "annotator", "label"])
    # Small, sparse answer sets converge slowly; 20 iterations keep crowd-kit's pandas EM quick.
    ours = dawid_skene(answers, max_iter=20)
    ref = DawidSkene(n_iter=20).fit(crowdkit_frame(answers))
    assert ours.iterations == len(ref.loss_history_)
    ref_post = ref.probas_.loc[ours.items, list(ours.classes)].to_numpy()
    np.testing.assert_allclose(ours.posteriors, ref_post, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 2)),
        min_size=1,
        max_size=40,
        unique_by=lambda r: (r[0], r[1]),
    ),
    st.randoms(use_true_random=False),
)
def test_results_do_not_depend_on_the_order_of_answers(rows: list[tuple[int, int, int]], rnd: object) -> None:
    answers = pd.DataFrame(rows, columns=["item", "annotator", "label"])
    shuffled = answers.sample(frac=1.0, random_state=7).reset_index(drop=True)
    for method in (majority_vote, dawid_skene):
        a, b = method(answers), method(shuffled)
        assert (a.labels == b.labels).all()
        np.testing.assert_allclose(a.posteriors, b.posteriors, atol=1e-12)
        np.testing.assert_allclose(a.posteriors.sum(axis=1), 1.0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(0, 4), st.integers(2, 5))
def test_unanimous_answers_are_the_label_with_full_confidence(n_annotators: int, label: int, n_classes: int) -> None:
    label = label % n_classes
    answers = pd.DataFrame({"item": 0, "annotator": range(n_annotators), "label": label})
    for method in (majority_vote, dawid_skene):
        result = method(answers, classes=list(range(n_classes)))
        assert result.labels.tolist() == [label]
        assert result.confidence[0] == pytest.approx(1.0, abs=1e-6)
