"""Data given by a person, as Arrow: a file, JSON rows, or a frame — one reading for every face.

The CLI (``mlake features write data.csv``), the REST API (``{"rows": [...]}``) and the Python API
(frames) all hand such data to the core through :func:`read_data`, so a malformed file or a row of the
wrong type gets the same clear :class:`~mlake.errors.ValidationError` whichever face it came through.
(Files meant for a table go through ``lake.ingest``, which quarantines bad records; this is for small
inputs such as entity rows and feature values.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from mlake.errors import ValidationError

FILE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")


def is_data_file(source: Any) -> bool:
    """Whether ``source`` names an existing Parquet, CSV or JSON (lines) file."""
    if not isinstance(source, str | Path):
        return False
    path = Path(source)
    return path.suffix.lower() in FILE_SUFFIXES and path.is_file()


def read_file(path: str | Path) -> pa.Table:
    """A Parquet, CSV or JSON lines file as Arrow; a clear error naming the file when it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path)
        if suffix in (".jsonl", ".json"):
            import pyarrow.json as pajson

            return pajson.read_json(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ValidationError(
            f"Cannot read {path}: {str(exc).splitlines()[0][:300]}",
            hint="give a Parquet, CSV (with a header) or JSON lines file",
        ) from exc
    raise ValidationError(f"Cannot read {path}: unknown file type", hint=f"use one of {', '.join(FILE_SUFFIXES)}")


def rows_to_arrow(rows: Sequence[dict[str, Any]], time_columns: set[str] | None = None) -> pa.Table:
    """JSON rows as Arrow; text in ``time_columns`` (every text column that reads as times, when None)
    becomes UTC timestamps — naive times mean UTC, as everywhere in mlake."""
    if not rows:
        raise ValidationError("No rows given")
    try:
        table = pa.Table.from_pylist(list(rows))
    except (pa.ArrowException, OverflowError, ValueError, TypeError) as exc:
        raise ValidationError(f"Cannot read the rows: {exc}", hint="give every column one type") from exc
    for i, field in enumerate(table.schema):
        if not pa.types.is_string(field.type) or (time_columns is not None and field.name not in time_columns):
            continue
        try:
            times = [_time(v) for v in table.column(i).to_pylist()]
        except (ValueError, TypeError) as exc:
            if time_columns is None:
                continue
            raise ValidationError(f"Cannot read column {field.name!r} as times: {exc}", hint="use ISO 8601") from exc
        table = table.set_column(i, field.name, pa.array(times, pa.timestamp("us", tz="UTC")))
    return table


def read_data(source: Any, time_columns: set[str] | None = None) -> Any:
    """A file or JSON rows as Arrow; anything else (a table name, SQL, a frame) is returned as it is, for
    the core's own readers."""
    if is_data_file(source):
        return read_file(source)
    if isinstance(source, list) and (not source or isinstance(source[0], dict)):
        return rows_to_arrow(source, time_columns)
    return source


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
