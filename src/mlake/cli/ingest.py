"""``mlake ingest``: files, folders, globs, URLs, and databases (by SQLAlchemy URL)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from mlake.cli.context import console, state
from mlake.cli.render import print_json
from mlake.errors import ValidationError

_DB_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")


def ingest(
    sources: Annotated[list[str], typer.Argument(help="Files, folders, globs, http(s) URLs — or one database URL.")],
    into: Annotated[str, typer.Option("--into", "-i", help="Target table, e.g. shop.orders.")],
    format: Annotated[
        str | None, typer.Option(help="csv, tsv, parquet, json or jsonl (default: by extension).")
    ] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Column type override col=type; repeatable.")
    ] = None,
    mode: Annotated[str, typer.Option(help="append or overwrite.")] = "append",
    force: Annotated[bool, typer.Option(help="Ingest files even if their content was ingested before.")] = False,
    source: Annotated[
        str | None, typer.Option("--source", help="The registered source the data comes from (mlake sources list).")
    ] = None,
    partition_by: Annotated[
        list[str] | None, typer.Option(help="Partition a new table: col, day(ts), bucket(16, id).")
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: sniffed).")] = None,
    header: Annotated[bool | None, typer.Option(help="CSV has a header row (default: sniffed).")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding: utf-8, latin-1, utf-16.")] = None,
    null_value: Annotated[
        list[str] | None,
        typer.Option(
            help="CSV text meaning NULL; repeatable; replaces the default NA, N/A, null, NaN and '' "
            "(--null-value '' reads only empty fields as NULL)."
        ),
    ] = None,
    date_format: Annotated[
        str | None, typer.Option(help="CSV date format, e.g. '%d/%m/%Y' (default: ISO, and month names sniffed).")
    ] = None,
    timestamp_format: Annotated[str | None, typer.Option(help="CSV timestamp format, e.g. '%d/%m/%Y %H:%M'.")] = None,
    table: Annotated[str | None, typer.Option(help="Database source: table to load.")] = None,
    query: Annotated[str | None, typer.Option(help="Database source: SQL query to load.")] = None,
    incremental_column: Annotated[
        str | None, typer.Option(help="Database source: load only rows above the last watermark of this column.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Load data into a table. Bad records go to <table>__quarantine with the reason; nothing is dropped."""
    lake = state.lake()
    types = dict(t.split("=", 1) for t in type_ or [] if "=" in t)
    if len(sources) == 1 and sources[0].split(":", 1)[0].split("+", 1)[0] in _DB_SCHEMES:
        report = lake.ingest_database(
            sources[0],
            into,
            table=table,
            query=query,
            incremental_column=incremental_column,
            mode=mode,
            types=types or None,
            source=source,
        )
    else:
        if table or query or incremental_column:
            raise ValidationError("--table/--query/--incremental-column apply to database URLs only")
        options: dict[str, object] = {
            "delimiter": delimiter,
            "header": header,
            "encoding": encoding,
            "null_values": null_value or None,
            "date_format": date_format,
            "timestamp_format": timestamp_format,
        }
        report = lake.ingest(
            sources,
            into,
            format=format,
            types=types or None,
            mode=mode,
            force=force,
            partition_by=partition_by or (),
            source=source,
            **{k: v for k, v in options.items() if v is not None},
        )
    if as_json:
        print_json(report.to_dict())
        return
    color = "yellow" if report.rows_quarantined or report.gate else "green"
    console.print(f"[{color}]{escape(report.summary())}[/{color}]")
    if report.rows_quarantined:
        console.print(
            f'see them: mlake sql "select line, kind, reason, raw from {report.quarantine_table} '
            f"where ingest_id = '{report.write_id}' limit 20\"",
            style="dim",
            markup=False,
        )
