"""Studio page: the SQL editor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from mlake.lake import Lake
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

Lk = Annotated[Lake, Depends(principal_lake)]


router = APIRouter(include_in_schema=False)


@router.get("/sql", response_class=HTMLResponse)
def sql_page(
    request: Request, lake: Lk, q: str | None = None, query: Annotated[int | None, Query(ge=1, le=2**62)] = None
) -> HTMLResponse:
    store = lake.dashboards
    saved = store.query(query) if query is not None else None
    tables = [str(t) for t in lake.list_tables(include_quarantine=False)]
    user_tables = [t for t in tables if not t.startswith(f"{lake.audit_table.namespace}.")] or tables
    example = f"SELECT *\nFROM {user_tables[0]}\nLIMIT 100" if user_tables else "SELECT 42 AS answer"
    text = saved.sql if saved else (q or example)
    return render(
        request,
        "sql.html",
        title="SQL",
        sql=text,
        saved=saved,
        tables=tables,
        dashboards=store.dashboards(),
    )
