"""Materialization: copy the latest values per entity from the offline store into the online store.

Incremental: for each (group, online store) the metastore keeps the offline snapshot materialized last.
A run reads only the data files that the current snapshot has and that snapshot had not (appends add
files; a compaction rewrites them, which re-sends values the newer-wins rule then ignores), reduces
them to the latest row per entity in DuckDB, and streams the result to the store in batches, so memory
stays bounded whatever the size. Re-running is harmless: with nothing new it does nothing, and after a
crash half-way the same records are sent again and the store keeps the newest. This works the same on a
local or an ``s3://`` warehouse; a snapshot with delete files (rows deleted from the offline table) is
read whole instead, as DuckDB's view of it must apply the deletes.

Rows deleted from the offline table (``lake.table("features.g").delete(...)``) are not deleted online:
the online store only ever moves forward. To make it forget, drop the group's online records
(``lake.features.online_store.drop_group(name)``) and materialize with ``full=True``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlake.features.groups import WRITE_TIME, FeatureGroup
from mlake.features.metastore import materializations_table
from mlake.features.online.base import OnlineRecord, OnlineStore
from mlake.tables.scan import duckdb_path, schema_map
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
        return (
            f"{self.group}: {kind} materialization read {self.rows_read:,} row(s), "
            f"wrote {self.entities_written:,} entit(ies) in {self.seconds:.2f}s (snapshot {self.to_snapshot})"
        )


def last_materialized(lake: Lake, group: str, store: OnlineStore) -> int | None:
    with lake.metadata_engine.connect() as conn:
        row = conn.execute(
            sa.select(materializations_table.c.snapshot_id).where(
                (materializations_table.c.group_name == group) & (materializations_table.c.store == store.identity)
            )
        ).first()
    return int(row[0]) if row else None


def _record(lake: Lake, group: str, store: OnlineStore, snapshot_id: int, rows: int, written: int) -> None:
    cond = (materializations_table.c.group_name == group) & (materializations_table.c.store == store.identity)
    with lake.metadata_engine.begin() as conn:
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
    with lake.metadata_engine.begin() as conn:
        conn.execute(materializations_table.delete().where(materializations_table.c.group_name == group))


def key_expression(group: FeatureGroup) -> str:
    """The online key in DuckDB: key values as text joined by the unit separator (see ``entity_key``)."""
    parts = [f"CAST({quote_ident(k)} AS VARCHAR)" for k in group.key_names]
    return parts[0] if len(parts) == 1 else f"concat_ws(chr(31), {', '.join(parts)})"


def _source(lake: Lake, group: FeatureGroup, snapshot_id: int, since: int | None) -> tuple[str, int, bool]:
    """SQL over the rows to send, the number of rows it reads, and whether it is incremental."""
    tbl = lake.table(group.table_name).iceberg
    tasks = list(tbl.scan(snapshot_id=snapshot_id).plan_files())
    remote = lake.engine.connection is not None and lake.engine.remote  # can DuckDB open s3:// files?
    fast = all(not t.delete_files and duckdb_path(t.file.file_path, remote) for t in tasks)
    old: set[str] = set()
    incremental = False
    if since is not None and fast and tbl.snapshot_by_id(since) is not None:
        old = {t.file.file_path for t in tbl.scan(snapshot_id=since).plan_files()}
        incremental = True
    if not fast:
        view = lake.engine.view_for(group.table_name, snapshot_id)
        return view, sum(t.file.record_count for t in tasks), False
    new = [t for t in tasks if t.file.file_path not in old]
    rows = sum(t.file.record_count for t in new)
    if not new:
        return "", 0, incremental
    files = "[" + ", ".join(quote_literal(duckdb_path(t.file.file_path, remote) or "") for t in new) + "]"
    sql = f"(SELECT * FROM read_parquet({files}, schema={schema_map(tbl.schema())}, hive_partitioning=false))"
    return sql, rows, incremental


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
    source, rows, incremental = _source(lake, group, snap.snapshot_id, since)
    written = 0
    if source:
        values = ", ".join(f"{quote_literal(f.name)}: {quote_ident(f.name)}" for f in group.features)
        keys = ", ".join(quote_ident(k) for k in group.key_names)
        et = quote_ident(group.event_time)
        columns = ", ".join(quote_ident(f.name) for f in group.features)
        # Latest row per entity, in online-key order (stores then fill B-tree pages in sequence instead of
        # at random: 10x faster for SQLite); the JSON is built after the sort, so the sort moves only
        # the typed values and spills little.
        sql = (
            "SELECT k, et, wt, "
            f"CAST(to_json({{{values}}}) AS VARCHAR) AS v FROM ("
            f"SELECT {key_expression(group)} AS k, epoch_us({et}) AS et, epoch_us({WRITE_TIME}) AS wt, {columns} "
            f"FROM {source} "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {et} DESC, {WRITE_TIME} DESC) = 1 ORDER BY k)"
        )
        result = lake.engine.run_internal(sql)
        with lake.progress.task(f"materialize {group.name}", total=None, unit="entities") as task:
            for batch in result.batches(batch_rows):
                cols = [batch.column(i).to_pylist() for i in range(4)]
                records: list[OnlineRecord] = list(zip(*cols, strict=True))  # type: ignore[arg-type]
                store.upsert(group.name, records)
                written += len(records)
                task.advance(len(records))
    _record(lake, group.name, store, snap.snapshot_id, rows, written)
    return MaterializeReport(
        group.name, store.identity, since, snap.snapshot_id, incremental, rows, written, time.perf_counter() - started
    )
