"""Writing Iceberg position-delete files, as Spark or Flink would (merge-on-read deletes).

pyiceberg writes deletes by rewriting data files, so to test that mlake's reader honours delete files
written by other engines, this helper commits a real v2 position-delete file through pyiceberg's own
manifest writers: a snapshot whose manifest list gains one *delete* manifest.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriterV2,
)
from pyiceberg.table import Table as IcebergTable
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update.snapshot import _FastAppendFiles
from pyiceberg.typedef import Record

FILE_PATH_ID = 2147483546
POS_ID = 2147483545


class _DeleteManifestWriter(ManifestWriterV2):
    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


def add_position_deletes(table: IcebergTable, deletes: dict[str, list[int]]) -> None:
    """Commit a position-delete file removing rows ``pos`` of each data file path (URIs as in the table)."""
    rows = [(path, pos) for path, positions in deletes.items() for pos in sorted(positions)]
    schema = pa.schema(
        [
            pa.field("file_path", pa.string(), nullable=False, metadata={"PARQUET:field_id": str(FILE_PATH_ID)}),
            pa.field("pos", pa.int64(), nullable=False, metadata={"PARQUET:field_id": str(POS_ID)}),
        ]
    )
    data = pa.table({"file_path": [r[0] for r in rows], "pos": [r[1] for r in rows]}, schema=schema)
    location = table.location().replace("file://", "")
    path = f"{location}/data/deletes-{uuid.uuid4().hex}.parquet"
    pq.write_table(data, path)
    delete_file = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path=f"file://{path}",
        file_format=FileFormat.PARQUET,
        partition=Record(),
        record_count=len(rows),
        file_size_in_bytes=Path(path).stat().st_size,
        spec_id=table.spec().spec_id,
    )

    class _RowDelta(_FastAppendFiles):
        def _process_manifests(self, manifests: list[ManifestFile]) -> list[ManifestFile]:
            out = self._io.new_output(f"{table.location()}/metadata/{uuid.uuid4()}-m-deletes.avro")
            writer = _DeleteManifestWriter(table.spec(), table.schema(), out, self._snapshot_id, "deflate")
            with writer:
                writer.add(
                    ManifestEntry.from_args(
                        status=ManifestEntryStatus.ADDED,
                        snapshot_id=self._snapshot_id,
                        sequence_number=None,
                        file_sequence_number=None,
                        data_file=delete_file,
                    )
                )
            return [*manifests, writer.to_manifest_file()]

    with table.transaction() as tx:
        _RowDelta(operation=Operation.DELETE, transaction=tx, io=table.io).commit()
