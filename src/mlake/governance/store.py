"""Principals, roles, tokens, grants, row filters and column masks in the control-plane database.

Every change bumps one version number (table ``mlake_gov_state``), so a server can cache the resolved
policy of each principal and still see a ``mlake access revoke`` made from another process on the next
request: checking one integer is all a request costs while nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mlake.errors import AlreadyExistsError, NotFoundError, ValidationError
from mlake.governance import tokens
from mlake.governance.model import (
    PUBLIC_ROLE,
    ApiToken,
    ColumnMask,
    Grant,
    Principal,
    PrincipalKind,
    Role,
    RowFilter,
    Scope,
    check_name,
    check_privilege,
)
from mlake.metastore import Migration, metadata
from mlake.tables.names import TableName

principals_table = sa.Table(
    "mlake_gov_principals",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("superuser", sa.Boolean, nullable=False, default=False),
    sa.Column("display_name", sa.String(200), nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
roles_table = sa.Table(
    "mlake_gov_roles",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
members_table = sa.Table(
    "mlake_gov_role_members",
    metadata,
    sa.Column("role", sa.String(64), primary_key=True),
    sa.Column("principal", sa.String(64), primary_key=True),
)
tokens_table = sa.Table(
    "mlake_gov_tokens",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("principal", sa.String(64), nullable=False, index=True),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
grants_table = sa.Table(
    "mlake_gov_grants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("grantee", sa.String(64), nullable=False, index=True),
    sa.Column("privilege", sa.String(16), nullable=False),
    sa.Column("scope_kind", sa.String(16), nullable=False),
    sa.Column("target", sa.String(400), nullable=False),
    sa.Column("column_name", sa.String(200), nullable=True),
    sa.Column("granted_by", sa.String(64), nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
)
row_filters_table = sa.Table(
    "mlake_gov_row_filters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(400), nullable=False, index=True),
    sa.Column("grantee", sa.String(64), nullable=False),
    sa.Column("predicate", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
column_masks_table = sa.Table(
    "mlake_gov_column_masks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(400), nullable=False, index=True),
    sa.Column("column_name", sa.String(200), nullable=False),
    sa.Column("grantee", sa.String(64), nullable=False),
    sa.Column("mask", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
state_table = sa.Table(
    "mlake_gov_state",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
audit_pending_table = sa.Table(
    "mlake_audit_pending",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("principal", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("tables", sa.Text, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("client", sa.String(200), nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=True),
    # Event ids must never be reused (the flush's high-water mark relies on it): SQLite's plain rowid
    # would hand out 1 again once the table is empty, AUTOINCREMENT does not.
    sqlite_autoincrement=True,
)


def _create_all(conn: Connection) -> None:
    for table in (
        principals_table,
        roles_table,
        members_table,
        tokens_table,
        grants_table,
        row_filters_table,
        column_masks_table,
        state_table,
        audit_pending_table,
    ):
        table.create(conn, checkfirst=True)
    conn.execute(state_table.insert().values(key="version", value=1))


MIGRATIONS = [
    Migration("governance", 1, "principals, roles, tokens, grants, row filters, column masks, audit", _create_all)
]


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class GovernanceStore:
    """Reads and changes access-control records. Callers check that the actor may make a change."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- version ----------------------------------------------------------------------------------

    def version(self) -> int:
        with self._engine.connect() as conn:
            value = conn.execute(sa.select(state_table.c.value).where(state_table.c.key == "version")).scalar()
        return int(value or 0)

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(state_table.update().where(state_table.c.key == "version").values(value=state_table.c.value + 1))

    # --- principals and roles ---------------------------------------------------------------------

    def _name_taken(self, conn: Connection, name: str) -> str | None:
        if conn.execute(sa.select(principals_table.c.name).where(principals_table.c.name == name)).first():
            return "principal"
        if name == PUBLIC_ROLE or conn.execute(sa.select(roles_table.c.name).where(roles_table.c.name == name)).first():
            return "role"
        return None

    def create_principal(
        self,
        name: str,
        *,
        kind: PrincipalKind = "user",
        superuser: bool = False,
        display_name: str | None = None,
        roles: Sequence[str] = (),
    ) -> Principal:
        check_name(name)
        if kind not in ("user", "service"):
            raise ValidationError(f"Unknown principal kind {kind!r}", hint="use user or service")
        with self._engine.begin() as conn:
            taken = self._name_taken(conn, name)
            if taken:
                raise AlreadyExistsError(f"A {taken} named {name!r} already exists")
            conn.execute(
                principals_table.insert().values(
                    name=name,
                    kind=kind,
                    superuser=superuser,
                    display_name=display_name,
                    disabled=False,
                    created_at=_now(),
                )
            )
            for role in roles:
                self._add_member(conn, role, name)
            self._bump(conn)
        return self.principal(name)

    def principal(self, name: str) -> Principal:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(principals_table).where(principals_table.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"No principal named {name!r}", hint="`mlake access list` shows principals")
            roles = tuple(
                sorted(
                    r.role
                    for r in conn.execute(sa.select(members_table.c.role).where(members_table.c.principal == name))
                )
            )
        return self._principal(row, roles)

    @staticmethod
    def _principal(row: Any, roles: tuple[str, ...]) -> Principal:
        return Principal(
            name=row.name,
            kind=row.kind,
            superuser=bool(row.superuser),
            display_name=row.display_name,
            roles=roles,
            created_at=_aware(row.created_at),
            disabled=bool(row.disabled),
        )

    def principals(self) -> list[Principal]:
        with self._engine.connect() as conn:
            rows = list(conn.execute(sa.select(principals_table).order_by(principals_table.c.name)))
            members: dict[str, list[str]] = {}
            for m in conn.execute(sa.select(members_table)):
                members.setdefault(m.principal, []).append(m.role)
        return [self._principal(r, tuple(sorted(members.get(r.name, [])))) for r in rows]

    def update_principal(
        self, name: str, *, superuser: bool | None = None, disabled: bool | None = None, display_name: str | None = None
    ) -> Principal:
        values: dict[str, Any] = {}
        if superuser is not None:
            values["superuser"] = superuser
        if disabled is not None:
            values["disabled"] = disabled
        if display_name is not None:
            values["display_name"] = display_name
        self.principal(name)
        if values:
            with self._engine.begin() as conn:
                conn.execute(principals_table.update().where(principals_table.c.name == name).values(**values))
                self._bump(conn)
        return self.principal(name)

    def delete_principal(self, name: str) -> None:
        self.principal(name)
        with self._engine.begin() as conn:
            conn.execute(tokens_table.delete().where(tokens_table.c.principal == name))
            conn.execute(members_table.delete().where(members_table.c.principal == name))
            conn.execute(grants_table.delete().where(grants_table.c.grantee == name))
            conn.execute(row_filters_table.delete().where(row_filters_table.c.grantee == name))
            conn.execute(column_masks_table.delete().where(column_masks_table.c.grantee == name))
            conn.execute(principals_table.delete().where(principals_table.c.name == name))
            self._bump(conn)

    def create_role(self, name: str, description: str | None = None) -> Role:
        check_name(name, "role")
        with self._engine.begin() as conn:
            taken = self._name_taken(conn, name)
            if taken:
                raise AlreadyExistsError(f"A {taken} named {name!r} already exists")
            conn.execute(roles_table.insert().values(name=name, description=description, created_at=_now()))
            self._bump(conn)
        return Role(name, description)

    def roles(self) -> list[Role]:
        with self._engine.connect() as conn:
            rows = list(conn.execute(sa.select(roles_table).order_by(roles_table.c.name)))
            members: dict[str, list[str]] = {}
            for m in conn.execute(sa.select(members_table)):
                members.setdefault(m.role, []).append(m.principal)
        return [Role(r.name, r.description, tuple(sorted(members.get(r.name, [])))) for r in rows]

    def delete_role(self, name: str) -> None:
        with self._engine.begin() as conn:
            if not conn.execute(sa.select(roles_table.c.name).where(roles_table.c.name == name)).first():
                raise NotFoundError(f"No role named {name!r}")
            conn.execute(members_table.delete().where(members_table.c.role == name))
            conn.execute(grants_table.delete().where(grants_table.c.grantee == name))
            conn.execute(row_filters_table.delete().where(row_filters_table.c.grantee == name))
            conn.execute(column_masks_table.delete().where(column_masks_table.c.grantee == name))
            conn.execute(roles_table.delete().where(roles_table.c.name == name))
            self._bump(conn)

    def _add_member(self, conn: Connection, role: str, principal: str) -> None:
        if not conn.execute(sa.select(roles_table.c.name).where(roles_table.c.name == role)).first():
            raise NotFoundError(f"No role named {role!r}", hint="create it first: mlake access add-role NAME")
        exists = conn.execute(
            sa.select(members_table.c.role).where(
                (members_table.c.role == role) & (members_table.c.principal == principal)
            )
        ).first()
        if not exists:
            conn.execute(members_table.insert().values(role=role, principal=principal))

    def add_member(self, role: str, principal: str) -> None:
        self.principal(principal)
        with self._engine.begin() as conn:
            self._add_member(conn, role, principal)
            self._bump(conn)

    def remove_member(self, role: str, principal: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                members_table.delete().where((members_table.c.role == role) & (members_table.c.principal == principal))
            )
            self._bump(conn)

    def _check_grantee(self, grantee: str) -> None:
        with self._engine.connect() as conn:
            if self._name_taken(conn, grantee) is None:
                raise NotFoundError(
                    f"No principal or role named {grantee!r}",
                    hint=f"grant to an existing principal or role, or to {PUBLIC_ROLE!r} (everyone)",
                )

    # --- tokens -----------------------------------------------------------------------------------

    def create_token(
        self, principal: str, description: str | None = None, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """A new token for ``principal``; returns its record and the full token (shown only now)."""
        self.principal(principal)
        issued = tokens.issue()
        now = _now()
        with self._engine.begin() as conn:
            conn.execute(
                tokens_table.insert().values(
                    token_id=issued.token_id,
                    principal=principal,
                    secret_hash=issued.secret_hash,
                    description=description,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return ApiToken(issued.token_id, principal, description, now, expires_at), issued.token

    def tokens(self, principal: str | None = None) -> list[ApiToken]:
        query = sa.select(tokens_table).order_by(tokens_table.c.created_at)
        if principal:
            query = query.where(tokens_table.c.principal == principal)
        with self._engine.connect() as conn:
            return [
                ApiToken(
                    r.token_id,
                    r.principal,
                    r.description,
                    _aware(r.created_at) or _now(),
                    _aware(r.expires_at),
                    _aware(r.last_used_at),
                    r.revoked_at is not None,
                )
                for r in conn.execute(query)
            ]

    def revoke_token(self, token_id: str) -> ApiToken:
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(tokens_table).where(tokens_table.c.token_id == token_id)).first()
            if row is None:
                raise NotFoundError(f"No token with id {token_id!r}")
            conn.execute(tokens_table.update().where(tokens_table.c.token_id == token_id).values(revoked_at=_now()))
            self._bump(conn)
        return next(t for t in self.tokens(row.principal) if t.token_id == token_id)

    def authenticate(self, token: str) -> Principal:
        """The principal a token belongs to; AuthenticationError when it is unknown, revoked or expired."""
        return self.verify(token)[0]

    def verify(self, token: str) -> tuple[Principal, datetime | None]:
        """The principal of a valid token and when the token expires (None: never)."""
        token_id, secret = tokens.split(token)
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(tokens_table).where(tokens_table.c.token_id == token_id)).first()
        # Compare against a dummy hash when the id is unknown, so timing does not tell ids apart.
        stored = row.secret_hash if row is not None else tokens.hash_secret("")
        valid = tokens.matches(secret, stored) and row is not None
        if not valid or row is None:
            raise tokens.AuthenticationError("The API token is not valid", hint="create one with `mlake access token`")
        if row.revoked_at is not None:
            raise tokens.AuthenticationError(f"The API token {token_id} was revoked")
        now = _now()
        expires = _aware(row.expires_at)
        if expires is not None and expires <= now:
            raise tokens.AuthenticationError(f"The API token {token_id} expired at {expires.isoformat()}")
        principal = self.principal(row.principal)
        if principal.disabled:
            raise tokens.AuthenticationError(f"Principal {principal.name!r} is disabled")
        last = _aware(row.last_used_at)
        if last is None or (now - last).total_seconds() > 60:  # one write a minute at most, not one per request
            with self._engine.begin() as conn:
                conn.execute(tokens_table.update().where(tokens_table.c.token_id == token_id).values(last_used_at=now))
        return principal, expires

    # --- grants -----------------------------------------------------------------------------------

    def grant(self, grantee: str, privilege: str, scope: str | Scope, granted_by: str) -> Grant:
        priv = check_privilege(privilege)
        sc = scope if isinstance(scope, Scope) else Scope.parse(scope)
        self._check_grantee(grantee)
        if sc.kind == "column" and priv != "select":
            raise ValidationError("Column grants give select only", hint="grant insert/alter/admin on the table")
        for g in self.grants(grantee):
            if g.privilege == priv and g.scope == sc:
                return g
        with self._engine.begin() as conn:
            result = conn.execute(
                grants_table.insert().values(
                    grantee=grantee,
                    privilege=priv,
                    scope_kind=sc.kind,
                    target=sc.target,
                    column_name=sc.column,
                    granted_by=granted_by,
                    granted_at=_now(),
                )
            )
            self._bump(conn)
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return next(g for g in self.grants(grantee) if g.id == new_id)

    def revoke(self, grantee: str, privilege: str, scope: str | Scope) -> int:
        """Remove matching grants; returns how many were removed."""
        priv = check_privilege(privilege)
        sc = scope if isinstance(scope, Scope) else Scope.parse(scope)
        cond = (
            (grants_table.c.grantee == grantee)
            & (grants_table.c.privilege == priv)
            & (grants_table.c.scope_kind == sc.kind)
            & (grants_table.c.target == sc.target)
        )
        if sc.column is not None:
            cond &= grants_table.c.column_name == sc.column
        with self._engine.begin() as conn:
            n = conn.execute(grants_table.delete().where(cond)).rowcount
            self._bump(conn)
        return int(n or 0)

    def delete_grant(self, grant_id: int) -> None:
        with self._engine.begin() as conn:
            n = conn.execute(grants_table.delete().where(grants_table.c.id == grant_id)).rowcount
            if not n:
                raise NotFoundError(f"No grant with id {grant_id}")
            self._bump(conn)

    def grants(self, grantee: str | Sequence[str] | None = None) -> list[Grant]:
        query = sa.select(grants_table).order_by(grants_table.c.id)
        if isinstance(grantee, str):
            query = query.where(grants_table.c.grantee == grantee)
        elif grantee is not None:
            query = query.where(grants_table.c.grantee.in_(list(grantee)))
        with self._engine.connect() as conn:
            return [
                Grant(
                    r.id,
                    r.grantee,
                    r.privilege,
                    Scope(r.scope_kind, r.target, r.column_name),
                    r.granted_by,
                    _aware(r.granted_at) or _now(),
                )
                for r in conn.execute(query)
            ]

    # --- row filters and column masks ---------------------------------------------------------------

    def add_row_filter(self, table: str, grantee: str, predicate: str, created_by: str) -> RowFilter:
        name = str(TableName.parse(table))
        self._check_grantee(grantee)
        if not predicate or not predicate.strip():
            raise ValidationError("A row filter needs a predicate", hint="e.g. country = 'DE'")
        with self._engine.begin() as conn:
            result = conn.execute(
                row_filters_table.insert().values(
                    table_name=name,
                    grantee=grantee,
                    predicate=predicate.strip(),
                    created_by=created_by,
                    created_at=_now(),
                )
            )
            self._bump(conn)
            new_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
        return RowFilter(new_id, name, grantee, predicate.strip(), created_by)

    def row_filters(self, table: str | None = None, grantees: Sequence[str] | None = None) -> list[RowFilter]:
        query = sa.select(row_filters_table).order_by(row_filters_table.c.id)
        if table is not None:
            query = query.where(row_filters_table.c.table_name == table)
        if grantees is not None:
            query = query.where(row_filters_table.c.grantee.in_(list(grantees)))
        with self._engine.connect() as conn:
            return [RowFilter(r.id, r.table_name, r.grantee, r.predicate, r.created_by) for r in conn.execute(query)]

    def add_column_mask(self, table: str, column: str, grantee: str, mask: str, created_by: str) -> ColumnMask:
        name = str(TableName.parse(table))
        self._check_grantee(grantee)
        if not mask or not mask.strip():
            raise ValidationError("A column mask needs a mask", hint="e.g. redact, null, hash, email, last4")
        with self._engine.begin() as conn:
            conn.execute(
                column_masks_table.delete().where(
                    (column_masks_table.c.table_name == name)
                    & (column_masks_table.c.column_name == column)
                    & (column_masks_table.c.grantee == grantee)
                )
            )
            result = conn.execute(
                column_masks_table.insert().values(
                    table_name=name,
                    column_name=column,
                    grantee=grantee,
                    mask=mask.strip(),
                    created_by=created_by,
                    created_at=_now(),
                )
            )
            self._bump(conn)
            new_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
        return ColumnMask(new_id, name, column, grantee, mask.strip(), created_by)

    def column_masks(self, table: str | None = None, grantees: Sequence[str] | None = None) -> list[ColumnMask]:
        query = sa.select(column_masks_table).order_by(column_masks_table.c.id)
        if table is not None:
            query = query.where(column_masks_table.c.table_name == table)
        if grantees is not None:
            query = query.where(column_masks_table.c.grantee.in_(list(grantees)))
        with self._engine.connect() as conn:
            return [
                ColumnMask(r.id, r.table_name, r.column_name, r.grantee, r.mask, r.created_by)
                for r in conn.execute(query)
            ]

    def delete_policy(self, kind: str, policy_id: int) -> None:
        """Delete a row filter (``kind="row_filter"``) or a column mask (``kind="column_mask"``)."""
        table = {"row_filter": row_filters_table, "column_mask": column_masks_table}.get(kind)
        if table is None:
            raise ValidationError(f"Unknown policy kind {kind!r}", hint="use row_filter or column_mask")
        with self._engine.begin() as conn:
            n = conn.execute(table.delete().where(table.c.id == policy_id)).rowcount
            if not n:
                raise NotFoundError(f"No {kind.replace('_', ' ')} with id {policy_id}")
            self._bump(conn)

    def forget_table(self, table: str) -> None:
        """Remove a dropped table's grants and policies, so a new table of the same name starts clean."""
        with self._engine.begin() as conn:
            conn.execute(
                grants_table.delete().where(
                    grants_table.c.scope_kind.in_(["table", "column"]) & (grants_table.c.target == table)
                )
            )
            conn.execute(row_filters_table.delete().where(row_filters_table.c.table_name == table))
            conn.execute(column_masks_table.delete().where(column_masks_table.c.table_name == table))
            self._bump(conn)

    def forget_stream(self, stream: str) -> None:
        """Remove a deleted stream's grants, so a new stream of the same name starts clean."""
        with self._engine.begin() as conn:
            conn.execute(
                grants_table.delete().where((grants_table.c.scope_kind == "stream") & (grants_table.c.target == stream))
            )
            self._bump(conn)
