"""Streams, labeling and dashboards through ``mlake.connect("http://…", token=…)`` against a live uvicorn
server (a real socket): each call gives what the same principal gets in process, value for value, and a
principal without grants is refused remotely with the same error class and the same words as locally."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.governed_lake import Governed, build_governed_lake
from tests.live_server import free_port, live_server

import mlake
from mlake.client.remote import RemoteLake
from mlake.errors import MlakeError, NotFoundError, ValidationError
from mlake.lake import Lake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from mlake.streams import Position, PutRecord


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Governed, str]]:
    governed = build_governed_lake(tmp_path / "lake")
    app = create_app(governed.lake, ServerSettings(auth=True))
    try:
        with live_server(app, free_port()) as url:
            yield governed, url
    finally:
        governed.lake.close()


def _remote(url: str, token: str) -> RemoteLake:
    remote = mlake.connect(url, token=token)
    assert isinstance(remote, RemoteLake)
    return remote


def _outcome(call: Callable[[Any], Any], side: Any) -> tuple[str, Any]:
    """What a call on one side gives: ("ok", value) or ("error", (class name, message))."""
    try:
        return "ok", call(side)
    except MlakeError as exc:
        return "error", (type(exc).__name__, str(exc))


def _same_refusals(local: Any, remote: Any, calls: dict[str, Callable[[Any], Any]]) -> None:
    for what, call in calls.items():
        here, there = _outcome(call, local), _outcome(call, remote)
        assert here[0] == "error", f"{what}: allowed locally"
        assert there == here, f"{what}: {there} remotely, {here} locally"


BATCH = [
    PutRecord("u1", {"user": "u1", "page": "/home", "n": 1.5}),
    PutRecord("u2", b"raw bytes stay as they are"),
    PutRecord("u3", b"x" * (2 * 1024 * 1024)),  # larger than the 1 MiB limit: fails alone
    PutRecord("", {"no": "key"}),  # a bad key: fails alone
    PutRecord("u4", {"nan": math.nan}),  # not JSON: fails alone
    PutRecord("u5", None),  # JSON null is a value
    ("u1", ["a", "tuple", "pair", "ü"]),
]


def test_streams_remote_equals_local(served: tuple[Governed, str]) -> None:
    governed, url = served
    local = governed.lake.as_principal("root").streams
    with _remote(url, governed.admin_token) as root:
        remote = root.streams
        # the same calls on two streams, one through each side, give equal results
        made_remote = remote.create("r-clicks", partitions=3, retention=timedelta(hours=2))
        made_local = local.create("l-clicks", partitions=3, retention=timedelta(hours=2))
        assert (made_remote.partitions, made_remote.retention, made_remote.backend) == (
            made_local.partitions,
            made_local.retention,
            made_local.backend,
        )
        put_remote, put_local = remote.put_batch("r-clicks", BATCH), local.put_batch("l-clicks", BATCH)
        assert put_remote == put_local  # partitions, sequences, error codes and messages, retryable
        assert put_remote.failed_indices == [2, 3, 4]
        assert remote.put("r-clicks", {"one": 1}, key="u9") == local.put("l-clicks", {"one": 1}, key="u9")
        with pytest.raises(mlake.MlakeError) as remote_error:
            remote.put("r-clicks", b"y" * (2 * 1024 * 1024), key="u9")
        with pytest.raises(mlake.MlakeError) as local_error:
            local.put("l-clicks", b"y" * (2 * 1024 * 1024), key="u9")
        assert (type(remote_error.value), str(remote_error.value).replace("r-", "l-")) == (
            type(local_error.value),
            str(local_error.value),
        )

        # reading one stream from either side gives the same records, bytes and timestamps included
        assert remote.list_streams() == local.list_streams() == ["l-clicks", "r-clicks"]
        assert remote.exists("r-clicks") and local.exists("r-clicks") and not remote.exists("nope")
        assert remote.describe("r-clicks") == local.describe("r-clicks")
        for key in ("u1", "u2", "u5", "someone"):
            assert remote.partition_of("r-clicks", key) == local.partition_of("r-clicks", key)
        for partition in range(3):
            for start in (Position.oldest(), Position.after(0), Position.latest()):
                assert remote.read("r-clicks", partition, start) == local.read("r-clicks", partition, start)
        p = remote.partition_of("r-clicks", "u1")
        assert [r.json() for r in remote.read("r-clicks", p).records if r.key == "u1"] == [
            {"user": "u1", "page": "/home", "n": 1.5},
            ["a", "tuple", "pair", "ü"],
        ]
        null = remote.read("r-clicks", remote.partition_of("r-clicks", "u5")).records
        assert [r.data for r in null if r.key == "u5"] == [b"null"]

        # more than the server returns (or takes) in one request: split and continued in order
        remote.create("r-bulk")
        many = [PutRecord("k", {"i": i}) for i in range(2300)]
        assert remote.put_batch("r-bulk", many).ok
        whole = remote.read("r-bulk", 0, limit=2200)
        assert whole == local.read("r-bulk", 0, limit=2200)
        assert [r.json()["i"] for r in whole.records] == list(range(2200))
        assert remote.read("r-bulk", 0, whole.next_position, limit=5000) == local.read(
            "r-bulk", 0, whole.next_position, limit=5000
        )

        # consumer groups: a group polled and committed remotely resumes the same locally, and back
        group = remote.group("r-clicks", "billing")
        assert group.partitions == 3 and group.cursor == local.group("r-clicks", "billing").cursor
        polled = group.poll(limit=3)
        assert len(polled) == 3
        committed = group.commit()
        assert committed == local.group("r-clicks", "billing").checkpoints() == group.checkpoints()
        resumed_local = local.group("r-clicks", "billing")
        assert resumed_local.cursor == remote.group("r-clicks", "billing").cursor
        assert resumed_local.poll() == remote.group("r-clicks", "billing").poll()
        group.checkpoint(p, 0)
        assert local.group("r-clicks", "billing").checkpoints()[p] == 0
        tail = remote.group("r-clicks", "tail", start=Position.latest())
        assert tail.poll() == []
        remote.put("r-clicks", {"late": True}, key="u1")
        assert [r.json() for r in tail.poll()] == [{"late": True}]
        assert remote.groups("r-clicks") == local.groups("r-clicks") == ["billing"]  # tail never committed
        remote.delete_group("r-clicks", "billing")
        assert local.groups("r-clicks") == []
        with pytest.raises(ValidationError):
            remote.group("r-clicks", "x", start=Position.at(3))

        # throughput and a delivery's lag history, read on the server, as in process
        from datetime import UTC, datetime

        end = datetime.now(UTC) + timedelta(seconds=1)
        assert remote.throughput("r-bulk", end=end, buckets=4) == local.throughput("r-bulk", end=end, buckets=4)
        assert sum(remote.throughput("r-bulk", end=end).counts) == 2300
        governed.lake.streams.delivery("r-bulk", "raw.bulk").run(idle_timeout=0.2)
        lag = remote.delivery_lag("r-bulk", "r-bulk")
        assert lag == local.delivery_lag("r-bulk", "r-bulk") and lag and lag[-1][1] == 0
        governed.lake.drop_table("raw.bulk")

        # deliveries for the server's worker: saved through the client, the same definition as in process
        from mlake.streams.delivery import BufferHints

        hints = BufferHints(max_records=50, max_seconds=0.5)
        saved = remote.manage(
            "r-bulk", "raw.bulk", hints=hints, time_fields=["at"], transform_sql="SELECT * FROM records"
        )
        assert saved.principal == "root" and saved.hints == {
            "max_records": 50,
            "max_bytes": 8 * 1024 * 1024,
            "max_seconds": 0.5,
        }
        assert remote.managed() == local.managed() == [saved]
        remote.unmanage("r-bulk")
        assert local.managed() == []
        again = local.manage(
            "r-bulk", "raw.bulk", hints=hints, time_fields=["at"], transform_sql="SELECT * FROM records"
        )
        assert (again.spec(), again.principal) == (saved.spec(), saved.principal)
        local.unmanage("r-bulk")

        status_remote, status_local = remote.status("r-clicks"), local.status("r-clicks")
        assert status_remote.stream == status_local.stream
        assert status_remote.records_last_minute == status_local.records_last_minute == 6
        assert remote.max_record_bytes == local.max_record_bytes

        remote.delete("r-clicks")
        assert not local.exists("r-clicks")
        with pytest.raises(NotFoundError) as gone_remote:
            remote.describe("r-clicks")
        with pytest.raises(NotFoundError) as gone_local:
            local.describe("r-clicks")
        assert (type(gone_remote.value), str(gone_remote.value)) == (type(gone_local.value), str(gone_local.value))


def test_streams_refuse_a_principal_without_grants_as_locally(served: tuple[Governed, str]) -> None:
    governed, url = served
    governed.lake.streams.create("events", partitions=2)
    governed.lake.streams.put("events", {"a": 1}, key="k")
    calls: dict[str, Callable[[Any], Any]] = {
        "create": lambda s: s.create("mine"),
        "describe": lambda s: s.describe("events"),
        "describe a missing stream": lambda s: s.describe("missing"),
        "exists": lambda s: s.exists("events"),
        "partition_of": lambda s: s.partition_of("events", "k"),
        "put": lambda s: s.put("events", {"b": 2}, key="k"),
        "put_batch": lambda s: s.put_batch("events", [("k", 1)]),
        "put_batch of only bad records": lambda s: s.put_batch("events", [("", 1)]),
        "read": lambda s: s.read("events", 0),
        "group": lambda s: s.group("events", "g"),
        "groups": lambda s: s.groups("events"),
        "delete_group": lambda s: s.delete_group("events", "g"),
        "status": lambda s: s.status("events"),
        "delete": lambda s: s.delete("events"),
        "manage": lambda s: s.manage("events", "raw.events"),
        "unmanage": lambda s: s.unmanage("events"),
    }
    with _remote(url, governed.analyst_token) as bob:
        local = governed.lake.as_principal("bob").streams
        assert bob.streams.list_streams() == local.list_streams() == []
        governed.lake.streams.manage("events", "raw.events")  # the owner's: bob may not see it
        assert bob.streams.managed() == local.managed() == []
        _same_refusals(local, bob.streams, calls)

        # a read grant on the stream: reading works on both sides, putting is still refused alike
        governed.lake.governance.grant("bob", "select", "stream:events")
        assert bob.streams.list_streams() == local.list_streams() == ["events"]
        assert bob.streams.read("events", 0) == local.read("events", 0)
        group = bob.streams.group("events", "bobs")
        assert len(group.poll()) == 1 and group.commit() == local.group("events", "bobs").checkpoints()
        writes = {k: calls[k] for k in ("create", "put", "put_batch", "put_batch of only bad records", "delete")}
        _same_refusals(local, bob.streams, writes)
    assert governed.lake.streams.read("events", governed.lake.streams.partition_of("events", "k")).records[
        0
    ].json() == {"a": 1}


def _labeling_fixture(lake: Lake) -> None:
    lake.governance.grant("bob", "insert", "labeling.churn__answers")


def test_labeling_remote_equals_local(served: tuple[Governed, str]) -> None:
    governed, url = served
    owner = governed.lake
    with _remote(url, governed.admin_token) as root, _remote(url, governed.analyst_token) as bob_remote:
        made = root.labeling.create_project(
            "churn", "shop.customers", "customer_id", "classification", ["stay", "go"], gold={1: "stay"}
        )
        assert made == owner.labeling.project("churn")
        assert root.labeling.list_projects() == owner.as_principal("root").labeling.list_projects()
        _labeling_fixture(owner)
        bob_local = owner.as_principal("bob").labeling
        assert bob_remote.labeling.project("churn") == bob_local.project("churn")
        queue = bob_remote.labeling.next_items("churn", 10)
        assert queue == bob_local.next_items("churn", 10)  # rows filtered and masked alike, gold flagged
        assert {q.item_id for q in queue} == {"1", "3", "5"}  # bob's row filter: country = 'DE'
        root_local = owner.as_principal("root").labeling
        assert root.labeling.next_items("churn", 3, annotator="bob") == root_local.next_items(
            "churn", 3, annotator="bob"
        )

        answer = bob_remote.labeling.submit("churn", "3", "go", seconds=2.5)
        assert (answer.item_id, answer.annotator, answer.answer, answer.seconds) == ("3", "bob", '"go"', 2.5)
        bob_local.submit("churn", "1", "stay")
        for who in ("bob", "root"):
            remote_side = bob_remote if who == "bob" else root
            assert remote_side.labeling.next_items("churn") == owner.as_principal(who).labeling.next_items("churn")
        with pytest.raises(mlake.MlakeError) as twice_remote:
            bob_remote.labeling.submit("churn", "3", "stay")
        with pytest.raises(mlake.MlakeError) as twice_local:
            bob_local.submit("churn", "3", "stay")
        assert (type(twice_remote.value), str(twice_remote.value)) == (type(twice_local.value), str(twice_local.value))

        batch = bob_remote.labeling.submit_many(
            "churn", [{"item_id": "5", "answer": "go"}, {"item_id": "3", "answer": "go"}]
        )
        assert [b["status"] for b in batch] == ["saved", "refused"]
        assert batch[1]["code"] == type(twice_local.value).code and batch[1]["message"] == str(twice_local.value)
        assert root.labeling.answers("churn").equals(owner.labeling.answers("churn"))
        assert root.labeling.answers("churn").schema == owner.labeling.answers("churn").schema
        done_remote = root.labeling.consolidate("churn", method="majority_vote")
        done_local = owner.labeling.consolidate("churn", method="majority_vote")
        assert done_remote.method == done_local.method == "majority_vote"
        assert done_remote.labels.equals(done_local.labels) and done_remote.annotators.equals(done_local.annotators)
        assert root.labeling.progress("churn") == owner.labeling.progress("churn")
        assert root.labeling.export("churn") == owner.labeling.export("churn")

        # a review loop over predictions, created and run remotely, reads the same as locally
        owner.create_table(
            "shop.scores",
            pa.table({"id": ["a", "b", "c"], "pred": ["go", "stay", "go"], "conf": [0.2, 0.9, 0.4]}),
        )
        loop = root.labeling.create_review_loop("recheck", "shop.scores", "id", "pred", "conf", threshold=0.5)
        assert loop == owner.labeling.project("recheck")
        added = root.labeling.activate("recheck")
        assert added.schema == owner.labeling.activate("recheck").schema  # (nothing new the second time)
        assert sorted(added.column("item_id").to_pylist()) == ["a", "c"]
        root.labeling.submit("recheck", "a", "stay")
        assert root.labeling.review_results("recheck") == owner.labeling.review_results("recheck")


def test_labeling_refuses_a_principal_without_grants_as_locally(served: tuple[Governed, str]) -> None:
    governed, url = served
    governed.lake.labeling.create_project("pets", "shop.orders", "order_id", "classification", ["cat", "dog"])
    calls: dict[str, Callable[[Any], Any]] = {
        "project": lambda lab: lab.project("pets"),
        "a missing project": lambda lab: lab.project("nothing"),
        "next_items": lambda lab: lab.next_items("pets"),
        "submit": lambda lab: lab.submit("pets", "10", "cat"),
        "answers": lambda lab: lab.answers("pets"),
        "consolidate": lambda lab: lab.consolidate("pets"),
        "progress": lambda lab: lab.progress("pets"),
        "export": lambda lab: lab.export("pets"),
        "create_project": lambda lab: lab.create_project("mine", "vault.secrets", "k", "text"),
    }
    with _remote(url, governed.outsider_token) as alice:
        local = governed.lake.as_principal("alice").labeling
        assert alice.labeling.list_projects() == local.list_projects() == []
        _same_refusals(local, alice.labeling, calls)


def test_dashboards_remote_equals_local(served: tuple[Governed, str]) -> None:
    governed, url = served
    owner = governed.lake
    with _remote(url, governed.admin_token) as root, _remote(url, governed.analyst_token) as bob:
        secret = root.dashboards.save_query("plans", "SELECT * FROM vault.secrets")
        orders = root.dashboards.save_query("orders", "SELECT * FROM shop.orders", {"type": "bar", "x": "order_id"})
        assert orders.owner == "root" and orders.chart == {"type": "bar", "x": "order_id", "y": []}
        board = root.dashboards.create_dashboard("Sales", "weekly", refresh_seconds=30)
        root.dashboards.pin(board.id, secret.id)
        board = root.dashboards.pin(board.id, orders.id, width=2)
        root_local = owner.as_principal("root").dashboards
        assert board == root_local.dashboard(board.id)
        assert root.dashboards.queries() == root_local.queries()
        assert root.dashboards.dashboards() == root_local.dashboards()

        bob_local = owner.as_principal("bob").dashboards
        assert [q.name for q in bob.dashboards.queries()] == [q.name for q in bob_local.queries()] == ["orders"]
        assert bob.dashboards.dashboard(board.id) == bob_local.dashboard(board.id)  # the secret tile left out
        _same_refusals(
            bob_local,
            bob.dashboards,
            {
                "query over a table bob may not read": lambda d: d.query(secret.id),
                "delete another's dashboard": lambda d: d.delete_dashboard(board.id),
                "change another's query": lambda d: d.update_query(orders.id, name="mine"),
                "unpin another's tile": lambda d: d.unpin(board.id, board.tiles[0].id),
            },
        )
        mine = bob.dashboards.save_query("mine", "SELECT count(*) AS n FROM shop.orders")
        assert mine.owner == "bob" and bob_local.query(mine.id) == mine
        renamed = bob.dashboards.update_query(mine.id, name="my count")
        assert renamed == bob_local.query(mine.id) and renamed.name == "my count"
        bob.dashboards.delete_query(mine.id)
        assert all(q.id != mine.id for q in root_local.queries())
        updated = root.dashboards.update_dashboard(board.id, description="daily")
        assert updated == root_local.dashboard(board.id)
        after = root.dashboards.unpin(board.id, board.tiles[-1].id)
        assert after == root_local.dashboard(board.id) and len(after.tiles) == 1
        root.dashboards.delete_dashboard(board.id)
        assert root_local.dashboards() == []


def test_auto_label_remote_equals_local(served: tuple[Governed, str]) -> None:
    """A round run through the client comes back whole (items, labels, queue, curve; NaN kept) and makes
    the same decisions as the same round run in process."""
    import json
    from datetime import UTC, datetime

    import numpy as np
    from sklearn.datasets import make_classification

    from mlake.labeling.autolabel import AutoLabelRound

    governed, url = served
    lake = governed.lake
    x, y = make_classification(
        n_samples=300, n_features=4, n_informative=3, n_redundant=0, class_sep=3.0, random_state=1
    )
    ids = [f"r{i}" for i in range(len(y))]
    lake.create_table("raw.points", pa.table({"rid": ids, **{f"f{k}": x[:, k] for k in range(4)}}))
    lake.labeling.create_project("points", "raw.points", "rid", labels=["a", "b"])
    names = np.array(["a", "b"])
    lake.table("labeling.points__answers").append(
        pa.table(
            {
                "item_id": ids[:200],
                "annotator": ["sim"] * 200,
                "submitted_at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 200, pa.timestamp("us", tz="UTC")),
                "answer": [json.dumps(str(v)) for v in names[y[:200]]],
                "seconds": [1.0] * 200,
            }
        )
    )

    def again() -> None:  # the round number counts recorded rounds: forget them, to run the same round again
        lake.drop_table("labeling.points__rounds")

    with _remote(url, governed.admin_token) as root:
        waiting = root.labeling.auto_label("points", min_human=1000)  # too few labels: no model, NaN uncertainty
        assert waiting.status == "waiting_for_labels" and np.isnan(waiting.queue_uncertainty).all()
        again()
        assert waiting.to_dict() == lake.labeling.auto_label("points", min_human=1000).to_dict()
        again()
        remote_round = root.labeling.auto_label("points", target_accuracy=0.9, min_human=100, random_state=3)
        again()
        local_round = lake.labeling.auto_label("points", target_accuracy=0.9, min_human=100, random_state=3)
    assert remote_round.status == "threshold_met" and len(remote_round.auto_items) > 0
    assert remote_round.model is not None and remote_round.model == local_round.model  # the same model id
    assert remote_round.to_dict() == local_round.to_dict()
    assert remote_round.curve is not None and local_round.curve is not None
    assert np.array_equal(remote_round.curve.covered, local_round.curve.covered)
    assert np.array_equal(remote_round.auto_items, local_round.auto_items)
    assert AutoLabelRound.from_dict(local_round.to_dict()).to_dict() == local_round.to_dict()
