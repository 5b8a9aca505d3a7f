"""Studio: the Quality tab of a table, the Quality page, the home page's failing checks.

The tab renders at once; its profile, check results and history arrive as HTML fragments from the routes
below (``/tables/{name}/quality/...``), so a large table never holds up the page and "Profile now" or
"Run" only redraw their own part. Fragments answer errors as JSON problems (the page's script shows
them as messages). Every route runs as the viewer, through ``lake.quality`` of its governed lake.

Profiles shown in the tab are cached per secure view (the view's SQL names the snapshot and the viewer's
grants, masks and filters), so that opening the tab again costs nothing, while a new snapshot or a
changed policy is profiled afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator

from mlake.lake import Lake
from mlake.quality import access
from mlake.quality.history import detect
from mlake.quality.profile import Profile, profile
from mlake.quality.suite import Suite
from mlake.server.api.params import SnapshotField, SnapshotQuery
from mlake.server.state import principal_lake
from mlake.server.studio.quality_views import history_view, profile_view, result_view
from mlake.server.studio.render import render
from mlake.tables.names import TableName

Lk = Annotated[Lake, Depends(principal_lake)]
CACHE_SIZE = 32


class ProfileCache:
    """Recent profiles by the SQL of the view they read (immutable: a pinned snapshot through one policy)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._items: OrderedDict[str, Profile] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> Profile | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: Profile) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def _cache(request: Request) -> ProfileCache:
    state = request.app.state
    cache: ProfileCache | None = getattr(state, "quality_profiles", None)
    if cache is None:
        cache = state.quality_profiles = ProfileCache()
    return cache


class RunIn(BaseModel):
    suite: str | None = Field(default=None, min_length=1, max_length=200)
    yaml: str | None = Field(default=None, max_length=200_000)
    snapshot_id: SnapshotField | None = None

    @model_validator(mode="after")
    def _one(self) -> RunIn:
        if (self.suite is None) == (self.yaml is None):
            raise ValueError("give a stored suite's name or YAML, not both")
        return self


class ProfileIn(BaseModel):
    snapshot_id: SnapshotField | None = None


# --- the table tab and the home panel (contexts for the area's TableTab and HomePanel) ------------------


def tab_context(lake: Lake, table: str, params: Mapping[str, str]) -> dict[str, Any]:
    suites = lake.quality.suites.list(table)
    wanted = params.get("suite")
    selected = next((s for s in suites if s.name == wanted), None)
    if selected is None:
        selected = next((s for s in suites if s.last_passed is False), suites[0] if suites else None)
    snapshot = params.get("snapshot")
    return {
        "suites": suites,
        "selected": selected,
        "last": result_view(selected.last_result) if selected and selected.last_result else None,
        "editable": {s.name for s in suites if access.may_change(lake, s.owner, table)},
        "restriction": access.restriction(lake, table),
        "snapshot": snapshot if snapshot and snapshot.lstrip("-").isdigit() else None,
    }


def failing_panel(lake: Lake) -> dict[str, Any] | None:
    failing = lake.quality.suites.failing()
    if not failing:
        return None
    return {"suites": failing[:8], "more": max(len(failing) - 8, 0)}


# --- pages and fragments ------------------------------------------------------------------------------


def _table(name: str) -> str:
    return str(TableName.parse(name))


router = APIRouter(include_in_schema=False)


@router.get("/quality", response_class=HTMLResponse)
def quality_page(request: Request, lake: Lk) -> HTMLResponse:
    suites = lake.quality.suites.list()
    with_suites = {s.table for s in suites}
    tables = lake.list_tables(include_quarantine=False)
    without = [str(t) for t in tables if str(t) not in with_suites and t.namespace != "mlake"]
    counts = {
        "suites": len(suites),
        "failing": sum(s.last_passed is False for s in suites),
        "passing": sum(s.last_passed is True for s in suites),
        "never": sum(s.last_run_at is None and not s.last_result_hidden for s in suites),
    }
    anomalies = lake.quality.recent_anomalies(days=7)
    order = {False: 0, None: 1, True: 2}
    suites.sort(key=lambda s: (order[s.last_passed], s.table, s.name))
    return render(
        request,
        "quality/page.html",
        title="Quality",
        suites=suites,
        counts=counts,
        without=without,
        anomalies=anomalies[:30],
        more_anomalies=max(len(anomalies) - 30, 0),
        editable={(s.table, s.name) for s in suites if access.may_change(lake, s.owner, s.table)},
    )


@router.get("/tables/{name}/quality/profile", response_class=HTMLResponse)
def profile_fragment(request: Request, name: str, lake: Lk, snapshot: SnapshotQuery = None) -> HTMLResponse:
    table = _table(name)
    cache = _cache(request)
    with access.audited(lake, "quality.profile", [table], "studio"):
        access.require_read(lake, table)
        src = lake.quality.source(table, snapshot)
        found = cache.get(src.sql)
        cached = found is not None
        if found is None:
            found = profile(src)
            cache.put(src.sql, found)
    return render(request, "quality/_profile.html", p=profile_view(found), cached=cached, kept=None, table=table)


@router.post("/tables/{name}/quality/profile", response_class=HTMLResponse)
def profile_now(request: Request, name: str, body: ProfileIn, lake: Lk) -> HTMLResponse:
    table = _table(name)
    p = lake.quality.profile(table, snapshot_id=body.snapshot_id, save=True)
    kept = lake.quality.keeps(table)
    src = lake.quality.source(table, p.snapshot_id)
    _cache(request).put(src.sql, p)
    return render(request, "quality/_profile.html", p=profile_view(p), cached=False, kept=kept, table=table)


@router.post("/tables/{name}/quality/checks", response_class=HTMLResponse)
def run_checks(request: Request, name: str, body: RunIn, lake: Lk) -> HTMLResponse:
    table = _table(name)
    if body.suite is not None:
        suite: Any = lake.quality.suites.get(table, body.suite)
    else:  # a draft from the editor: run, but neither stored nor kept in the history
        suite = Suite.from_yaml(body.yaml or "", "the suite", untrusted=True)
        if suite.name == "checks":
            suite.name = "unsaved suite"
    keep = body.suite is not None
    result = lake.quality.check(table, suite, snapshot_id=body.snapshot_id, save=keep, sample_rows=5)
    kept = keep and lake.quality.keeps(table)
    view = result_view({**result.to_dict(), "actor": lake.principal.name}, kept=kept)
    return render(request, "quality/_results.html", run=view, table=table, fresh=True)


@router.get("/tables/{name}/quality/history", response_class=HTMLResponse)
def history_fragment(request: Request, name: str, lake: Lk) -> HTMLResponse:
    table = _table(name)
    if not lake.quality.keeps(table):  # a restricted viewer: say why instead of refusing (and auditing) again
        return render(request, "quality/_history.html", h=None, hidden=access.restriction(lake, table), table=table)
    history = lake.quality.history(table)
    anomalies = detect(history) if history.num_rows else []
    return render(request, "quality/_history.html", h=history_view(history, anomalies), hidden=None, table=table)
