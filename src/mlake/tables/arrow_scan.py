"""Reading Iceberg tables into a DuckDB database that may open no file: scans registered from Python.

The sandboxed database that runs a principal's SQL has external access disabled entirely, so it cannot
``read_parquet`` the tables' data files the way the owner's views do (:mod:`mlake.tables.scan`). Its
views read the same files through ``pyarrow.dataset`` scans registered on the database from Python:
DuckDB pushes the columns a query needs and its filters into the dataset scanner, which streams record
batches, so memory stays bounded and pruning still works. Python opens the files; SQL never names one.

The files are those of Iceberg's scan planning (the snapshot asked for, partition and statistics
pruning). Columns are matched by Iceberg *field id*, read from each file's Parquet footer: files written
with the same physical columns share one dataset, whose columns are renamed, cast (a widened type) or
filled with NULL (a column added later) to the schema read, and the datasets are joined with UNION ALL.
Files with position deletes, and tables the dataset path does not cover (nested or UUID/fixed columns,
files without field ids, other formats, object storage), are read by pyiceberg's own reader, which
applies deletes and schema evolution, and registered as an Arrow table (in memory, as the owner's
fallback is).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFileContent, FileFormat
from pyiceberg.schema import Schema
from pyiceberg.table import Table as IcebergTable
from pyiceberg.types import FixedType, UUIDType

from mlake.errors import SqlError
from mlake.tables.scan import empty_select, local_path, plan_files
from mlake.tables.types import duckdb_type, is_flat, quote_ident

if TYPE_CHECKING:
    from pyiceberg.table import FileScanTask

_FIELD_ID = b"PARQUET:field_id"

# The physical columns of one file that the schema read needs: (field id, name in the file, Arrow type).
PhysicalColumns = tuple[tuple[int, str, pa.DataType], ...]


@dataclass
class ArrowScanPlan:
    """What a DuckDB view needs to read one table at one snapshot without opening files itself.

    ``sources`` are the objects to register on the database (a ``pyarrow.dataset.Dataset`` or an Arrow
    table) under the names ``sql`` reads them by (in DuckDB's ``main`` schema).
    """

    schema: Schema
    snapshot_id: int | None
    sql: str
    sources: dict[str, pads.Dataset | pa.Table] = field(default_factory=dict)
    files: int = 0
    delete_files: int = 0
    file_bytes: int = 0  # the data files' total size: what copying the table into the database would read


@lru_cache(maxsize=4096)
def _file_columns(path: str) -> dict[int, tuple[str, pa.DataType]]:
    """Field id -> (column name, Arrow type) of the top-level columns of one Parquet file (footer only;
    data files never change, so the answer is cached)."""
    out: dict[int, tuple[str, pa.DataType]] = {}
    for f in pq.read_schema(path):
        raw = (f.metadata or {}).get(_FIELD_ID)
        if raw is not None:
            out[int(raw)] = (f.name, f.type)
    return out


def _datasets_possible(table: IcebergTable, schema: Schema, tasks: list[FileScanTask]) -> bool:
    if not is_flat(schema) or not schema.fields:
        return False
    if any(isinstance(f.field_type, UUIDType | FixedType) for f in schema.fields):
        return False  # Parquet's FIXED_LEN_BYTE_ARRAY reaches DuckDB as BLOB, not as the type read
    if table.metadata.properties.get("schema.name-mapping.default"):
        return False  # files added without field ids are matched by name: pyiceberg knows how
    for task in tasks:
        if task.file.file_format != FileFormat.PARQUET or local_path(task.file.file_path) is None:
            return False
        if any(d.content != DataFileContent.POSITION_DELETES for d in task.delete_files):
            return False
    return True


def _physical(path: str, schema: Schema) -> PhysicalColumns | None:
    """The columns of ``schema`` that the file at ``path`` holds (None: a file without field ids)."""
    columns = _file_columns(path)
    if not columns:
        return None
    return tuple((f.field_id, *columns[f.field_id]) for f in schema.fields if f.field_id in columns)


def _select(schema: Schema, source: str, present: dict[int, str]) -> str:
    """``SELECT`` the columns of ``schema`` from ``source``: those ``present`` (field id -> name there)
    cast to the type read (a no-op when equal, so filters still push down), the others as NULL. Nested
    columns come from pyiceberg's reader already in the type read and are taken as they are."""
    cols = []
    for f in schema.fields:
        target = duckdb_type(f.field_type)
        if f.field_id in present and not f.field_type.is_primitive:
            cols.append(f"{quote_ident(present[f.field_id])} AS {quote_ident(f.name)}")
        elif f.field_id in present:
            cols.append(f"CAST({quote_ident(present[f.field_id])} AS {target}) AS {quote_ident(f.name)}")
        else:
            cols.append(f"NULL::{target} AS {quote_ident(f.name)}")
    return f"SELECT {', '.join(cols)} FROM main.{quote_ident(source)}"


def _scan_name() -> str:
    return f"__mlake_scan_{uuid.uuid4().hex}"


def plan_arrow_scan(
    table: IcebergTable,
    snapshot_id: int | None = None,
    row_filter: BooleanExpression | None = None,
    added_since: int | None = None,
) -> ArrowScanPlan:
    """Plan a read of ``table`` at ``snapshot_id`` (default: current) through registered scans.

    The row filter only prunes files, as in :func:`mlake.tables.scan.plan_scan`.
    """
    schema, snap_id, tasks = plan_files(table, snapshot_id, row_filter, added_since)
    plan = ArrowScanPlan(
        schema=schema,
        snapshot_id=snap_id,
        sql=empty_select(schema),
        files=len(tasks),
        delete_files=len({d.file_path for t in tasks for d in t.delete_files}),
        file_bytes=sum(t.file.file_size_in_bytes for t in tasks),
    )
    if not tasks:
        return plan
    by_id = {f.field_id: f.name for f in schema.fields}
    groups: dict[PhysicalColumns, list[str]] = {}
    pyiceberg_tasks: list[FileScanTask] = []
    if _datasets_possible(table, schema, tasks):
        for task in tasks:
            path = local_path(task.file.file_path) or ""
            physical = None if task.delete_files else _physical(path, schema)
            if physical:
                groups.setdefault(physical, []).append(path)
            else:  # deletes to apply, or a file holding none of the columns read: pyiceberg reads it
                pyiceberg_tasks.append(task)
    else:
        pyiceberg_tasks = tasks
    selects = _register_groups(plan, groups)
    if pyiceberg_tasks:
        name = _scan_name()
        plan.sources[name] = ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table(pyiceberg_tasks)
        selects.append(_select(schema, name, by_id))
    plan.sql = " UNION ALL ".join(selects)
    return plan


def _register_groups(plan: ArrowScanPlan, groups: dict[PhysicalColumns, list[str]]) -> list[str]:
    """One dataset per group of files with the same physical columns, added to ``plan.sources``; the
    SELECT of each over the schema read."""
    selects = []
    for physical, paths in groups.items():
        name = _scan_name()
        plan.sources[name] = pads.FileSystemDataset.from_paths(
            paths,
            schema=pa.schema([pa.field(col, dtype) for _, col, dtype in physical]),
            format=pads.ParquetFileFormat(),
            filesystem=pafs.LocalFileSystem(),
        )
        selects.append(_select(plan.schema, name, {fid: col for fid, col, _ in physical}))
    return selects


def plan_file_scan(uris: list[str], schema: Schema) -> ArrowScanPlan:
    """Plan a read of Parquet data files mlake wrote but has not committed (an ingest's staged batch)."""
    plan = ArrowScanPlan(schema=schema, snapshot_id=None, sql=empty_select(schema), files=len(uris))
    groups: dict[PhysicalColumns, list[str]] = {}
    for uri in uris:
        path = local_path(uri)
        physical = _physical(path, schema) if path is not None and is_flat(schema) else None
        if path is None or not physical:
            raise SqlError(
                f"The staged file {uri} cannot be read here (remote, nested or without field ids)",
                hint="a principal's checks of staged data need local, flat Parquet files",
            )
        groups.setdefault(physical, []).append(path)
    if groups:
        plan.sql = " UNION ALL ".join(_register_groups(plan, groups))
    return plan


__all__ = ["ArrowScanPlan", "plan_arrow_scan", "plan_file_scan"]
