"""Server settings: where it listens, whether it asks for tokens, what one query may cost."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field

from mlake.errors import ConfigError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServerSettings(BaseModel):
    """How ``mlake serve`` runs. ``auth=False`` is allowed on loopback addresses only."""

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8642, ge=0, le=65535, description="Port to listen on.")
    auth: bool = Field(default=True, description="Require API tokens (Bearer header or Studio login).")
    statement_timeout: float = Field(default=30.0, gt=0, description="Seconds a query may run.")
    max_result_rows: int = Field(default=100_000, gt=0, description="Rows a query may return as JSON.")
    audit_flush_seconds: float = Field(default=5.0, gt=0, description="How often audit events move to Iceberg.")
    audit_wait_for_commit: bool = Field(
        default=False,
        description="Answer a request only after its audit event is committed (otherwise events are "
        "group-committed within milliseconds, and written at shutdown; a hard kill may lose the last few).",
    )
    cookie_secure: bool = Field(default=False, description="Mark the Studio login cookie Secure (behind HTTPS).")
    worker_threads: int = Field(
        default=40, ge=2, le=1000, description="Threads running blocking work (queries, uploads) off the event loop."
    )

    def check(self) -> ServerSettings:
        if not self.auth and not is_loopback(self.host):
            raise ConfigError(
                f"Refusing to serve without authentication on {self.host}",
                hint="--no-auth is for loopback only (127.0.0.1); elsewhere create tokens with `mlake access token`",
            )
        return self
