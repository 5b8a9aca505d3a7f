"""Training sets: point-in-time correct, saved, and rebuilt bit for bit.

``lake.features.training_set(entities, features=["group:feature", ...])`` joins the entity rows (keys
and a time per row) with each group's offline table (see :mod:`mlake.features.pit`). When saved, the
training set records its spec and the exact Iceberg snapshot of every table it read; entity rows given
as a data frame or SQL are copied into a table of the ``training_sets`` namespace (with their row
order), entity rows from a lake table are pinned to that table's snapshot. ``load(id)`` reads the
same snapshots again, so the rows, their order and every value come back identical after new data,
backfills or corrections arrive — as long as maintenance has not expired those snapshots.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from mlake.engines.partitioned import PartitionedCompute
from mlake.errors import NotFoundError, ValidationError
from mlake.features.groups import WRITE_TIME, FeatureGroup
from mlake.features.metastore import training_set_groups_table, training_sets_table
from mlake.features.pit import ROW, GroupRead, WriteTimes, point_in_time
from mlake.results import Result, translate_duckdb_error
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName
from mlake.tables.types import duckdb_type, quote_ident

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from mlake.features.store import FeatureStore
    from mlake.lake import Lake
    from mlake.sources.registry import Provenance

TRAINING_NAMESPACE = "training_sets"


@dataclass(frozen=True)
class FeatureRef:
    group: str
    feature: str  # a feature name, or "*" for all


def parse_feature_refs(features: Sequence[str] | str) -> list[FeatureRef]:
    if isinstance(features, str):
        features = [features]
    refs = []
    for text in features:
        group, sep, feature = text.partition(":")
        if not sep or not group or not feature:
            raise ValidationError(
                f"Cannot read the feature reference {text!r}",
                hint="write group:feature (or group:* for all of a group's features), e.g. customer_orders:spend_30d",
            )
        refs.append(FeatureRef(group.strip(), feature.strip()))
    if not refs:
        raise ValidationError("A training set needs at least one feature", hint='e.g. features=["group:feature"]')
    return refs


def resolve_features(store: FeatureStore, refs: list[FeatureRef]) -> list[tuple[FeatureGroup, list[str]]]:
    """Groups in first-mention order, each with its requested features (``*`` expanded), no repeats."""
    order: dict[str, list[str]] = {}
    groups: dict[str, FeatureGroup] = {}
    for ref in refs:
        if ref.group not in groups:
            groups[ref.group] = store.group(ref.group)
            order[ref.group] = []
        names = groups[ref.group].feature_names if ref.feature == "*" else [groups[ref.group].feature(ref.feature).name]
        for n in names:
            if n not in order[ref.group]:
                order[ref.group].append(n)
    return [(groups[g], feats) for g, feats in order.items()]


def output_names(selected: list[tuple[FeatureGroup, list[str]]], entity_columns: list[str]) -> list[list[str]]:
    """A feature's column is its name; on a clash with another group's feature or an entity column it is
    ``<group>__<feature>``."""
    counts: dict[str, int] = {}
    for _, feats in selected:
        for f in feats:
            counts[f.lower()] = counts.get(f.lower(), 0) + 1
    taken = {c.lower() for c in entity_columns}
    return [
        [f if counts[f.lower()] == 1 and f.lower() not in taken else f"{g.name}__{f}" for f in feats]
        for g, feats in selected
    ]


@dataclass
class TrainingSet:
    """A point-in-time correct training set; convert it with ``to_arrow()``, ``to_pandas()`` ... ."""

    lake: Lake
    id: str | None
    spec: dict[str, Any]
    entities: dict[str, Any]
    snapshots: dict[str, int | None]
    name: str | None = None
    description: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    # A name is one training set in versions: saving under a name already used adds its next version
    # (1, 2, ...); loading by name gives the newest, "name@2" an earlier one.
    version: int | None = None
    _result: Result | None = field(default=None, repr=False)
    _entity_data: pa.Table | None = field(default=None, repr=False)

    @property
    def result(self) -> Result:
        if self._result is None:
            self._result = _build(self)
        return self._result

    @property
    def columns(self) -> list[str]:
        return self.result.columns

    def to_arrow(self) -> pa.Table:
        return self.result.to_arrow()

    def to_pandas(self) -> pd.DataFrame:
        return self.result.to_pandas()

    def to_polars(self) -> pl.DataFrame:
        return self.result.to_polars()

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """The rows in order, as Arrow batches, without holding them all (for training loops)."""
        return self.result.batches(batch_size)

    def loader(self, batch_size: int = 1024, **options: Any) -> Any:
        """A :class:`mlake.loader.Loader` over the training set's rows for training loops (``shuffle``,
        ``seed``, ``columns``, ``rank``, ``world_size``, ``cache`` ...); a saved set is written to the
        loader's local cache once and reused by later loaders of the same set."""
        return self.lake.loader(self, batch_size=batch_size, **options)

    def provenance(self) -> Provenance:
        """Every registered source (and license) the training set's rows derive from: those of its feature
        groups' tables and its entity rows, through their lineage (see :mod:`mlake.sources`)."""
        return self.lake.sources.provenance(_tables_read(self.snapshots, self.entities))

    def to_parquet(self, path: str | Path) -> int:
        """Stream the training set into one Parquet file; returns the rows written."""
        import pyarrow.parquet as pq

        reader = self.result.reader()
        rows = 0
        with pq.ParquetWriter(str(path), reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        return rows

    def __len__(self) -> int:
        return len(self.result)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "features": self.spec["features"],
            "as_of": self.spec.get("as_of"),
            "entity_time": self.spec["entity_time"],
            "entities": self.entities,
            "snapshots": self.snapshots,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "version": self.version,
        }

    def __repr__(self) -> str:
        return f"<mlake TrainingSet {self.id or '(unsaved)'} {len(self.spec['features'])} feature(s)>"


def _tables_read(snapshots: dict[str, int | None], entities: dict[str, Any]) -> list[str]:
    tables = list(snapshots)
    if entities.get("kind") == "table" and entities.get("table"):
        tables.append(entities["table"])
    return tables


def _entity_arrow(lake: Lake, ts: TrainingSet) -> pa.Table:
    """The entity rows with their row numbers, from a pinned table snapshot or the data given."""
    if ts._entity_data is not None:
        return ts._entity_data
    source = ts.entities
    table = lake.table(source["table"])
    snapshot_id = source.get("snapshot_id")
    if snapshot_id is not None:
        _check_snapshot(lake, source["table"], snapshot_id)
        data = table.query(snapshot_id=snapshot_id).reader().read_all()
    elif source.get("copied"):
        data = table.query().reader().read_all()  # no entity rows were given: the copy never got a snapshot
    else:
        raise NotFoundError(f"The entity table {source['table']} of training set {ts.id} was empty when it was made")
    if not source.get("copied"):  # a copy keeps its row numbers (the join puts the rows in their order)
        data = data.append_column(ROW, _numbers(data.num_rows))
    return data


def _numbers(n: int) -> pa.Array:
    """0 .. n-1 as an Arrow int64 array, built without a Python loop (millions of entity rows)."""
    return pa.array(np.arange(n, dtype=np.int64))


def _check_snapshot(lake: Lake, table: str, snapshot_id: int) -> None:
    if not lake.table_exists(table):
        raise NotFoundError(f"Table {table}, read by this training set, no longer exists")
    if lake.table(table).iceberg.snapshot_by_id(snapshot_id) is None:
        raise NotFoundError(
            f"Snapshot {snapshot_id} of {table}, read by this training set, no longer exists",
            hint="maintenance expired it; keep snapshots longer (mlake maintain) to rebuild old training sets",
        )


def _empty_source(group: FeatureGroup) -> str:
    from mlake.features.types import arrow_type
    from mlake.tables.frames import iceberg_type_of

    schema = group.offline_schema()
    cols = ", ".join(
        f"NULL::{duckdb_type(iceberg_type_of(arrow_type(_name_of(f.type))))} AS {quote_ident(f.name)}" for f in schema
    )
    return f"(SELECT {cols} WHERE false)"


def _name_of(dtype: pa.DataType) -> str:
    from mlake.features.types import type_name

    return type_name(dtype)


def _build(ts: TrainingSet) -> Result:
    """The rows, on the engine the set was asked for: DuckDB in process, or a partitioned backend (Ray)
    started for this build and closed after it."""
    engine = ts.spec.get("engine") or "duckdb"
    if engine == "duckdb":
        return compute_rows(ts)
    from mlake.backends import backend_named

    compute = backend_named("compute", engine).load()()
    try:
        return compute_rows(ts, compute)
    finally:
        compute.close()


def compute_rows(ts: TrainingSet, compute: PartitionedCompute | None = None) -> Result:
    """The training set's rows: each group's point-in-time join in process (``compute`` None) or on a
    partitioned backend by buckets of the entity key; both give the same rows (values, types, order)."""
    lake = ts.lake
    store = lake.features
    refs = parse_feature_refs(ts.spec["features"])
    selected = resolve_features(store, refs)
    data = _entity_arrow(lake, ts)
    entity_columns = [c for c in data.column_names if c != ROW]
    entity_time = ts.spec["entity_time"]
    names = ts.spec.get("output_names") or output_names(selected, entity_columns)
    by_lower = {c.lower(): c for c in entity_columns}
    reads = []
    inputs: list[LineageInput] = []
    for (group, feats), outs in zip(selected, names, strict=True):
        table = str(group.table_name)
        snapshot_id = ts.snapshots.get(table)
        known: WriteTimes | None = WriteTimes(())
        if snapshot_id is None:
            source = _empty_source(group)
        else:
            _check_snapshot(lake, table, snapshot_id)
            source = lake.engine.view_for(group.table_name, snapshot_id)
            known = _write_times(lake, group, snapshot_id) if store.reads_stored_times(group) else None
        inputs.append(LineageInput("table", table, snapshot_id=snapshot_id))
        keys = []
        for k in group.key_names:
            if k.lower() not in by_lower:
                raise ValidationError(
                    f"The entity rows lack {k!r}, an entity key of feature group {group.name!r}",
                    hint=f"entity columns are {', '.join(entity_columns)}",
                )
            keys.append(by_lower[k.lower()])
        reads.append(GroupRead(group, source, tuple(feats), tuple(outs), tuple(keys), write_times=known))
    cursor = lake.engine.connection.cursor()
    try:
        with lake.engine.deadline(cursor):  # a principal's statement timeout bounds the joins
            relation, sql, kept = point_in_time(
                cursor, data, entity_time, reads, _as_of(ts.spec.get("as_of")), compute=compute
            )
    except duckdb.Error as exc:
        raise translate_duckdb_error(exc) from exc
    result = Result(relation, sql, inputs, keepalive=(cursor, data, kept), lake=lake, arrow=kept[0])
    return store.training_result(result)


_WRITE_TIMES: OrderedDict[tuple[str, int, str], WriteTimes | None] = OrderedDict()


def _write_times(lake: Lake, group: FeatureGroup, snapshot_id: int) -> WriteTimes | None:
    """The distinct write times and the event-time range of a group's rows at ``snapshot_id``, from the
    Iceberg statistics of its data files (each write's files hold one write time), or None when the
    statistics do not tell (a file without bounds, a file holding several writes, times not in µs).

    A snapshot never changes, so the answer is kept (for the last 256 snapshots read).
    """
    from pyiceberg.conversions import from_bytes
    from pyiceberg.types import TimestampType, TimestamptzType

    from mlake.tables.scan import plan_files

    table = lake.iceberg_table(group.table_name)
    cache_key = (table.metadata.table_uuid.hex, snapshot_id, group.event_time.lower())
    if cache_key in _WRITE_TIMES:
        return _WRITE_TIMES[cache_key]
    schema, _, tasks = plan_files(table, snapshot_id, None)
    by_name = {f.name.lower(): f for f in schema.fields}
    et, wt = by_name.get(group.event_time.lower()), by_name.get(WRITE_TIME)
    known: WriteTimes | None = None
    micros = (TimestampType, TimestamptzType)
    if et is not None and wt is not None and isinstance(et.field_type, micros) and isinstance(wt.field_type, micros):
        writes: set[int] = set()
        lows: list[int] = []
        highs: list[int] = []
        for task in tasks:
            lower, upper = task.file.lower_bounds or {}, task.file.upper_bounds or {}
            if not {et.field_id, wt.field_id} <= lower.keys() & upper.keys():
                break
            first, last = from_bytes(wt.field_type, lower[wt.field_id]), from_bytes(wt.field_type, upper[wt.field_id])
            if first != last:
                break
            writes.add(int(first))
            lows.append(int(from_bytes(et.field_type, lower[et.field_id])))
            highs.append(int(from_bytes(et.field_type, upper[et.field_id])))
        else:
            known = WriteTimes(tuple(sorted(writes)), (min(lows), max(highs)) if lows else None)
    _WRITE_TIMES[cache_key] = known
    while len(_WRITE_TIMES) > 256:
        _WRITE_TIMES.popitem(last=False)
    return known


def _as_of(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _detect_entity_time(data: pa.Schema, keys: set[str], given: str | None) -> str:
    names = {n.lower(): n for n in data.names}
    if given is not None:
        if given.lower() not in names:
            raise ValidationError(f"The entity rows have no column {given!r}", hint=f"columns: {', '.join(data.names)}")
        column: str = names[given.lower()]
        dtype = data.field(column).type
        if not (pa.types.is_timestamp(dtype) or pa.types.is_date(dtype)):
            raise ValidationError(f"Entity time column {column!r} is {dtype}, not a timestamp or date")
        return column
    candidates: list[str] = [
        str(f.name)
        for f in data
        if f.name.lower() not in keys and (pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)) and f.name != ROW
    ]
    if len(candidates) != 1:
        raise ValidationError(
            "Cannot tell which column of the entity rows is their time"
            + (f" (candidates: {', '.join(candidates)})" if candidates else " (no timestamp column)"),
            hint="pass entity_time='column'",
        )
    return candidates[0]


def _kind(dtype: pa.DataType) -> str:
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_date(dtype):
        return "date"
    return str(dtype)


def _check_keys(schema: pa.Schema, selected: list[tuple[FeatureGroup, list[str]]]) -> None:
    """Every group's key columns exist in the entity rows, with a type that can equal the group's."""
    from mlake.features.types import arrow_type

    by_lower = {n.lower(): n for n in schema.names}
    for group, _ in selected:
        for key in group.entities:
            column = by_lower.get(key.name.lower())
            if column is None:
                raise ValidationError(
                    f"The entity rows lack {key.name!r}, an entity key of feature group {group.name!r}",
                    hint=f"entity columns are {', '.join(n for n in schema.names if n != ROW)}",
                )
            given, wanted = _kind(schema.field(column).type), _kind(arrow_type(key.dtype))
            if given != wanted:
                raise ValidationError(
                    f"Entity column {column!r} is {schema.field(column).type}, but feature group {group.name!r} "
                    f"keys it as {key.dtype}",
                    hint=f"cast {column} to {key.dtype}",
                )


def create_training_set(
    lake: Lake,
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
) -> TrainingSet:
    """See :meth:`mlake.features.store.FeatureStore.training_set`."""
    from mlake.backends import backend_named
    from mlake.features.offline import ensure_offline_table, source_relation
    from mlake.tables.table import Table

    engine = backend_named("compute", engine).name  # an unknown engine is refused before anything is read
    store = lake.features
    selected = resolve_features(store, parse_feature_refs(features))
    keys = {k.lower() for g, _ in selected for k in g.key_names}
    snapshots: dict[str, int | None] = {}
    for group, _ in selected:
        table = ensure_offline_table(lake, group)
        snap = table.iceberg.current_snapshot()
        snapshots[str(group.table_name)] = snap.snapshot_id if snap else None
    ts_id = uuid.uuid4().hex[:16]
    as_of_dt = _parse_as_of(as_of)
    entity_source: dict[str, Any]
    entity_data: pa.Table | None = None
    is_table = isinstance(entities, Table | TableName) or (
        isinstance(entities, str) and "." in entities and " " not in entities.strip() and lake.table_exists(entities)
    )
    if is_table:
        tname = entities.name if isinstance(entities, Table) else TableName.parse(entities)
        snap = lake.table(tname).iceberg.current_snapshot()
        if snap is None:
            raise ValidationError(f"The entity table {tname} is empty")
        entity_source = {"kind": "table", "table": str(tname), "snapshot_id": snap.snapshot_id, "copied": False}
    else:
        described = entities if isinstance(entities, str) else f"<{type(entities).__name__}>"
        # reader(): entity rows are bounded by the export limit, not by the (smaller) interactive result limit
        entity_data = source_relation(lake, entities, number_rows=False).reader().read_all()
        if ROW in entity_data.column_names:
            entity_data = entity_data.drop_columns([ROW])
        entity_data = entity_data.append_column(ROW, _numbers(entity_data.num_rows))
        entity_source = {
            "kind": "sql" if isinstance(entities, str) else "dataframe",
            "source": described,
            "copied": True,
        }
    if use is not None:  # refused before anything is saved when a source's terms forbid the use
        what = f"Training set {name or ts_id}"
        lake.sources.require_use(_tables_read(snapshots, entity_source), use, override=override, what=what)
    preview_schema = (
        entity_data.schema
        if entity_data is not None
        else lake.table(entity_source["table"]).query(limit=0).to_arrow().schema
    )
    time_col = _detect_entity_time(preview_schema, keys, entity_time)
    _check_keys(preview_schema, selected)
    spec = {
        "features": [f"{g.name}:{f}" for g, feats in selected for f in feats],
        "entity_time": time_col,
        "as_of": as_of_dt.isoformat() if as_of_dt else None,
        "output_names": output_names(selected, [c for c in preview_schema.names if c != ROW]),
    }
    if use is not None:
        spec["use"] = use
    if engine != "duckdb":  # how to build it, not what it holds: a load rebuilds it the same way
        spec["engine"] = engine
    ts = TrainingSet(
        lake, ts_id if save else None, spec, entity_source, snapshots, name, description, lake.settings.user
    )
    if not save:
        ts._entity_data = entity_data
        return ts
    if entity_data is not None:
        copy_name = TableName(TRAINING_NAMESPACE, f"ts_{ts_id}")
        copy = store.save_entity_rows(
            copy_name, entity_data, description=f"Entity rows of training set {name or ts_id}", training_set=ts_id
        )
        snap = copy.iceberg.current_snapshot()
        entity_source.update(table=str(copy_name), snapshot_id=snap.snapshot_id if snap else None)
    ts.created_at = datetime.now(UTC)
    with lake._core.metadata_engine.begin() as conn:
        if name is not None:
            same_name = sa.select(sa.func.count()).where(training_sets_table.c.name == name)
            ts.version = 1 + int(conn.execute(same_name).scalar_one())
        conn.execute(
            training_sets_table.insert().values(
                id=ts_id,
                name=name,
                description=description,
                spec=json.dumps(spec),
                entities=json.dumps(entity_source),
                snapshots=json.dumps(snapshots),
                created_by=lake.settings.user,
                created_at=ts.created_at,
            )
        )
        conn.execute(
            training_set_groups_table.insert(), [{"training_set_id": ts_id, "group_name": g.name} for g, _ in selected]
        )
    return ts


def _parse_as_of(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(
                f"Cannot read {value!r} as a time", hint="use ISO 8601, e.g. 2026-11-20 14:00"
            ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _from_row(lake: Lake, row: Any, version: int | None = None) -> TrainingSet:
    return TrainingSet(
        lake,
        row.id,
        json.loads(row.spec),
        json.loads(row.entities),
        json.loads(row.snapshots),
        row.name,
        row.description,
        row.created_by,
        row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC),
        version,
    )


def _versions(conn: Any, name: str | None) -> list[Any]:
    """The saved sets of one name, oldest (version 1) first."""
    if name is None:
        return []
    query = sa.select(training_sets_table).where(training_sets_table.c.name == name)
    return list(conn.execute(query.order_by(training_sets_table.c.created_at, training_sets_table.c.id)))


def load_training_set(lake: Lake, ts_id: str) -> TrainingSet:
    """A saved training set by id, or by name: the newest version, or ``name@version``."""
    with lake._core.metadata_engine.connect() as conn:
        row = conn.execute(sa.select(training_sets_table).where(training_sets_table.c.id == ts_id)).first()
        versions = _versions(conn, row.name if row is not None else ts_id)
        wanted = None
        if row is None and not versions and "@" in ts_id:
            name, _, number = ts_id.rpartition("@")
            versions = _versions(conn, name)
            wanted = int(number) if number.isdigit() else -1
    if row is None and versions:
        if wanted is not None and not 1 <= wanted <= len(versions):
            raise NotFoundError(
                f"Training set {ts_id.rpartition('@')[0]!r} has no version {ts_id.rpartition('@')[2]}",
                hint=f"its versions are 1 to {len(versions)}",
            )
        row = versions[(wanted or len(versions)) - 1]
    if row is None:
        raise NotFoundError(f"Training set {ts_id!r} does not exist", hint="`mlake features training-sets` lists them")
    ids = [r.id for r in versions]
    return _from_row(lake, row, ids.index(row.id) + 1 if row.id in ids else None)


def list_training_sets(lake: Lake, group: str | None = None) -> list[TrainingSet]:
    query = sa.select(training_sets_table).order_by(training_sets_table.c.created_at.desc())
    if group is not None:
        ids = sa.select(training_set_groups_table.c.training_set_id).where(
            training_set_groups_table.c.group_name == group
        )
        query = query.where(training_sets_table.c.id.in_(ids))
    with lake._core.metadata_engine.connect() as conn:
        rows = list(conn.execute(query))
        names = {r.name for r in rows if r.name is not None}
        named = sa.select(training_sets_table.c.id, training_sets_table.c.name).where(
            training_sets_table.c.name.in_(names)
        )
        named = named.order_by(training_sets_table.c.created_at, training_sets_table.c.id)
        ordered: list[Any] = list(conn.execute(named)) if names else []
        counts: dict[str, int] = {}
        versions: dict[str, int] = {}
        for r in ordered:
            counts[r.name] = versions[r.id] = counts.get(r.name, 0) + 1
    return [_from_row(lake, r, versions.get(r.id)) for r in rows]


def forget_training_sets(lake: Lake, name: str) -> int:
    """Remove every saved version of the training set ``name`` and the entity rows copied for them; returns
    how many were removed. (The demo rebuilds its training set this way instead of adding a version.)"""
    with lake._core.metadata_engine.begin() as conn:
        ids = [r.id for r in _versions(conn, name)]
        if ids:
            conn.execute(training_set_groups_table.delete().where(training_set_groups_table.c.training_set_id.in_(ids)))
            conn.execute(training_sets_table.delete().where(training_sets_table.c.id.in_(ids)))
    for ts_id in ids:
        lake.drop_table(TableName(TRAINING_NAMESPACE, f"ts_{ts_id}"), missing_ok=True)
    return len(ids)
