"""``mlake sources``: the source registry, sources attached to tables, and a table's provenance."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mlake.cli.context import console, state
from mlake.cli.render import rich_table

app = typer.Typer(help="Where data came from: sources, their licenses and terms, and each table's provenance.")


@app.command("list")
def list_sources() -> None:
    """Registered sources."""
    rows = [
        [s.name, s.kind, s.provider, s.license, ", ".join(s.allowed_uses) if s.allowed_uses is not None else "any",
         s.expires, "yes" if s.personal_data else ""]
        for s in state.lake().sources.list()
    ]  # fmt: skip
    console.print(
        rich_table(["name", "kind", "provider", "license", "allowed uses", "expires", "personal"], rows, "sources")
    )


@app.command("show")
def show(name: str) -> None:
    """One source's terms."""
    console.print_json(json.dumps(state.lake().sources.get(name).to_dict()))


@app.command("add")
def add(
    name: str,
    kind: Annotated[str, typer.Option(help="public, purchased, internal or generated.")],
    provider: Annotated[str | None, typer.Option()] = None,
    license: Annotated[str | None, typer.Option(help="An SPDX id (CC-BY-4.0) or free text.")] = None,
    terms_url: Annotated[str | None, typer.Option()] = None,
    allow: Annotated[list[str] | None, typer.Option(help="An allowed use (repeatable); none given: any use.")] = None,
    contact: Annotated[str | None, typer.Option()] = None,
    acquired: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    expires: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    personal_data: Annotated[bool, typer.Option(help="The data holds personal data.")] = False,
    description: Annotated[str | None, typer.Option()] = None,
    replace: Annotated[bool, typer.Option(help="Update a source registered before.")] = False,
) -> None:
    """Register a source."""
    source = state.lake().sources.register(
        name,
        kind=kind,
        provider=provider,
        license=license,
        terms_url=terms_url,
        allowed_uses=allow,
        contact=contact,
        acquired=acquired,
        expires=expires,
        personal_data=personal_data,
        description=description,
        replace=replace,
    )
    console.print(f"[green]registered[/green] {source.kind} source {source.name}")


@app.command("remove")
def remove(name: str) -> None:
    """Forget a source (no table may still be attached to it)."""
    state.lake().sources.remove(name)
    console.print(f"removed {name}")


@app.command("attach")
def attach(table: str, source: str) -> None:
    """Record that a table's rows come from a source."""
    state.lake().sources.attach(table, source)
    console.print(f"{table} ← {source}")


@app.command("provenance")
def provenance(
    table: str,
    use: Annotated[str | None, typer.Option(help="Also say whether every source allows this use.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every source and license a table derives from, through its lineage."""
    prov = state.lake().table(table).provenance()
    if as_json:
        console.print_json(json.dumps(prov.to_dict()))
    else:
        rows = [[u.source.name, u.source.kind, u.source.license, ", ".join(u.tables)] for u in prov.sources]
        console.print(rich_table(["source", "kind", "license", "entered through"], rows, f"provenance of {table}"))
    if use is not None:
        refusals = prov.refusals(use)
        for u, why in refusals:
            console.print(f"[red]{use} refused by {u.source.name}[/red]: {why}")
        if not refusals:
            console.print(f"[green]every source allows {use}[/green]")
        else:
            raise typer.Exit(1)
