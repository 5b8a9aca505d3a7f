"""The quarantine: where bad records go instead of being dropped.

Each target table ``ns.t`` has a companion ``ns.t__quarantine`` (created on first use) holding one row
per rejected record: the source it came from, its line (or record) number, the raw text, the kind of
problem, a readable reason, and the ingest that rejected it. It is an ordinary Iceberg table, so
``SELECT * FROM ns.t__quarantine WHERE ingest_id = ...`` answers "what did yesterday's load reject?".
Rows are written to data files as they come (bounded memory) and committed with the ingest.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.manifest import DataFile

from mlake.tables.names import TableName
from mlake.tables.writer import append_files, remove_files, write_arrow

if TYPE_CHECKING:
    from mlake.lake import Lake

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("kind", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
        pa.field("ingest_id", pa.string()),
        pa.field("at", pa.timestamp("us", tz="UTC")),
    ]
)
_FLUSH_ROWS = 100_000
MAX_RAW_CHARS = 1_000_000  # a single huge "line" is cut here, with a marker, rather than kept whole


def clip_raw(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_RAW_CHARS:
        return text
    return text[:MAX_RAW_CHARS] + f"…[{len(text) - MAX_RAW_CHARS} more characters cut]"


class QuarantineSink:
    """Collects rejected records for one ingest into ``<table>__quarantine``."""

    def __init__(self, lake: Lake, target: TableName, ingest_id: str) -> None:
        self._lake = lake
        self.name = target.quarantine
        self.ingest_id = ingest_id
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._files: list[DataFile] = []
        self.rows = 0
        self.kinds: Counter[str] = Counter()
        self._at = datetime.now(UTC)

    def add(
        self,
        source: list[str],
        line: list[int | None],
        kind: list[str],
        reason: list[str],
        raw: list[str | None],
    ) -> None:
        if not source:
            return
        n = len(source)
        table = pa.Table.from_arrays(
            [
                pa.array(source, pa.string()),
                pa.array(line, pa.int64()),
                pa.array(kind, pa.string()),
                pa.array(reason, pa.string()),
                pa.array([clip_raw(r) for r in raw], pa.string()),
                pa.array([self.ingest_id] * n, pa.string()),
                pa.array([self._at] * n, pa.timestamp("us", tz="UTC")),
            ],
            schema=QUARANTINE_SCHEMA,
        )
        self.add_table(table)

    def add_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        self.kinds.update(table.column("kind").to_pylist())
        if self._pending_rows >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        data = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        table = self._lake.create_table(
            self.name,
            schema=QUARANTINE_SCHEMA,
            exist_ok=True,
            description=f"Records rejected while ingesting into {self.name.namespace}."
            f"{self.name.name[: -len('__quarantine')]}",
        )
        self._files.extend(write_arrow(table.iceberg, data))

    def commit(self, properties: dict[str, str]) -> int | None:
        """Commit what was collected; returns the quarantine snapshot id (None if nothing was rejected)."""
        self._flush()
        if not self._files:
            return None
        try:
            tbl = append_files(
                self._lake.catalog_for_write(self.name, "insert"),
                self.name.identifier,
                self._files,
                properties,
                self._lake.settings.commit_retries,
            )
        except BaseException:
            self.discard()
            raise
        self._files = []
        snap = tbl.current_snapshot()
        return snap.snapshot_id if snap else None

    def discard(self) -> None:
        remove_files(f.file_path for f in self._files)
        self._files, self._pending, self._pending_rows = [], [], 0
