"""The public API of mlake as protocols: what a lake, a table, a result, the feature store, quality,
access control, streams, labeling and dashboards offer, whether they run in this process or on a server.

``mlake.connect(path)`` returns an embedded :class:`~mlake.lake.Lake`, ``mlake.connect("http://...")`` a
:class:`~mlake.client.remote.RemoteLake`; both satisfy :class:`LakeAPI`, and so do their tables
(:class:`TableAPI`), results (:class:`ResultAPI`) and areas. Code written against these protocols runs
unchanged against either. ``tests/test_api_parity.py`` compares the two implementations member by member
(names, parameters, return types) and checks both against these protocols, so a method added to one
side fails until the other side has it too (or the test's allowlist says why it cannot).

The protocols are ``runtime_checkable``, but ``isinstance`` on Python 3.11 reads every property it
checks (a table's ``location``, a lake's ``features`` ...), which may query the lake: type against them
statically, and keep ``isinstance`` for tests.

This module imports nothing of mlake at run time (every name below is for type checkers only), so that
any layer may import it without an import circle.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    from pyiceberg.schema import Schema

    from mlake.bias.report import BiasReport
    from mlake.bias.spec import Facet, Outcome, Scalar
    from mlake.dashboards.store import Dashboard, SavedQuery
    from mlake.features.groups import Feature, FeatureGroup
    from mlake.features.lookup import OnlineFeatures
    from mlake.features.materialize import MaterializeReport
    from mlake.features.models import GroupDescription
    from mlake.features.offline import WriteSummary
    from mlake.features.search import SearchHit
    from mlake.features.skew import SkewReport
    from mlake.governance.model import Identity, Principal
    from mlake.governance.service import GovernanceAdmin as GovernanceAPI
    from mlake.ingest.report import IngestReport
    from mlake.labeling.autolabel import AutoLabelRound
    from mlake.labeling.projects import Answer, Consolidation, Progress, Project, QueueItem, ReviewReport, Task
    from mlake.lifecycle import (
        LifecyclePolicy,
        LifecycleReport,
        SnapshotPin,
        StorageReport,
        StoredPolicy,
        UsagePoint,
    )
    from mlake.loader.stream import Loader
    from mlake.maintenance import MaintenanceReport
    from mlake.monitor.capture import CaptureLogger
    from mlake.monitor.checks import MonitorConfig
    from mlake.monitor.monitors import Monitor, MonitorRun
    from mlake.objects.models import ObjectInfo
    from mlake.objects.service import AddReport
    from mlake.pipelines.model import Pipeline
    from mlake.pipelines.service import PipelineRun
    from mlake.processing.api import RecipeRun, StoredRecipe
    from mlake.processing.recipe import Recipe
    from mlake.quality.agreement import AgreementReport
    from mlake.quality.dimensions import QualityDimensions
    from mlake.quality.history import Anomaly, AnomalyRules
    from mlake.quality.profile_result import Profile
    from mlake.quality.readiness import ReadinessReport
    from mlake.quality.report import QualityReport
    from mlake.quality.store import StoredSuite
    from mlake.quality.suggest import SuggestedSuite
    from mlake.quality.suite import Suite, SuiteResult
    from mlake.sources.registry import Provenance, Source
    from mlake.streams.delivery import BufferHints
    from mlake.streams.lake_streams import StreamStatus, Throughput
    from mlake.streams.managed import ManagedDelivery
    from mlake.streams.models import Position as StreamPosition
    from mlake.streams.models import PutBatchResult, PutRecord, PutResult, ReadBatch, Record, StreamDescription
    from mlake.tables.lineage import LineageGraph, LineageInput, WriteRecord
    from mlake.tables.models import TableInfo, TableSummary
    from mlake.tables.names import TableName
    from mlake.tables.table import Page, SnapshotInfo

__all__ = [
    "BiasAPI",
    "ConsumerGroupAPI",
    "DashboardsAPI",
    "FeatureStoreAPI",
    "GovernanceAPI",
    "LabelingAPI",
    "LakeAPI",
    "MonitoringAPI",
    "ObjectsAPI",
    "PipelinesAPI",
    "QualityAPI",
    "RecipesAPI",
    "ResultAPI",
    "SourceRegistryAPI",
    "StorageAPI",
    "StreamsAPI",
    "SuiteStoreAPI",
    "TableAPI",
    "TrainingSetAPI",
]


@runtime_checkable
class ResultAPI(Protocol):
    """A query's result: lazy until converted; Arrow underneath."""

    sql: str

    @property
    def columns(self) -> list[str]: ...
    @property
    def types(self) -> list[str]: ...
    def to_arrow(self) -> pa.Table: ...
    def to_pandas(self) -> pd.DataFrame: ...
    def to_polars(self) -> pl.DataFrame: ...
    def to_pylist(self) -> list[dict[str, Any]]: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def batches(self, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]: ...
    def reader(self, batch_size: int = 100_000) -> pa.RecordBatchReader: ...
    def scalar(self) -> Any: ...
    def page(self, limit: int, offset: int = 0) -> pa.Table: ...
    def count(self) -> int: ...
    def preview(self, n: int = 20) -> pa.Table: ...
    def save(self, name: str, *, mode: str = "create") -> TableAPI: ...
    def loader(self, batch_size: int = 1024, **options: Any) -> Any: ...
    def __len__(self) -> int: ...
    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...


@runtime_checkable
class TableAPI(Protocol):
    """One table of a lake, by name: read it, write it, change its schema, look at its history."""

    name: TableName

    @property
    def schema(self) -> Schema: ...
    @property
    def columns(self) -> list[str]: ...
    @property
    def location(self) -> str: ...
    @property
    def tags(self) -> dict[str, str]: ...
    def describe(self) -> TableInfo: ...
    def set_metadata(
        self,
        *,
        description: str | None = None,
        owner: str | None = None,
        tags: dict[str, str] | Sequence[str] | None = None,
        remove_tags: Sequence[str] = (),
        column_docs: dict[str, str] | None = None,
    ) -> None: ...

    # reading
    def snapshot_at(self, when: datetime | str) -> int: ...
    def check_snapshot(self, snapshot_id: int) -> int: ...
    def query(
        self,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        limit: int | None = None,
        order_by: str | None = None,
    ) -> ResultAPI: ...
    def page(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        order_by: str | None = None,
        desc: bool = False,
        where: str | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
    ) -> Page: ...
    def to_arrow(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pa.Table: ...
    def to_pandas(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pd.DataFrame: ...
    def to_polars(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pl.DataFrame: ...
    def batches(self, batch_size: int = 100_000, **kw: Any) -> Iterator[pa.RecordBatch]: ...
    def head(self, n: int = 10) -> ResultAPI: ...
    def count(self, snapshot_id: int | None = None) -> int: ...

    # training loops, provenance
    def loader(self, batch_size: int = 1024, **options: Any) -> Any: ...
    def provenance(self) -> Provenance: ...

    # history
    def lineage(self, max_depth: int = 10) -> LineageGraph: ...
    def history(self) -> list[SnapshotInfo]: ...
    def rollback(self, snapshot_id: int) -> None: ...

    # schema changes
    def add_columns(self, columns: dict[str, pa.DataType | str], docs: dict[str, str] | None = None) -> None: ...
    def rename_column(self, old: str, new: str) -> None: ...
    def drop_column(self, name: str) -> None: ...
    def widen_column(self, name: str, to: pa.DataType | str) -> None: ...

    # writing
    def append(
        self,
        data: Any,
        *,
        command: str | None = None,
        inputs: list[LineageInput] | None = None,
        properties: dict[str, str] | None = None,
    ) -> WriteRecord: ...
    def overwrite(
        self,
        data: Any,
        where: str | None = None,
        *,
        command: str | None = None,
        inputs: list[LineageInput] | None = None,
    ) -> WriteRecord: ...
    def upsert(
        self, data: Any, on: Sequence[str], *, command: str | None = None, inputs: list[LineageInput] | None = None
    ) -> WriteRecord: ...
    def apply_changes(
        self,
        rows: Any,
        on: Sequence[str],
        *,
        delete_keys: Sequence[tuple[Any, ...]] = (),
        delete_all: bool = False,
        command: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> WriteRecord: ...
    def delete(self, where: str, *, command: str | None = None) -> WriteRecord: ...


@runtime_checkable
class TrainingSetAPI(Protocol):
    """A point-in-time correct training set."""

    id: str | None
    name: str | None
    spec: dict[str, Any]
    snapshots: dict[str, int | None]

    @property
    def description(self) -> str | None: ...
    @property
    def entities(self) -> dict[str, Any]: ...
    @property
    def created_by(self) -> str | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def version(self) -> int | None: ...

    @property
    def columns(self) -> list[str]: ...
    def to_arrow(self) -> pa.Table: ...
    def to_pandas(self) -> pd.DataFrame: ...
    def to_polars(self) -> pl.DataFrame: ...
    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]: ...
    def loader(self, batch_size: int = 1024, **options: Any) -> Any: ...
    def provenance(self) -> Provenance: ...
    def to_parquet(self, path: str | Path) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __len__(self) -> int: ...


@runtime_checkable
class FeatureStoreAPI(Protocol):
    """Feature groups, their offline and online stores, and point-in-time training sets."""

    def groups(self) -> list[FeatureGroup]: ...
    def group(self, name: str) -> FeatureGroup: ...
    def describe(self, group: str, *, statistics: bool = True, distributions: bool = False) -> GroupDescription: ...
    def search(
        self, text: str | None = None, *, tag: str | None = None, owner: str | None = None
    ) -> list[SearchHit]: ...
    def create_group(
        self,
        name: str,
        *,
        entities: Sequence[str] | Mapping[str, Any] | str,
        event_time: str,
        features: Mapping[str, Any] | Sequence[Feature | str] | None = None,
        data: Any = None,
        ttl: timedelta | str | float | None = None,
        description: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | Sequence[str] | None = None,
        online: bool = True,
        recipe: str | None = None,
    ) -> FeatureGroup: ...
    def add_features(self, group: str, features: Mapping[str, Any] | Sequence[Feature]) -> FeatureGroup: ...
    def update_group(self, group: str, **values: Any) -> FeatureGroup: ...
    def drop_group(self, group: str, *, purge: bool = True) -> None: ...
    def write(self, group: str, data: Any, *, online: bool | None = None) -> WriteSummary: ...
    def materialize(self, group: str, *, full: bool = False) -> MaterializeReport: ...
    def sync_online(self, group: str) -> MaterializeReport | None: ...
    def materialize_all(self, *, full: bool = False) -> list[MaterializeReport]: ...
    def get_online_features(
        self, keys: Any, features: Sequence[str] | str, *, now: datetime | None = None, request: Any = None
    ) -> OnlineFeatures: ...
    def skew(self, group: str, *, sample: int = 100, seed: int = 0, now: datetime | None = None) -> SkewReport: ...
    def training_set(
        self,
        entities: Any,
        features: Sequence[str] | str,
        *,
        as_of: datetime | str | None = None,
        entity_time: str | None = None,
        name: str | None = None,
        description: str | None = None,
        save: bool = True,
        use: str | None = None,
        override: str | None = None,
        engine: str = "duckdb",
    ) -> TrainingSetAPI: ...
    def load_training_set(self, training_set_id: str) -> TrainingSetAPI: ...
    def training_sets(self, group: str | None = None) -> Sequence[TrainingSetAPI]: ...


@runtime_checkable
class SuiteStoreAPI(Protocol):
    """Named suites of checks stored per table, with their last results."""

    def list(self, table: str | TableName | None = None) -> list[StoredSuite]: ...
    def get(self, table: str | TableName, name: str) -> StoredSuite: ...
    def failing(self) -> builtins.list[StoredSuite]: ...
    def save(self, table: str | TableName, name: str, yaml: str | Suite, *, replace: bool = True) -> StoredSuite: ...
    def delete(self, table: str | TableName, name: str) -> None: ...
    def run(
        self,
        table: str | TableName,
        name: str,
        *,
        snapshot_id: int | None = None,
        sample_rows: int = 5,
        save: bool = True,
    ) -> SuiteResult: ...


@runtime_checkable
class QualityAPI(Protocol):
    """Profiles, checks, suggestions, metric history and anomalies of tables and queries."""

    @property
    def suites(self) -> SuiteStoreAPI: ...
    def keeps(self, table: Any) -> bool: ...

    def profile(
        self,
        table: Any,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        save: bool = True,
        columns: Sequence[str] | None = None,
        key: Sequence[str] | str = (),
        time_column: str | None = None,
        bins: int = 20,
        top_k: int = 10,
        exact_distinct: bool = False,
        **options: Any,
    ) -> Profile: ...
    def check(
        self,
        table: Any,
        suite: Any,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        save: bool = True,
        sample_rows: int = 5,
    ) -> SuiteResult: ...
    def suggest(
        self, table: Any, *, profile_result: Profile | None = None, name: str | None = None
    ) -> SuggestedSuite: ...
    def history(
        self,
        table: Any,
        *,
        metric: str | None = None,
        column: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> pa.Table: ...
    def anomalies(
        self, table: Any, *, rules: AnomalyRules | None = None, all_runs: bool = False, **rule_options: Any
    ) -> list[Anomaly]: ...
    def recent_anomalies(self, *, days: float = 7.0, rules: AnomalyRules | None = None) -> list[Anomaly]: ...
    def readiness(
        self, table: Any, target: str, *, snapshot_id: int | None = None, **options: Any
    ) -> ReadinessReport: ...
    def dimensions(
        self,
        table: Any,
        *,
        snapshot_id: int | None = None,
        suite: Suite | str | Path | dict[str, Any] | None = None,
        key: Sequence[str] = (),
        reference: str | None = None,
        rule: str | None = None,
        max_age: str | timedelta | None = None,
        expected_schema: dict[str, str] | None = None,
    ) -> QualityDimensions: ...
    def report(
        self,
        table: Any,
        path: str | Path | None = None,
        *,
        target: str | None = None,
        suite: Any = None,
        snapshot_id: int | None = None,
        key: Sequence[str] = (),
        max_age: str | timedelta | None = None,
        save: bool = True,
        readiness_options: dict[str, Any] | None = None,
    ) -> QualityReport: ...
    def agreement(
        self,
        data: Any,
        *,
        item: str = "item",
        rater: str = "annotator",
        label: str = "label",
        level: str = "nominal",
    ) -> AgreementReport: ...


def __getattr__(name: str) -> Any:
    """``GovernanceAPI``: the administration API (principals, roles, tokens, grants, filters, masks,
    audit events) is the governance package's own protocol, ``GovernanceAdmin``; it is imported only
    when asked for, so that this module stays free of run-time imports."""
    if name == "GovernanceAPI":
        from mlake.governance.service import GovernanceAdmin

        return GovernanceAdmin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ObjectsAPI(Protocol):
    """Object tables: files added to the warehouse, one row per object; bytes and thumbnails read back."""

    def add(
        self,
        pattern: str | Path | Sequence[str | Path],
        into: str,
        *,
        copy: bool = True,
        label_from: Literal["folder"] | None = None,
        manifest: str | Path | None = None,
    ) -> AddReport: ...
    def list(self, table: str, *, limit: int | None = 100, where: str | None = None) -> ResultAPI: ...
    def get(self, table: str, object_id: str) -> ObjectInfo: ...
    def open(self, table: str, object_id: str) -> bytes: ...
    def read(self, table: str, object_id: str) -> bytes: ...
    def stream(self, table: str, object_id: str, chunk_size: int = 1 << 20) -> tuple[ObjectInfo, Iterator[bytes]]: ...
    def thumbnail(self, table: str, object_id: str, size: int = 256) -> bytes: ...


@runtime_checkable
class SourceRegistryAPI(Protocol):
    """Where data came from and under which terms; every table's provenance (see :mod:`mlake.sources`)."""

    def register(
        self,
        name: str,
        *,
        kind: str,
        provider: str | None = None,
        license: str | None = None,
        terms_url: str | None = None,
        allowed_uses: Sequence[str] | None = None,
        contact: str | None = None,
        acquired: date | str | None = None,
        expires: date | str | None = None,
        personal_data: bool = False,
        description: str | None = None,
        replace: bool = False,
    ) -> Source: ...
    def get(self, name: str) -> Source: ...
    def list(self) -> builtins.list[Source]: ...
    def remove(self, name: str) -> None: ...
    def attach(self, table: str | TableName, source: str) -> None: ...
    def detach(self, table: str | TableName, source: str) -> None: ...
    def provenance(self, tables: str | TableName | Iterable[str | TableName]) -> Provenance: ...
    def require_use(
        self,
        tables: str | TableName | Iterable[str | TableName],
        use: str,
        *,
        override: str | None = None,
        what: str = "this data",
    ) -> Provenance: ...


@runtime_checkable
class StorageAPI(Protocol):
    """Storage usage and its growth, lifecycle policies and applying them (see :mod:`mlake.lifecycle`)."""

    def usage(
        self, table: str | TableName | None = None, namespace: str | None = None, *, record: bool = False
    ) -> StorageReport: ...
    def history(
        self, table: str | TableName | None = None, namespace: str | None = None, *, limit: int = 10_000
    ) -> builtins.list[UsagePoint]: ...
    def set_policy(
        self, scope: str, policy: LifecyclePolicy | dict[str, Any] | None = None, **rules: Any
    ) -> StoredPolicy: ...
    def get_policy(self, scope: str) -> StoredPolicy | None: ...
    def policies(self) -> builtins.list[StoredPolicy]: ...
    def remove_policy(self, scope: str) -> None: ...
    def effective_policy(self, table: str | TableName) -> LifecyclePolicy: ...
    def pins(self, table: str | TableName) -> builtins.list[SnapshotPin]: ...
    def pin(self, table: str | TableName, tag: str, snapshot_id: int | None = None) -> SnapshotPin: ...
    def unpin(self, table: str | TableName, tag: str) -> None: ...
    def apply(
        self,
        table: str | TableName | None = None,
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        **overrides: Any,
    ) -> builtins.list[LifecycleReport]: ...


@runtime_checkable
class RecipesAPI(Protocol):
    """Saved, versioned recipes of transforms over lake tables (see :mod:`mlake.processing`)."""

    def create(self, recipe: Recipe | str | dict[str, Any], *, validate: bool = True) -> StoredRecipe: ...
    def get(self, name: str, version: int | None = None) -> StoredRecipe: ...
    def list(self) -> builtins.list[StoredRecipe]: ...
    def versions(self, name: str) -> builtins.list[StoredRecipe]: ...
    def preview(
        self, recipe: str | Recipe, *, source: str | None = None, rows: int = 20, sample: int = 1000
    ) -> pa.Table: ...
    def run(
        self,
        name: str,
        into: str,
        *,
        version: int | None = None,
        source: str | None = None,
        refit: bool = False,
        engine: str = "duckdb",
        mode: str = "replace",
    ) -> RecipeRun: ...
    def transform(self, name: str, data: Any, *, version: int | None = None) -> pa.Table: ...
    def export(self, name: str, fmt: str = "sql", *, version: int | None = None) -> str: ...


@runtime_checkable
class PipelinesAPI(Protocol):
    """DAGs of checks, recipes, SQL and Python steps with recorded runs (superusers; :mod:`mlake.pipelines`)."""

    def save(self, pipeline: Pipeline | str) -> Pipeline: ...
    def get(self, name: str) -> Pipeline: ...
    def schedule(self, name: str, cron: str) -> Pipeline: ...
    def names(self) -> list[str]: ...
    def start(self, name: str, trigger: str = "manual", trigger_key: str | None = None) -> int | None: ...
    def poll_triggers(self, now: datetime | None = None) -> list[int]: ...
    def run(self, name: str) -> PipelineRun: ...
    def claim(self, run_id: int, worker: str) -> bool: ...
    def pending(self) -> list[int]: ...
    def requeue_stale(self, lease_seconds: float) -> int: ...
    def execute(self, run_id: int, worker: str, heartbeat_every: float | None = None) -> PipelineRun: ...
    def status(self, run_id: int) -> PipelineRun: ...
    def runs(self, name: str) -> list[PipelineRun]: ...


@runtime_checkable
class MonitoringAPI(Protocol):
    """Monitors: a stored baseline, a target table, checks, runs and violations (see :mod:`mlake.monitor`)."""

    def create(
        self,
        name: str,
        *,
        target: str,
        baseline: str | None = None,
        baseline_snapshot_id: int | None = None,
        config: MonitorConfig | None = None,
        columns: builtins.list[str] | None = None,
        categorical: builtins.list[str] | None = None,
        replace: bool = False,
    ) -> Monitor: ...
    def get(self, name: str) -> Monitor: ...
    def list(self) -> builtins.list[Monitor]: ...
    def delete(self, name: str) -> None: ...
    def run(self, name: str, *, now: datetime | None = None) -> MonitorRun: ...
    def due(self) -> builtins.list[Monitor]: ...
    def run_due(self, *, now: datetime | None = None) -> builtins.list[MonitorRun]: ...
    def runs(self, name: str, limit: int = 50) -> builtins.list[MonitorRun]: ...
    def violations(self, name: str, run_id: str | None = None) -> pa.Table: ...


@runtime_checkable
class BiasAPI(Protocol):
    """Bias reports (Clarify's metrics with confidence intervals) of tables and SQL (see :mod:`mlake.bias`)."""

    def report(
        self,
        source: str,
        *,
        facet: str | Facet,
        label: str | Outcome,
        facet_values: Sequence[Scalar] | None = None,
        facet_threshold: float | None = None,
        positive_values: Sequence[Scalar] | None = None,
        label_threshold: float | None = None,
        predicted: str | Outcome | None = None,
        predicted_threshold: float | None = None,
        metrics: Sequence[str] | None = None,
        resamples: int = 1000,
        confidence: float = 0.95,
        snapshot_id: int | None = None,
        seed: int | None = 0,
    ) -> BiasReport: ...


@runtime_checkable
class ConsumerGroupAPI(Protocol):
    """A consumer group's cursor over every partition of a stream, resumed from durable checkpoints."""

    stream: str
    name: str
    start: StreamPosition
    partitions: int

    @property
    def cursor(self) -> dict[int, StreamPosition]: ...
    def poll(self, *, limit: int = 1000, partitions: Sequence[int] | None = None) -> list[Record]: ...
    def commit(self) -> dict[int, int]: ...
    def checkpoint(self, partition: int, sequence: int) -> None: ...
    def checkpoints(self) -> dict[int, int]: ...


@runtime_checkable
class StreamsAPI(Protocol):
    """Durable, partitioned streams of records: put, read, consumer groups, status (see :mod:`mlake.streams`)."""

    @property
    def max_record_bytes(self) -> int: ...
    def create(
        self, name: str, *, partitions: int = 1, retention: timedelta = timedelta(hours=24)
    ) -> StreamDescription: ...
    def describe(self, name: str) -> StreamDescription: ...
    def exists(self, name: str) -> bool: ...
    def list_streams(self) -> list[str]: ...
    def delete(self, name: str) -> None: ...
    def partition_of(self, name: str, key: str) -> int: ...
    def put(self, name: str, value: Any, *, key: str) -> PutResult: ...
    def put_batch(self, name: str, records: Iterable[PutRecord | tuple[str, Any]]) -> PutBatchResult: ...
    def read(
        self, name: str, partition: int, position: StreamPosition | None = None, *, limit: int = 1000
    ) -> ReadBatch: ...
    def group(self, name: str, group: str, *, start: StreamPosition | None = None) -> ConsumerGroupAPI: ...
    def groups(self, name: str) -> list[str]: ...
    def delete_group(self, name: str, group: str) -> None: ...
    def manage(
        self,
        stream: str,
        into: str | None = None,
        *,
        feature_group: str | None = None,
        name: str | None = None,
        hints: BufferHints | None = None,
        error_table: str | None = None,
        changes_of: str | None = None,
        transform_sql: str | None = None,
        time_fields: Sequence[str] = (),
        partition_by: Sequence[str] = (),
        max_record_bytes: int = ...,
    ) -> ManagedDelivery: ...
    def managed(self) -> list[ManagedDelivery]: ...
    def unmanage(self, stream: str, name: str | None = None) -> None: ...
    def status(self, name: str) -> StreamStatus: ...
    def throughput(
        self, name: str, *, window: timedelta = ..., buckets: int = 30, end: datetime | None = None
    ) -> Throughput: ...
    def delivery_lag(
        self, name: str, delivery: str, *, window: timedelta = ..., cap: int = ...
    ) -> list[tuple[datetime, int]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> StreamsAPI: ...
    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class LabelingAPI(Protocol):
    """Labeling projects over a table's rows and human review loops over predictions (:mod:`mlake.labeling`)."""

    def create_project(
        self,
        name: str,
        source_table: str,
        id_column: str,
        task: Task = "classification",
        labels: Sequence[Any] = (),
        *,
        instructions: str = "",
        annotators_per_item: int = 1,
        gold: Mapping[Any, Any] | None = None,
        bounds: tuple[float, float] | None = None,
    ) -> Project: ...
    def list_projects(self) -> list[Project]: ...
    def project(self, name: str) -> Project: ...
    def next_items(self, name: str, n: int = 10, *, annotator: str | None = None) -> list[QueueItem]: ...
    def submit(self, name: str, item_id: Any, answer: Any, *, seconds: float | None = None) -> Answer: ...
    def submit_many(self, name: str, answers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...
    def answers(self, name: str) -> pa.Table: ...
    def consolidate(self, name: str, *, method: str | None = None) -> Consolidation: ...
    def progress(self, name: str) -> Progress: ...
    def auto_label(
        self,
        name: str,
        *,
        target_accuracy: float = 0.95,
        min_human: int = 1250,
        features: Sequence[str] | None = None,
        random_state: int = 0,
    ) -> AutoLabelRound: ...
    def export(
        self,
        name: str,
        format: Literal["label_studio", "coco"] = "label_studio",
        *,
        what: Literal["answers", "labels"] = "answers",
    ) -> Any: ...
    def import_answers(self, name: str, data: Any, format: Literal["label_studio", "coco"] = "label_studio") -> int: ...
    def create_review_loop(
        self,
        name: str,
        predictions_table: str,
        id_column: str,
        prediction_column: str,
        confidence_column: str,
        *,
        threshold: float | Mapping[str, float] = 0.5,
        where: str | None = None,
        audit_percent: float = 0.0,
        reviewers: int = 1,
        expires: datetime | timedelta | None = None,
        labels: Sequence[Any] | None = None,
        seed: int = 0,
        instructions: str = "",
    ) -> Project: ...
    def activate(self, name: str) -> pa.Table: ...
    def review_results(self, name: str) -> ReviewReport: ...


@runtime_checkable
class DashboardsAPI(Protocol):
    """Saved queries (SQL with a chart) and dashboards of them, bound to the acting principal."""

    def save_query(self, name: str, sql: str, chart: dict[str, Any] | None = None) -> SavedQuery: ...
    def query(self, query_id: int) -> SavedQuery: ...
    def queries(self) -> list[SavedQuery]: ...
    def update_query(
        self,
        query_id: int,
        *,
        name: str | None = None,
        sql: str | None = None,
        chart: dict[str, Any] | None = None,
    ) -> SavedQuery: ...
    def delete_query(self, query_id: int) -> None: ...
    def create_dashboard(self, name: str, description: str | None = None, refresh_seconds: int = 60) -> Dashboard: ...
    def dashboards(self) -> list[Dashboard]: ...
    def dashboard(self, dashboard_id: int) -> Dashboard: ...
    def update_dashboard(
        self,
        dashboard_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        refresh_seconds: int | None = None,
    ) -> Dashboard: ...
    def delete_dashboard(self, dashboard_id: int) -> None: ...
    def pin(self, dashboard_id: int, query_id: int, width: int = 1) -> Dashboard: ...
    def unpin(self, dashboard_id: int, tile_id: int) -> Dashboard: ...


@runtime_checkable
class LakeAPI(Protocol):
    """A lake: its catalog, tables, SQL, lineage, ingestion, maintenance and areas."""

    @property
    def features(self) -> FeatureStoreAPI: ...
    @property
    def quality(self) -> QualityAPI: ...
    @property
    def sources(self) -> SourceRegistryAPI: ...
    @property
    def storage(self) -> StorageAPI: ...
    @property
    def recipes(self) -> RecipesAPI: ...
    @property
    def pipelines(self) -> PipelinesAPI: ...
    @property
    def monitoring(self) -> MonitoringAPI: ...
    @property
    def bias(self) -> BiasAPI: ...
    @property
    def objects(self) -> ObjectsAPI: ...
    @property
    def streams(self) -> StreamsAPI: ...
    @property
    def labeling(self) -> LabelingAPI: ...
    @property
    def dashboards(self) -> DashboardsAPI: ...
    @property
    def governance(self) -> GovernanceAPI: ...
    @property
    def principal(self) -> Principal: ...
    @property
    def audit_table(self) -> TableName: ...
    def me(self) -> Identity: ...
    def privileges(self, name: str | TableName) -> list[str]: ...
    def can_read_sql(self, sql: str) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> LakeAPI: ...
    def __exit__(self, *exc: object) -> None: ...

    # catalog
    def namespaces(self) -> list[str]: ...
    def create_namespace(self, namespace: str, description: str | None = None, exist_ok: bool = True) -> None: ...
    def drop_namespace(self, namespace: str) -> None: ...
    def list_tables(self, namespace: str | None = None, *, include_quarantine: bool = True) -> list[TableName]: ...
    def search(
        self, query: str | None = None, namespace: str | None = None, *, include_quarantine: bool = True
    ) -> list[TableSummary]: ...
    def table(self, name: str | TableName) -> TableAPI: ...
    def table_exists(self, name: str | TableName) -> bool: ...
    def drop_table(self, name: str | TableName, *, purge: bool = True, missing_ok: bool = False) -> None: ...
    def create_table(
        self,
        name: str | TableName,
        data: Any = None,
        *,
        schema: pa.Schema | Schema | None = None,
        partition_by: Sequence[str] = (),
        description: str | None = None,
        owner: str | None = None,
        tags: dict[str, str] | Sequence[str] | None = None,
        exist_ok: bool = False,
        properties: dict[str, str] | None = None,
    ) -> TableAPI: ...

    # SQL, lineage, ingestion, maintenance
    def sql(self, query: str, *, as_of: datetime | str | None = None, params: Any = None) -> ResultAPI: ...
    def lineage(self, name: str | TableName, max_depth: int = 10) -> LineageGraph: ...
    def recent_writes(self, limit: int = 20) -> list[WriteRecord]: ...
    def ingest(
        self, path: str | Path | Sequence[str | Path], into: str, *, source: str | None = None, **options: Any
    ) -> IngestReport: ...
    def ingest_database(self, url: str, into: str, *, source: str | None = None, **options: Any) -> IngestReport: ...
    def maintain(self, name: str | TableName | None = None, **options: Any) -> list[MaintenanceReport]: ...
    def loader(self, source: Any, **options: Any) -> Loader: ...
    def capture(self, model: str, version: str, **options: Any) -> CaptureLogger: ...
