"""Studio pages of the feature store: search, a group's page, a training set's page.

Everything is read through the viewer's governed lake (``lake.features``): groups whose offline table
the viewer cannot read are not listed, statistics and charts are computed through the viewer's masks
and row filters, and training sets are listed only when the viewer could load them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from mlake.errors import MlakeError
from mlake.features.types import format_ttl
from mlake.lake import Lake
from mlake.server.api.features import training_set_info
from mlake.server.state import principal_lake
from mlake.server.studio.feature_charts import distribution_svg, histogram_svg, short_number
from mlake.server.studio.lineage_svg import lineage_svg
from mlake.server.studio.render import render

if TYPE_CHECKING:
    from mlake.features.training import TrainingSet

Lk = Annotated[Lake, Depends(principal_lake)]


def training_rows(sets: list[TrainingSet]) -> list[dict[str, Any]]:
    """Training sets with the groups they read, for the training-set tables."""
    return [{"ts": t, "groups": list(dict.fromkeys(f.split(":", 1)[0] for f in t.spec["features"]))} for t in sets]


def _summaries(lake: Lake) -> list[dict[str, Any]]:
    """Each visible group with the size of its offline table (metadata only, no scan)."""
    out = []
    for g in lake.features.groups():
        item: dict[str, Any] = {"group": g, "rows": None, "last_updated": None, "ttl": format_ttl(g.ttl)}
        try:
            info = lake.table(g.table_name).describe()
            item.update(rows=info.rows, last_updated=info.last_updated)
        except MlakeError:
            pass  # e.g. only insert granted: the group is listed, its data is not shown
        out.append(item)
    return out


router = APIRouter(include_in_schema=False)


@router.get("/features", response_class=HTMLResponse)
def search(
    request: Request,
    lake: Lk,
    q: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    everything = _summaries(lake)
    tags = sorted({f"{k}={v}" if v else k for s in everything for k, v in s["group"].tags.items()})
    owners = sorted({s["group"].owner for s in everything if s["group"].owner})
    filtering = bool(q or tag or owner)
    hits = lake.features.search(q or None, tag=tag or None, owner=owner or None) if filtering else []
    matched = {h.group for h in hits}
    groups = [s for s in everything if s["group"].name in matched] if filtering else everything
    by_name = {item["group"].name: item["group"] for item in everything}
    feature_hits = [
        {"hit": h, "feature": by_name[h.group].feature(h.feature)}
        for h in hits
        if h.feature is not None and h.group in by_name
    ]
    return render(
        request,
        "features/search.html",
        title="Features",
        groups=groups,
        feature_hits=feature_hits,
        total=len(everything),
        training_sets=training_rows(lake.features.training_sets()[:10]),
        tags=tags,
        owners=owners,
        query=q or "",
        tag=tag or "",
        owner=owner or "",
        filtering=filtering,
    )


@router.get("/features/groups/{name}", response_class=HTMLResponse)
def group_page(request: Request, lake: Lk, name: Annotated[str, Path(max_length=128)]) -> HTMLResponse:
    group = lake.features.group(name)
    described = lake.features.describe(name, statistics=True, distributions=True)
    info = described.to_dict()  # the template reads the JSON form REST serves
    dists = described.distributions or {}
    charts = {c: distribution_svg(d) for c, d in dists.items()}
    timeline = histogram_svg(dists.get(group.event_time), width=1100, height=110, axis=True)
    graph = lake.lineage(group.table_name, max_depth=3) if described.offline is not None else None
    columns = lake.table(group.table_name).describe().columns  # what the viewer may read, and how
    masked = {c.name for c in columns if c.masked}
    readable = [f for f in group.feature_names if f in {c.name for c in columns}]
    return render(
        request,
        "features/group.html",
        title=f"{name} · features",
        group=group,
        info=info,
        stats=described.statistics or {},
        charts=charts,
        timeline=timeline,
        lineage=lineage_svg(graph) if graph is not None else None,
        masked=masked,
        readable=[f"{group.name}:{f}" for f in readable],
        privileges=info.get("privileges", []),
        training_sets=training_rows(lake.features.training_sets(group.name)),
        short=short_number,
    )


@router.get("/features/training-sets/{training_set}", response_class=HTMLResponse)
def training_set_page(request: Request, lake: Lk, training_set: Annotated[str, Path(max_length=200)]) -> HTMLResponse:
    ts = lake.features.load_training_set(training_set)
    info = training_set_info(lake, ts)
    groups = sorted({f.split(":", 1)[0] for f in ts.spec["features"]})
    return render(
        request,
        "features/training_set.html",
        title=f"{ts.name or ts.id} · training set",
        ts=ts,
        info=info,
        groups=groups,
    )
