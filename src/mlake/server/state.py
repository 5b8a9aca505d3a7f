"""What the app holds for its lifetime, and how a request becomes a principal-bound lake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from mlake.governance.sandbox import SandboxLimits
from mlake.governance.tokens import AuthenticationError

if TYPE_CHECKING:
    from mlake.governance.model import Principal
    from mlake.lake import Lake
    from mlake.server.settings import ServerSettings

COOKIE = "mlake_token"


@dataclass
class ServerState:
    lake: Lake
    settings: ServerSettings

    def __post_init__(self) -> None:
        gov = self.lake.governance_service
        gov.limits = SandboxLimits(
            timeout_seconds=self.settings.statement_timeout, max_result_rows=self.settings.max_result_rows
        )


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.mlake
    return state


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_principal(request: Request) -> Principal:
    """The caller: from its token, or the local superuser when the server runs without auth."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    st = state_of(request)
    gov = st.lake.governance_service
    if not st.settings.auth:
        principal = gov.local_superuser()
    else:
        token = token_of(request)
        if not token:
            raise AuthenticationError(
                "This server needs an API token", hint="send 'Authorization: Bearer mlk_...' or log in to Studio"
            )
        principal = gov.authenticate(token, client_of(request))
    request.state.principal = principal
    return principal


def principal_lake(request: Request) -> Lake:
    """FastAPI dependency: the lake as the caller may see it."""
    cached: Lake | None = getattr(request.state, "lake", None)
    if cached is not None:
        return cached
    principal = current_principal(request)
    lake = state_of(request).lake.as_principal(principal, client=client_of(request))
    request.state.lake = lake
    return lake
