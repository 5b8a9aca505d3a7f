"""REST: storage usage and its growth, lifecycle policies, snapshot pins, and applying policies.

Every route is one call on ``lake.storage`` of the caller's governed lake, so the rules of
:mod:`mlake.lifecycle.service` hold: usage and history cover only tables the caller may see, a table's
policy and runs need ``alter`` on it, a namespace's policy ``alter`` on the namespace.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.lifecycle import LifecyclePolicy
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]
TableQ = Annotated[str | None, Query(max_length=260, description="One table (namespace.table).")]
NamespaceQ = Annotated[str | None, Query(max_length=200, description="One namespace.")]
Scope = Annotated[str, Field(max_length=260, description="A table (namespace.table) or a namespace.")]

router = APIRouter(tags=["storage"])


class PolicyIn(BaseModel):
    scope: Scope
    policy: LifecyclePolicy


class ScopeIn(BaseModel):
    scope: Scope


class PinIn(BaseModel):
    table: str = Field(max_length=260)
    tag: str = Field(max_length=200)
    snapshot_id: int | None = None


class ApplyIn(BaseModel):
    table: str | None = Field(
        default=None, max_length=260, description="One table (every one the caller may alter if empty)."
    )
    namespace: str | None = Field(default=None, max_length=200)
    dry_run: bool = False
    overrides: LifecyclePolicy = Field(default_factory=LifecyclePolicy, description="Rules that win for this run.")


@router.get("/storage/usage", summary="Bytes and files per table and namespace: current, old snapshots, orphans")
def usage(lake: Lk, table: TableQ = None, namespace: NamespaceQ = None, record: bool = False) -> dict[str, Any]:
    return lake.storage.usage(table, namespace, record=record).to_dict()


@router.get("/storage/history", summary="Recorded usage measurements (growth over time)")
def history(
    lake: Lk,
    table: TableQ = None,
    namespace: NamespaceQ = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> list[dict[str, Any]]:
    return [p.to_dict() for p in lake.storage.history(table, namespace, limit=limit)]


@router.get("/storage/policies", summary="Lifecycle policies on tables and namespaces the caller may see")
def policies(lake: Lk) -> list[dict[str, Any]]:
    return [p.to_dict() for p in lake.storage.policies()]


@router.get("/storage/policy", summary="The policy set on exactly one table or namespace (null: none)")
def get_policy(lake: Lk, scope: Annotated[str, Query(max_length=260)]) -> dict[str, Any] | None:
    found = lake.storage.get_policy(scope)
    return found.to_dict() if found is not None else None


@router.put("/storage/policy", summary="Set the lifecycle policy of a table or namespace")
def set_policy(body: PolicyIn, lake: Lk) -> dict[str, Any]:
    return lake.storage.set_policy(body.scope, body.policy).to_dict()


@router.post("/storage/policy/remove", status_code=204, summary="Remove the policy of a table or namespace")
def remove_policy(body: ScopeIn, lake: Lk) -> None:
    lake.storage.remove_policy(body.scope)


@router.get("/storage/effective-policy", summary="The rules a run applies to a table")
def effective_policy(lake: Lk, table: Annotated[str, Query(max_length=260)]) -> dict[str, Any]:
    return lake.storage.effective_policy(table).model_dump(exclude_none=True)


@router.get("/storage/pins", summary="Snapshots of a table that expiry keeps, and why")
def pins(lake: Lk, table: Annotated[str, Query(max_length=260)]) -> list[dict[str, Any]]:
    return [p.to_dict() for p in lake.storage.pins(table)]


@router.post("/storage/pins", status_code=201, summary="Tag a snapshot so that no expiry removes it")
def pin(body: PinIn, lake: Lk) -> dict[str, Any]:
    return lake.storage.pin(body.table, body.tag, body.snapshot_id).to_dict()


@router.post("/storage/pins/remove", status_code=204, summary="Remove a snapshot tag")
def unpin(body: PinIn, lake: Lk) -> None:
    lake.storage.unpin(body.table, body.tag)


@router.post("/storage/apply", summary="Apply lifecycle policies (dry_run: report what would be done)")
def apply(body: ApplyIn, lake: Lk) -> list[dict[str, Any]]:
    overrides = body.overrides.set_fields()
    reports = lake.storage.apply(body.table, namespace=body.namespace, dry_run=body.dry_run, **overrides)
    return [r.to_dict() for r in reports]
