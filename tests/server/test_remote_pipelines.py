"""``remote.pipelines`` through the real app (HTTP through a TestClient): a superuser's calls give what the
local ``lake.pipelines`` gives on the same lake; anyone else is refused by the server before a pipeline or
run is looked up, so the refusal is the same whether it exists or not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.governed_lake import Governed

from mlake.client import RemoteLake
from mlake.errors import NotFoundError, PermissionDeniedError
from mlake.pipelines.model import Pipeline, PipelineError
from mlake.pipelines.service import PipelineRun

TOTALS = """
name: totals
triggers: [{on_new_data: shop.orders}]
steps:
  - name: totals
    kind: sql
    sql: CREATE OR REPLACE TABLE shop.totals AS SELECT customer_id, sum(amount) AS spent FROM shop.orders GROUP BY 1
    inputs: [shop.orders]
    output: shop.totals
"""


def test_pipelines_remotely_as_locally(remotes: dict[str, RemoteLake], governed: Governed) -> None:
    root, local = remotes["admin"].pipelines, governed.lake.pipelines
    saved = root.save(TOTALS)
    assert isinstance(saved, Pipeline) and saved == local.get("totals") == root.get("totals")
    assert root.save(saved) == saved and root.names() == local.names() == ["totals"]
    assert root.schedule("totals", "0 0 1 1 *").triggers[-1].cron == "0 0 1 1 *"  # not due during the test
    with pytest.raises(PipelineError, match="invalid cron"):
        root.schedule("totals", "every day")

    run = root.run("totals")
    assert isinstance(run, PipelineRun) and run.status == "succeeded" and run.worker == "local"
    assert run == local.status(run.id) == root.status(run.id)
    assert [s.status for s in run.steps] == ["succeeded"]
    assert governed.lake.table("shop.totals").count() == 4
    again = root.run("totals")
    assert [s.status for s in again.steps] == ["cached"]  # shop.orders did not change
    assert [r.id for r in root.runs("totals")] == [r.id for r in local.runs("totals")] == [run.id, again.id]

    # the worker's calls: start, pending, claim (exactly once), execute
    started = root.start("totals", "manual", trigger_key="k1")
    assert started is not None and root.start("totals", "manual", trigger_key="k1") is None
    assert root.pending() == local.pending() == [started]
    assert root.claim(started, "remote-worker") and not root.claim(started, "other")
    assert root.execute(started, "remote-worker", heartbeat_every=1).status == "succeeded"
    assert root.requeue_stale(3600) == 0
    now = datetime.now(UTC)
    first = root.poll_triggers(now)  # shop.orders' snapshot has had no triggered run yet
    assert len(first) == 1 and "shop.orders" in root.status(first[0]).trigger
    assert root.poll_triggers(now) == local.poll_triggers(now) == []  # one run per snapshot, however many pollers
    with pytest.raises(NotFoundError):
        root.get("nothing_here")

    # pipelines run Python: not even an analyst with grants may touch them, whatever the name
    for who in ("bob", "alice"):
        messages = []
        for name in ("totals", "nothing_here"):
            with pytest.raises(PermissionDeniedError) as info:
                remotes[who].pipelines.get(name)
            messages.append(str(info.value))
        assert messages[0] == messages[1]
        with pytest.raises(PermissionDeniedError):
            remotes[who].pipelines.status(run.id)
        with pytest.raises(PermissionDeniedError):
            remotes[who].pipelines.save(TOTALS)
