"""Studio pages: home, catalog browser, table page (with the tabs of every area)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from mlake.errors import MlakeError, NotFoundError
from mlake.lake import Lake
from mlake.server.extensions import load_areas
from mlake.server.state import principal_lake
from mlake.server.studio.render import render
from mlake.tables.names import TableName

Lk = Annotated[Lake, Depends(principal_lake)]


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, lake: Lk) -> HTMLResponse:
    tables = lake.search(include_quarantine=True)
    main = [t for t in tables if not t.quarantine]
    quarantined = sum(t.rows or 0 for t in tables if t.quarantine)
    namespaces: dict[str, list[dict[str, Any]]] = {}
    for t in main:
        namespaces.setdefault(t.namespace, []).append(t.to_dict())
    panels = []
    for a in load_areas():
        for panel in a.home_panels:
            ctx = panel.context(lake)
            if ctx is not None:
                panels.append((panel, ctx))
    panels.sort(key=lambda p: p[0].order)
    stats = {
        "tables": len(main),
        "namespaces": len(namespaces),
        # a table the viewer's row filter narrows has no count for it (it would tell what the filter hides)
        "rows": sum(t.rows or 0 for t in main),
        "size": sum(t.size_bytes or 0 for t in main),
        "quarantined": quarantined,
    }
    return render(request, "home.html", title="Home", stats=stats, namespaces=namespaces, panels=panels)


@router.get("/catalog", response_class=HTMLResponse)
def catalog(request: Request, lake: Lk, q: str | None = None, namespace: str | None = None) -> HTMLResponse:
    if namespace and namespace not in lake.namespaces():
        raise NotFoundError(f"Namespace {namespace!r} does not exist")
    tables = lake.search(q, namespace or None)
    groups: dict[str, list[dict[str, Any]]] = {}
    for t in tables:
        groups.setdefault(t.namespace, []).append(t.to_dict())
    quarantine = sum(1 for t in tables if t.quarantine)  # counted apart, as the home page leaves them out
    return render(
        request,
        "catalog.html",
        title="Catalog",
        groups=groups,
        q=q or "",
        namespace=namespace,
        count=len(tables) - quarantine,
        quarantine=quarantine,
    )


@router.get("/tables/{name}", response_class=HTMLResponse)
def table_page(request: Request, name: str, lake: Lk, tab: str = "overview") -> HTMLResponse:
    table_name = TableName.parse(name)
    info = lake.table(table_name).describe().to_dict()
    tabs = sorted(
        (t for a in load_areas() for t in a.table_tabs if t.applies is None or t.applies(lake, str(table_name))),
        key=lambda t: t.order,
    )
    active = next((t for t in tabs if t.key == tab), tabs[0])
    params = dict(request.query_params)
    try:
        tab_context = active.context(lake, str(table_name), params)
        tab_error = None
    except MlakeError as exc:
        tab_context, tab_error = {}, exc
    return render(
        request,
        "table.html",
        title=str(table_name),
        info=info,
        table=str(table_name),
        tabs=tabs,
        active=active,
        tab_context=tab_context,
        tab_error=tab_error,
        params=params,
    )
