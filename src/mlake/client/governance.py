"""``remote.governance``: access control of an mlake server, from Python.

The same calls as the local ``lake.governance`` — principals, roles, API tokens, grants, row filters,
column masks and the audit log — over the REST API, returning the same model types
(:class:`~mlake.governance.model.Principal`, :class:`~mlake.governance.model.Grant`, ...). The server
decides what the caller may do: superusers manage everything, a table's admins its grants and policies,
and everyone may list their own principal, grants, tokens and audit events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from mlake.governance.model import (
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

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake

T = TypeVar("T")

_TIMES = {"created_at", "expires_at", "last_used_at", "granted_at", "at"}
_TUPLES = {"roles", "members"}


def load_model(cls: type[T], data: dict[str, Any]) -> T:
    """A model object from its ``to_dict()`` form (times, tuples and scopes restored)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            continue
        if key in _TIMES and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif key in _TUPLES and value is not None:
            value = tuple(value)
        elif key == "scope" and isinstance(value, str):
            value = Scope.parse(value)
        values[key] = value
    return cls(**values)


def _seg(text: str) -> str:
    return quote(str(text), safe="")


class RemoteGovernance:
    """Principals, roles, tokens, grants, filters, masks and audit events on the server."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _get(self, path: str, **params: Any) -> Any:
        return self._lake._json("GET", path, params={k: v for k, v in params.items() if v is not None})

    # --- principals and roles ---------------------------------------------------------------------

    def principals(self) -> list[Principal]:
        return [load_model(Principal, p) for p in self._get("/principals")]

    def principal(self, name: str) -> Principal:
        for p in self.principals():
            if p.name == name:
                return p
        from mlake.errors import NotFoundError

        raise NotFoundError(f"No principal {name!r} (or you may not see it)")

    def create_principal(
        self,
        name: str,
        *,
        kind: PrincipalKind = "user",
        superuser: bool = False,
        display_name: str | None = None,
        roles: Sequence[str] = (),
    ) -> Principal:
        body = {"name": name, "kind": kind, "superuser": superuser, "display_name": display_name, "roles": list(roles)}
        return load_model(Principal, self._lake._json("POST", "/principals", json=body))

    def update_principal(self, name: str, **changes: Any) -> Principal:
        """Change ``superuser``, ``disabled`` or ``display_name``."""
        return load_model(Principal, self._lake._json("PATCH", f"/principals/{_seg(name)}", json=changes))

    def delete_principal(self, name: str) -> None:
        self._lake._json("DELETE", f"/principals/{_seg(name)}")

    def roles(self) -> list[Role]:
        return [load_model(Role, r) for r in self._get("/roles")]

    def create_role(self, name: str, description: str | None = None) -> Role:
        return load_model(Role, self._lake._json("POST", "/roles", json={"name": name, "description": description}))

    def delete_role(self, name: str) -> None:
        self._lake._json("DELETE", f"/roles/{_seg(name)}")

    def add_member(self, role: str, principal: str) -> None:
        self._lake._json("POST", f"/roles/{_seg(role)}/members", json={"principal": principal})

    def remove_member(self, role: str, principal: str) -> None:
        self._lake._json("DELETE", f"/roles/{_seg(role)}/members/{_seg(principal)}")

    # --- tokens -------------------------------------------------------------------------------------

    def tokens(self, principal: str | None = None) -> list[ApiToken]:
        return [load_model(ApiToken, t) for t in self._get("/tokens", principal=principal)]

    def create_token(
        self, principal: str | None = None, description: str | None = None, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """A new token for ``principal`` (default: yourself); the secret is returned once, never stored."""
        body = {
            "principal": principal,
            "description": description,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        data = self._lake._json("POST", "/tokens", json=body)
        return load_model(ApiToken, data), str(data["token"])

    def revoke_token(self, token_id: str) -> ApiToken:
        return load_model(ApiToken, self._lake._json("DELETE", f"/tokens/{_seg(token_id)}"))

    # --- grants and policies ------------------------------------------------------------------------

    def grants(self, grantee: str | None = None) -> list[Grant]:
        return [load_model(Grant, g) for g in self._get("/grants", grantee=grantee)]

    def grant(self, grantee: str, privilege: str, scope: str) -> Grant:
        body = {"grantee": grantee, "privilege": privilege, "scope": scope}
        return load_model(Grant, self._lake._json("POST", "/grants", json=body))

    def revoke(self, grantee: str, privilege: str, scope: str) -> int:
        """Revoke the grants of ``privilege`` on ``scope`` to ``grantee``; returns how many there were."""
        wanted = str(Scope.parse(scope))
        matching = [g for g in self.grants(grantee) if g.privilege == privilege and str(g.scope) == wanted]
        for g in matching:
            self.delete_grant(g.id)
        return len(matching)

    def delete_grant(self, grant_id: int) -> None:
        self._lake._json("DELETE", f"/grants/{int(grant_id)}")

    def row_filters(self, table: str | None = None) -> list[RowFilter]:
        return [load_model(RowFilter, f) for f in self._get("/row-filters", table=table)]

    def add_row_filter(self, table: str, grantee: str, predicate: str) -> RowFilter:
        body = {"table": table, "grantee": grantee, "predicate": predicate}
        return load_model(RowFilter, self._lake._json("POST", "/row-filters", json=body))

    def column_masks(self, table: str | None = None) -> list[ColumnMask]:
        return [load_model(ColumnMask, m) for m in self._get("/column-masks", table=table)]

    def add_column_mask(self, table: str, column: str, grantee: str, mask: str) -> ColumnMask:
        body = {"table": table, "column": column, "grantee": grantee, "mask": mask}
        return load_model(ColumnMask, self._lake._json("POST", "/column-masks", json=body))

    def delete_policy(self, kind: str, policy_id: int) -> None:
        """Delete a ``row_filter`` or ``column_mask`` by its id."""
        path = {"row_filter": "/row-filters", "column_mask": "/column-masks"}.get(kind)
        if path is None:
            from mlake.errors import ValidationError

            raise ValidationError(f"Unknown policy kind {kind!r}", hint="use row_filter or column_mask")
        self._lake._json("DELETE", f"{path}/{int(policy_id)}")

    # --- audit --------------------------------------------------------------------------------------

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
        """Audit events, newest first (superusers see everyone's, others their own)."""
        events = self._get(
            "/audit", principal=principal, action=action, outcome=outcome, table=table, limit=limit, offset=offset
        )
        return [load_model(AuditEvent, e) for e in events]
