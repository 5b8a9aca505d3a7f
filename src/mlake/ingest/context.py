"""One ingest from start to commit: the target table, staged data files, quarantine, gate, lineage.

Readers (CSV, JSON, Parquet, databases) only produce data: they call :meth:`IngestContext.ensure_table`
for the schema, then stage data files with :meth:`stage_duckdb` or :meth:`stage_arrow`, and send bad
records to :attr:`quarantine`. :meth:`commit` then makes everything visible at once — one snapshot of
the target, one of the quarantine — or, when a gate refuses the batch, nothing of the target.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table as IcebergTable

from mlake.duckdb_connection import connect_duckdb
from mlake.errors import IngestError
from mlake.ingest.quarantine import QuarantineSink
from mlake.ingest.report import IngestReport
from mlake.metastore import ingest_log_table
from mlake.tables.frames import conform
from mlake.tables.lineage import LineageInput, WriteRecord
from mlake.tables.names import TableName
from mlake.tables.scan import duckdb_path, nan_option, schema_map
from mlake.tables.table import Table
from mlake.tables.types import quote_literal
from mlake.tables.writer import (
    append_files,
    can_write_with_duckdb,
    remove_files,
    replace_all_files,
    write_arrow,
    write_duckdb,
)

if TYPE_CHECKING:
    from mlake.lake import Lake


@dataclass
class GateResult:
    """A gate's verdict on staged data: ``passed``, and when not, why (shown in the report)."""

    passed: bool
    reason: str = ""
    details: Any = None


Gate = Callable[["StagedData"], GateResult | bool]


@dataclass
class StagedData:
    """Data written but not yet committed, for a gate to inspect with SQL."""

    table: str
    schema: Any
    files: list[DataFile]
    rows: int
    connection: duckdb.DuckDBPyConnection

    def sql(self) -> str:
        """A SELECT over the staged rows (DuckDB), in the table's columns."""
        from mlake.tables.scan import empty_select

        remote = self.connection.filesystem_is_registered("s3")
        paths = [duckdb_path(f.file_path, remote) for f in self.files]
        if not paths:
            return empty_select(self.schema)
        if any(p is None for p in paths):
            raise IngestError("Staged files of this warehouse cannot be read by DuckDB")
        files = "[" + ", ".join(quote_literal(p or "") for p in paths) + "]"
        cols = ", ".join(f'"{f.name}"' for f in self.schema.fields)
        args = f"schema={schema_map(self.schema)}{nan_option(self.schema)}, hive_partitioning=false"
        return f"SELECT {cols} FROM read_parquet({files}, {args})"

    def relation(self) -> duckdb.DuckDBPyRelation:
        return self.connection.sql(self.sql())


@dataclass
class IngestContext:
    lake: Lake
    name: TableName
    command: str
    partition_by: Sequence[str] = ()
    description: str | None = None
    mode: str = "append"
    gate: Gate | None = None
    inputs: list[LineageInput] = field(default_factory=list)
    write_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    staged: list[DataFile] = field(default_factory=list)
    rows: int = 0
    created: bool = False
    started: float = field(default_factory=time.perf_counter)
    notes: list[str] = field(default_factory=list)  # advice for the report (e.g. a format option to give)

    def __post_init__(self) -> None:
        self.quarantine = QuarantineSink(self.lake, self.name, self.write_id)
        self._con: duckdb.DuckDBPyConnection | None = None
        self.remote = False

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection for this ingest only (its reject tables are private to it)."""
        if self._con is None:
            s = self.lake.settings
            temp = s.home / "tmp"
            temp.mkdir(parents=True, exist_ok=True)
            self._con = connect_duckdb(":memory:", config={"threads": s.threads, "temp_directory": str(temp)})
            self._con.execute(f"SET memory_limit = {quote_literal(s.ingest_memory_limit)}")
            self._con.execute("SET preserve_insertion_order = false")
            self._con.execute("SET enable_progress_bar = false")
            from mlake.storage import attach_object_store

            self.remote = attach_object_store(self._con, s)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    # --- the target table ---------------------------------------------------------------------------

    @property
    def table(self) -> Table:
        return self.lake.table(self.name)

    def existing_schema(self) -> Any:
        """The target's schema if it exists, else None."""
        return self.table.schema if self.lake.table_exists(self.name) else None

    def ensure_table(self, schema: pa.Schema) -> IcebergTable:
        """Create the target from ``schema``, or evolve it (new columns, safe widening) to fit."""
        if not self.lake.table_exists(self.name):
            try:
                self.lake.create_table(
                    self.name, schema=schema, partition_by=self.partition_by, description=self.description
                )
                self.created = True
            except Exception as exc:
                from mlake.errors import AlreadyExistsError

                if not isinstance(exc, AlreadyExistsError):
                    raise
        else:
            self.table.evolve_for(schema, lenient=True)
        return self.table.iceberg

    # --- staging ----------------------------------------------------------------------------------------

    def stage_duckdb(self, select_sql: str) -> int:
        """Write the rows of a DuckDB SELECT (already in the table's columns) as data files."""
        ice = self.table.iceberg
        if can_write_with_duckdb(ice):
            files, rows = write_duckdb(self.con, ice, select_sql, self.write_id)
            self.staged.extend(files)
            self.rows += rows
            return rows
        reader = self.con.sql(select_sql).to_arrow_reader(100_000)
        return self.stage_arrow(reader)

    def stage_arrow(self, data: pa.Table | pa.RecordBatchReader) -> int:
        """Write Arrow data (in the table's columns) as data files."""
        ice = self.table.iceberg
        if isinstance(data, pa.Table):
            data = conform(data, ice.schema())
            rows = int(data.num_rows)
            self.staged.extend(write_arrow(ice, data))
        else:
            counted = _Counting(data)
            self.staged.extend(write_arrow(ice, counted.reader()))
            rows = counted.rows
        self.rows += rows
        return rows

    # --- commit -----------------------------------------------------------------------------------------

    def record(self) -> WriteRecord:
        return WriteRecord(
            write_id=self.write_id,
            table=str(self.name),
            operation="ingest" if self.mode == "append" else "ingest-overwrite",
            actor=self.lake.settings.user,
            command=self.command,
            inputs=list(self.inputs),
        )

    def commit(self, report: IngestReport, log_hashes: Sequence[tuple[str, str]] = ()) -> IngestReport:
        """Commit staged files (unless a gate refuses them), the quarantine, the log and lineage."""
        write = self.record()
        props = Table.snapshot_properties(write)
        try:
            if self.gate is not None and self.staged:
                self._apply_gate(report)
            tbl = None
            if self.staged or self.mode == "overwrite":
                commit = append_files if self.mode == "append" else replace_all_files
                tbl = commit(
                    self.lake.catalog_for_write(self.name, "insert"),
                    self.name.identifier,
                    self.staged,
                    props,
                    self.lake.settings.commit_retries,
                )
                self.staged = []
            report.quarantine_table = str(self.quarantine.name) if self.quarantine.rows else None
            self.quarantine.commit(props)
        except BaseException:
            self.abort()
            raise
        finally:
            self.close()
        write.rows_written = report.rows_written = self.rows if tbl is not None else 0
        write.rows_quarantined = report.rows_quarantined = self.quarantine.rows
        report.reasons.update(self.quarantine.kinds)
        report.created_table = self.created
        report.notes.extend(self.notes)
        if tbl is not None:
            snap = tbl.current_snapshot()
            write.snapshot_id = report.snapshot_id = snap.snapshot_id if snap else None
        self.lake._core.lineage_store.record(write)
        if not report.gate:  # refused content may be ingested again once it is fixed
            self._log(log_hashes, report)
        report.seconds = time.perf_counter() - self.started
        self.lake.events.emit("table.write", write)
        return report

    def _apply_gate(self, report: IngestReport) -> None:
        assert self.gate is not None
        staged = StagedData(str(self.name), self.table.schema, list(self.staged), self.rows, self.con)
        verdict = self.gate(staged)
        if isinstance(verdict, bool):
            verdict = GateResult(verdict, "" if verdict else "gate failed")
        if verdict.passed:
            return
        report.gate = verdict.reason or "gate failed"
        # The refused rows go to quarantine, whole, with the gate's reason: nothing is lost.
        rel = staged.relation()
        for batch in rel.to_arrow_reader(50_000):
            rows = batch.to_pylist()
            import json

            self.quarantine.add(
                source=["gate"] * len(rows),
                line=[None] * len(rows),
                kind=["GATE"] * len(rows),
                reason=[report.gate] * len(rows),
                raw=[json.dumps(r, default=str, ensure_ascii=False) for r in rows],
            )
        remove_files(f.file_path for f in self.staged)
        self.staged = []
        self.rows = 0

    def abort(self) -> None:
        """Remove everything written but not committed."""
        remove_files(f.file_path for f in self.staged)
        self.staged = []
        self.quarantine.discard()
        self.close()

    def _log(self, hashes: Sequence[tuple[str, str]], report: IngestReport) -> None:
        if not hashes:
            return
        now = datetime.now(UTC)
        with self.lake._core.metadata_engine.begin() as conn:
            for content_hash, source in hashes:
                values = {
                    "content_hash": content_hash,
                    "table_name": str(self.name),
                    "source": source,
                    "write_id": self.write_id,
                    "rows_written": report.rows_written,
                    "rows_quarantined": report.rows_quarantined,
                    "at": now,
                }
                updated = conn.execute(
                    ingest_log_table.update()
                    .where(
                        (ingest_log_table.c.content_hash == content_hash)
                        & (ingest_log_table.c.table_name == str(self.name))
                    )
                    .values(**values)
                ).rowcount
                if not updated:
                    try:
                        with conn.begin_nested():
                            conn.execute(ingest_log_table.insert().values(**values))
                    except sa.exc.IntegrityError:
                        pass  # a concurrent ingest of the same content logged it first


def already_ingested(lake: Lake, name: TableName, content_hash: str) -> dict[str, Any] | None:
    with lake._core.metadata_engine.connect() as conn:
        row = conn.execute(
            sa.select(ingest_log_table).where(
                (ingest_log_table.c.content_hash == content_hash) & (ingest_log_table.c.table_name == str(name))
            )
        ).first()
    return dict(row._mapping) if row else None


class _Counting:
    """Counts rows as a RecordBatchReader is consumed."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self._reader = reader
        self.rows = 0

    def reader(self) -> pa.RecordBatchReader:
        def gen() -> Any:
            for batch in self._reader:
                self.rows += batch.num_rows
                yield batch

        return pa.RecordBatchReader.from_batches(self._reader.schema, gen())
