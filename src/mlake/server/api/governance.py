"""REST: principals, roles, tokens, grants, row filters, column masks, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mlake.governance.service import GovernanceAdmin
from mlake.lake import Lake
from mlake.server.api.params import RecordId
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]


def _gov(lake: Lake) -> GovernanceAdmin:
    return lake.governance


class PrincipalIn(BaseModel):
    name: str = Field(max_length=64, description="Lower-case letters, digits, '_', '.', '-'.")
    kind: Literal["user", "service"] = "user"
    superuser: bool = False
    display_name: str | None = Field(default=None, max_length=200)
    roles: list[str] = Field(default_factory=list, max_length=100)


class PrincipalPatch(BaseModel):
    superuser: bool | None = None
    disabled: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)


class RoleIn(BaseModel):
    name: str = Field(max_length=64)
    description: str | None = Field(default=None, max_length=2000)


class MemberIn(BaseModel):
    principal: str = Field(max_length=64)


class TokenIn(BaseModel):
    principal: str | None = Field(default=None, max_length=64, description="Default: the caller.")
    description: str | None = Field(default=None, max_length=500)
    expires_at: datetime | None = None


class GrantIn(BaseModel):
    grantee: str = Field(max_length=64, description="A principal or role ('public' is everyone).")
    privilege: Literal["select", "insert", "alter", "admin"]
    scope: str = Field(
        max_length=400, description="*, a namespace, ns.table, ns.table.column, or tag:key=value / tag:key."
    )


class RowFilterIn(BaseModel):
    table: str = Field(max_length=260)
    grantee: str = Field(max_length=64)
    predicate: str = Field(max_length=4000, description="SQL over the table's columns; ${principal} is the reader.")


class ColumnMaskIn(BaseModel):
    table: str = Field(max_length=260)
    column: str = Field(max_length=200)
    grantee: str = Field(max_length=64)
    mask: str = Field(max_length=4000, description="null, redact, hash, email, last4, year, or a SQL expression.")


router = APIRouter(tags=["governance"])


@router.get("/principals", summary="Principals (superusers see all, others themselves)")
def principals(lake: Lk) -> list[dict[str, Any]]:
    return [p.to_dict() for p in _gov(lake).principals()]


@router.post("/principals", status_code=201, summary="Create a principal (superusers)")
def create_principal(body: PrincipalIn, lake: Lk) -> dict[str, Any]:
    p = _gov(lake).create_principal(
        body.name, kind=body.kind, superuser=body.superuser, display_name=body.display_name, roles=body.roles
    )
    return p.to_dict()


@router.patch("/principals/{name}", summary="Change a principal (superusers)")
def update_principal(name: str, body: PrincipalPatch, lake: Lk) -> dict[str, Any]:
    return _gov(lake).update_principal(name, **body.model_dump(exclude_none=True)).to_dict()


@router.delete("/principals/{name}", status_code=204, summary="Delete a principal and its tokens and grants")
def delete_principal(name: str, lake: Lk) -> Response:
    _gov(lake).delete_principal(name)
    return Response(status_code=204)


@router.get("/roles", summary="Roles and their members")
def roles(lake: Lk) -> list[dict[str, Any]]:
    return [role.to_dict() for role in _gov(lake).roles()]


@router.post("/roles", status_code=201, summary="Create a role (superusers)")
def create_role(body: RoleIn, lake: Lk) -> dict[str, Any]:
    return _gov(lake).create_role(body.name, body.description).to_dict()


@router.delete("/roles/{name}", status_code=204, summary="Delete a role")
def delete_role(name: str, lake: Lk) -> Response:
    _gov(lake).delete_role(name)
    return Response(status_code=204)


@router.post("/roles/{name}/members", status_code=201, summary="Add a principal to a role")
def add_member(name: str, body: MemberIn, lake: Lk) -> dict[str, Any]:
    _gov(lake).add_member(name, body.principal)
    return {"role": name, "principal": body.principal}


@router.delete("/roles/{name}/members/{principal}", status_code=204, summary="Remove a principal from a role")
def remove_member(name: str, principal: str, lake: Lk) -> Response:
    _gov(lake).remove_member(name, principal)
    return Response(status_code=204)


@router.get("/tokens", summary="API tokens (without their secrets)")
def tokens(lake: Lk, principal: Annotated[str | None, Query(max_length=64)] = None) -> list[dict[str, Any]]:
    return [t.to_dict() for t in _gov(lake).tokens(principal)]


@router.post("/tokens", status_code=201, summary="Create an API token; the response holds it, once")
def create_token(body: TokenIn, lake: Lk) -> dict[str, Any]:
    record, token = _gov(lake).create_token(body.principal, body.description, body.expires_at)
    return {**record.to_dict(), "token": token}


@router.delete("/tokens/{token_id}", summary="Revoke an API token")
def revoke_token(token_id: str, lake: Lk) -> dict[str, Any]:
    return _gov(lake).revoke_token(token_id).to_dict()


@router.get("/grants", summary="Grants (superusers see all, others their own and their roles')")
def grants(lake: Lk, grantee: Annotated[str | None, Query(max_length=64)] = None) -> list[dict[str, Any]]:
    return [g.to_dict() for g in _gov(lake).grants(grantee)]


@router.post("/grants", status_code=201, summary="Grant a privilege on a scope")
def grant(body: GrantIn, lake: Lk) -> dict[str, Any]:
    return _gov(lake).grant(body.grantee, body.privilege, body.scope).to_dict()


@router.delete("/grants/{grant_id}", status_code=204, summary="Revoke a grant")
def delete_grant(grant_id: RecordId, lake: Lk) -> Response:
    _gov(lake).delete_grant(grant_id)
    return Response(status_code=204)


@router.get("/row-filters", summary="Row filters")
def row_filters(lake: Lk, table: Annotated[str | None, Query(max_length=260)] = None) -> list[dict[str, Any]]:
    return [f.to_dict() for f in _gov(lake).row_filters(table)]


@router.post("/row-filters", status_code=201, summary="Add a row filter")
def add_row_filter(body: RowFilterIn, lake: Lk) -> dict[str, Any]:
    return _gov(lake).add_row_filter(body.table, body.grantee, body.predicate).to_dict()


@router.delete("/row-filters/{policy_id}", status_code=204, summary="Delete a row filter")
def delete_row_filter(policy_id: RecordId, lake: Lk) -> Response:
    _gov(lake).delete_policy("row_filter", policy_id)
    return Response(status_code=204)


@router.get("/column-masks", summary="Column masks")
def column_masks(lake: Lk, table: Annotated[str | None, Query(max_length=260)] = None) -> list[dict[str, Any]]:
    return [m.to_dict() for m in _gov(lake).column_masks(table)]


@router.post("/column-masks", status_code=201, summary="Add (or replace) a column mask")
def add_column_mask(body: ColumnMaskIn, lake: Lk) -> dict[str, Any]:
    return _gov(lake).add_column_mask(body.table, body.column, body.grantee, body.mask).to_dict()


@router.delete("/column-masks/{policy_id}", status_code=204, summary="Delete a column mask")
def delete_column_mask(policy_id: RecordId, lake: Lk) -> Response:
    _gov(lake).delete_policy("column_mask", policy_id)
    return Response(status_code=204)


@router.get("/audit", summary="Audit events, newest first (superusers see all, others their own)")
def audit(
    lake: Lk,
    principal: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Literal["ok", "denied", "error"] | None = None,
    table: Annotated[str | None, Query(max_length=260)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    events = _gov(lake).audit_events(
        principal=principal, action=action, outcome=outcome, table=table, limit=limit, offset=offset
    )
    return [e.to_dict() for e in events]
