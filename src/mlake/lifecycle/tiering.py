"""Tiering: move data files whose rows are all older than a cutoff to a colder location.

Iceberg records every data file by its absolute path, so a file may live anywhere the table's FileIO
reaches — another folder, another bucket. A tiered file is the same rows rewritten (one file into one
file, so its partition is unchanged) with a higher zstd level under ``<tier>/<namespace>/<table>/data/``,
swapped in for the original with one commit that checks the original is still live. Every reader —
SQL, scans, time travel to the new snapshot — sees one table; older snapshots still read the original
until they expire and orphan removal deletes it.

Which files are old enough is read from the manifests' column bounds: a file qualifies when the upper
bound of the time column is before the cutoff. Files with row-level deletes are left alone (a delete
rewrites them first).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from pyiceberg.conversions import from_bytes
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table as IcebergTable
from pyiceberg.types import DateType, PrimitiveType, TimestampType, TimestamptzType

from mlake.errors import ValidationError
from mlake.maintenance import swap_files
from mlake.tables.lineage import WriteRecord
from mlake.tables.names import TableName
from mlake.tables.table import Table

if TYPE_CHECKING:
    from mlake.lake import Lake


@dataclass
class TierPlan:
    files: list[DataFile]
    root: str  # where the tiered files go

    @property
    def bytes(self) -> int:
        return sum(f.file_size_in_bytes for f in self.files)


def tier_root(location: str, name: TableName) -> str:
    """The table's folder in the tier: ``<location>/<namespace>/<table>``, as a URI."""
    base = location.rstrip("/")
    if "://" not in base:
        base = "file://" + base
    return f"{base}/{name.namespace}/{name.name}"


def check_tier_location(lake: Lake, location: str) -> None:
    """A tier must be reachable by the readers of the warehouse: a local folder for a local warehouse,
    an s3:// prefix for an object-store one (DuckDB and pyiceberg read both through the same settings)."""
    local_warehouse = lake.settings.local_warehouse_path() is not None
    local_tier = location.startswith("file://") or "://" not in location
    if local_warehouse != local_tier:
        raise ValidationError(
            f"Cannot tier to {location!r}: the warehouse is {'local' if local_warehouse else 'in object storage'}",
            hint="use a folder for a local warehouse, an s3://bucket/prefix for an object-store one",
        )


def cutoff_value(field_type: Any, cutoff: datetime) -> int:
    if isinstance(field_type, DateType):
        return (cutoff.date() - date(1970, 1, 1)).days
    if isinstance(field_type, TimestamptzType):
        return int(cutoff.timestamp() * 1_000_000)
    if isinstance(field_type, TimestampType):
        return int(cutoff.replace(tzinfo=UTC).timestamp() * 1_000_000)
    raise ValidationError(f"Cannot age rows by a column of type {field_type}", hint="choose a date or timestamp column")


def plan_tiering(tbl: IcebergTable, name: TableName, column: str, older_than_days: float, location: str) -> TierPlan:
    """The live data files whose rows are all older than the cutoff and not yet in the tier."""
    root = tier_root(location, name)
    try:
        field = tbl.schema().find_field(column)
    except ValueError as exc:
        raise ValidationError(f"Table {name} has no column {column!r} to age rows by") from exc
    limit = cutoff_value(field.field_type, datetime.now(UTC) - timedelta(days=older_than_days))
    files: list[DataFile] = []
    if tbl.current_snapshot() is None:
        return TierPlan(files, root)
    for task in tbl.scan().plan_files():
        f = task.file
        if task.delete_files or f.file_path.startswith(root) or f.spec_id != tbl.spec().spec_id:
            continue  # deletes are applied by rewriting first; older partition specs are left as they are
        upper = (f.upper_bounds or {}).get(field.field_id)
        if upper is None:
            continue
        if isinstance(field.field_type, PrimitiveType) and int(from_bytes(field.field_type, upper)) < limit:
            files.append(f)
    return TierPlan(files, root)


def tier_files(lake: Lake, name: TableName, plan: TierPlan, zstd_level: int) -> tuple[int, int]:
    """Rewrite the planned files into the tier and swap them in; returns (files moved, bytes written)."""
    if not plan.files:
        return 0, 0
    handle = lake.table(name)
    tbl = handle.iceberg
    write = WriteRecord(
        write_id=uuid.uuid4().hex,
        table=str(name),
        operation="tier",
        actor=lake.settings.user,
        command=f"maintain: tier {len(plan.files)} file(s) to {plan.root}",
    )
    new: list[DataFile] = []
    try:
        for old in plan.files:
            data = pq.read_table(tbl.io.new_input(old.file_path).open())
            path = f"{plan.root}/data/{write.write_id[:12]}-{uuid.uuid4().hex[:12]}.parquet"
            with tbl.io.new_output(path).create(overwrite=False) as out:
                pq.write_table(data, out, compression="zstd", compression_level=zstd_level)
            written = parquet_file_to_data_file(tbl.io, tbl.metadata, path)
            written.spec_id = old.spec_id
            new.append(written)
        swap_files(lake, name, plan.files, new, Table.snapshot_properties(write))
    except BaseException:
        for f in new:
            tbl.io.delete(f.file_path)
        raise
    write.rows_written = sum(f.record_count for f in new)
    snap = handle.iceberg.current_snapshot()
    write.snapshot_id = snap.snapshot_id if snap else None
    lake._core.lineage_store.record(write)
    return len(new), sum(f.file_size_in_bytes for f in new)
