"""What a loader reads: a fixed list of Parquet row groups, made once when the loader is created.

A plan holds no lake, no connection and no lock — only file locations, row-group sizes and column
mappings — so it is pickled into DataLoader worker processes and rebuilt nowhere: every worker and
every rank that builds the same loader gets the same pieces in the same order, which is what makes
sharding exact.

Two ways to a plan, chosen by :func:`mlake.loader.build.build_loader`:

- **files**: the data files of one Iceberg snapshot, from Iceberg's scan planning. Columns are matched
  by Iceberg field id (a renamed column reads under its new name, a column added later reads as nulls
  in older files, a widened column is cast), exactly as the SQL engine reads them.
- **spilled result**: a query result (a SQL result, a training set, a governed table's secure view)
  written once to local Parquet files under the cache folder, keyed by what the result is (see
  :func:`spill`), then read like data files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from mlake.loader.cache import content_key
from mlake.tables.frames import regroup

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.schema import Schema
    from pyiceberg.table import FileScanTask

    from mlake.results import Result

FIELD_ID = b"PARQUET:field_id"
SPILL_ROW_GROUP = 65_536
SPILL_FILE_ROWS = 1_048_576


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a plan and how its columns become the loader's."""

    uri: str
    size: int
    key: str  # content identity (see mlake.loader.cache)
    # For each output column: the name it has in this file, or None (the file predates it: nulls).
    source_columns: tuple[str | None, ...]

    @property
    def local_path(self) -> str | None:
        if self.uri.startswith("file://"):
            return self.uri[len("file://") :]
        return None if "://" in self.uri else self.uri


@dataclass(frozen=True)
class Piece:
    """One row group: the unit of sharding and of file-order shuffling."""

    file: int
    row_group: int
    rows: int


@dataclass
class LoadPlan:
    files: list[DataFile]
    pieces: list[Piece]
    schema: pa.Schema  # of the batches
    path: str  # "files" (Iceberg data files) or "governed-sql" (a spilled query result)
    description: str
    io_properties: dict[str, str] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return sum(p.rows for p in self.pieces)

    def select(self, columns: list[str] | None) -> LoadPlan:
        """The same pieces with only ``columns`` (in that order)."""
        if columns is None:
            return self
        from mlake.errors import NotFoundError

        names = self.schema.names
        missing = [c for c in columns if c not in names]
        if missing:
            raise NotFoundError(
                f"{self.description} has no column(s) {', '.join(missing)}", hint=f"columns: {', '.join(names)}"
            )
        idx = [names.index(c) for c in columns]
        files = [DataFile(f.uri, f.size, f.key, tuple(f.source_columns[i] for i in idx)) for f in self.files]
        schema = pa.schema([self.schema.field(i) for i in idx])
        return LoadPlan(files, self.pieces, schema, self.path, self.description, self.io_properties)


def open_file(data_file: DataFile, io: FileIO | None) -> BinaryIO:
    """A readable, seekable stream over a data file (local, or through the warehouse's FileIO)."""
    local = data_file.local_path
    if local is not None:
        return open(local, "rb")
    assert io is not None, "a remote data file needs the warehouse's FileIO"
    stream: BinaryIO = io.new_input(data_file.uri).open(seekable=True)  # type: ignore[assignment]
    return stream


def _field_ids(schema: pa.Schema) -> dict[int, str]:
    out = {}
    for f in schema:
        raw = (f.metadata or {}).get(FIELD_ID)
        if raw is not None:
            out[int(raw)] = f.name
    return out


def plan_iceberg_files(
    tasks: list[FileScanTask], schema: Schema, io: FileIO, io_properties: dict[str, str], description: str
) -> LoadPlan | None:
    """A plan over the data files of a scan, or None when they cannot be read file by file (delete files,
    non-Parquet files, files written without field ids): the caller then goes through SQL."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    out_schema = schema_to_pyarrow(schema, include_field_ids=False)
    out_schema = pa.schema([pa.field(f.name, _plain(f.type), nullable=True) for f in out_schema])
    files: list[DataFile] = []
    pieces: list[Piece] = []
    for task in tasks:
        data = task.file
        if task.delete_files or str(data.file_format).upper().find("PARQUET") < 0:
            return None
        probe = DataFile(data.file_path, int(data.file_size_in_bytes), "", ())
        with open_file(probe, io) as stream:
            meta = pq.ParquetFile(stream).metadata
            by_id = _field_ids(meta.schema.to_arrow_schema())
        if not by_id:
            return None
        source = tuple(by_id.get(f.field_id) for f in schema.fields)
        index = len(files)
        files.append(DataFile(data.file_path, probe.size, content_key(data.file_path, probe.size), source))
        pieces.extend(Piece(index, rg, meta.row_group(rg).num_rows) for rg in range(meta.num_row_groups))
    return LoadPlan(files, pieces, out_schema, "files", description, dict(io_properties))


def _plain(dtype: pa.DataType) -> pa.DataType:
    """Strings and binaries as their plain Arrow types (what DuckDB and pandas hand around)."""
    if pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_large_binary(dtype):
        return pa.binary()
    return dtype


def spill_key(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


def spill(
    result: Result | pa.RecordBatchReader, root: Path, key: str | None, description: str, max_bytes: int
) -> LoadPlan:
    """Write ``result`` (a lake's result, or any Arrow stream: a remote client's streamed rows) once to
    Parquet files under ``root/key`` and plan over them.

    With a key, a later loader over the same result (same SQL over the same snapshots, by the same
    principal under the same policy) reuses the files; without one (data given in memory, unsaved
    training sets) the files serve this loader's epochs only. Files are written to a temporary folder and
    renamed into place, so concurrent loaders of one key agree on one copy. Spilled results beyond
    ``max_bytes`` in all are deleted, least recently used first (never the one just made)."""
    key = key or f"adhoc-{uuid.uuid4().hex}"
    final = root / key
    if not (final / "_done").exists():
        root.mkdir(parents=True, exist_ok=True)
        partial = root / f".{key}.{uuid.uuid4().hex}.part"
        partial.mkdir()
        try:
            _write_parts(result, partial)
            (partial / "_done").write_text(description)
            try:
                os.replace(partial, final)
            except OSError:  # another loader made it first: use theirs
                if not (final / "_done").exists():
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    os.utime(final)
    _prune(root, keep=final, max_bytes=max_bytes)
    files: list[DataFile] = []
    pieces: list[Piece] = []
    schema: pa.Schema | None = None
    for path in sorted(final.glob("part-*.parquet")):
        meta = pq.read_metadata(path)
        arrow = meta.schema.to_arrow_schema()
        schema = schema or arrow
        size = path.stat().st_size
        index = len(files)
        files.append(DataFile(str(path), size, content_key(str(path), size), tuple(arrow.names)))
        pieces.extend(Piece(index, rg, meta.row_group(rg).num_rows) for rg in range(meta.num_row_groups))
    assert schema is not None
    schema = pa.schema([pa.field(f.name, _plain(f.type)) for f in schema])
    return LoadPlan(files, pieces, schema, "governed-sql", description)


def _write_parts(result: Result | pa.RecordBatchReader, folder: Path) -> None:
    """The result as part-00000.parquet ... of about SPILL_FILE_ROWS rows each (always at least one file,
    so an empty result keeps its schema), in row groups of exactly SPILL_ROW_GROUP rows whatever sizes the
    stream's batches come in: the row groups — the loader's shards — then depend on the rows only, so a
    result spilled from the local engine and one streamed from a server are split alike."""
    reader = result if isinstance(result, pa.RecordBatchReader) else result.reader(SPILL_ROW_GROUP)
    part = 0
    rows_in_part = 0
    writer: pq.ParquetWriter | None = None
    try:
        for group in regroup(reader, SPILL_ROW_GROUP):
            if writer is None or rows_in_part >= SPILL_FILE_ROWS:
                if writer is not None:
                    writer.close()
                writer = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", reader.schema)
                part += 1
                rows_in_part = 0
            writer.write_table(group, row_group_size=SPILL_ROW_GROUP)
            rows_in_part += group.num_rows
        if writer is None:
            writer = pq.ParquetWriter(folder / "part-00000.parquet", reader.schema)
    finally:
        if writer is not None:
            writer.close()


def _prune(root: Path, keep: Path, max_bytes: int) -> None:
    spills: list[tuple[float, int, Path]] = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith(".") or folder == keep:
            continue
        size = sum(p.stat().st_size for p in folder.glob("*") if p.is_file())
        spills.append((folder.stat().st_mtime, size, folder))
    total = sum(s for _, s, _ in spills) + sum(p.stat().st_size for p in keep.glob("*") if p.is_file())
    for _, size, folder in sorted(spills, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if time.time() - folder.stat().st_mtime < 60:
            continue  # probably being read by a loader made a moment ago
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
