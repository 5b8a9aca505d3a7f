"""``mlake access``: principals, tokens, roles, grants, row filters, column masks, audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape

from mlake.cli.context import console, state
from mlake.cli.render import rich_table

app = typer.Typer(help="Who may do what: principals, tokens, roles, grants, row filters, column masks, audit.")


@app.command("list")
def list_all() -> None:
    """Principals, roles and grants."""
    gov = state.lake().governance
    console.print(
        rich_table(
            ["principal", "kind", "superuser", "roles", "disabled"],
            [[p.name, p.kind, p.superuser, ", ".join(p.roles), p.disabled] for p in gov.principals()],
            "principals",
        )
    )
    console.print(
        rich_table(
            ["role", "members", "description"],
            [[r.name, ", ".join(r.members), r.description] for r in gov.roles()],
            "roles",
        )
    )
    console.print(
        rich_table(
            ["id", "grantee", "privilege", "scope", "by"],
            [[g.id, g.grantee, g.privilege, str(g.scope), g.granted_by] for g in gov.grants()],
            "grants",
        )
    )


def _add(name: str, kind: str, superuser: bool, roles: list[str]) -> None:
    p = state.lake().governance.create_principal(name, kind=kind, superuser=superuser, roles=roles)  # type: ignore[arg-type]
    console.print(f"[green]added[/green] {p.kind} {p.name}{' (superuser)' if p.superuser else ''}")
    console.print(f"[dim]next: mlake access token {p.name}[/dim]")


@app.command("add-user")
def add_user(
    name: str,
    superuser: Annotated[bool, typer.Option(help="May do anything, sees data unmasked.")] = False,
    role: Annotated[list[str] | None, typer.Option(help="Role(s) to join (repeatable).")] = None,
) -> None:
    """Add a user."""
    _add(name, "user", superuser, role or [])


@app.command("add-service")
def add_service(
    name: str,
    role: Annotated[list[str] | None, typer.Option(help="Role(s) to join (repeatable).")] = None,
) -> None:
    """Add a service account (a program that calls the API)."""
    _add(name, "service", False, role or [])


@app.command("remove")
def remove(name: str) -> None:
    """Delete a principal with its tokens, grants, filters and masks."""
    state.lake().governance.delete_principal(name)
    console.print(f"removed {name}")


@app.command("add-role")
def add_role(name: str, description: Annotated[str | None, typer.Option()] = None) -> None:
    """Create a role."""
    state.lake().governance.create_role(name, description)
    console.print(f"[green]added[/green] role {name}")


@app.command("member")
def member(
    role: str, principal: str, remove: Annotated[bool, typer.Option("--remove", help="Leave the role.")] = False
) -> None:
    """Add a principal to a role (or remove it with --remove)."""
    gov = state.lake().governance
    if remove:
        gov.remove_member(role, principal)
    else:
        gov.add_member(role, principal)
    console.print(f"{principal} {'left' if remove else 'joined'} {role}")


@app.command("token")
def token(
    principal: str,
    description: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    expires_days: Annotated[int | None, typer.Option(help="Expire after this many days.")] = None,
) -> None:
    """Create an API token for a principal; it is printed once."""
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    record, secret = state.lake().governance.create_token(principal, description, expires)
    console.print(f"token {record.token_id} for {principal} (shown once, keep it secret):")
    console.print(secret, soft_wrap=True, highlight=False)


@app.command("revoke-token")
def revoke_token(token_id: str) -> None:
    """Revoke an API token by its id."""
    state.lake().governance.revoke_token(token_id)
    console.print(f"revoked {token_id}")


@app.command("grant")
def grant(
    privilege: Annotated[str, typer.Argument(help="select, insert, alter or admin.")],
    scope: Annotated[str, typer.Argument(help="*, shop, shop.orders, shop.orders.amount or tag:pii=false.")],
    grantee: Annotated[str, typer.Argument(help="A principal or role ('public' is everyone).")],
) -> None:
    """Grant a privilege on a scope."""
    g = state.lake().governance.grant(grantee, privilege, scope)
    console.print(f"[green]granted[/green] {g.privilege} on {g.scope} to {g.grantee} (id {g.id})")


@app.command("revoke")
def revoke(privilege: str, scope: str, grantee: str) -> None:
    """Revoke a privilege on a scope."""
    n = state.lake().governance.revoke(grantee, privilege, scope)
    console.print(f"revoked {n} grant(s)")


@app.command("row-filter")
def row_filter(
    table: str,
    grantee: str,
    predicate: Annotated[str, typer.Argument(help="SQL over the table's columns; ${principal} is the reader.")],
) -> None:
    """Show ``grantee`` only the rows of ``table`` where ``predicate`` holds."""
    f = state.lake().governance.add_row_filter(table, grantee, predicate)
    console.print(f"[green]row filter {f.id}[/green] on {f.table} for {f.grantee}: {escape(f.predicate)}")


@app.command("mask")
def mask(
    table: str,
    column: str,
    grantee: str,
    mask: Annotated[str, typer.Argument(help="null, redact, hash, email, last4, year, or a SQL expression.")],
) -> None:
    """Mask a column for a principal or role."""
    m = state.lake().governance.add_column_mask(table, column, grantee, mask)
    console.print(f"[green]mask {m.id}[/green] on {m.table}.{m.column} for {m.grantee}: {escape(m.mask)}")


@app.command("policies")
def policies(table: Annotated[str | None, typer.Argument()] = None) -> None:
    """Row filters and column masks (of one table, or all)."""
    gov = state.lake().governance
    console.print(
        rich_table(
            ["id", "table", "grantee", "predicate"],
            [[f.id, f.table, f.grantee, f.predicate] for f in gov.row_filters(table)],
            "row filters",
        )
    )
    console.print(
        rich_table(
            ["id", "table", "column", "grantee", "mask"],
            [[m.id, m.table, m.column, m.grantee, m.mask] for m in gov.column_masks(table)],
            "column masks",
        )
    )


@app.command("drop-policy")
def drop_policy(kind: Annotated[str, typer.Argument(help="row_filter or column_mask.")], policy_id: int) -> None:
    """Delete a row filter or column mask by id."""
    state.lake().governance.delete_policy(kind, policy_id)
    console.print(f"deleted {kind} {policy_id}")


@app.command("audit")
def audit(
    principal: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option()] = None,
    outcome: Annotated[str | None, typer.Option(help="ok, denied or error.")] = None,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """The newest audit events."""
    events = state.lake().governance.audit_events(principal=principal, action=action, outcome=outcome, limit=limit)
    console.print(
        rich_table(
            ["at", "principal", "action", "tables", "outcome", "detail"],
            [
                [
                    e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.principal,
                    e.action,
                    ",".join(e.tables),
                    e.outcome,
                    (e.detail or "")[:80],
                ]
                for e in events
            ],
            "audit log",
        )
    )
