"""The FastAPI app: the REST API under ``/api/v1`` and Studio at ``/``, for one lake.

``create_app(lake, settings)`` builds it; ``mlake serve`` runs it with uvicorn. Each area (see
:mod:`mlake.server.extensions`) contributes its API router, its pages, its templates and static files.
The lifespan starts the audit log's background flusher and, at shutdown, flushes what is pending.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlake import __version__
from mlake.lake import Lake
from mlake.server.api import meta
from mlake.server.csrf import forged
from mlake.server.errors import install_error_handlers, problem
from mlake.server.extensions import load_areas
from mlake.server.settings import ServerSettings
from mlake.server.state import ServerState
from mlake.server.studio import api_docs
from mlake.server.studio import auth as studio_auth
from mlake.server.studio.render import configure_templates
from mlake.server.uploads import sweep_uploads

HERE = Path(__file__).parent
API_PREFIX = "/api/v1"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


_SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


class GuardMiddleware:
    """Refuses forged cross-site state changes (see csrf.py) and adds the security headers to every answer:
    Studio loads nothing from elsewhere, and the browser is told so (and refuses if a page tried).

    A plain ASGI middleware rather than ``@app.middleware("http")``: those wrap every request in an extra
    task and stream, which costs a small request more than the check itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = forged(Request(scope))
        if reason is not None:
            body = problem(
                "forbidden_origin",
                f"Refused a cross-site {scope['method']}: {reason}",
                403,
                hint="use Studio itself, or call the API with 'Authorization: Bearer <token>'",
            )
            await JSONResponse(body, status_code=403)(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in _SECURITY_HEADERS if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        return send_with_headers


def create_app(lake: Lake, settings: ServerSettings | None = None) -> FastAPI:
    """A server for ``lake``. The caller keeps ownership of the lake (and closes it)."""
    settings = (settings or ServerSettings()).check()
    state = ServerState(lake, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweep_uploads(lake.settings.home)  # uploads of a server that was killed mid-request
        # Every route is a plain function: Starlette runs it in this pool, so a slow query holds one
        # thread (until the statement timeout) while the event loop keeps serving the other clients.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        lake.governance_service.audit.start(settings.audit_flush_seconds, wait=settings.audit_wait_for_commit)
        try:
            yield
        finally:
            lake.governance_service.audit.stop()

    areas = load_areas()
    app = FastAPI(
        title="mlake",
        version=__version__,
        summary="REST API of an mlake data lake: catalog, SQL, ingest, governance, dashboards.",
        description="Authenticate with `Authorization: Bearer <token>` (create tokens with `mlake access token`). "
        "Errors are JSON problems: `{code, message, hint, status}` with a stable `code`.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI loads from a CDN; Studio renders the reference itself (api_docs)
        redoc_url=None,
        lifespan=lifespan,
        openapi_tags=[t for a in areas for t in a.tags],
    )
    app.state.mlake = state
    install_error_handlers(app)

    app.add_middleware(GuardMiddleware)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(meta.router)
    for a in areas:
        if a.api is not None:
            api.include_router(a.api())
    app.include_router(api)

    app.include_router(studio_auth.router)
    app.include_router(api_docs.router(API_PREFIX))
    for a in areas:
        if a.pages is not None:
            app.include_router(a.pages())
        if a.static is not None:
            app.mount(f"/static/areas/{a.name}", StaticFiles(directory=a.static), name=f"static-{a.name}")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    configure_templates(app, [HERE / "templates", *(a.templates for a in areas if a.templates is not None)])
    return app
