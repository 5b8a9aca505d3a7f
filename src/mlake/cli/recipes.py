"""``mlake recipes ...``: save, list, preview, run and export recipes (thin over ``lake.recipes``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlake.cli.context import console, state
from mlake.cli.render import print_arrow, print_json, rich_table

app = typer.Typer(help="Recipes of transforms: save, preview, run on DuckDB or Ray, export.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The recipe's name.")]
VersionOpt = Annotated[int | None, typer.Option("--version", "-v", help="A version (default: the latest).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _print_rows(rows: list[dict[str, object]], columns: list[str]) -> None:
    console.print(rich_table(columns, [[r.get(c) for c in columns] for r in rows]))


@app.command("create")
def create(path: Annotated[Path, typer.Argument(help="A recipe YAML file.", exists=True, dir_okay=False)]) -> None:
    """Save a recipe from YAML as its next version (validated against its source first)."""
    stored = state.lake().recipes.create(path.read_text())
    console.print(f"Saved recipe [bold]{stored.name}[/bold] version {stored.version}")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The saved recipes (latest versions)."""
    rows = [r.to_dict() for r in state.lake().recipes.list()]
    if as_json:
        print_json(rows)
        return
    _print_rows(rows, ["name", "version", "source", "steps", "fitted", "created_by"])


@app.command("versions")
def versions(name: NameArg, as_json: JsonOpt = False) -> None:
    """Every version of a recipe."""
    rows = [r.to_dict() for r in state.lake().recipes.versions(name)]
    if as_json:
        print_json(rows)
        return
    _print_rows(rows, ["version", "steps", "fitted", "created_by", "created_at"])


@app.command("preview")
def preview(name: NameArg, rows: Annotated[int, typer.Option(help="Rows to show.")] = 20) -> None:
    """The recipe fitted and applied on a sample of its source."""
    print_arrow(state.lake().recipes.preview(name, rows=rows), max_rows=rows)


@app.command("run")
def run(
    name: NameArg,
    into: Annotated[str, typer.Argument(help="The output table (replaced).")],
    version: VersionOpt = None,
    engine: Annotated[str, typer.Option(help="duckdb (in process) or ray.")] = "duckdb",
    refit: Annotated[bool, typer.Option(help="Fit again on the current source data.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a recipe over its source into a table, with lineage to the recipe version."""
    result = state.lake().recipes.run(name, into, version=version, engine=engine, refit=refit)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"Wrote {result.rows:,} rows to [bold]{result.table}[/bold] (snapshot {result.snapshot_id}) with "
        f"{result.recipe} v{result.version} on {result.engine}" + (" (fitted)" if result.fitted else "")
    )


@app.command("export")
def export(
    name: NameArg,
    format: Annotated[str, typer.Option("--format", "-f", help="sql, python or yaml.")] = "sql",
    version: VersionOpt = None,
) -> None:
    """The recipe as readable SQL, a Python script, or YAML."""
    typer.echo(state.lake().recipes.export(name, format, version=version), nl=False)


@app.command("transforms")
def transforms(as_json: JsonOpt = False) -> None:
    """The built-in transforms, by group."""
    from mlake.processing.recipe import transform_catalog

    rows = transform_catalog()
    if as_json:
        print_json(rows)
        return
    _print_rows(rows, ["group", "op", "summary"])
