"""``mlake sql``: one query, or an interactive shell with history."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from mlake.cli.context import console, err_console, state
from mlake.cli.render import FORMATS, print_arrow, print_error, write_data
from mlake.errors import MlakeError, ValidationError


def sql(
    query: Annotated[
        str | None, typer.Argument(help="SQL to run; omit for an interactive shell. '-' reads stdin.")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv, json (lines) or parquet.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Read every table as it was at this time (ISO 8601).")] = None,
    max_rows: Annotated[int, typer.Option(help="Rows shown in table format.")] = 100,
) -> None:
    """Query the lake with SQL (DuckDB dialect).

    Time travel: FROM ns.t AT (VERSION => snapshot_id) or FROM ns.t AT (TIMESTAMP => '2026-11-20 10:00').
    """
    if format not in FORMATS:
        raise ValidationError(f"Unknown format {format!r}", hint=f"use one of {', '.join(FORMATS)}")
    if query == "-":
        query = sys.stdin.read()
    if query is None:
        shell(as_of)
        return
    run_one(query, format, output, as_of, max_rows)


def run_one(query: str, format: str, output: Path | None, as_of: str | None, max_rows: int) -> None:
    lake = state.lake()
    started = time.perf_counter()
    result = lake.sql(query, as_of=as_of)
    if format == "table" and output is None:
        print_arrow(result.preview(max_rows + 1) if max_rows else result.to_arrow(), max_rows=max_rows)
        err_console.print(f"[dim]{time.perf_counter() - started:.3f}s[/dim]")
        return
    fmt = "csv" if format == "table" else format
    reader = result.reader()
    rows = write_data(reader, reader.schema, fmt, output)
    if output:
        err_console.print(f"wrote {rows:,} row(s) to {output}")


def shell(as_of: str | None) -> None:
    """A SQL shell: history (up/down, Ctrl-R), multi-line statements ending with ';', .tables, .quit."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    lake = state.lake()
    history = lake.settings.home / "sql_history"
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    console.print("[bold]mlake sql[/bold] — end statements with ';'. [dim].tables lists tables, .quit leaves.[/dim]")
    buffer: list[str] = []
    while True:
        try:
            line = session.prompt("mlake> " if not buffer else "   ..> ")
        except (EOFError, KeyboardInterrupt):
            if buffer:
                buffer = []
                continue
            break
        stripped = line.strip()
        if not buffer and stripped in (".quit", ".exit", "\\q"):
            break
        if not buffer and stripped == ".tables":
            for n in lake.list_tables():
                console.print(str(n))
            continue
        buffer.append(line)
        if not stripped.endswith(";"):
            continue
        text = "\n".join(buffer).strip().rstrip(";")
        buffer = []
        try:
            run_one(text, "table", None, as_of, 50)
        except MlakeError as exc:
            print_error(exc)
