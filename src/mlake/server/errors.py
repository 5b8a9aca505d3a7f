"""One error handler: every failure becomes a JSON problem for the API and a message page for Studio."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlake.errors import MlakeError

log = logging.getLogger("mlake.server")


def problem(code: str, message: str, status: int, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "hint": hint, "status": status, **extra}


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _respond(request: Request, body: dict[str, Any]) -> Response:
    status = int(body["status"])
    if _wants_page(request):
        if status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        from mlake.server.studio.render import render_error

        return render_error(request, body)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MlakeError)
    async def mlake_error(request: Request, exc: MlakeError) -> Response:
        return _respond(request, problem(exc.code, exc.message, exc.http_status, exc.hint))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"where": "request", "message": "invalid"}
        return _respond(
            request,
            problem("invalid_argument", f"{first['where']}: {first['message']}", 422, errors=errors),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(exc.status_code, "http_error")
        return _respond(request, problem(code, str(exc.detail), exc.status_code))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _respond(
            request,
            problem(
                "internal_error",
                f"Internal error: {type(exc).__name__}",
                500,
                "this is a bug in mlake; the server log has the details",
            ),
        )
