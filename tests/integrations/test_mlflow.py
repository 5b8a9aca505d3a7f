"""A training set logged to MLflow (a SQLite tracking store in tmp_path), read back with MLflow's client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from mlake.errors import ValidationError
from mlake.lake import Lake

mlflow = pytest.importorskip("mlflow")

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def tracking(tmp_path: Path) -> Iterator[str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    # artifacts in tmp_path too (a SQLite store's default artifact root is ./mlruns in the working folder)
    mlflow.create_experiment("mlake-tests", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment("mlake-tests")
    yield uri
    mlflow.set_tracking_uri(previous)


@pytest.mark.slow
def test_a_training_set_is_a_dataset_input_with_lineage_artifacts(lake: Lake, tracking: str, tmp_path: Path) -> None:
    from mlake.integrations.mlflow import log_training_set

    lake.create_table("raw.orders", pa.table({"customer_id": [1, 2, 3], "amount": [1.0, 2.0, 4.0]}))
    lake.sources.register("shop-db", kind="internal", license="LicenseRef-Internal", personal_data=True)
    lake.sources.attach("raw.orders", "shop-db")
    lake.sql("create table raw.customer_spend as select customer_id, sum(amount) as spend from raw.orders group by 1")
    lake.features.create_group(
        "spend", entities={"customer_id": "long"}, event_time="ts", features={"spend": "double"}, online=False
    )
    spend = lake.sql("select customer_id, spend, TIMESTAMPTZ '2025-01-01 00:00:00+00' as ts from raw.customer_spend")
    lake.features.write("spend", spend)  # a result, so the feature table keeps its lineage
    entities = {"customer_id": [1, 2, 3], "when": [T0 + timedelta(days=1)] * 3, "churned": [0, 1, 0]}
    ts = lake.features.training_set(entities, ["spend:spend"], name="churn")

    with mlflow.start_run() as run:
        assert log_training_set(ts) == run.info.run_id
    client = mlflow.MlflowClient()
    logged = client.get_run(run.info.run_id)
    (dataset_input,) = logged.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.name == "churn" and dataset.source_type == "mlake"
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
    source = json.loads(dataset.source)
    assert source["training_set_id"] == ts.id and source["version"] == 1
    assert source["licenses"] == ["LicenseRef-Internal"] and source["sources"] == ["shop-db"]
    assert source["tables"] == {**ts.snapshots, ts.entities["table"]: ts.entities["snapshot_id"]}
    schema = json.loads(dataset.schema)["mlflow_colspec"]
    assert [c["name"] for c in schema] == ts.columns
    assert {c["name"]: c["type"] for c in schema}["spend"] == "double"
    profile = json.loads(dataset.profile)
    assert profile["num_rows"] == 3 and profile["columns"]["spend"] == {
        "nulls": 0,
        "min": 1.0,
        "max": 4.0,
        "mean": 7 / 3,
    }

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "mlake")}
    assert artifacts == {"mlake/training_set.json", "mlake/lineage.md"}
    folder = Path(client.download_artifacts(run.info.run_id, "mlake", str(tmp_path / "downloaded")))
    record = json.loads((folder / "training_set.json").read_text())
    assert record["digest"] == dataset.digest
    offline = next(t for t in record["lineage"] if t in ts.snapshots)
    assert record["lineage"][offline]["table"] == offline
    markdown = (folder / "lineage.md").read_text()
    assert "# Training set churn (version 1)" in markdown and ts.id in markdown
    assert "raw.orders" in markdown and "LicenseRef-Internal" in markdown  # lineage and licenses

    # logging again without an active run starts (and ends) a run of its own; the digest is stable
    other = log_training_set(lake.features.load_training_set("churn"))
    assert other != run.info.run_id and mlflow.active_run() is None
    assert client.get_run(other).inputs.dataset_inputs[0].dataset.digest == dataset.digest


def test_only_training_sets_are_logged(lake: Lake, tracking: str) -> None:
    from mlake.integrations.mlflow import log_training_set

    with pytest.raises(ValidationError, match="training set"):
        log_training_set(lake.sql("select 1 as x"))
