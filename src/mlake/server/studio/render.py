"""Rendering Studio pages: one Jinja2 environment over every area's templates, one page context."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from mlake import __version__
from mlake.server.extensions import NavItem, load_areas


def _bytes(n: int | None) -> str:
    if n is None:
        return "—"  # not shown: the viewer's row filter narrows the table
    if not n:
        return "0 B"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _number(n: Any) -> str:
    if n is None:
        return "—"  # not shown: the viewer's row filter narrows the table
    return f"{n:,}" if isinstance(n, int) else str(n)


def _ago(value: Any) -> str:
    if value is None:
        return "—"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    from datetime import UTC

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    secs = (datetime.now(UTC) - when).total_seconds()
    for limit, div, unit in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "h"), (86400 * 60, 86400, "d")):
        if secs < limit:
            return f"{max(int(secs // div), 0)} {unit} ago"
    return when.strftime("%Y-%m-%d")


def _when(value: Any) -> str:
    if value is None:
        return "—"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.strftime("%Y-%m-%d %H:%M:%S")


def configure_templates(app: FastAPI, folders: list[Path]) -> None:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(bytes=_bytes, number=_number, ago=_ago, when=_when, tojson_attr=lambda v: json.dumps(v))
    app.state.templates = env


def nav_items(superuser: bool) -> list[NavItem]:
    items = [n for a in load_areas() for n in a.nav if superuser or not n.superuser_only]
    return sorted(items, key=lambda n: n.order)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env: Environment = request.app.state.templates
    lake = getattr(request.state, "lake", None)
    principal = getattr(request.state, "principal", None)
    auth = request.app.state.mlake.settings.auth
    page = env.get_template(template).render(
        request=request,
        path=request.url.path,
        nav=nav_items(bool(principal and principal.superuser)),
        principal=principal,
        lake=lake,
        auth=auth,
        version=__version__,
        **context,
    )
    return HTMLResponse(page, status_code=status)


def render_error(request: Request, problem: dict[str, Any]) -> HTMLResponse:
    titles = {403: "Access denied", 404: "Not found", 422: "Cannot do that", 500: "Something broke"}
    return render(
        request,
        "error.html",
        status=int(problem["status"]),
        problem=problem,
        title=titles.get(int(problem["status"]), "Cannot do that"),
    )
