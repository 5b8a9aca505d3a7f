"""``mlake tables ...`` and ``mlake lineage`` (``mlake maintain`` is in :mod:`mlake.cli.storage`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.tree import Tree

from mlake.cli.context import console, state
from mlake.cli.render import print_arrow, print_json, rich_table
from mlake.errors import BrokenTableError

app = typer.Typer(help="List, inspect, change and drop tables.", no_args_is_help=True)


@app.command("list")
def list_tables(
    namespace: Annotated[str | None, typer.Argument(help="Only this namespace.")] = None,
    quarantine: Annotated[bool, typer.Option(help="Include quarantine tables.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tables with their size and last change."""
    lake = state.lake()
    infos: list[dict[str, Any]] = []
    for n in lake.list_tables(namespace, include_quarantine=quarantine):
        try:
            infos.append(lake.table(n).describe().to_dict())
        except BrokenTableError as exc:  # one broken table must not hide the others
            infos.append({"name": str(n), "error": exc.message})
    if as_json:
        print_json(infos)
        return
    rows = [
        (
            i["name"],
            f"{i['rows']:,}",
            i["files"],
            (i["last_updated"] or "—")[:16].replace("T", " "),
            i["owner"] or "",
            i["description"] or "",
        )
        if "error" not in i
        else (i["name"], "?", "?", "—", "", f"[red]unreadable[/red]: {i['error']}")
        for i in infos
    ]
    console.print(rich_table(["table", "rows", "files", "last updated", "owner", "description"], rows))


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Table, e.g. shop.orders.")],
    rows: Annotated[int, typer.Option("--rows", "-n", help="Preview rows.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Schema, metadata and a preview of a table."""
    lake = state.lake()
    table = lake.table(name)
    info = table.describe().to_dict()
    if as_json:
        print_json(info)
        return
    console.print(
        f"[bold]{info['name']}[/bold]  {info['rows']:,} rows · {info['files']} files · snapshot {info['snapshot_id']}"
    )
    for key in ("description", "owner"):
        if info[key]:
            console.print(f"{key}: {info[key]}", markup=False)
    if info["tags"]:
        console.print("tags: " + ", ".join(f"{k}={v}" if v else k for k, v in info["tags"].items()))
    if info["partitioning"]:
        console.print("partitioned by: " + ", ".join(info["partitioning"]))
    console.print(
        rich_table(["column", "type", "description"], [(c["name"], c["type"], c["doc"] or "") for c in info["columns"]])
    )
    if rows:
        print_arrow(table.head(rows).to_arrow(), title="preview")


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Table, e.g. shop.orders.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Snapshots of a table: when, what operation, rows added and removed, who wrote them."""
    snaps = state.lake().table(name).history()
    if as_json:
        print_json([s.to_dict() for s in snaps])
        return
    rows = [
        (
            ("● " if s.is_current else "  " if s.in_current_lineage else "× ") + str(s.snapshot_id),
            f"{s.committed_at:%Y-%m-%d %H:%M:%S}",
            s.operation,
            f"{s.rows_added:,}",
            f"{s.rows_deleted:,}",
            f"{s.total_rows:,}",
            s.actor or "",
            (s.command or "")[:60],
        )
        for s in snaps
    ]
    console.print(
        rich_table(["snapshot", "committed (UTC)", "operation", "+rows", "-rows", "total", "by", "command"], rows)
    )
    console.print("[dim]● current   × not in the current history (rolled back)[/dim]")


@app.command("drop")
def drop(
    name: Annotated[str, typer.Argument(help="Table to drop.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    keep_files: Annotated[bool, typer.Option(help="Keep the data files on disk.")] = False,
) -> None:
    """Drop a table (and, by default, its files)."""
    if not yes:
        typer.confirm(f"Drop {name} and its data?", abort=True)
    state.lake().drop_table(name, purge=not keep_files)
    console.print(f"dropped {name}")


@app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="Table.")],
    snapshot_id: Annotated[int, typer.Argument(help="Snapshot to make current (see `tables history`).")],
) -> None:
    """Make an earlier (or later) snapshot current again."""
    state.lake().table(name).rollback(snapshot_id)
    console.print(f"{name} is now at snapshot {snapshot_id}")


@app.command("set")
def set_metadata(
    name: Annotated[str, typer.Argument(help="Table.")],
    description: Annotated[str | None, typer.Option(help="Table description.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner (a person or team).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag as key=value or key; repeatable.")] = None,
    untag: Annotated[list[str] | None, typer.Option(help="Remove a tag; repeatable.")] = None,
    column: Annotated[list[str] | None, typer.Option(help="Column description as col=text; repeatable.")] = None,
) -> None:
    """Set a table's description, owner, tags or column descriptions."""
    tags = dict(([*t.split("=", 1), ""])[:2] for t in tag or [])
    docs = dict(c.split("=", 1) for c in column or [] if "=" in c)
    state.lake().table(name).set_metadata(
        description=description, owner=owner, tags=tags or None, remove_tags=untag or (), column_docs=docs or None
    )
    console.print(f"updated {name}")


def lineage(
    name: Annotated[str, typer.Argument(help="Table.")],
    depth: Annotated[int, typer.Option(help="How many steps up and down.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where a table's data came from (upstream) and where it went (downstream)."""
    graph = state.lake().lineage(name, max_depth=depth)
    if as_json:
        print_json(graph.to_dict())
        return
    root = Tree(f"[bold]{graph.table}[/bold]")
    up = root.add("[cyan]upstream[/cyan]")
    for e in graph.upstream:
        src = f"{e.source.kind} {e.source.ref}" + (f" @ {e.source.snapshot_id}" if e.source.snapshot_id else "")
        detail = f" [dim]{e.source.detail[:60]}[/dim]" if e.source.detail and e.source.kind != "query" else ""
        up.add(
            f"{'  ' * (e.depth - 1)}{src}{detail} → {e.target} [dim]({e.write.operation}, "
            f"{e.write.at:%Y-%m-%d %H:%M}, snapshot {e.write.snapshot_id})[/dim]"
        )
    down = root.add("[magenta]downstream[/magenta]")
    for e in graph.downstream:
        down.add(
            f"{'  ' * (e.depth - 1)}{e.source.ref} → {e.target} [dim]({e.write.operation}, "
            f"{e.write.at:%Y-%m-%d %H:%M})[/dim]"
        )
    console.print(root)
