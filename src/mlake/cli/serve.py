"""``mlake serve``: the REST API and Studio for this lake."""

from __future__ import annotations

from typing import Annotated

import typer

from mlake.cli.context import console, state
from mlake.errors import ConfigError


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8642,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Skip API tokens: everyone on this machine acts as you (loopback only).")
    ] = False,
    statement_timeout: Annotated[float, typer.Option(help="Seconds a query may run.")] = 30.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the REST API (/api/v1) and Studio (/) for this lake."""
    run_server(host, port, auth=not no_auth, statement_timeout=statement_timeout, log_level=log_level)


def run_server(
    host: str, port: int, *, auth: bool, statement_timeout: float = 30.0, log_level: str = "warning"
) -> None:
    import uvicorn

    from mlake.server.app import create_app
    from mlake.server.settings import ServerSettings

    settings = ServerSettings(host=host, port=port, auth=auth, statement_timeout=statement_timeout).check()
    lake = state.lake()
    if auth and not lake.governance.tokens():
        raise ConfigError(
            "This lake has no API tokens yet, so nobody could log in",
            hint="create one: `mlake access add-user NAME --superuser` then `mlake access token NAME`; "
            "or serve only this machine without tokens: mlake serve --no-auth",
        )
    app = create_app(lake, settings)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    console.print(f"[bold green]mlake Studio[/bold green] on http://{shown}:{port}/  (API: /api/v1/docs)")
    console.print("[dim]tokens required[/dim]" if auth else "[dim]no login: loopback only, you act as yourself[/dim]")
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
