"""Reading Iceberg tables with DuckDB, correctly and fast.

The files a read must see come from Iceberg's scan planning (manifests, partition and column-stats
pruning, the snapshot asked for), never from listing folders. DuckDB then reads exactly those files with
``read_parquet(..., schema=MAP{field_id: {name, type}})``: columns are matched by Iceberg *field id*, so
a renamed column gets its new name, a dropped column disappears, an added column reads as NULL in
older files and a widened column is cast — the same answers pyiceberg's own reader gives, which the
test suite checks on random schema histories. Position-delete files are applied as an anti-join on
(file, row position). Cases this path does not cover (equality deletes, deletion vectors, nested
columns, files written without field ids, object storage DuckDB cannot open) fall back to pyiceberg's
reader, materialised as Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestContent, ManifestEntryStatus
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask
from pyiceberg.table import Table as IcebergTable
from pyiceberg.table.snapshots import Operation
from pyiceberg.types import DoubleType, FloatType

from mlake.tables.types import duckdb_type, is_flat, quote_ident, quote_literal


@dataclass
class ScanSource:
    """What a DuckDB view needs to read one table at one snapshot.

    Exactly one of ``sql`` (a SELECT over the data files) and ``arrow`` (fallback data) is set.
    """

    schema: Schema
    snapshot_id: int | None
    sql: str | None = None
    arrow: pa.Table | None = None
    files: int = 0
    delete_files: int = 0

    @property
    def fast(self) -> bool:
        return self.sql is not None


def local_path(uri: str) -> str | None:
    """The local path of a ``file://`` URI or plain path; None for object storage."""
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if "://" not in uri:
        return uri
    return None


def duckdb_path(uri: str, remote: bool = False) -> str | None:
    """A path DuckDB can open: local files always; ``s3://`` objects when ``remote`` (an fsspec
    filesystem is registered on the connection)."""
    path = local_path(uri)
    if path is not None:
        return path
    if remote and uri.startswith(("s3://", "s3a://", "s3n://")):
        return "s3://" + uri.split("://", 1)[1]
    return None


def empty_select(schema: Schema) -> str:
    cols = ", ".join(f"NULL::{duckdb_type(f.field_type)} AS {quote_ident(f.name)}" for f in schema.fields)
    return f"SELECT {cols or 'NULL AS _empty'} WHERE false"


def schema_map(schema: Schema) -> str:
    """The ``schema=`` argument of read_parquet: field id -> name and type."""
    entries = ", ".join(
        f"{f.field_id}: {{name: {quote_literal(f.name)}, type: {quote_literal(duckdb_type(f.field_type))}, "
        f"default_value: NULL}}"
        for f in schema.fields
    )
    return f"MAP {{{entries}}}"


def nan_option(schema: Schema) -> str:
    """``, can_have_nan=true`` when ``schema`` has a floating-point column, else nothing.

    Parquet writers leave NaN out of a column's min/max (the spec says so), and pyiceberg records no
    ``nan_value_counts``, so nothing tells DuckDB a file holds NaN; by default DuckDB then prunes on
    those bounds and ``WHERE isnan(x)`` or ``x > 5`` silently drops the NaN rows. Only float columns can
    hold NaN, so only their tables pay the (small) loss of pruning on unbounded-above ranges.
    """
    floating = any(isinstance(f.field_type, (FloatType, DoubleType)) for f in schema.fields)
    return ", can_have_nan=true" if floating else ""


def _file_list(paths: list[str]) -> str:
    return "[" + ", ".join(quote_literal(p) for p in paths) + "]"


def _fast_path_possible(table: IcebergTable, schema: Schema, tasks: list[FileScanTask], remote: bool) -> bool:
    if not is_flat(schema) or not schema.fields:
        return False
    if table.metadata.properties.get("schema.name-mapping.default"):
        return False  # files added without field ids are matched by name: pyiceberg knows how
    for task in tasks:
        if task.file.file_format != FileFormat.PARQUET or duckdb_path(task.file.file_path, remote) is None:
            return False
        for d in task.delete_files:
            if d.content != DataFileContent.POSITION_DELETES or d.file_format != FileFormat.PARQUET:
                return False
            if duckdb_path(d.file_path, remote) is None:
                return False
    return True


def appended_files(table: IcebergTable, since: int, snapshot_id: int) -> list[DataFile] | None:
    """The data files the snapshots after ``since`` up to ``snapshot_id`` added, when those snapshots are
    all appends of the same schema; None otherwise.

    Then the rows of ``snapshot_id`` beyond those of ``since`` are exactly these files' rows: an append
    rewrites and deletes nothing, and no delete file can apply to a data file committed after it. None
    when ``since`` is not an ancestor of ``snapshot_id`` (a rollback), when a snapshot in between
    deleted, overwrote or replaced files, or when the schema changed (the caller's own rule decides
    then). Only manifests are read, and of them only those the new snapshots wrote.
    """
    if since == snapshot_id:
        return []
    chain = []
    snap = table.snapshot_by_id(snapshot_id)
    while snap is not None and snap.snapshot_id != since:
        if snap.summary is None or snap.summary.operation != Operation.APPEND:
            return None
        chain.append(snap)
        snap = table.snapshot_by_id(snap.parent_snapshot_id) if snap.parent_snapshot_id is not None else None
    if snap is None or any(s.schema_id != snap.schema_id for s in chain):
        return None
    files: list[DataFile] = []
    for s in reversed(chain):
        for manifest in s.manifests(table.io):
            if manifest.content != ManifestContent.DATA or manifest.added_snapshot_id != s.snapshot_id:
                continue
            files += [
                e.data_file
                for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
                if e.status == ManifestEntryStatus.ADDED and e.snapshot_id == s.snapshot_id
            ]
    return files


def plan_files(
    table: IcebergTable,
    snapshot_id: int | None,
    row_filter: BooleanExpression | None,
    added_since: int | None = None,
) -> tuple[Schema, int | None, list[FileScanTask]]:
    """The schema read, the snapshot id (None: an empty table) and the file tasks of one read of
    ``table``: Iceberg's scan planning, shared by the owner's views and the sandbox's registered scans.

    ``added_since``: only the data files appended after that snapshot (see :func:`appended_files`; a
    :class:`ValueError` when the history in between is not append-only — ask that function first). The
    row filter then prunes nothing (the caller still applies it)."""
    scan = table.scan(snapshot_id=snapshot_id, row_filter=row_filter or AlwaysTrue())
    snapshot = scan.snapshot()
    if snapshot is None:
        return scan.projection(), None, []
    if added_since is not None:
        files = appended_files(table, added_since, snapshot.snapshot_id)
        if files is None:
            raise ValueError(f"snapshots after {added_since} up to {snapshot.snapshot_id} are not all appends")
        return scan.projection(), snapshot.snapshot_id, [FileScanTask(f) for f in files]
    return scan.projection(), snapshot.snapshot_id, list(scan.plan_files())


def plan_scan(
    table: IcebergTable,
    snapshot_id: int | None = None,
    row_filter: BooleanExpression | None = None,
    remote: bool = False,
    added_since: int | None = None,
) -> ScanSource:
    """Plan a read of ``table`` at ``snapshot_id`` (default: current), pruned by ``row_filter``.

    The row filter only prunes files; the caller still applies its full predicate in DuckDB. ``remote``
    says the DuckDB connection can open ``s3://`` paths. ``added_since``: only the files appended after
    that snapshot (see :func:`plan_files`).
    """
    schema, snap_id, tasks = plan_files(table, snapshot_id, row_filter, added_since)
    if snap_id is None:
        return ScanSource(schema=schema, snapshot_id=None, sql=empty_select(schema))
    if not _fast_path_possible(table, schema, tasks, remote):
        return ScanSource(
            schema=schema,
            snapshot_id=snap_id,
            arrow=(
                table.scan(snapshot_id=snapshot_id, row_filter=row_filter or AlwaysTrue()).to_arrow()
                if added_since is None
                else ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table(tasks)
            ),
            files=len(tasks),
            delete_files=sum(len(t.delete_files) for t in tasks),
        )
    if not tasks:
        return ScanSource(schema=schema, snapshot_id=snap_id, sql=empty_select(schema))

    paths = [duckdb_path(t.file.file_path, remote) or "" for t in tasks]
    columns = ", ".join(quote_ident(f.name) for f in schema.fields)
    delete_paths = sorted({duckdb_path(d.file_path, remote) or "" for t in tasks for d in t.delete_files})
    reader = (
        f"read_parquet({_file_list(paths)}, schema={schema_map(schema)}, hive_partitioning=false"
        + nan_option(schema)
        + (", filename=true, file_row_number=true" if delete_paths else "")
        + ")"
    )
    if not delete_paths:
        sql = f"SELECT {columns} FROM {reader}"
    else:
        # Iceberg position deletes name data files by URI; DuckDB reports the path it was given.
        deletes = (
            f"SELECT CASE WHEN file_path LIKE 'file://%' THEN substr(file_path, 8) ELSE file_path END AS path,"
            f" pos FROM read_parquet({_file_list(delete_paths)}, hive_partitioning=false)"
        )
        sql = (
            f"SELECT {columns} FROM {reader} AS __data ANTI JOIN ({deletes}) AS __del "
            f"ON __data.filename = __del.path AND __data.file_row_number = __del.pos"
        )
    return ScanSource(
        schema=schema,
        snapshot_id=snap_id,
        sql=sql,
        files=len(tasks),
        delete_files=len(delete_paths),
    )
