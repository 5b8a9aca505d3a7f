"""Table maintenance: expire old snapshots, compact small files, remove orphaned files.

pyiceberg expires snapshots (from metadata only) but neither compacts nor deletes files, so both are
built here:

- **Compaction** bin-packs a partition's small data files into files near the target size. The new
  files are written by DuckDB (or pyiceberg's writer for partitioned tables) and swapped in with one
  commit that checks every replaced file is still live, so a concurrent delete is never undone.
- **Orphan removal** deletes files under the table's folder that no remaining snapshot or metadata
  references (what expiry, failed writes and compaction leave behind), sparing files younger than a
  grace period so in-flight writes are safe.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile, ManifestEntryStatus, ManifestFile
from pyiceberg.table import Table as IcebergTable
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update import AssertRefSnapshotId, AssertTableUUID, RemoveSnapshotsUpdate

from mlake.errors import CommitConflictError, ValidationError
from mlake.tables.lineage import WriteRecord
from mlake.tables.names import TableName
from mlake.tables.scan import duckdb_path, local_path, nan_option, schema_map
from mlake.tables.table import Table
from mlake.tables.types import quote_ident, quote_literal
from mlake.tables.writer import can_write_with_duckdb, remove_files, with_retries, write_arrow, write_duckdb

if TYPE_CHECKING:
    from mlake.lake import Lake

DEFAULT_TARGET_BYTES = 256 * 1024 * 1024


@dataclass
class MaintenanceReport:
    table: str
    snapshots_expired: int = 0
    files_compacted: int = 0
    files_written: int = 0
    orphans_removed: int = 0
    bytes_freed: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def parse_duration(text: str | timedelta) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``45s`` (or a timedelta) as a timedelta."""
    if isinstance(text, timedelta):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not m:
        raise ValidationError(f"Cannot read duration {text!r}", hint="use e.g. 45s, 30m, 12h, 7d or 2w")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: float(m.group(1))})


def maintain_table(
    lake: Lake,
    name: TableName,
    *,
    expire_older_than: timedelta | str = "7d",
    retain_last: int = 5,
    compact: bool = True,
    remove_orphans: bool = True,
    orphan_grace: timedelta | str = "1h",
    target_file_bytes: int = DEFAULT_TARGET_BYTES,
) -> MaintenanceReport:
    started = time.perf_counter()
    report = MaintenanceReport(str(name))
    if compact:
        compact_table(lake, name, report, target_file_bytes)
    report.snapshots_expired = expire_snapshots(lake, name, parse_duration(expire_older_than), retain_last)
    if remove_orphans:
        removed, freed = remove_orphan_files(lake, name, parse_duration(orphan_grace))
        report.orphans_removed, report.bytes_freed = removed, freed
    report.seconds = time.perf_counter() - started
    return report


# --- expiry ------------------------------------------------------------------------------------------


def pinned_snapshots(lake: Lake, name: TableName, tbl: IcebergTable | None = None) -> dict[int, str]:
    """The snapshots of ``name`` that must outlive expiry, each with why: read by a saved training set
    (which rebuilds from exactly those snapshots) or held by an Iceberg tag or branch."""
    import json

    import sqlalchemy as sa

    from mlake.features.metastore import training_sets_table

    tbl = tbl if tbl is not None else lake.iceberg_table(name)
    pins: dict[int, str] = {
        ref.snapshot_id: f"{getattr(ref.snapshot_ref_type, 'value', ref.snapshot_ref_type)} {ref_name}"
        for ref_name, ref in tbl.refs().items()
        if ref_name != "main"  # the current snapshot: never expired anyway
    }
    table = str(name)
    query = sa.select(training_sets_table.c.id, training_sets_table.c.name, training_sets_table.c.snapshots,
                      training_sets_table.c.entities)  # fmt: skip
    with lake._core.metadata_engine.connect() as conn:
        for row in conn.execute(query):
            label = f"training set {row.name or row.id}"
            snap = json.loads(row.snapshots).get(table)
            entities = json.loads(row.entities)
            if snap is not None:
                pins.setdefault(int(snap), label)
            if entities.get("table") == table and entities.get("snapshot_id") is not None:
                pins.setdefault(int(entities["snapshot_id"]), label)
    return pins


def snapshots_to_expire(tbl: IcebergTable, older_than: timedelta, retain_last: int, pinned: set[int]) -> list[int]:
    """The snapshots expiry would remove: older than ``older_than``, not among the newest ``retain_last``
    of the current history (the current one always stays), and not ``pinned``."""
    cutoff_ms = int((datetime.now(UTC) - older_than).timestamp() * 1000)
    keep: set[int] = set()
    snap = tbl.current_snapshot()
    while snap is not None and len(keep) < max(retain_last, 1):
        keep.add(snap.snapshot_id)
        snap = tbl.snapshot_by_id(snap.parent_snapshot_id) if snap.parent_snapshot_id else None
    protected = {ref.snapshot_id for ref in tbl.metadata.refs.values()} | pinned
    return [
        s.snapshot_id
        for s in tbl.snapshots()
        if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep and s.snapshot_id not in protected
    ]


def expire_snapshots(lake: Lake, name: TableName, older_than: timedelta, retain_last: int = 5) -> int:
    """Expire snapshots older than ``older_than``, always keeping the newest ``retain_last`` of the
    current history, the current snapshot, and every snapshot a training set or a tag pins
    (:func:`pinned_snapshots`). Time travel to expired snapshots is then impossible."""
    expired: list[int] = []

    def attempt(tbl: IcebergTable) -> None:
        ids = snapshots_to_expire(tbl, older_than, retain_last, set(pinned_snapshots(lake, name, tbl)))
        expired[:] = ids
        if ids:
            # One RemoveSnapshots commit, guarded by the main branch's head: pyiceberg's by_ids() deep-copies
            # the whole table metadata twice per snapshot id (minutes on a table of 1,000 snapshots).
            current = tbl.current_snapshot()
            requirements = (
                AssertTableUUID(uuid=tbl.metadata.table_uuid),
                AssertRefSnapshotId.model_validate(
                    {"ref": "main", "snapshot-id": current.snapshot_id if current else None}
                ),
            )
            remove = RemoveSnapshotsUpdate.model_validate({"snapshot-ids": ids})
            tbl.catalog.commit_table(tbl, requirements, (remove,))

    with_retries(lake.catalog_for_write(name, "alter"), name.identifier, attempt, lake.settings.commit_retries)
    return len(expired)


# --- reading manifests once -------------------------------------------------------------------------

# Manifest lists and manifests are immutable files with unique names, so what they list is cached by path:
# a maintenance run reads a table's manifests in several passes (usage before and after, what expiry frees,
# what is referenced), and a table of 1,000 snapshots has 1,000 manifest lists naming up to 1,000 manifests
# each — pyiceberg's own cache holds 128. Bounded by the number of entries kept.
_LISTS: dict[str, list[ManifestFile]] = {}
_ENTRIES: dict[str, list[tuple[str, int]]] = {}
_CACHE_LIMIT = 2_000_000
_cached = [0]


def _keep_bounded(size: int) -> None:
    _cached[0] += size
    if _cached[0] > _CACHE_LIMIT:
        _LISTS.clear()
        _ENTRIES.clear()
        _cached[0] = size


def snapshot_manifests(io: FileIO, snap: Snapshot) -> list[ManifestFile]:
    """The manifests a snapshot's manifest list names."""
    found = _LISTS.get(snap.manifest_list)
    if found is None:
        found = snap.manifests(io)
        _keep_bounded(len(found))
        _LISTS[snap.manifest_list] = found
    return found


def manifest_files(io: FileIO, manifest: ManifestFile) -> list[tuple[str, int]]:
    """The (path, size) of the data and delete files a manifest holds live (added or existing)."""
    found = _ENTRIES.get(manifest.manifest_path)
    if found is None:
        found = [
            (e.data_file.file_path, e.data_file.file_size_in_bytes)
            for e in manifest.fetch_manifest_entry(io, discard_deleted=False)
            if e.status != ManifestEntryStatus.DELETED
        ]
        _keep_bounded(len(found))
        _ENTRIES[manifest.manifest_path] = found
    return found


# --- orphans -----------------------------------------------------------------------------------------


def referenced_files(tbl: IcebergTable) -> set[str]:
    """Every file the table's metadata still needs, as local paths."""
    refs: set[str] = set()
    meta = tbl.metadata
    if tbl.metadata_location:
        refs.add(tbl.metadata_location)
    refs.update(entry.metadata_file for entry in meta.metadata_log)
    refs.update(s.statistics_path for s in meta.statistics)
    io = tbl.io
    for snap in meta.snapshots:
        refs.add(snap.manifest_list)
        for manifest in snapshot_manifests(io, snap):
            refs.add(manifest.manifest_path)
            refs.update(path for path, _ in manifest_files(io, manifest))
    return {_strip_scheme(r) for r in refs if r}


def _strip_scheme(uri: str) -> str:
    """``file:///a/b`` → ``/a/b``; ``s3://bucket/k`` → ``bucket/k`` (as fsspec lists them)."""
    return uri.split("://", 1)[1] if "://" in uri else uri


def _filesystem(lake: Lake, location: str) -> Any:
    if location.startswith("file://") or "://" not in location:
        import fsspec

        return fsspec.filesystem("file")
    from mlake.storage import s3_filesystem

    return s3_filesystem(lake.settings)


def _mtime(info: dict[str, Any]) -> float:
    value = info.get("mtime", info.get("LastModified", info.get("created", 0)))
    return value.timestamp() if isinstance(value, datetime) else float(value or 0)


def list_files(lake: Lake, location: str) -> dict[str, dict[str, Any]]:
    """Every file under ``location`` (a local folder or an object-store prefix), by scheme-less path."""
    fs = _filesystem(lake, location)
    try:
        found: dict[str, dict[str, Any]] = fs.find(_strip_scheme(location), detail=True)
    except FileNotFoundError:
        return {}
    return {p: info for p, info in found.items() if info.get("type") != "directory"}


def remove_orphan_files(
    lake: Lake, name: TableName, grace: timedelta, *, dry_run: bool = False, extra_roots: tuple[str, ...] = ()
) -> tuple[int, int]:
    """Delete unreferenced files under the table's location (local folder or object-store prefix) and
    under ``extra_roots`` (the table's folder in a colder tier); ``dry_run`` only counts them."""
    tbl = lake.table(name).iceberg
    root = _strip_scheme(tbl.location())
    fs = _filesystem(lake, tbl.location())
    keep = referenced_files(tbl)
    current = _strip_scheme(tbl.metadata_location or "")
    cutoff = time.time() - grace.total_seconds()
    listing: dict[str, dict[str, Any]] = {}
    for location in (tbl.location(), *extra_roots):
        listing |= list_files(lake, location)
    if not listing:
        return 0, 0
    current_mtime = _mtime(listing[current]) if current in listing else None
    removed = freed = 0
    for path, info in listing.items():
        if path in keep or info.get("type") == "directory":
            continue
        mtime = _mtime(info)
        if mtime > cutoff:
            continue
        if path.endswith(".metadata.json") and current_mtime is not None and mtime > current_mtime:
            continue  # written by a commit that may be landing right now
        if dry_run:
            removed += 1
            freed += int(info.get("size") or 0)
            continue
        try:
            fs.rm(path)
            removed += 1
            freed += int(info.get("size") or 0)
        except FileNotFoundError:
            pass
    if not dry_run and local_path(tbl.location()) is not None:
        for dirpath, dirs, files in os.walk(root, topdown=False):
            if not dirs and not files and dirpath != root:
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
    return removed, freed


# --- compaction --------------------------------------------------------------------------------------


def _bins(files: list[DataFile], target: int) -> list[list[DataFile]]:
    bins: list[list[DataFile]] = []
    current: list[DataFile] = []
    size = 0
    for f in sorted(files, key=lambda f: f.file_size_in_bytes):
        if current and size + f.file_size_in_bytes > target:
            bins.append(current)
            current, size = [], 0
        current.append(f)
        size += f.file_size_in_bytes
    if current:
        bins.append(current)
    return [b for b in bins if len(b) > 1]


def compaction_plan(
    tbl: IcebergTable, target: int = DEFAULT_TARGET_BYTES, exclude: tuple[str, ...] = ()
) -> list[list[DataFile]]:
    """The groups of small files of one partition each that compaction would rewrite into one file each;
    files under an ``exclude`` prefix (a colder tier) are left where they are."""
    if tbl.current_snapshot() is None:
        return []
    groups: dict[tuple[int, str], list[DataFile]] = {}
    for task in tbl.scan().plan_files():
        if task.delete_files or duckdb_path(task.file.file_path, remote=True) is None:
            continue  # files with deletes are rewritten by a delete, not here
        if exclude and task.file.file_path.startswith(exclude):
            continue
        if task.file.file_size_in_bytes < target * 3 // 4:
            key = (task.file.spec_id, repr(task.file.partition))
            groups.setdefault(key, []).append(task.file)
    return [b for files in groups.values() for b in _bins(files, target)]


def compact_table(
    lake: Lake,
    name: TableName,
    report: MaintenanceReport,
    target: int = DEFAULT_TARGET_BYTES,
    exclude: tuple[str, ...] = (),
) -> None:
    """Rewrite small files of each partition into files of about ``target`` bytes, in one commit."""
    handle = lake.table(name)
    tbl = handle.iceberg
    bins = compaction_plan(tbl, target, exclude)
    if not bins:
        return
    write = WriteRecord(
        write_id=uuid.uuid4().hex,
        table=str(name),
        operation="compact",
        actor=lake.settings.user,
        command="maintain: compact small files",
    )
    props = Table.snapshot_properties(write)
    with lake.progress.task(f"compact {name}", total=len(bins), unit="groups") as task:
        old: list[DataFile] = []
        new: list[DataFile] = []
        try:
            for b in bins:
                new.extend(_rewrite(lake, tbl, b, write.write_id))
                old.extend(b)
                task.advance()
            swap_files(lake, name, old, new, props)
        except BaseException:
            remove_files(f.file_path for f in new)
            raise
    report.files_compacted += len(old)
    report.files_written += len(new)
    write.rows_written = sum(f.record_count for f in new)
    write.snapshot_id = handle.iceberg.current_snapshot().snapshot_id  # type: ignore[union-attr]
    lake._core.lineage_store.record(write)


def _rewrite(lake: Lake, tbl: IcebergTable, files: list[DataFile], write_id: str) -> list[DataFile]:
    from mlake.duckdb_connection import connect_duckdb

    schema = tbl.schema()
    paths = "[" + ", ".join(quote_literal(duckdb_path(f.file_path, remote=True) or "") for f in files) + "]"
    cols = ", ".join(quote_ident(f.name) for f in schema.fields)
    args = f"schema={schema_map(schema)}{nan_option(schema)}, hive_partitioning=false"
    select = f"SELECT {cols} FROM read_parquet({paths}, {args})"
    con = connect_duckdb()
    try:
        con.execute(f"SET memory_limit = {quote_literal(lake.settings.ingest_memory_limit)}")
        from mlake.storage import attach_object_store

        attach_object_store(con, lake.settings)
        if can_write_with_duckdb(tbl):
            written, _ = write_duckdb(con, tbl, select, uuid.uuid4().hex)
            return written
        return write_arrow(tbl, con.sql(select).to_arrow_reader(100_000))
    finally:
        con.close()


class _Gone(Exception):
    pass


def swap_files(lake: Lake, name: TableName, old: list[DataFile], new: list[DataFile], props: dict[str, str]) -> None:
    """Replace data files ``old`` by ``new`` (the same rows) in one commit, refused with
    :class:`CommitConflictError` when an old file is no longer live (a concurrent delete or overwrite)."""
    old_paths = {f.file_path for f in old}

    def attempt(tbl: IcebergTable) -> None:
        current = tbl.current_snapshot()
        live = (
            {path for m in snapshot_manifests(tbl.io, current) for path, _ in manifest_files(tbl.io, m)}
            if current is not None
            else set()
        )  # the files live in the current snapshot, from manifests already read (a plan_files reads them again)
        if not old_paths <= live:
            raise _Gone()
        with tbl.transaction() as tx, tx.update_snapshot(snapshot_properties=props).overwrite() as ow:
            for f in old:
                ow.delete_data_file(f)
            for f in new:
                ow.append_data_file(f)

    try:
        with_retries(lake.catalog_for_write(name, "alter"), name.identifier, attempt, lake.settings.commit_retries)
    except _Gone as exc:
        raise CommitConflictError(
            f"Files of {name} changed while they were rewritten (a concurrent delete or overwrite)",
            hint="run maintain again",
        ) from exc


__all__ = [
    "MaintenanceReport",
    "maintain_table",
    "manifest_files",
    "parse_duration",
    "pinned_snapshots",
    "snapshot_manifests",
    "swap_files",
]
