"""Studio pages: access (principals, roles, tokens, grants, row filters, column masks) and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from mlake.governance.policy import MASK_NAMES
from mlake.lake import Lake
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

Lk = Annotated[Lake, Depends(principal_lake)]


router = APIRouter(include_in_schema=False)


@router.get("/access", response_class=HTMLResponse)
def access(request: Request, lake: Lk) -> HTMLResponse:
    gov = lake.governance
    return render(
        request,
        "access.html",
        title="Access",
        principals=gov.principals(),
        roles=gov.roles(),
        tokens=gov.tokens(),
        grants=gov.grants(),
        row_filters=gov.row_filters(),
        column_masks=gov.column_masks(),
        mask_names=MASK_NAMES,
        tables=[str(t) for t in lake.list_tables(include_quarantine=False)],
    )


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    lake: Lk,
    principal: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    table: Annotated[str | None, Query(max_length=260)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    size = 50
    events = lake.governance.audit_events(
        principal=principal or None,
        action=action or None,
        outcome=outcome or None,
        table=table or None,
        limit=size + 1,
        offset=(page - 1) * size,
    )
    return render(
        request,
        "audit.html",
        title="Audit log",
        events=events[:size],
        has_more=len(events) > size,
        page=page,
        filters={
            "principal": principal or "",
            "action": action or "",
            "outcome": outcome or "",
            "table": table or "",
        },
    )
