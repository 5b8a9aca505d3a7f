"""``mlake objects ...``: add files to object tables, list them, show one, get its bytes.

Each command is one call into ``lake.objects`` (see :mod:`mlake.objects`); this module parses options
and prints results.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from mlake.cli.context import console, err_console, state
from mlake.cli.render import print_json, rich_table

app = typer.Typer(help="Objects: images, text, audio and other files as rows of object tables.", no_args_is_help=True)

LIST_COLUMNS = ("id", "path", "media_type", "size", "width", "height", "label", "duplicate_of", "error")


@app.command("add")
def add(
    pattern: Annotated[str, typer.Argument(help="A glob (quote it; ** for subfolders), a folder or a file.")],
    into: Annotated[str, typer.Option("--into", help="The object table, namespace.name (created when missing).")],
    reference: Annotated[
        bool, typer.Option("--reference", help="Reference the files where they are instead of copying them.")
    ] = False,
    label_from_folder: Annotated[
        bool, typer.Option("--label-from-folder", help="Label each file with its folder's name.")
    ] = False,
    manifest: Annotated[Path | None, typer.Option(help="A CSV (path,label) or JSON manifest of labels.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Copy (or reference) files into the warehouse and add a row per file to an object table."""
    label_from: Literal["folder"] | None = "folder" if label_from_folder else None
    report = state.lake().objects.add(pattern, into, copy=not reference, label_from=label_from, manifest=manifest)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"added {report.rows_written} object(s) to [bold]{escape(report.table)}[/bold] "
        f"({report.bytes_stored:,} bytes stored; {report.already_present} already present, "
        f"{len(report.duplicates)} duplicate(s), {len(report.errors)} with errors)"
    )
    for path, reason in report.errors:
        err_console.print(f"[yellow]{escape(path)}[/yellow]: {escape(reason)}")


@app.command("list")
def list_objects(
    table: Annotated[str, typer.Argument(help="The object table.")],
    limit: Annotated[int, typer.Option(help="At most this many objects.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List an object table's objects (sorted by path)."""
    rows = state.lake().objects.list(table, limit=limit).to_pylist()
    if as_json:
        print_json(rows)
        return
    console.print(rich_table(LIST_COLUMNS, [[r[c] for c in LIST_COLUMNS] for r in rows], title=table))


@app.command("show")
def show(
    table: Annotated[str, typer.Argument(help="The object table.")],
    object_id: Annotated[str, typer.Argument(help="The object's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Everything the object table holds about one object."""
    row = state.lake().objects.get(table, object_id).to_dict()
    if as_json:
        print_json(row)
        return
    console.print(rich_table(["field", "value"], [[k, v] for k, v in row.items()], title=f"object {object_id}"))


@app.command("get")
def get(
    table: Annotated[str, typer.Argument(help="The object table.")],
    object_id: Annotated[str, typer.Argument(help="The object's id.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file (default: stdout).")] = None,
) -> None:
    """Write an object's bytes to a file or to standard output."""
    data = state.lake().objects.open(table, object_id)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
        err_console.print(f"wrote {len(data):,} bytes to {escape(str(output))}")
