"""Materialization: copy the latest values per entity from the offline store into the online store.

Incremental: for each (group, online store) the metastore keeps the offline snapshot materialized last.
When the offline table only grew since then (appends add data files), a run reads only the files the
current snapshot has and that snapshot had not, reduces them to the latest row per entity in DuckDB, and
streams the result to the store in batches with the newer-wins upsert, so memory stays bounded whatever
the size. Re-running is harmless: with nothing new it does nothing, and after a crash half-way the same
records are sent again and the store keeps the newest. This works the same on a local or an ``s3://``
warehouse.

When rows went away offline — a delete (delete files, or rewritten files), an overwrite, a rollback, a
compaction — the entities of every changed file are read again from the current snapshot and put right
with :meth:`OnlineStore.reconcile`: an entity whose newest row was deleted gets its newest remaining
value although it is older, and one with no rows left is removed. Only a record written online after the
snapshot (written after the snapshot was committed) is left alone. A compaction re-sends the same values.

Without a previous run, or once its snapshot has expired, a run reads the whole table (``full=True`` does
so on purpose) with the newer-wins upsert, then, if the store held entities of the group before it,
compares the store's keys with the snapshot's in batches and removes the entities deleted offline before
it (a first run into an empty store skips that).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from mlake.features.groups import WRITE_TIME, FeatureGroup
from mlake.features.metastore import materializations_table
from mlake.features.online.base import OnlineRecord, OnlineStore
from mlake.tables.scan import duckdb_path, nan_option, schema_map
from mlake.tables.types import quote_ident, quote_literal

if TYPE_CHECKING:
    from mlake.lake import Lake

BATCH_ROWS = 50_000


@dataclass(frozen=True)
class MaterializeReport:
    group: str
    store: str
    from_snapshot: int | None
    to_snapshot: int | None
    incremental: bool
    rows_read: int
    entities_written: int
    seconds: float
    entities_removed: int = 0

    @property
    def up_to_date(self) -> bool:
        return self.from_snapshot == self.to_snapshot and self.rows_read == 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "up_to_date": self.up_to_date}

    def summary(self) -> str:
        if self.to_snapshot is None:
            return f"{self.group}: no offline data yet"
        if self.up_to_date:
            return f"{self.group}: online store already at snapshot {self.to_snapshot}"
        kind = "incremental" if self.incremental else "full"
        removed = f", removed {self.entities_removed:,}" if self.entities_removed else ""
        return (
            f"{self.group}: {kind} materialization read {self.rows_read:,} row(s), "
            f"wrote {self.entities_written:,} entit(ies){removed} in {self.seconds:.2f}s (snapshot {self.to_snapshot})"
        )


def last_materialized(lake: Lake, group: str, store: OnlineStore) -> int | None:
    with lake._core.metadata_engine.connect() as conn:
        row = conn.execute(
            sa.select(materializations_table.c.snapshot_id).where(
                (materializations_table.c.group_name == group) & (materializations_table.c.store == store.identity)
            )
        ).first()
    return int(row[0]) if row else None


def _record(lake: Lake, group: str, store: OnlineStore, snapshot_id: int, rows: int, written: int) -> None:
    cond = (materializations_table.c.group_name == group) & (materializations_table.c.store == store.identity)
    with lake._core.metadata_engine.begin() as conn:
        conn.execute(materializations_table.delete().where(cond))
        conn.execute(
            materializations_table.insert().values(
                group_name=group,
                store=store.identity,
                snapshot_id=snapshot_id,
                rows_read=rows,
                entities_written=written,
                at=datetime.now(UTC),
            )
        )


def forget_materializations(lake: Lake, group: str) -> None:
    with lake._core.metadata_engine.begin() as conn:
        conn.execute(materializations_table.delete().where(materializations_table.c.group_name == group))


def key_expression(group: FeatureGroup) -> str:
    """The online key in DuckDB: key values as text joined by the unit separator (see ``entity_key``)."""
    parts = [f"CAST({quote_ident(k)} AS VARCHAR)" for k in group.key_names]
    return parts[0] if len(parts) == 1 else f"concat_ws(chr(31), {', '.join(parts)})"


@dataclass
class _Plan:
    """What a run reads: rows to reduce and upsert (``source``), or, after deletes and rewrites offline,
    the entities to put right (``reconcile``: a SELECT of key, times and values, NULL values for
    entities with no rows left)."""

    source: str
    rows: int
    incremental: bool
    reconcile: str = ""


def _files_sql(paths: list[str], read_args: str) -> str:
    files = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    return f"(SELECT * FROM read_parquet({files}, {read_args}, hive_partitioning=false))"


def _plan(lake: Lake, group: FeatureGroup, snapshot_id: int, since: int | None) -> _Plan:
    tbl = lake.table(group.table_name).iceberg
    tasks = list(tbl.scan(snapshot_id=snapshot_id).plan_files())
    remote = lake.engine.connection is not None and lake.engine.remote  # can DuckDB open s3:// files?
    paths = {t.file.file_path: duckdb_path(t.file.file_path, remote) for t in tasks}
    readable = all(paths.values())
    read_args = f"schema={schema_map(tbl.schema())}{nan_option(tbl.schema())}"
    if since is not None and readable and tbl.snapshot_by_id(since) is not None:
        before = {
            t.file.file_path: {d.file_path for d in t.delete_files} for t in tbl.scan(snapshot_id=since).plan_files()
        }
        now = {t.file.file_path: {d.file_path for d in t.delete_files} for t in tasks}
        added = [f for f in now if f not in before]
        removed = [f for f in before if f not in now]
        redeleted = [f for f in now if f in before and now[f] != before[f]]
        if not removed and not redeleted and not any(now[f] for f in added):
            new = [t for t in tasks if t.file.file_path in set(added)]
            rows = sum(t.file.record_count for t in new)
            source = _files_sql([paths[f] or "" for f in added], read_args) if new else ""
            return _Plan(source, rows, True)
        # Rows were deleted or rewritten: the entities of every file that changed are read again from
        # the snapshot, whatever their times (an entity's newest row may be gone).
        changed = [duckdb_path(f, remote) for f in [*removed, *redeleted, *added]]
        if all(changed):
            view = lake.engine.view_for(group.table_name, snapshot_id)
            files = _files_sql([c or "" for c in changed], read_args)
            rows = sum(t.file.record_count for t in tasks if t.file.file_path in set(added) | set(redeleted))
            return _Plan("", rows, True, _reconcile_sql(group, view, files))
    if not tasks:
        return _Plan("", 0, False)
    if not readable or any(t.delete_files for t in tasks):
        view = lake.engine.view_for(group.table_name, snapshot_id)
        return _Plan(view, sum(t.file.record_count for t in tasks), False)
    return _Plan(
        _files_sql([p or "" for p in paths.values()], read_args), sum(t.file.record_count for t in tasks), False
    )


def _latest_sql(group: FeatureGroup, source: str, where: str = "") -> str:
    """The latest row per entity of ``source`` as (k, et, wt, v), in online-key order (stores then fill
    B-tree pages in sequence instead of at random: 10x faster for SQLite); the JSON is built after the
    sort, so the sort moves only the typed values and spills little."""
    values = ", ".join(f"{quote_literal(f.name)}: {quote_ident(f.name)}" for f in group.features)
    keys = ", ".join(quote_ident(k) for k in group.key_names)
    et = quote_ident(group.event_time)
    columns = ", ".join(quote_ident(f.name) for f in group.features)
    return (
        "SELECT k, et, wt, "
        f"CAST(to_json({{{values}}}) AS VARCHAR) AS v FROM ("
        f"SELECT {key_expression(group)} AS k, epoch_us({et}) AS et, epoch_us({WRITE_TIME}) AS wt, {columns} "
        f"FROM {source} {where}"
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {et} DESC, {WRITE_TIME} DESC) = 1 ORDER BY k)"
    )


def _reconcile_sql(group: FeatureGroup, view: str, changed_files: str) -> str:
    affected = f"SELECT DISTINCT {key_expression(group)} AS k FROM {changed_files}"
    latest = _latest_sql(group, view, f"WHERE {key_expression(group)} IN (SELECT k FROM __affected) ")
    return (
        f"WITH __affected AS MATERIALIZED ({affected}), __latest AS ({latest}) "
        "SELECT a.k, l.et, l.wt, l.v FROM __affected a LEFT JOIN __latest l ON a.k = l.k ORDER BY a.k"
    )


def materialize_group(
    lake: Lake, group: FeatureGroup, store: OnlineStore, *, full: bool = False, batch_rows: int = BATCH_ROWS
) -> MaterializeReport:
    """Bring ``store`` up to the group's current offline snapshot; see the module docstring."""
    started = time.perf_counter()
    table = lake.table(group.table_name)
    snap = table.iceberg.current_snapshot() if lake.table_exists(group.table_name) else None
    since = None if full else last_materialized(lake, group.name, store)
    if snap is None:
        return MaterializeReport(group.name, store.identity, since, None, False, 0, 0, 0.0)
    if since == snap.snapshot_id:
        return MaterializeReport(group.name, store.identity, since, since, True, 0, 0, time.perf_counter() - started)
    plan = _plan(lake, group, snap.snapshot_id, since)
    # Every row the snapshot holds or removed was written before it was committed: a stored record with a
    # later write time came from a write after it, and a reconciliation leaves it alone.
    known_until = (snap.timestamp_ms + 1) * 1000
    # A full run compares keys afterwards only when the store held entities of the group before it: one
    # into an empty store (the first run, or after drop_group) has nothing stale to remove.
    stale_possible = not plan.incremental and _has_keys(store, group.name)
    written = removed = 0
    sql = plan.reconcile or (_latest_sql(group, plan.source) if plan.source else "")
    if sql:
        result = lake.engine.run_internal(sql)
        with lake.progress.task(f"materialize {group.name}", total=None, unit="entities") as task:
            for batch in result.batches(batch_rows):
                cols = [batch.column(i).to_pylist() for i in range(4)]
                if plan.reconcile:
                    records = [OnlineRecord(k, et, wt, v) for k, et, wt, v in zip(*cols, strict=True) if v is not None]
                    gone = [k for k, v in zip(cols[0], cols[3], strict=True) if v is None]
                    store.reconcile(group.name, records, gone, known_until)
                    written, removed = written + len(records), removed + len(gone)
                else:
                    rows_: list[OnlineRecord] = list(zip(*cols, strict=True))  # type: ignore[arg-type]
                    store.upsert(group.name, rows_)
                    written += len(rows_)
                task.advance(len(cols[0]))
    if stale_possible:
        removed += _prune(lake, group, store, plan.source, known_until)
    rows, incremental = plan.rows, plan.incremental
    _record(lake, group.name, store, snap.snapshot_id, rows, written)
    return MaterializeReport(
        group.name,
        store.identity,
        since,
        snap.snapshot_id,
        incremental,
        rows,
        written,
        time.perf_counter() - started,
        removed,
    )


def _has_keys(store: OnlineStore, group: str) -> bool:
    keys = store.keys(group)
    try:
        return next(iter(keys), None) is not None
    finally:
        close = getattr(keys, "close", None)
        if close is not None:
            close()


def _prune(lake: Lake, group: FeatureGroup, store: OnlineStore, source: str, known_until: int) -> int:
    """After a full run: remove the entities the store has and the snapshot (``source``) has not — deleted
    offline before this run — except those written online after the snapshot. Online keys are compared in
    batches with the snapshot's keys in DuckDB, so memory stays bounded."""
    online = store.keys(group.name)
    batch = list(islice(online, _PRUNE_BATCH))
    if not batch:
        return 0
    empty = "SELECT CAST(NULL AS VARCHAR) AS k WHERE false"
    current = f"SELECT DISTINCT {key_expression(group)} AS k FROM {source}" if source else empty
    stale: list[str] = []
    with lake.engine.internal_cursor(current) as cur:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE __current_keys AS {current}")
        while batch:
            cur.register("__online_keys", pa.table({"k": pa.array(batch, pa.string())}))
            found = cur.execute("SELECT k FROM __online_keys ANTI JOIN __current_keys USING (k)").fetchall()
            stale += [r[0] for r in found]
            cur.unregister("__online_keys")
            batch = list(islice(online, _PRUNE_BATCH))
        cur.execute("DROP TABLE __current_keys")
    removed = 0
    for start in range(0, len(stale), _PRUNE_BATCH):  # after the scan of the store's keys has ended
        removed += store.reconcile(group.name, [], stale[start : start + _PRUNE_BATCH], known_until)
    return removed


_PRUNE_BATCH = 100_000
