"""``remote.monitoring`` and ``remote.bias`` through the real app (HTTP through a TestClient): monitors, runs and violations as
the local ``lake.monitoring`` gives them on the same lake; a caller without grants on the target is told
the monitor does not exist, as for one that does not."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from tests.governed_lake import Governed
from tests.server.test_monitoring_api import applicants

from mlake.bias.report import BiasReport
from mlake.bias.spec import Condition, Facet, Outcome
from mlake.client import RemoteLake
from mlake.errors import NotFoundError, PermissionDeniedError, ValidationError
from mlake.monitor.checks import MonitorConfig
from mlake.monitor.monitors import Monitor, MonitorRun


def test_monitors_remotely_as_locally(remotes: dict[str, RemoteLake], governed: Governed) -> None:
    root, local = remotes["admin"].monitoring, governed.lake.monitoring
    governed.lake.create_table("hr.applicants", applicants())
    made = root.create("hiring", target="hr.applicants", columns=["sex", "score"], config=MonitorConfig(rows="all"))
    assert isinstance(made, Monitor) and made == local.get("hiring") == root.get("hiring")
    assert root.list() == local.list() == [made]
    assert root.due() == local.due() == []  # the baseline saw the current snapshot

    shifted = applicants(200).set_column(2, "score", pa.array([0.99] * 200))
    governed.lake.table("hr.applicants").append(shifted)
    assert [m.name for m in root.due()] == ["hiring"]
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    run = root.run("hiring", now=at)
    assert isinstance(run, MonitorRun) and run.run_at == at and run.status == "violations" and not run.passed
    assert root.runs("hiring") == local.runs("hiring")
    assert root.violations("hiring").equals(local.violations("hiring"))
    assert root.violations("hiring", run.run_id).num_rows == len(run.violations) > 0
    assert root.run_due(now=at) == []  # nothing new since the run

    alice = remotes["alice"].monitoring
    messages = []
    for name in ("hiring", "nothing_here"):
        with pytest.raises(NotFoundError) as info:
            alice.get(name)
        messages.append(str(info.value).replace(name, "X"))
    assert messages[0] == messages[1] and alice.list() == []
    root.delete("hiring")
    assert local.list() == []


def test_bias_reports_remotely_as_locally(remotes: dict[str, RemoteLake], governed: Governed) -> None:
    governed.lake.create_table("hr.applicants", applicants())
    ask: dict[str, object] = {
        "facet": "sex",
        "facet_values": ["Female"],
        "label": "hired",
        "positive_values": [1],
        "predicted": "score",
        "predicted_threshold": 0.5,
        "resamples": 50,
    }
    remote = remotes["admin"].bias.report("hr.applicants", **ask)  # type: ignore[arg-type]
    local = governed.lake.bias.report("hr.applicants", **ask)  # type: ignore[arg-type]
    assert isinstance(remote, BiasReport) and remote == local
    by_objects = remotes["admin"].bias.report(
        "hr.applicants",
        facet=Facet.of("sex", values=["Female"]),
        label=Outcome.of("hired", positive_values=[1]),
        predicted=Outcome.of("score", threshold=0.5),
        resamples=50,
    )
    assert by_objects == local
    both = Facet.all_of(Condition("sex", ("Female",)), Condition("score", threshold=0.3))  # intersectional
    intersectional = {**ask, "facet": both, "facet_values": None}
    remote_both = remotes["admin"].bias.report("hr.applicants", **intersectional)  # type: ignore[arg-type]
    assert remote_both == governed.lake.bias.report("hr.applicants", **intersectional)  # type: ignore[arg-type]
    assert remote_both.facet == "sex in {Female} and score > 0.3"
    with pytest.raises(ValidationError, match="not a Facet"):  # values beside a Facet object: refused as locally
        remotes["admin"].bias.report("hr.applicants", **{**ask, "facet": both})  # type: ignore[arg-type]
    # refused as locally (the local core's table read names the missing grant; the SQL path does not)
    for source in ("hr.applicants", "SELECT * FROM hr.applicants"):
        with pytest.raises(PermissionDeniedError) as info:
            remotes["alice"].bias.report(source, **ask)  # type: ignore[arg-type]
        with pytest.raises(PermissionDeniedError) as locally:
            governed.lake.as_principal("alice").bias.report(source, **ask)  # type: ignore[arg-type]
        assert str(info.value) == str(locally.value)


def test_capture_logs_through_the_server_as_in_process(remotes: dict[str, RemoteLake], governed: Governed) -> None:
    with remotes["admin"].capture("churn", "v1", batch_rows=2) as logger:
        ids = [logger.log({"amount": float(i)}, i % 2, request_id=f"r{i}") for i in range(5)]
        assert logger.flush().written == 5 and ids[0] == "r0"
    with governed.lake.capture("churn", "v2") as local:
        local.log({"amount": 9.0}, 1, request_id="r9")
    rows = governed.lake.table("capture.churn").query(order_by="request_id").to_arrow()
    assert rows.column_names == ["request_id", "model", "model_version", "captured_at", "amount", "prediction"]
    assert rows.column("model_version").to_pylist() == ["v1"] * 5 + ["v2"]
    truth = pa.table({"request_id": ["r1", "r9"], "churned": [True, False]})
    with remotes["admin"].capture("churn", "v1") as remote_logger, governed.lake.capture("churn", "v1") as in_process:
        assert remote_logger.join_ground_truth(truth).equals(in_process.join_ground_truth(truth))

    # no grant: every batch fails on the server (counted, never written), as in process
    with remotes["alice"].capture("churn", "v1") as refused:
        refused.log({"amount": 1.0}, 0)
        stats = refused.flush()
    assert stats.failed == 1 and stats.written == 0 and "alice" in (stats.last_error or "")
    assert governed.lake.table("capture.churn").count() == 6
