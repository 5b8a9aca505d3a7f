"""Writing data files and committing them, safely under concurrent writers.

Data files are written once, then committed with optimistic concurrency: when another writer committed
first (pyiceberg's ``CommitFailedException``, or SQLite's lock), the table is reloaded and the *same*
files are committed again on top, with jittered exponential backoff. Appends therefore never rewrite
data on conflict, and many processes can append to one table at once.

Two ways to produce files:
- ``write_arrow``: pyiceberg's writer, for Arrow data and for partitioned tables (it splits by
  partition and computes partition values with the Rust transforms);
- ``write_duckdb``: DuckDB's parallel Parquet writer for an unpartitioned table on local disk, fed by a
  SQL query (CSV ingest, CTAS). Files carry Iceberg field ids, so they are ordinary Iceberg data files.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import sqlalchemy as sa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException
from pyiceberg.io.pyarrow import _dataframe_to_data_files, parquet_file_to_data_file
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table as IcebergTable

from mlake.errors import CommitConflictError
from mlake.tables.scan import local_path
from mlake.tables.types import quote_ident, quote_literal

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")

# pyiceberg warns when a delete (or an overwrite by filter) matches no rows. For mlake that is an ordinary
# outcome, reported in the write's figures (0 rows removed), not a problem to show people as a warning.
warnings.filterwarnings("ignore", message="Delete operation did not match any records", category=UserWarning)

# Partitioned tables are written in chunks of this many rows, so memory stays bounded.
PARTITIONED_CHUNK_ROWS = 1_000_000


def with_retries(
    catalog: Catalog, identifier: tuple[str, str], attempt: Callable[[IcebergTable], T], retries: int = 30
) -> T:
    """Run ``attempt`` on a freshly loaded table until its commit goes through.

    ``attempt`` must be safe to repeat: it commits one transaction and raises pyiceberg's
    ``CommitFailedException`` when another writer won the race.
    """
    delay = 0.02
    last: Exception | None = None
    for _ in range(retries + 1):
        table = catalog.load_table(identifier)
        try:
            return attempt(table)
        except (CommitFailedException, sa.exc.OperationalError) as exc:
            if isinstance(exc, sa.exc.OperationalError) and "locked" not in str(exc).lower():
                raise
            last = exc
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 1.0)
    raise CommitConflictError(
        f"Table {'.'.join(identifier)} kept changing under this write ({retries} retries): {last}",
        hint="too many writers commit at once; retry the write, or raise MLAKE_COMMIT_RETRIES",
    )


def append_files(
    catalog: Catalog,
    identifier: tuple[str, str],
    files: list[DataFile],
    properties: dict[str, str],
    retries: int = 30,
    precondition: Callable[[IcebergTable], None] | None = None,
) -> IcebergTable:
    """Commit already-written data files as one append snapshot.

    ``precondition`` sees the table as loaded for each attempt and raises to abort the commit: with the
    catalog's optimistic commit this is a compare-and-set (a stream delivery checks that the stream
    position in the latest snapshot is still the one its batch starts from)."""

    def attempt(table: IcebergTable) -> IcebergTable:
        if precondition is not None:
            precondition(table)
        with table.transaction() as tx, tx.update_snapshot(snapshot_properties=properties).fast_append() as fa:
            for f in files:
                fa.append_data_file(f)
        return table

    try:
        return with_retries(catalog, identifier, attempt, retries)
    except CommitStateUnknownException as exc:  # pragma: no cover - only with REST catalogs
        raise CommitConflictError(f"Commit outcome unknown for {'.'.join(identifier)}: {exc}") from exc


def replace_all_files(
    catalog: Catalog,
    identifier: tuple[str, str],
    files: list[DataFile],
    properties: dict[str, str],
    retries: int = 30,
) -> IcebergTable:
    """Commit ``files`` as the table's whole content, replacing every current data file, in one snapshot."""

    def attempt(table: IcebergTable) -> IcebergTable:
        current = [t.file for t in table.scan().plan_files()] if table.current_snapshot() else []
        with table.transaction() as tx, tx.update_snapshot(snapshot_properties=properties).overwrite() as ow:
            for f in current:
                ow.delete_data_file(f)
            for f in files:
                ow.append_data_file(f)
        return table

    return with_retries(catalog, identifier, attempt, retries)


def _chunks(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending, schema=reader.schema)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def write_arrow(table: IcebergTable, data: pa.Table | pa.RecordBatchReader) -> list[DataFile]:
    """Write Arrow data (already in the table's schema) as data files; nothing is committed yet."""
    write_uuid = uuid.uuid4()
    counter = itertools.count(0)
    if isinstance(data, pa.Table):
        if data.num_rows == 0:
            return []
        return list(_dataframe_to_data_files(table.metadata, data, table.io, write_uuid, counter))
    if table.metadata.spec().is_unpartitioned():
        return list(_dataframe_to_data_files(table.metadata, data, table.io, write_uuid, counter))
    files: list[DataFile] = []
    for chunk in _chunks(data, PARTITIONED_CHUNK_ROWS):
        files.extend(_dataframe_to_data_files(table.metadata, chunk, table.io, write_uuid, counter))
    return files


def can_write_with_duckdb(table: IcebergTable) -> bool:
    """DuckDB writes unpartitioned tables of primitive columns on local disk."""
    from mlake.tables.types import is_flat

    return (
        table.metadata.spec().is_unpartitioned()
        and is_flat(table.schema())
        and local_path(table.location()) is not None
    )


def write_duckdb(
    con: duckdb.DuckDBPyConnection,
    table: IcebergTable,
    select_sql: str,
    write_id: str,
    target_file_bytes: int = 512 * 1024 * 1024,
) -> tuple[list[DataFile], int]:
    """Run ``select_sql`` (whose columns are the table's, by name) into Parquet data files.

    Returns the data files (not yet committed) and the number of rows written.
    """
    schema = table.schema()
    location = local_path(table.location())
    assert location is not None
    # Every call writes into a folder of its own: one ingest may call this once per source file.
    folder = Path(location) / "data" / f"w-{write_id}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=False)
    field_ids = ", ".join(f"{quote_ident(f.name)}: {f.field_id}" for f in schema.fields)
    try:
        result = con.execute(
            f"COPY ({select_sql}) TO {quote_literal(str(folder))} (FORMAT parquet, COMPRESSION zstd, "
            f"FIELD_IDS {{{field_ids}}}, FILE_SIZE_BYTES {target_file_bytes}, "
            f"FILENAME_PATTERN '{write_id}-{{i}}')"
        ).fetchone()
        rows = int(result[0]) if result else 0
        paths = sorted(folder.glob("*.parquet"))
        files = [parquet_file_to_data_file(table.io, table.metadata, f"file://{p}") for p in paths]
    except BaseException:
        remove_files(str(p) for p in folder.glob("*"))
        _rmdir_quietly(folder)
        raise
    if not paths:
        _rmdir_quietly(folder)
    return files, rows


def remove_files(paths: Iterable[str]) -> int:
    """Delete local files (written but never committed); returns how many were removed."""
    removed = 0
    for p in paths:
        lp = local_path(p)
        if lp is None:
            continue
        try:
            Path(lp).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _rmdir_quietly(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
