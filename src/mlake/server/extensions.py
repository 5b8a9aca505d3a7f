"""How an area of mlake adds itself to the server: its REST routes, its Studio pages, its tabs and panels.

Every area — the built-in catalog, SQL, ingest, dashboards and governance, and later ones (quality,
features, labeling, monitoring) — registers one :class:`Area` with :func:`register_area` when its
module is imported. The app factory mounts each area's API router under ``/api/v1`` and its page
router under ``/``, adds its navigation entries to Studio's sidebar, its tabs to the table page and
its panels to the home page, and serves its templates and static files. Built-in areas are listed in
:data:`BUILTIN_AREAS`; third-party packages register through the ``mlake.areas`` entry-point group
(each entry point names a module that calls :func:`register_area`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import APIRouter

    from mlake.lake import Lake

# Modules whose import registers a built-in area, in sidebar order.
BUILTIN_AREAS = (
    "mlake.server.areas.catalog",
    "mlake.server.areas.sql",
    "mlake.server.areas.dashboards",
    "mlake.server.areas.governance",
    "mlake.server.areas.features",
    "mlake.server.areas.quality",
    "mlake.server.areas.monitoring",
    "mlake.server.areas.streams",
    "mlake.server.areas.objects",
    "mlake.server.areas.labeling",
    "mlake.server.areas.processing",
    "mlake.server.areas.storage",
)


@dataclass(frozen=True)
class NavItem:
    """An entry of Studio's sidebar. ``icon`` names an icon of ``templates/icons.html``."""

    title: str
    path: str
    icon: str = "dot"
    order: int = 100
    superuser_only: bool = False


@dataclass(frozen=True)
class TableTab:
    """A tab of the table page. ``template`` renders inside the page with ``context(lake, table, params)``
    (``params``: the page's query parameters, e.g. ``snapshot``)."""

    key: str
    title: str
    template: str
    context: Callable[[Lake, str, Mapping[str, str]], dict[str, Any]] = lambda lake, table, params: {}
    order: int = 100
    applies: Callable[[Lake, str], bool] | None = None
    """Whether the tab belongs on this table's page (None: on every table's), e.g. only object tables."""


@dataclass(frozen=True)
class HomePanel:
    """A panel of the home page; ``context`` returns None to hide it (nothing to show)."""

    key: str
    title: str
    template: str
    context: Callable[[Lake], dict[str, Any] | None]
    order: int = 100


@dataclass(frozen=True)
class Area:
    """One part of mlake as the server shows it."""

    name: str
    api: Callable[[], APIRouter] | None = None
    pages: Callable[[], APIRouter] | None = None
    nav: Sequence[NavItem] = ()
    table_tabs: Sequence[TableTab] = ()
    home_panels: Sequence[HomePanel] = ()
    templates: Path | None = None
    static: Path | None = None  # served at /static/areas/<name>/
    tags: Sequence[dict[str, str]] = field(default_factory=tuple)  # OpenAPI tag descriptions


_AREAS: dict[str, Area] = {}
_loaded = False


def register_area(area: Area) -> None:
    """Add (or replace, by name) an area; called at import time of the area's module."""
    _AREAS[area.name] = area


def load_areas() -> list[Area]:
    """The built-in areas and those of installed packages, in registration order."""
    global _loaded
    if not _loaded:
        for module in BUILTIN_AREAS:
            importlib.import_module(module)
        for ep in entry_points(group="mlake.areas"):
            importlib.import_module(ep.value)
        _loaded = True
    return list(_AREAS.values())


def area(name: str) -> Area | None:
    load_areas()
    return _AREAS.get(name)
