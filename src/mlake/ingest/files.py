"""Ingesting files: ``lake.ingest("data/*.csv", into="shop.orders")``.

Sources (a path, a folder, a glob, an http(s) URL, or a list of them) resolve to hashed local files.
Files whose content was already ingested into the target are skipped unless ``force=True`` or
``mode="overwrite"`` (which replaces the rows, so duplicates nothing); dropping a table forgets what was
ingested into it. CSV text ``NA``, ``N/A``, ``null``, ``NULL``, ``NaN`` and the empty string are nulls by
default (as in pandas); ``null_values=[...]`` replaces that list (``[""]``: only empty fields). The rest
are read by format, their good rows staged as data files and their bad rows quarantined, and everything
is committed together: one snapshot of the target per ingest, whatever the number of files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import IngestError, ValidationError
from mlake.ingest.context import Gate, IngestContext, already_ingested
from mlake.ingest.report import IngestReport
from mlake.ingest.sources import SourceFile, resolve_sources
from mlake.tables.frames import iceberg_type_of
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName
from mlake.tables.table import parse_type
from mlake.tables.types import duckdb_type

if TYPE_CHECKING:
    from mlake.lake import Lake


def ingest_files(
    lake: Lake,
    source: str | Path | Sequence[str | Path],
    into: str,
    *,
    format: str | None = None,
    types: dict[str, str | pa.DataType] | None = None,
    mode: str = "append",
    force: bool = False,
    partition_by: Sequence[str] = (),
    description: str | None = None,
    gate: Gate | None = None,
    **options: Any,
) -> IngestReport:
    """Ingest files into ``into``; see the module docstring.

    ``types`` overrides inferred column types (``{"zip": "string"}``); ``mode`` is ``append`` or
    ``overwrite``; CSV options (``delimiter``, ``header``, ``quote``, ``escape``, ``null_values``,
    ``date_format``, ``timestamp_format``, ``encoding``, ``skip``) pass through to the CSV reader.
    ``gate`` can refuse the staged data before it is committed (it then goes to quarantine).
    """
    if mode not in ("append", "overwrite"):
        raise ValidationError(f"Unknown ingest mode {mode!r}", hint="use append or overwrite")
    name = TableName.parse(into)
    if name.is_quarantine:
        raise ValidationError(f"{name} is a quarantine table", hint="ingest into the table itself")
    overrides = {col: parse_type(t) for col, t in (types or {}).items()}
    with resolve_sources(source, format, lake.settings.home / "tmp", lake.progress) as files:
        todo: list[SourceFile] = []
        skipped: list[str] = []
        seen: set[str] = set()
        for f in files:
            if f.content_hash in seen:
                skipped.append(f.display)  # the same content twice in one ingest
                continue
            seen.add(f.content_hash)
            # An overwrite replaces the table's rows, so reading content again duplicates nothing: it is how
            # a file is read again with other options (null values, types) after a first ingest.
            if not force and mode == "append" and already_ingested(lake, name, f.content_hash):
                skipped.append(f.display)
            else:
                todo.append(f)
        command = f"ingest {' '.join(str(s) for s in ([source] if isinstance(source, str | Path) else source))}"
        ctx = IngestContext(
            lake, name, command=command, partition_by=partition_by, description=description, mode=mode, gate=gate
        )
        report = IngestReport(table=str(name), write_id=ctx.write_id, files_skipped=skipped)
        if not todo:
            return report
        ctx.inputs = [LineageInput(f.kind, f.display, detail=f"xxh3:{f.content_hash}") for f in todo]  # type: ignore[arg-type]
        empty = [f for f in todo if f.size == 0]
        if empty and not lake.table_exists(name) and len(empty) == len(todo):
            raise IngestError(
                f"{empty[0].display} is empty: there is no header or data to make {name} from",
                hint="ingest a file with data, or create the table first",
            )
        try:
            for group in _by_format([f for f in todo if f.size > 0]):
                _ingest_group(ctx, group, overrides, options)
        except BaseException:
            ctx.abort()
            raise
        report.files_ingested = [f.display for f in todo]
        return ctx.commit(report, [(f.content_hash, f.display) for f in todo])


def _by_format(files: list[SourceFile]) -> list[list[SourceFile]]:
    groups: dict[str, list[SourceFile]] = {}
    for f in files:
        groups.setdefault(f.format, []).append(f)
    return list(groups.values())


def _ingest_group(
    ctx: IngestContext, files: list[SourceFile], types: dict[str, pa.DataType], options: dict[str, Any]
) -> None:
    fmt = files[0].format
    if fmt in ("csv", "tsv"):
        from mlake.ingest.csv import ingest_csv

        duck_types = {col: duckdb_type(iceberg_type_of(t)) for col, t in types.items()}
        ingest_csv(ctx, files, options, duck_types)
        return
    if options:
        raise ValidationError(
            f"Options {', '.join(sorted(options))} apply to CSV files only",
            hint="remove them for Parquet and JSON sources",
        )
    if fmt == "parquet":
        from mlake.ingest.parquet import ingest_parquet

        ingest_parquet(ctx, files, types)
    else:
        from mlake.ingest.json import ingest_json

        ingest_json(ctx, files, types)
