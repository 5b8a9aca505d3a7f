"""The labeling queue's index (mlake.labeling.queue): duplicate submits racing each other on the real
metadata store (SQLite and PostgreSQL) leave one answer, answers appended to the lake table by other paths
are picked up, and a failed append gives the claim back."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from mlake import Lake
from mlake.errors import DuplicateAnswerError
from mlake.labeling.projects import ANSWERS_SCHEMA, Answer

RACERS = 6


def _project(lake: Lake, name: str, items: int = 20, per_item: int = 2) -> None:
    lake.create_table("raw.texts", pa.table({"tid": list(range(items)), "text": [f"t{i}" for i in range(items)]}))
    lake.labeling.create_project(name, "raw.texts", "tid", labels=["a", "b"], annotators_per_item=per_item)


def test_concurrent_duplicate_submits_leave_one_answer(any_lake: Lake) -> None:
    """Six threads submit the same (item, annotator) at once: one answer is stored, five are refused."""
    _project(any_lake, "race")
    any_lake.governance.create_principal("ann")
    any_lake.governance.grant("ann", "select", "raw.texts")
    any_lake.governance.grant("ann", "insert", "labeling.race__answers")
    any_lake.labeling.next_items("race", 1)  # the index exists before the race (as after any first use)
    start = threading.Barrier(RACERS)
    outcomes: list[Any] = []

    def submit(who: int) -> None:
        lab = any_lake.as_principal("ann").labeling
        start.wait()
        try:
            outcomes.append(lab.submit("race", 3, "a" if who % 2 else "b", seconds=1.0))
        except DuplicateAnswerError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == RACERS
    stored = any_lake.labeling.answers("race").to_pylist()
    assert [(r["item_id"], r["annotator"]) for r in stored] == [("3", "ann")]
    assert sum(isinstance(o, Answer) for o in outcomes) == 1  # submit returns the stored Answer
    assert sum(isinstance(o, DuplicateAnswerError) for o in outcomes) == RACERS - 1
    # the item still needs one more annotator; ann is not shown it again
    assert "3" not in [q.item_id for q in any_lake.as_principal("ann").labeling.next_items("race", 50)]
    assert any_lake.labeling.next_items("race", 1)[0].item_id == "3"  # started items come first


def test_answers_appended_outside_submit_are_indexed(lake: Lake) -> None:
    """A bulk append to the answers table (as the demo's simulated annotators do) counts for the queue
    and the duplicate check on the next call."""
    _project(lake, "bulk", items=5, per_item=1)
    assert [q.item_id for q in lake.labeling.next_items("bulk", 10)] == ["0", "1", "2", "3", "4"]
    now = datetime.now(UTC)
    rows = [{"item_id": i, "annotator": "tester", "submitted_at": now, "answer": '"a"', "seconds": 1.0} for i in "02"]
    lake.table("labeling.bulk__answers").append(pa.Table.from_pylist(rows, schema=ANSWERS_SCHEMA))
    assert [q.item_id for q in lake.labeling.next_items("bulk", 10)] == ["1", "3", "4"]
    with pytest.raises(DuplicateAnswerError):
        lake.labeling.submit("bulk", 2, "b")
    lake.labeling.submit("bulk", 1, "b")
    assert [q.item_id for q in lake.labeling.next_items("bulk", 10)] == ["3", "4"]
    assert lake.labeling.progress("bulk").items_done == 3
    lake.table("raw.texts").append(pa.table({"tid": [9], "text": ["new"]}))  # a new item joins the queue
    assert [q.item_id for q in lake.labeling.next_items("bulk", 10)] == ["3", "4", "9"]


def test_submit_many_saves_the_good_answers_in_one_commit_and_reports_the_rest(lake: Lake) -> None:
    _project(lake, "many", items=6, per_item=1)
    lake.labeling.submit("many", 0, "a")
    commits = len(lake.table("labeling.many__answers").history())
    results = lake.labeling.submit_many(
        "many",
        [
            {"item_id": 1, "answer": "a", "seconds": 1.5},
            {"item_id": 0, "answer": "b"},  # answered before
            {"item_id": 2, "answer": "zebra"},  # outside the schema
            {"item_id": 99, "answer": "a"},  # no such item
            {"item_id": 3, "answer": "b"},
            {"item_id": 3, "answer": "a"},  # twice in the same batch
            {"item_id": 4, "answer": "a", "seconds": -1},
        ],
    )
    assert [r["status"] for r in results] == ["saved", "refused", "refused", "refused", "saved", "refused", "refused"]
    assert [r.get("code") for r in results][1:4] == ["duplicate_answer", "answer_outside_schema", "labeling_error"]
    assert len(lake.table("labeling.many__answers").history()) == commits + 1  # one commit for the batch
    stored = {r["item_id"]: (r["answer"], r["seconds"]) for r in lake.labeling.answers("many").to_pylist()}
    assert stored == {"0": ('"a"', None), "1": ('"a"', 1.5), "3": ('"b"', None)}
    assert [q.item_id for q in lake.labeling.next_items("many", 10)] == ["2", "4", "5"]
    assert lake.labeling.submit_many("many", []) == []


def test_the_first_build_indexes_answers_given_before_it(any_lake: Lake) -> None:
    """The first use of a project whose answers table already has rows (a restored or imported project)
    builds the index in bulk, on SQLite and PostgreSQL alike: counts and the duplicate guard are right."""
    items = ["o'brien", "naïve", "plain", 'say "hi"', "%s"]  # quotes, accents and a placeholder look-alike
    any_lake.create_table("raw.words", pa.table({"w": items, "text": items}))
    any_lake.labeling.create_project("pre", "raw.words", "w", labels=["a", "b"], annotators_per_item=2)
    now = datetime.now(UTC)
    given = [("tester", "o'brien"), ("bob", "o'brien"), ("tester", "%s"), ("bob", 'say "hi"')]
    rows = [{"item_id": i, "annotator": a, "submitted_at": now, "answer": '"a"', "seconds": 1.0} for a, i in given]
    any_lake.table("labeling.pre__answers").append(pa.Table.from_pylist(rows, schema=ANSWERS_SCHEMA))
    queue = [q.item_id for q in any_lake.labeling.next_items("pre", 10)]
    assert queue[0] == 'say "hi"' and sorted(queue[1:]) == ["naïve", "plain"]  # started items first
    with pytest.raises(DuplicateAnswerError):  # the tester answered it before the index existed
        any_lake.labeling.submit("pre", "%s", "b")
    any_lake.labeling.submit("pre", 'say "hi"', "b")
    assert any_lake.labeling.progress("pre").items_done == 2
