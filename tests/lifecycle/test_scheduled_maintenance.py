"""A pipeline with a ``maintain`` step runs the lifecycle policies on its cron schedule, by a worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlake
from mlake.pipelines.service import Worker
from tests.lifecycle.test_lifecycle import make_history

NIGHTLY = """
name: nightly_lifecycle
triggers:
  - cron: '0 3 * * *'
steps:
  - {name: keep_lake_small, kind: maintain}
"""


def test_a_scheduled_pipeline_applies_the_policies(tmp_path: Path) -> None:
    with mlake.connect(tmp_path / "lake", threads=2) as lake:
        make_history(lake, "shop.events", batches=4)
        lake.storage.set_policy("shop", retention_days=50, time_column="ts", expire_older_than="0s", retain_last=1)
        lake.pipelines.save(NIGHTLY)
        (run_id,) = lake.pipelines.poll_triggers(datetime.now(UTC) + timedelta(days=1))
        assert Worker(lake, "w1").run_once() == [run_id]
        run = lake.pipelines.status(run_id)
        assert run.status == "succeeded", run
        (step,) = run.steps
        assert "shop.events: deleted 10 row(s)" in step.log
        assert lake.table("shop.events").count() == 30
        assert len(lake.table("shop.events").iceberg.snapshots()) == 1
        assert [p.trigger for p in lake.storage.history("shop.events")] == ["maintain"]
