"""Studio login: a token typed once, kept in an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mlake.errors import MlakeError
from mlake.server.state import COOKIE, client_of, state_of
from mlake.server.studio.render import render


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    if not state_of(request).settings.auth:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, token: Annotated[str, Form(max_length=500)], next: Annotated[str, Form()] = "/"
) -> Response:
    st = state_of(request)
    try:
        principal = st.lake.governance_service.authenticate(token.strip(), client_of(request))
    except MlakeError as exc:
        return render(request, "login.html", status=401, next=_safe_next(next), error=exc.message)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=st.settings.cookie_secure,
        max_age=30 * 86400,
    )
    st.lake.governance_service.audit.record(principal=principal.name, action="login", client=client_of(request))
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
