"""Cross-site request forgery: a state change a browser makes with the Studio cookie must come from Studio.

SameSite=Strict keeps the cookie off requests from other *sites*, but every port of a host is the same
site: a page served on ``127.0.0.1:9000`` can post a form to Studio on ``127.0.0.1:8642`` and the browser
attaches the cookie. So a POST/PUT/PATCH/DELETE that is authenticated by the cookie (or reaches a server
running without auth, where any page may be the caller) must name Studio's own origin in ``Origin`` (or,
when a browser leaves that out, ``Referer``). Browsers always send ``Origin`` on cross-origin requests and
a page cannot forge it; requests with a Bearer token are exempt, since another origin cannot set that
header without a CORS preflight, which this server never grants.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from mlake.server.state import COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def forged(request: Request, auth: bool) -> str | None:
    """Why ``request`` looks forged by another origin, or None when it may proceed."""
    if request.method in SAFE_METHODS:
        return None
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return None
    by_cookie = bool(request.cookies.get(COOKIE)) or not auth
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    if not by_cookie and origin is None:
        return None  # e.g. the login form posted by a client that sends no Origin: it carries no session
    own = (request.headers.get("host") or "").lower()
    claimed = origin if origin is not None else referer
    if claimed is None:
        return "the request names no origin (neither Origin nor Referer)"
    if _netloc(claimed) != own or not own:
        return f"the request comes from {claimed!r}, not from this server ({own or 'unknown host'})"
    return None
