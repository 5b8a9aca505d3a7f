"""Cross-site request forgery: a state change a browser makes with the Studio cookie must come from Studio.

SameSite=Strict keeps the cookie off requests from other *sites*, but every port of a host is the same
site: a page served on ``127.0.0.1:9000`` can post a form to Studio on ``127.0.0.1:8642`` and the browser
attaches the cookie. So a POST/PUT/PATCH/DELETE without a Bearer token (with the cookie, a login, or on a server
without auth) that names an origin in ``Origin`` (or, when a browser leaves that out, ``Referer``) must
name Studio's own. Browsers always send ``Origin`` on cross-origin requests and
a page cannot forge it; requests with a Bearer token are exempt, since another origin cannot set that
header without a CORS preflight, which this server never grants.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def forged(request: Request) -> str | None:
    """Why ``request`` looks forged by another origin, or None when it may proceed.

    Every unsafe request without a Bearer token is checked — with the cookie, without it (a login form
    posted from elsewhere would log the victim in as the attacker) and on a server without auth.
    """
    if request.method in SAFE_METHODS:
        return None
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return None
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        # Browsers send Origin with every POST/PUT/PATCH/DELETE (Chromium, Firefox, Safari); a request
        # without it comes from a program (a script keeping the cookie, a test client), not a forged page.
        return None
    own = (request.headers.get("host") or "").lower()
    if _netloc(claimed) != own or not own:
        return f"the request comes from {claimed!r}, not from this server ({own or 'unknown host'})"
    return None
