"""``lake.governance``: administer access control, authenticate tokens, bind a lake to a principal.

:class:`Governance` is the trusted API the lake's owner uses (the CLI on the lake's machine, tests,
the server's start-up). :class:`GuardedGovernance` is the same API as a principal may use it — through
``lake.as_principal(p).governance`` and so through the REST API and Studio — where every change is
checked (superusers manage principals and roles; an ``admin`` on a table, namespace or the lake may
grant on it and set its filters and masks) and audited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlake.errors import PermissionDeniedError
from mlake.governance.audit import AuditLog
from mlake.governance.engine import SandboxedEngine
from mlake.governance.model import (
    PUBLIC_ROLE,
    ApiToken,
    AuditEvent,
    ColumnMask,
    Grant,
    Principal,
    PrincipalKind,
    Role,
    RowFilter,
    Scope,
)
from mlake.governance.policy import AccessPolicy, check_mask_definition
from mlake.governance.sandbox import SandboxLimits, SqlSandbox
from mlake.governance.store import GovernanceStore
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.core import LakeHandle as Lake


@runtime_checkable
class GovernanceAdmin(Protocol):
    """The administration API of ``lake.governance``: the owner's :class:`Governance` and a principal's
    :class:`GuardedGovernance` both provide it (the latter checks and audits every change)."""

    def principals(self) -> list[Principal]: ...
    def create_principal(
        self,
        name: str,
        *,
        kind: PrincipalKind = "user",
        superuser: bool = False,
        display_name: str | None = None,
        roles: Sequence[str] = (),
    ) -> Principal: ...
    def update_principal(self, name: str, **changes: Any) -> Principal: ...
    def delete_principal(self, name: str) -> None: ...
    def roles(self) -> list[Role]: ...
    def create_role(self, name: str, description: str | None = None) -> Role: ...
    def delete_role(self, name: str) -> None: ...
    def add_member(self, role: str, principal: str) -> None: ...
    def remove_member(self, role: str, principal: str) -> None: ...
    def tokens(self, principal: str | None = None) -> list[ApiToken]: ...
    def create_token(
        self, principal: str | None = None, description: str | None = None, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]: ...
    def revoke_token(self, token_id: str) -> ApiToken: ...
    def grants(self, grantee: str | None = None) -> list[Grant]: ...
    def grant(self, grantee: str, privilege: str, scope: str) -> Grant: ...
    def revoke(self, grantee: str, privilege: str, scope: str) -> int: ...
    def delete_grant(self, grant_id: int) -> None: ...
    def row_filters(self, table: str | None = None) -> list[RowFilter]: ...
    def column_masks(self, table: str | None = None) -> list[ColumnMask]: ...
    def add_row_filter(self, table: str, grantee: str, predicate: str) -> RowFilter: ...
    def add_column_mask(self, table: str, column: str, grantee: str, mask: str) -> ColumnMask: ...
    def delete_policy(self, kind: str, policy_id: int) -> None: ...
    def audit_events(
        self,
        *,
        principal: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        table: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]: ...


class Governance:
    """Access control of one lake."""

    def __init__(self, lake: Lake, limits: SandboxLimits | None = None) -> None:
        self._lake = lake
        self.store = GovernanceStore(lake._core.metadata_engine)
        self.audit = AuditLog(lake)
        self.sandbox = SqlSandbox(limits)
        self._engine: SandboxedEngine | None = None
        self._lock = threading.Lock()
        self._policies: dict[str, tuple[int, Principal, AccessPolicy]] = {}
        self._tokens: dict[str, tuple[int, float, datetime | None, Principal]] = {}
        self._local = threading.local()

    @property
    def limits(self) -> SandboxLimits:
        return self.sandbox.limits

    @limits.setter
    def limits(self, value: SandboxLimits) -> None:
        self.sandbox.limits = value

    @property
    def sandbox_engine(self) -> SandboxedEngine:
        """The locked-down DuckDB database every principal's SQL runs on (created on first use)."""
        with self._lock:
            if self._engine is None:
                self._engine = SandboxedEngine(self._lake, self.sandbox)
            return self._engine

    def close(self) -> None:
        self.audit.stop()
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
        self.sandbox.close()

    # --- principals -------------------------------------------------------------------------------

    def local_superuser(self) -> Principal:
        """The lake's own user on its machine: what an unauthenticated loopback server acts as."""
        return Principal(name=self._lake.settings.user, superuser=True, display_name="local user")

    def authenticate(self, token: str, client: str | None = None) -> Principal:
        """The principal of an API token; failures are audited (without the token)."""
        from mlake.governance.tokens import AuthenticationError, hash_secret

        # A verified token is remembered for up to a minute while nothing in access control changes
        # (revoking a token or disabling a principal bumps the version): one query per request, not four.
        key = hash_secret(token)
        version = self.store.version()
        hit = self._tokens.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] == version and now - hit[1] < 60 and (hit[2] is None or hit[2] > _utcnow()):
            return hit[3]
        try:
            principal, expires = self.store.verify(token)
        except AuthenticationError as exc:
            self.audit.record(
                principal="anonymous", action="authenticate", outcome="denied", message=exc.message, client=client
            )
            raise
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[key] = (version, now, expires, principal)
        return principal

    def policy_for(self, principal: Principal) -> AccessPolicy:
        """The resolved policy, cached until any grant, filter, mask or membership changes."""
        version = self.store.version()
        cached = self._policies.get(principal.name)
        if cached is not None and cached[0] == version and cached[1] == principal:
            return cached[2]
        if principal.superuser:
            policy = AccessPolicy(principal, [], [], [], self.sandbox)
        else:
            grantees = principal.grantees
            policy = AccessPolicy(
                principal,
                self.store.grants(grantees),
                self.store.row_filters(grantees=grantees),
                self.store.column_masks(grantees=grantees),
                self.sandbox,
            )
        self._policies[principal.name] = (version, principal, policy)
        return policy

    def as_principal(self, principal: Principal | str, client: str | None = None) -> Lake:
        """The lake as ``principal`` sees it: every read through its secure views, every action audited.

        It is the same :class:`~mlake.lake.Lake` over the same catalog; only its access differs."""
        from mlake.governance.access import Access

        p = principal if isinstance(principal, Principal) else self._principal_named(principal)
        core = self._lake._core
        access = Access(p, policies=self, audit_log=self.audit, facts=core.facts, client=client)
        return core.bind(access)

    def _principal_named(self, name: str) -> Principal:
        if name == self._lake.settings.user and not self._exists(name):
            return self.local_superuser()
        return self.store.principal(name)

    def _exists(self, name: str) -> bool:
        return any(p.name == name for p in self.store.principals())

    # --- administration (trusted) -------------------------------------------------------------------

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Guarded calls audit themselves (with the principal and outcome); no second event here."""
        self._local.quiet = True
        try:
            yield
        finally:
            self._local.quiet = False

    def _log(self, action: str, detail: str, tables: Sequence[str] = ()) -> None:
        if not getattr(self._local, "quiet", False):
            self.audit.record(
                principal=self._lake.settings.user, action=action, tables=tables, detail=detail, client="local"
            )

    def create_principal(
        self,
        name: str,
        *,
        kind: PrincipalKind = "user",
        superuser: bool = False,
        display_name: str | None = None,
        roles: Sequence[str] = (),
    ) -> Principal:
        p = self.store.create_principal(name, kind=kind, superuser=superuser, display_name=display_name, roles=roles)
        self._log("principal.create", name)
        return p

    def principals(self) -> list[Principal]:
        return self.store.principals()

    def principal(self, name: str) -> Principal:
        return self.store.principal(name)

    def update_principal(self, name: str, **changes: Any) -> Principal:
        p = self.store.update_principal(name, **changes)
        self._log("principal.update", f"{name} {changes}")
        return p

    def delete_principal(self, name: str) -> None:
        self.store.delete_principal(name)
        self._log("principal.delete", name)

    def create_role(self, name: str, description: str | None = None) -> Role:
        role = self.store.create_role(name, description)
        self._log("role.create", name)
        return role

    def roles(self) -> list[Role]:
        return self.store.roles()

    def delete_role(self, name: str) -> None:
        self.store.delete_role(name)
        self._log("role.delete", name)

    def add_member(self, role: str, principal: str) -> None:
        self.store.add_member(role, principal)
        self._log("role.add_member", f"{principal} -> {role}")

    def remove_member(self, role: str, principal: str) -> None:
        self.store.remove_member(role, principal)
        self._log("role.remove_member", f"{principal} -/-> {role}")

    def create_token(
        self, principal: str | None = None, description: str | None = None, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """A new API token for ``principal`` (default: the lake's own user, who must be a principal)."""
        principal = principal or self._lake.settings.user
        out = self.store.create_token(principal, description, expires_at)
        self._log("token.create", f"{principal} {out[0].token_id}")
        return out

    def tokens(self, principal: str | None = None) -> list[ApiToken]:
        return self.store.tokens(principal)

    def revoke_token(self, token_id: str) -> ApiToken:
        token = self.store.revoke_token(token_id)
        self._log("token.revoke", token_id)
        return token

    def grant(self, grantee: str, privilege: str, scope: str, *, granted_by: str | None = None) -> Grant:
        g = self.store.grant(grantee, privilege, scope, granted_by or self._lake.settings.user)
        self._log("grant", f"{privilege} on {scope} to {grantee}", _tables_of(scope))
        return g

    def revoke(self, grantee: str, privilege: str, scope: str) -> int:
        n = self.store.revoke(grantee, privilege, scope)
        self._log("revoke", f"{privilege} on {scope} from {grantee}", _tables_of(scope))
        return n

    def delete_grant(self, grant_id: int) -> None:
        self.store.delete_grant(grant_id)
        self._log("revoke", f"grant {grant_id}")

    def grants(self, grantee: str | None = None) -> list[Grant]:
        return self.store.grants(grantee)

    def add_row_filter(self, table: str, grantee: str, predicate: str, *, created_by: str | None = None) -> RowFilter:
        self.sandbox.check_expression(predicate.replace("${principal}", "'x'"), "row filter")
        f = self.store.add_row_filter(table, grantee, predicate, created_by or self._lake.settings.user)
        self._log("row_filter.add", f"{grantee}: {predicate}", [f.table])
        return f

    def row_filters(self, table: str | None = None) -> list[RowFilter]:
        return self.store.row_filters(str(TableName.parse(table)) if table else None)

    def add_column_mask(
        self, table: str, column: str, grantee: str, mask: str, *, created_by: str | None = None
    ) -> ColumnMask:
        check_mask_definition(mask, self.sandbox)
        m = self.store.add_column_mask(table, column, grantee, mask, created_by or self._lake.settings.user)
        self._log("column_mask.add", f"{column} for {grantee}: {mask}", [m.table])
        return m

    def column_masks(self, table: str | None = None) -> list[ColumnMask]:
        return self.store.column_masks(str(TableName.parse(table)) if table else None)

    def delete_policy(self, kind: str, policy_id: int) -> None:
        self.store.delete_policy(kind, policy_id)
        self._log(f"{kind}.delete", str(policy_id))

    def audit_events(
        self,
        *,
        principal: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        table: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Audit events, newest first, narrowed by who, what, outcome and table."""
        return self.audit.events(
            principal=principal, action=action, outcome=outcome, table=table, limit=limit, offset=offset
        )


class GuardedGovernance:
    """The administration API as one principal may use it: checked and audited."""

    def __init__(self, gov: Governance, lake: Lake) -> None:
        self._gov = gov
        self._lake = lake
        self.principal = lake.principal

    @property
    def policy(self) -> AccessPolicy:
        """The principal's policy as access control stands now."""
        policy = self._lake.access.policy
        assert policy is not None
        return policy

    def _superuser(self, what: str) -> None:
        self.policy.require_superuser(what)

    def _admin_on(self, scope: str | Scope) -> None:
        """Superusers may grant anything; otherwise ``admin`` on the scope's table, namespace or lake."""
        if self.policy.superuser:
            return
        sc = scope if isinstance(scope, Scope) else Scope.parse(scope)
        if sc.kind in ("table", "column"):
            self._require_admin(sc.target)
            return
        if sc.kind == "namespace" and self.policy.can_on_namespace("admin", sc.target):
            return
        if sc.kind == "stream" and self.policy.can_on_stream("admin", sc.target):
            return
        raise PermissionDeniedError(
            f"Principal {self.principal.name!r} may not grant on {sc}", hint="ask a superuser or an admin of it"
        )

    def _do(self, action: str, tables: list[str], detail: str, fn: Any, *args: Any, **kw: Any) -> Any:
        with self._lake.audited(action, tables, detail), self._gov._quiet():
            return fn(*args, **kw)

    # principals, roles, tokens

    def principals(self) -> list[Principal]:
        everyone = self._gov.principals()
        return everyone if self.policy.superuser else [p for p in everyone if p.name == self.principal.name]

    def create_principal(
        self,
        name: str,
        *,
        kind: PrincipalKind = "user",
        superuser: bool = False,
        display_name: str | None = None,
        roles: Sequence[str] = (),
    ) -> Principal:
        def run() -> Principal:
            self._superuser("create principals")
            return self._gov.create_principal(
                name, kind=kind, superuser=superuser, display_name=display_name, roles=roles
            )

        return self._do("principal.create", [], name, run)  # type: ignore[no-any-return]

    def update_principal(self, name: str, **changes: Any) -> Principal:
        def run() -> Principal:
            self._superuser("change principals")
            return self._gov.update_principal(name, **changes)

        return self._do("principal.update", [], f"{name} {changes}", run)  # type: ignore[no-any-return]

    def delete_principal(self, name: str) -> None:
        def run() -> None:
            self._superuser("delete principals")
            if name == self.principal.name:
                raise PermissionDeniedError("A principal cannot delete itself")
            self._gov.delete_principal(name)

        self._do("principal.delete", [], name, run)

    def roles(self) -> list[Role]:
        return self._gov.roles()

    def create_role(self, name: str, description: str | None = None) -> Role:
        def run() -> Role:
            self._superuser("create roles")
            return self._gov.create_role(name, description)

        return self._do("role.create", [], name, run)  # type: ignore[no-any-return]

    def delete_role(self, name: str) -> None:
        def run() -> None:
            self._superuser("delete roles")
            self._gov.delete_role(name)

        self._do("role.delete", [], name, run)

    def add_member(self, role: str, principal: str) -> None:
        def run() -> None:
            self._superuser("change role membership")
            self._gov.add_member(role, principal)

        self._do("role.add_member", [], f"{principal} -> {role}", run)

    def remove_member(self, role: str, principal: str) -> None:
        def run() -> None:
            self._superuser("change role membership")
            self._gov.remove_member(role, principal)

        self._do("role.remove_member", [], f"{principal} -/-> {role}", run)

    def tokens(self, principal: str | None = None) -> list[ApiToken]:
        if not self.policy.superuser:
            principal = self.principal.name
        return self._gov.tokens(principal)

    def create_token(
        self, principal: str | None = None, description: str | None = None, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        target = principal or self.principal.name

        def run() -> tuple[ApiToken, str]:
            if target != self.principal.name:
                self._superuser("create tokens for other principals")
            return self._gov.create_token(target, description, expires_at)

        return self._do("token.create", [], target, run)  # type: ignore[no-any-return]

    def revoke_token(self, token_id: str) -> ApiToken:
        def run() -> ApiToken:
            owned = [t for t in self._gov.tokens(self.principal.name) if t.token_id == token_id]
            if not owned:
                self._superuser("revoke other principals' tokens")
            return self._gov.revoke_token(token_id)

        return self._do("token.revoke", [], token_id, run)  # type: ignore[no-any-return]

    # grants and policies

    def grants(self, grantee: str | None = None) -> list[Grant]:
        if self.policy.superuser:
            return self._gov.grants(grantee)
        mine = set(self.principal.grantees)
        return [g for g in self._gov.grants(grantee) if g.grantee in mine]

    def grant(self, grantee: str, privilege: str, scope: str) -> Grant:
        def run() -> Grant:
            self._admin_on(scope)
            return self._gov.grant(grantee, privilege, scope, granted_by=self.principal.name)

        return self._do("grant", _tables_of(scope), f"{privilege} on {scope} to {grantee}", run)  # type: ignore[no-any-return]

    def revoke(self, grantee: str, privilege: str, scope: str) -> int:
        def run() -> int:
            self._admin_on(scope)
            return self._gov.revoke(grantee, privilege, scope)

        return self._do("revoke", _tables_of(scope), f"{privilege} on {scope} from {grantee}", run)  # type: ignore[no-any-return]

    def delete_grant(self, grant_id: int) -> None:
        def run() -> None:
            grant = next((g for g in self._gov.grants() if g.id == grant_id), None)
            if grant is None:
                self._gov.delete_grant(grant_id)  # raises NotFoundError
                return
            self._admin_on(grant.scope)
            self._gov.delete_grant(grant_id)

        self._do("revoke", [], f"grant {grant_id}", run)

    def row_filters(self, table: str | None = None) -> list[RowFilter]:
        items = self._gov.row_filters(table)
        return items if self.policy.superuser else [f for f in items if self._may_admin(f.table)]

    def column_masks(self, table: str | None = None) -> list[ColumnMask]:
        items = self._gov.column_masks(table)
        return items if self.policy.superuser else [m for m in items if self._may_admin(m.table)]

    def _may_admin(self, table: str) -> bool:
        try:
            return self._lake.access.can("admin", TableName.parse(table))
        except Exception:
            return False

    def _require_admin(self, table: str) -> None:
        name = TableName.parse(table)
        self._lake.access.require_visible(name)
        self._lake.access.require("admin", name)

    def add_row_filter(self, table: str, grantee: str, predicate: str) -> RowFilter:
        def run() -> RowFilter:
            self._require_admin(table)
            return self._gov.add_row_filter(table, grantee, predicate, created_by=self.principal.name)

        return self._do("row_filter.add", [table], f"{grantee}: {predicate}", run)  # type: ignore[no-any-return]

    def _applies_to_me(self, grantee: str) -> bool:
        return not self.policy.superuser and grantee in (self.principal.name, *self.principal.roles, PUBLIC_ROLE)

    def _not_my_own_restriction(self, what: str, grantee: str) -> None:
        """An admin of a table may manage the masks and filters of others, never lift one it is under."""
        if self._applies_to_me(grantee):
            raise PermissionDeniedError(
                f"Principal {self.principal.name!r} may not {what}: it applies to {grantee!r}, which includes "
                "this principal",
                hint="ask a superuser; a restriction cannot be lifted by those it restricts",
            )

    def add_column_mask(self, table: str, column: str, grantee: str, mask: str) -> ColumnMask:
        def run() -> ColumnMask:
            self._require_admin(table)
            name = str(TableName.parse(table))
            if any(m.column == column and m.grantee == grantee for m in self._gov.column_masks(name)):
                self._not_my_own_restriction(f"replace the mask of {name}.{column}", grantee)
            return self._gov.add_column_mask(table, column, grantee, mask, created_by=self.principal.name)

        return self._do("column_mask.add", [table], f"{column} for {grantee}: {mask}", run)  # type: ignore[no-any-return]

    def delete_policy(self, kind: str, policy_id: int) -> None:
        def run() -> None:
            items: Sequence[RowFilter | ColumnMask] = (
                self._gov.row_filters() if kind == "row_filter" else self._gov.column_masks()
            )
            target = next((p for p in items if p.id == policy_id), None)
            if target is not None:
                self._require_admin(target.table)
                self._not_my_own_restriction(f"delete {kind.replace('_', ' ')} {policy_id}", target.grantee)
            self._gov.delete_policy(kind, policy_id)

        self._do(f"{kind}.delete", [], str(policy_id), run)

    def audit_events(
        self,
        *,
        principal: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        table: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Superusers see every event; others see their own."""
        if not self.policy.superuser:
            principal = self.principal.name
        return self._gov.audit_events(
            principal=principal, action=action, outcome=outcome, table=table, limit=limit, offset=offset
        )


def _tables_of(scope: str) -> list[str]:
    try:
        sc = Scope.parse(scope)
    except Exception:
        return []
    return [sc.target] if sc.kind in ("table", "column") else []


def _utcnow() -> datetime:
    return datetime.now(UTC)
