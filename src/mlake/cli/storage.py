"""``mlake storage``: storage usage and growth, lifecycle policies, snapshot pins; and ``mlake maintain``,
which applies the policies."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlake.cli.context import console, state
from mlake.cli.render import print_json, rich_table

app = typer.Typer(help="What the tables cost to keep, and the lifecycle policies that keep it down.")
policy_app = typer.Typer(help="Lifecycle policies per table or namespace.")
app.add_typer(policy_app, name="policy")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


@app.command("usage")
def usage(
    table: Annotated[str | None, typer.Argument(help="One table (default: every table).")] = None,
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    record: Annotated[bool, typer.Option(help="Append the measurement to mlake.storage_usage.")] = False,
    top: Annotated[int, typer.Option(help="Show the largest N tables.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Bytes and files per table and namespace: current snapshot, old snapshots only, orphans."""
    report = state.lake().storage.usage(table, namespace, record=record)
    if as_json:
        print_json(report.to_dict())
        return
    rows = [
        [t.table, t.current_files, _size(t.current_bytes), _size(t.old_bytes), _size(t.orphan_bytes),
         _size(t.tiered_bytes), _size(t.total_bytes)]
        for t in report.largest(top)
    ]  # fmt: skip
    columns = ["table", "files", "current", "old snapshots", "orphans", "tiered", "total"]
    console.print(rich_table(columns, rows, "largest tables"))
    ns_rows = [[n.namespace, n.tables, _size(n.current_bytes), _size(n.old_bytes), _size(n.total_bytes)]
               for n in report.namespaces]  # fmt: skip
    console.print(rich_table(["namespace", "tables", "current", "old snapshots", "total"], ns_rows, "namespaces"))


@app.command("history")
def history(
    table: Annotated[str | None, typer.Argument(help="One table (default: every table).")] = None,
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recorded measurements: how storage grew."""
    points = state.lake().storage.history(table, namespace)
    if as_json:
        print_json([p.to_dict() for p in points])
        return
    rows = [
        [f"{p.measured_at:%Y-%m-%d %H:%M}", p.table, _size(p.current_bytes), _size(p.old_bytes),
         _size(p.total_bytes), p.trigger]
        for p in points
    ]  # fmt: skip
    console.print(rich_table(["measured", "table", "current", "old snapshots", "total", "by"], rows, "storage growth"))


@policy_app.command("set")
def set_policy(
    scope: Annotated[str, typer.Argument(help="A table (ns.table) or a namespace (ns).")],
    expire_older_than: Annotated[str | None, typer.Option(help="Expire snapshots older than this (30d).")] = None,
    retain_last: Annotated[int | None, typer.Option(help="Always keep this many snapshots.")] = None,
    retention_days: Annotated[float | None, typer.Option(help="Delete rows older than this many days.")] = None,
    time_column: Annotated[str | None, typer.Option(help="The column that ages rows (retention, tiering).")] = None,
    compact: Annotated[bool | None, typer.Option(help="Rewrite small files into bigger ones.")] = None,
    target_file_bytes: Annotated[int | None, typer.Option(help="Compaction's file size.")] = None,
    tier_after_days: Annotated[float | None, typer.Option(help="Move files whose rows are older than this.")] = None,
    tier_location: Annotated[str | None, typer.Option(help="The colder folder or s3://bucket/prefix.")] = None,
    tier_zstd_level: Annotated[int | None, typer.Option(help="zstd level of tiered files (1-22).")] = None,
    remove_orphans: Annotated[bool | None, typer.Option(help="Delete files no snapshot references.")] = None,
    orphan_grace: Annotated[str | None, typer.Option(help="Leave orphans younger than this (1h).")] = None,
) -> None:
    """Set (replace) the lifecycle policy of a table or namespace."""
    rules: dict[str, Any] = {
        "expire_older_than": expire_older_than,
        "retain_last": retain_last,
        "retention_days": retention_days,
        "time_column": time_column,
        "compact": compact,
        "target_file_bytes": target_file_bytes,
        "tier_after_days": tier_after_days,
        "tier_location": tier_location,
        "tier_zstd_level": tier_zstd_level,
        "remove_orphans": remove_orphans,
        "orphan_grace": orphan_grace,
    }
    stored = state.lake().storage.set_policy(scope, {k: v for k, v in rules.items() if v is not None})
    console.print(f"[green]policy set[/green] on {stored.kind} {stored.scope}: {stored.policy.describe()}")


@policy_app.command("list")
def list_policies() -> None:
    """Policies on the tables and namespaces you may see."""
    rows = [[p.scope, p.kind, p.policy.describe(), p.set_by, f"{p.set_at:%Y-%m-%d %H:%M}"]
            for p in state.lake().storage.policies()]  # fmt: skip
    console.print(rich_table(["scope", "kind", "rules", "set by", "set at"], rows, "lifecycle policies"))


@policy_app.command("show")
def show_policy(table: Annotated[str, typer.Argument(help="A table.")]) -> None:
    """The rules a run applies to a table (its policy over its namespace's over the defaults)."""
    console.print(state.lake().storage.effective_policy(table).describe())


@policy_app.command("remove")
def remove_policy(scope: Annotated[str, typer.Argument(help="A table (ns.table) or a namespace (ns).")]) -> None:
    """Remove the policy of a table or namespace."""
    state.lake().storage.remove_policy(scope)
    console.print(f"removed the policy of {scope}")


@app.command("pins")
def pins(table: str) -> None:
    """Snapshots expiry keeps, and why (a training set read it, a tag holds it)."""
    rows = [[p.snapshot_id, p.reason] for p in state.lake().storage.pins(table)]
    console.print(rich_table(["snapshot", "pinned by"], rows, f"pinned snapshots of {table}"))


@app.command("pin")
def pin(
    table: str,
    tag: str,
    snapshot: Annotated[int | None, typer.Option(help="The snapshot (default: the current one).")] = None,
) -> None:
    """Tag a snapshot so that no expiry removes it."""
    found = state.lake().storage.pin(table, tag, snapshot)
    console.print(f"pinned snapshot {found.snapshot_id} of {table} as {tag}")


@app.command("unpin")
def unpin(table: str, tag: str) -> None:
    """Remove a snapshot tag."""
    state.lake().storage.unpin(table, tag)
    console.print(f"removed tag {tag} of {table}")


def maintain(
    name: Annotated[str | None, typer.Argument(help="Table (default: every table you may alter).")] = None,
    namespace: Annotated[str | None, typer.Option(help="Only this namespace's tables.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be done; change nothing.")] = False,
    older_than: Annotated[str | None, typer.Option(help="Expire snapshots older than this (policy/7d).")] = None,
    retain_last: Annotated[int | None, typer.Option(help="Always keep this many recent snapshots (policy/5).")] = None,
    compact: Annotated[bool | None, typer.Option(help="Rewrite small files into bigger ones (policy/yes).")] = None,
    orphans: Annotated[bool | None, typer.Option(help="Delete files no snapshot references (policy/yes).")] = None,
    orphan_grace: Annotated[str | None, typer.Option(help="Leave orphan files younger than this (policy/1h).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Apply lifecycle policies: retention, tiering, compaction, snapshot expiry, orphan removal.

    Each table's rules come from its policy, its namespace's, then the defaults; options given here win."""
    overrides = {
        "expire_older_than": older_than,
        "retain_last": retain_last,
        "compact": compact,
        "remove_orphans": orphans,
        "orphan_grace": orphan_grace,
    }
    reports = state.lake().storage.apply(
        name, namespace=namespace, dry_run=dry_run, **{k: v for k, v in overrides.items() if v is not None}
    )
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    rows = [
        [r.table, "\n".join(a.detail for a in r.actions) or "nothing to do", _size(r.bytes_before),
         _size(r.bytes_saved), f"{r.seconds:.1f}s"]
        for r in reports
    ]  # fmt: skip
    title = "maintenance (dry run: nothing changed)" if dry_run else "maintenance"
    saved = "would save" if dry_run else "saved"
    console.print(rich_table(["table", "actions", "size before", saved, "time"], rows, title))
