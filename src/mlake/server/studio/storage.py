"""Studio pages: storage (usage by table and namespace, the largest tables, growth over time, policies),
the source registry (every source and its terms, the tables that derive from it), and two tabs of the
table page — "Storage" and "Provenance" (the sources and licenses a table derives from).

Every value comes from ``lake.storage`` and ``lake.sources`` of the viewer's lake, so a page shows what
the viewer's grants allow and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from mlake import charts
from mlake.errors import MlakeError
from mlake.lake import Lake
from mlake.lifecycle import UsagePoint
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

Lk = Annotated[Lake, Depends(principal_lake)]
router = APIRouter(include_in_schema=False)
SOURCE_SCAN_LIMIT = 200  # tables whose provenance a source page walks


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def growth_svg(points: list[UsagePoint], width: float = 640, height: float = 120) -> Markup:
    """Total bytes over recorded measurements: the tables' totals summed per measurement time (a table
    not measured at a time keeps its last value, so a measurement of one table does not dip the line)."""
    if not points:
        return Markup("")
    last: dict[str, int] = {}
    times: list[datetime] = []
    totals: list[float | None] = []
    for p in sorted(points, key=lambda p: p.measured_at):
        last[p.table] = p.total_bytes
        if times and times[-1] == p.measured_at:
            totals[-1] = float(sum(last.values()))
        else:
            times.append(p.measured_at)
            totals.append(float(sum(last.values())))
    titles = [f"{t:%Y-%m-%d %H:%M}: {_size(v or 0)}" for t, v in zip(times, totals, strict=True)]
    svg = charts.line(
        totals, titles=titles, width=width, height=height, pad=6, area=True, from_zero=True,
        cls="storage-growth", label="storage over time", sized=False,
    )  # fmt: skip
    low, high = min(v or 0 for v in totals), max(v or 0 for v in totals)
    caption = (
        f'<div class="muted small">{times[0]:%Y-%m-%d %H:%M} → {times[-1]:%Y-%m-%d %H:%M} UTC · '
        f"from {_size(totals[0] or 0)} to {_size(totals[-1] or 0)} (range {_size(low)}–{_size(high)})</div>"
    )
    return Markup(svg + caption)


@router.get("/storage", response_class=HTMLResponse)
def storage_page(request: Request, lake: Lk, namespace: str | None = None) -> HTMLResponse:
    report = lake.storage.usage(namespace=namespace or None)
    points = lake.storage.history(namespace=namespace or None)
    return render(
        request,
        "storage/storage.html",
        title="Storage",
        report=report,
        largest=report.largest(10),
        growth=growth_svg(points),
        measurements=len({p.measured_at for p in points}),
        policies=lake.storage.policies(),
        namespace=namespace or "",
    )


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, lake: Lk) -> HTMLResponse:
    return render(request, "sources/sources.html", title="Sources", sources=lake.sources.list())


@router.get("/sources/{name}", response_class=HTMLResponse)
def source_page(request: Request, name: str, lake: Lk) -> HTMLResponse:
    source = lake.sources.get(name)
    entered: set[str] = set()
    derived: list[str] = []
    for table in lake.list_tables(include_quarantine=False)[:SOURCE_SCAN_LIMIT]:
        try:
            prov = lake.sources.provenance(table)
        except MlakeError:
            continue  # the viewer may see the table but not read it
        for use in prov.sources:
            if use.source.name == name:
                entered.update(t for t in use.tables)
                derived.append(str(table))
    return render(
        request, "sources/source.html", title=f"Source {name}", source=source, entered=sorted(entered), derived=derived
    )


# --- table tabs ------------------------------------------------------------------------------------------


def storage_tab(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    usage = lake.storage.usage(table).table(table)
    points = lake.storage.history(table)
    return {
        "usage": usage,
        "growth": growth_svg(points, width=520, height=90),
        "policy": lake.storage.effective_policy(table),
        "own_policy": lake.storage.get_policy(table),
        "pins": lake.storage.pins(table),
    }


def provenance_tab(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    return {"provenance": lake.sources.provenance(table)}
