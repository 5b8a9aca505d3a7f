"""Data capture on a real lake: nothing lost under load, never blocking, ground truth joined by request id,
and a capture table a monitor can watch."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa
import pytest

from mlake.errors import NotFoundError, PermissionDeniedError, ValidationError
from mlake.lake import Lake
from mlake.monitor.checks import Labels, MonitorConfig

RECORDS = 20_000


def test_load_from_four_threads_loses_nothing(lake: Lake) -> None:
    logger = lake.capture("churn", "v1", batch_rows=5_000, flush_seconds=0.2)

    def client(k: int) -> None:
        for i in range(RECORDS // 4):
            logger.log({"amount": float(i), "region": "north" if i % 2 else "south"}, i % 2, request_id=f"{k}-{i}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = logger.close()
    assert (stats.logged, stats.written, stats.dropped, stats.failed, stats.queued) == (RECORDS, RECORDS, 0, 0, 0)
    table = lake.table("capture.churn")
    assert table.count() == RECORDS
    ids = table.query(columns=["request_id"]).to_arrow().column(0).to_pylist()
    assert len(set(ids)) == RECORDS
    row = table.query(where="request_id = '2-7'").to_arrow().to_pylist()[0]
    assert row["amount"] == 7.0 and row["prediction"] == 1 and row["model"] == "churn" and row["model_version"] == "v1"
    assert stats.batches < 20  # batched: one commit per batch, not per record


def test_a_full_queue_drops_and_counts_without_waiting(lake: Lake) -> None:
    logger = lake.capture("tiny", "v1", max_queue=10, batch_rows=1_000_000, flush_seconds=30)
    # The writer drains the queue into its batch as fast as it can; what arrives faster drops.
    start = time.perf_counter()
    for i in range(1000):
        logger.log({"x": i}, i)
    assert time.perf_counter() - start < 1.0
    stats = logger.close()
    assert stats.dropped > 0 and stats.written == stats.logged - stats.dropped
    assert lake.table("capture.tiny").count() == stats.written


def test_schema_grows_with_new_keys_and_bad_keys_are_refused_at_once(lake: Lake) -> None:
    with lake.capture("grow", "v2", flush_seconds=0.05) as logger:
        logger.log({"a": 1}, {"score": 0.5}, request_id="r1")
        logger.flush()
        logger.log({"a": 2, "b": "new"}, {"score": 0.7}, request_id="r2")
        with pytest.raises(ValidationError):
            logger.log({"score": 1}, {"score": 0.7})
        with pytest.raises(ValidationError):
            logger.log({"request_id": "x"}, 1)
        with pytest.raises(ValidationError):
            logger.log({"": 1}, 1)
        logger.log({"a": 3, "b": 4}, {"score": 0.1}, request_id="r3")  # b was text: kept as text, not lost
    rows = lake.table("capture.grow").query(order_by="request_id").to_arrow().to_pylist()
    assert [(r["a"], r["b"], r["score"]) for r in rows] == [(1, None, 0.5), (2, "new", 0.7), (3, "4", 0.1)]


def test_ground_truth_joins_by_request_id_and_feeds_a_monitor(lake: Lake) -> None:
    rng = np.random.default_rng(0)
    logger = lake.capture("scorer", "v1", flush_seconds=0.05)
    truth = []
    for i in range(3000):
        amount = float(rng.normal(100, 15))
        y = int(amount > 100)
        pred = y if rng.random() < 0.9 else 1 - y
        rid = logger.log({"amount": amount}, {"pred": pred})
        if i % 3:  # a third of the labels never arrive
            truth.append({"request_id": rid, "y": y})
    labeled = logger.join_ground_truth(pa.Table.from_pylist(truth), into="capture.scorer_labeled")
    logger.close()
    assert labeled.num_rows == len(truth) == 2000
    assert lake.table("capture.scorer_labeled").count() == 2000
    accuracy = float(np.mean(np.array(labeled["y"]) == np.array(labeled["pred"])))
    assert accuracy == pytest.approx(0.9, abs=0.03)
    # the same through a label table and a monitor on the capture table
    lake.create_table("crm.truth", pa.Table.from_pylist(truth))
    config = MonitorConfig(
        rows="all", labels=Labels("y", "pred", table="crm.truth", key="request_id", positive_values=(1,))
    )
    lake.monitoring.create("scorer", target="capture.scorer", config=config, columns=["amount"])
    run = lake.monitoring.run("scorer")
    assert run.status == "ok" and run.summary["quality"]["accuracy"] == pytest.approx(accuracy)


def test_principal_needs_insert_on_the_capture_table(lake: Lake) -> None:
    lake.capture("guarded", "v1").close()  # nothing logged: no table yet
    with lake.capture("guarded", "v1", flush_seconds=0.05) as owner_logger:
        owner_logger.log({"x": 1}, 0)
    lake.governance.create_principal("eve")
    lake.governance.create_principal("svc")
    lake.governance.grant("svc", "insert", "capture.guarded")
    eve_logger = lake.as_principal("eve").capture("guarded", "v1", flush_seconds=0.05)
    eve_logger.log({"x": 2}, 0)
    stats = eve_logger.close()
    assert stats.failed == 1 and stats.written == 0 and stats.last_error
    with lake.as_principal("svc").capture("guarded", "v1", flush_seconds=0.05) as svc_logger:
        svc_logger.log({"x": 3}, 1)
    assert lake.table("capture.guarded").count() == 2
    with pytest.raises((NotFoundError, PermissionDeniedError)):
        lake.as_principal("eve").capture("guarded", "v1").join_ground_truth([{"request_id": "a", "y": 1}])
