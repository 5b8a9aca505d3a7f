"""Turning core results into terminal output: rich tables for people, CSV/JSON/Parquet for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from mlake.cli.context import console, err_console
from mlake.errors import MlakeError, ValidationError
from mlake.formatting import format_value

if TYPE_CHECKING:
    import pyarrow as pa  # only where data is printed or written: `mlake --help` need not load it

FORMATS = ("table", "csv", "json", "parquet")


def print_error(exc: MlakeError) -> None:
    """An error as one red line and its hint, both as plain text: a hint such as ``pip install 'mlake[ml]'``
    or a message quoting a value with brackets must not be read as rich markup (which drops ``[ml]``)."""
    err_console.print(f"[red]error:[/red] {escape(exc.message)}")
    if exc.hint:
        err_console.print(exc.hint, style="dim", markup=False)


def rich_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> RichTable:
    table = RichTable(title=title, header_style="bold cyan", show_lines=False)
    for i, c in enumerate(columns):
        # the first column names things (tables, snapshots): never wrap it
        table.add_column(str(c), overflow="fold", no_wrap=i == 0)
    for row in rows:  # values are text, never markup: `mlake[ml]` or `[x]` must show as they are
        table.add_row(*(v if isinstance(v, Text) else Text(format_value(v)) for v in row))
    return table


def print_arrow(data: pa.Table, title: str | None = None, max_rows: int = 100) -> None:
    shown = data.slice(0, max_rows)
    rows = [list(r.values()) for r in shown.to_pylist()]
    console.print(rich_table(data.column_names, rows, title))
    if data.num_rows > max_rows:
        console.print(f"[dim]… {data.num_rows - max_rows:,} more row(s); use --format csv to get all[/dim]")
    else:
        console.print(f"[dim]{data.num_rows:,} row(s)[/dim]")


def write_data(batches: Iterable[pa.RecordBatch], schema: pa.Schema, fmt: str, output: Path | None) -> int:
    """Stream batches as CSV, JSON lines or Parquet to a file or stdout; returns rows written."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt not in ("csv", "json", "parquet"):
        raise ValidationError(f"Unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    rows = 0
    if fmt == "parquet":
        if output is None:
            raise ValidationError("Parquet output needs a file", hint="add --output result.parquet")
        with pq.ParquetWriter(str(output), schema) as writer:
            for b in batches:
                writer.write_batch(b)
                rows += b.num_rows
        return rows
    sink = output.open("wb") if output else sys.stdout.buffer
    try:
        if fmt == "csv":
            with pacsv.CSVWriter(sink, schema) as writer:
                for b in batches:
                    writer.write_batch(b)
                    rows += b.num_rows
        else:
            for b in batches:
                for r in b.to_pylist():
                    sink.write(json.dumps(r, default=str, ensure_ascii=False).encode() + b"\n")
                rows += b.num_rows
    finally:
        if output:
            sink.close()
        else:
            sink.flush()
    return rows


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))
