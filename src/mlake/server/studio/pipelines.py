"""Studio pages: pipelines (superusers only, as ``lake.pipelines`` is) — the DAG drawn as a graph
coloured by a run's step statuses, every run with its timings, and each step's log; "Run now" queues
a manual run and, since a page cannot wait for a worker, executes it in the request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mlake.charts import esc, svg, text
from mlake.lake import Lake
from mlake.pipelines.model import Pipeline
from mlake.pipelines.service import PipelineRun
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

Lk = Annotated[Lake, Depends(principal_lake)]
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 180, 46, 70, 22, 16

router = APIRouter(include_in_schema=False)


@router.get("/pipelines", response_class=HTMLResponse)
def pipelines_page(request: Request, lake: Lk) -> HTMLResponse:
    rows = []
    for name in lake.pipelines.names():
        p = lake.pipelines.get(name)
        runs = lake.pipelines.runs(name)
        rows.append({"pipeline": p, "last": runs[-1] if runs else None, "runs": len(runs)})
    return render(request, "pipelines/list.html", title="Pipelines", pipelines=rows)


@router.get("/pipelines/{name}", response_class=HTMLResponse)
def pipeline_page(request: Request, name: str, lake: Lk, run: int | None = None) -> HTMLResponse:
    pipeline = lake.pipelines.get(name)
    runs = list(reversed(lake.pipelines.runs(name)))
    shown = next((r for r in runs if r.id == run), runs[0] if runs else None)
    return render(
        request,
        "pipelines/pipeline.html",
        title=f"Pipeline {name}",
        pipeline=pipeline,
        runs=runs[:50],
        shown=shown,
        graph=dag_svg(pipeline, shown),
        seconds=seconds,
    )


@router.post("/pipelines/{name}/run")
def run_now(request: Request, name: str, lake: Lk) -> Any:
    """Start a manual run and execute it now; the page then shows it (failed or not)."""
    result = lake.pipelines.run(name)
    return RedirectResponse(f"/pipelines/{name}?run={result.id}", status_code=303)


def seconds(start: datetime | None, end: datetime | None) -> str:
    """A duration for people: "1.2 s", "3 min 4 s"; "—" while unknown."""
    if start is None or end is None:
        return "—"
    s = (end - start).total_seconds()
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)} min {int(s % 60)} s"


def layers(pipeline: Pipeline) -> dict[str, int]:
    """Each step's column: the length of the longest chain of dependencies leading to it."""
    deps = {s.name: s.depends_on for s in pipeline.steps}
    depth: dict[str, int] = {}

    def of(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((of(d) for d in deps[name]), default=-1)
        return depth[name]

    for s in pipeline.steps:
        of(s.name)
    return depth


def dag_svg(pipeline: Pipeline, run: PipelineRun | None) -> str:
    """The steps in columns by depth, arrows from each dependency, each box coloured by its status in ``run``."""
    depth = layers(pipeline)
    status = {s.step: s.status for s in run.steps} if run else {}
    columns: dict[int, list[str]] = {}
    for s in pipeline.steps:
        columns.setdefault(depth[s.name], []).append(s.name)
    tallest = max((len(c) for c in columns.values()), default=1)
    height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y
    width = PAD * 2 + len(columns) * NODE_W + (len(columns) - 1) * GAP_X
    at: dict[str, tuple[float, float]] = {}
    for col, names in columns.items():
        top = (height - len(names) * NODE_H - (len(names) - 1) * GAP_Y) / 2
        for i, n in enumerate(names):
            at[n] = (PAD + col * (NODE_W + GAP_X), top + i * (NODE_H + GAP_Y))
    parts = [
        '<defs><marker id="dag-head" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" markerHeight="8" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" class="dag-head"/></marker></defs>'
    ]
    for s in pipeline.steps:
        x2, y2 = at[s.name]
        for d in s.depends_on:
            x1, y1 = at[d]
            a, b = (x1 + NODE_W, y1 + NODE_H / 2), (x2, y2 + NODE_H / 2)
            bend = (a[0] + b[0]) / 2
            parts.append(
                f'<path class="dag-edge" d="M{a[0]},{a[1]} C{bend},{a[1]} {bend},{b[1]} {b[0] - 2},{b[1]}" '
                'marker-end="url(#dag-head)"/>'
            )
    for s in pipeline.steps:
        x, y = at[s.name]
        state = status.get(s.name, "not run")
        parts.append(
            f'<g class="dag-node {esc(state.replace(" ", "-"))}" data-step="{esc(s.name)}">'
            f'<a href="#step-{esc(s.name)}"><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            + text(x + 10, y + 18, s.name[:24], cls="dag-name")
            + text(x + 10, y + 35, f"{s.kind} · {state}", cls="dag-kind")
            + f"<title>{esc(s.name)} ({esc(s.kind)}): {esc(state)}</title></a></g>"
        )
    return svg(parts, width, height, cls="dag", label=f"Steps of pipeline {pipeline.name}", xmlns=True)
