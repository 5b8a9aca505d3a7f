"""Training sets in MLflow: a dataset input of a run, with the lake's lineage as artifacts.

``log_training_set(ts)`` records on an MLflow run (the active one, one given, or a new one):

- a **dataset input** (``mlflow.log_input``; shown under the run's "Datasets used") whose *source* names
  the lake, the training set (id, name, version) and the exact Iceberg snapshot of every table it reads,
  whose *digest* is a hash of that definition (the same saved training set always gives the same
  digest: it rebuilds bit for bit), with the *schema* of its columns and a *profile* summary (rows, and
  per column nulls, min, max and mean where numeric), plus the sources and licenses it derives from
  when the lake records them (``ts.provenance()``);
- its **lineage** as artifacts under ``mlake/``: ``training_set.json`` (the definition and the upstream
  lineage of every table read, as data) and ``lineage.md`` (the same for people).

The profile is computed by the lake's SQL engine over the training set's rows, so a principal's
training set is profiled through its governed reads like any other read of it. MLflow itself is the
``mlflow`` extra (``mlflow-skinny`` and, for SQLite/PostgreSQL tracking stores, ``alembic``).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from mlake.errors import ConfigError, ValidationError
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    import pyarrow as pa

SOURCE_TYPE = "mlake"
ARTIFACT_DIR = "mlake"


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise ConfigError("Logging to MLflow needs the mlflow package", hint="pip install 'mlake[mlflow]'") from exc
    return mlflow


def log_training_set(ts: Any, run: Any = None, *, context: str = "training", name: str | None = None) -> str:
    """Log training set ``ts`` on an MLflow run as a dataset input, with its lineage as artifacts.

    ``run``: an MLflow run id, ``mlflow.ActiveRun`` or ``mlflow.entities.Run``; by default the active run,
    or a new run (ended again) when none is active. ``context`` is the input's role (``training``,
    ``validation`` ...). Returns the run id."""
    if not hasattr(ts, "spec") or not hasattr(ts, "snapshots"):
        raise ValidationError(
            f"log_training_set takes a training set, not a {type(ts).__name__}",
            hint="lake.features.training_set(...) or lake.features.load_training_set(id)",
        )
    mlflow = _mlflow()
    from mlflow.entities import DatasetInput, InputTag

    record = describe_training_set(ts)
    dataset = _dataset(record)
    tags = [InputTag(key="mlflow.data.context", value=context)]
    client = mlflow.MlflowClient()
    started = None
    run_id = _run_id(run) or (mlflow.active_run().info.run_id if mlflow.active_run() else None)
    if run_id is None:
        started = mlflow.start_run(run_name=name or f"training set {record['name']}")
        run_id = started.info.run_id
    try:
        client.log_inputs(run_id, datasets=[DatasetInput(dataset=dataset._to_mlflow_entity(), tags=tags)])
        client.log_text(run_id, json.dumps(record, indent=2, default=str), f"{ARTIFACT_DIR}/training_set.json")
        client.log_text(run_id, lineage_markdown(record), f"{ARTIFACT_DIR}/lineage.md")
    finally:
        if started is not None:
            mlflow.end_run()
    return str(run_id)


def _run_id(run: Any) -> str | None:
    if run is None:
        return None
    if isinstance(run, str):
        return run
    info = getattr(run, "info", None)
    if info is not None and getattr(info, "run_id", None):
        return str(info.run_id)
    raise ValidationError(f"Cannot tell which MLflow run {run!r} is", hint="pass a run id or an mlflow run")


def describe_training_set(ts: Any) -> dict[str, Any]:
    """Everything logged about ``ts``, as plain data: definition, digest, schema, profile, lineage."""
    lake = ts.lake
    result = ts.result
    schema = result.preview(0).schema
    definition = {
        "training_set_id": ts.id,
        "features": ts.spec.get("features"),
        "entity_time": ts.spec.get("entity_time"),
        "as_of": ts.spec.get("as_of"),
        "entities": ts.entities,
        "snapshots": ts.snapshots,
    }
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()[:10]
    tables = dict(ts.snapshots)
    if ts.entities.get("table"):
        tables[ts.entities["table"]] = ts.entities.get("snapshot_id")
    record: dict[str, Any] = {
        "name": ts.name or ts.id or "unsaved training set",
        "version": ts.version,
        "digest": digest,
        "lake": str(lake.settings.home),
        "definition": definition,
        "tables": tables,
        "schema": [{"name": f.name, "type": str(f.type)} for f in schema],
        "profile": _profile(result, schema),
        "lineage": {table: lake.lineage(table).to_dict() for table in sorted(tables)},
    }
    provenance = getattr(ts, "provenance", None)
    if callable(provenance):
        record["provenance"] = _plain(provenance())
    return record


def _plain(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _profile(result: Any, schema: pa.Schema) -> dict[str, Any]:
    """Rows, and per column nulls (and min, max, mean where numeric), in one pass of the engine."""
    import pyarrow as pa

    parts = ["count(*)"]
    numeric = []
    for f in schema:
        col = quote_ident(f.name)
        parts.append(f"count(*) - count({col})")
        if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type):
            numeric.append(f.name)
            parts += [f"min({col})::DOUBLE", f"max({col})::DOUBLE", f"avg({col})::DOUBLE"]
    row = result.relation.aggregate(", ".join(parts)).fetchall()[0]
    values = iter(row[1:])
    columns: dict[str, Any] = {}
    for f in schema:
        entry: dict[str, Any] = {"nulls": int(next(values))}
        if f.name in numeric:
            entry.update(min=next(values), max=next(values), mean=next(values))
        columns[f.name] = entry
    return {"num_rows": int(row[0]), "num_columns": len(schema), "columns": columns}


_MLFLOW_TYPES = {
    "int8": "integer",
    "int16": "integer",
    "int32": "integer",
    "uint8": "integer",
    "uint16": "integer",
    "int64": "long",
    "uint32": "long",
    "float": "float",
    "halffloat": "float",
    "double": "double",
    "bool": "boolean",
    "string": "string",
    "large_string": "string",
    "binary": "binary",
    "large_binary": "binary",
}


def _mlflow_type(arrow_type: str) -> str:
    if arrow_type.startswith(("timestamp", "date")):
        return "datetime"
    return _MLFLOW_TYPES.get(arrow_type, "string")


def _dataset(record: dict[str, Any]) -> Any:
    from mlflow.data.dataset import Dataset
    from mlflow.data.dataset_source import DatasetSource
    from mlflow.types import ColSpec, Schema

    class LakeSource(DatasetSource):  # type: ignore[misc]
        """Where the rows come from: the lake, the training set, the table snapshots it reads."""

        def __init__(self, info: dict[str, Any]) -> None:
            self.info = info

        @staticmethod
        def _get_source_type() -> str:
            return SOURCE_TYPE

        def load(self) -> Any:
            raise NotImplementedError("load a training set with mlake: lake.features.load_training_set(id)")

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> LakeSource:
            raise NotImplementedError

        def to_dict(self) -> dict[str, Any]:
            return self.info

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> LakeSource:
            return cls(dict(source_dict))

    class TrainingSetDataset(Dataset):  # type: ignore[misc]
        def _compute_digest(self) -> str:
            return str(record["digest"])

        @property
        def profile(self) -> Any:
            return record["profile"]

        @property
        def schema(self) -> Any:
            return Schema([ColSpec(_mlflow_type(c["type"]), c["name"]) for c in record["schema"]])

        def to_dict(self) -> dict[str, str]:
            out: dict[str, str] = super().to_dict()
            out["schema"] = json.dumps({"mlflow_colspec": self.schema.to_dict()})
            out["profile"] = json.dumps(self.profile, default=str)
            return out

    source = {
        "lake": record["lake"],
        "training_set_id": record["definition"]["training_set_id"],
        "name": record["name"],
        "version": record["version"],
        "tables": record["tables"],
        "features": record["definition"]["features"],
    }
    if "provenance" in record:
        source["licenses"] = record["provenance"].get("licenses", [])
        source["sources"] = [u["source"]["name"] for u in record["provenance"].get("sources", [])]
    return TrainingSetDataset(LakeSource(source), name=str(record["name"]), digest=record["digest"])


def lineage_markdown(record: dict[str, Any]) -> str:
    """The training set and where its rows come from, for people."""
    lines = [
        f"# Training set {record['name']}" + (f" (version {record['version']})" if record["version"] else ""),
        "",
        f"- lake: `{record['lake']}`",
        f"- id: `{record['definition']['training_set_id']}`, digest `{record['digest']}`",
        f"- rows: {record['profile']['num_rows']:,}, columns: {record['profile']['num_columns']}",
        f"- features: {', '.join(record['definition']['features'] or [])}",
        f"- as of: {record['definition']['as_of'] or 'when it was made'}",
        "",
        "## Tables read (pinned snapshots)",
        "",
        "| table | snapshot |",
        "|---|---|",
        *[f"| {t} | {s if s is not None else '(empty)'} |" for t, s in sorted(record["tables"].items())],
        "",
        "## Upstream lineage",
    ]
    for table, graph in record["lineage"].items():
        lines += ["", f"### {table}", ""]
        if not graph["upstream"]:
            lines.append("(written directly; no recorded inputs)")
        for edge in graph["upstream"]:
            src = edge["source"]
            at = f" @ {src['snapshot_id']}" if src.get("snapshot_id") else ""
            lines.append(
                f"- {'  ' * max(edge['depth'] - 1, 0)}{src['kind']} `{src['ref']}`{at} → {edge['target']} "
                f"({edge['operation']}, snapshot {edge['snapshot_id']}, {edge['at']}, by {edge['actor']})"
            )
    if "provenance" in record:
        lines += ["", "## Sources and licenses", "", "```json", json.dumps(record["provenance"], indent=2), "```"]
    return "\n".join(lines) + "\n"
