"""Fixtures of the security suite, and the count of attacks it made (printed at the end of the run)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from tests.governed_features import add_feature_groups
from tests.governed_lake import Governed, build_governed_lake
from tests.security.attempts import ATTEMPTS


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    """One governed lake (with feature groups) per module; attacks only read it."""
    g = build_governed_lake(tmp_path_factory.mktemp("sec") / "lake")
    add_feature_groups(g.lake)
    uploads = g.lake.settings.home / "tmp" / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "leftover.csv").write_text("k,v\nleftover,upload-of-another-user\n")
    try:
        yield g
    finally:
        g.lake.close()


@pytest.fixture
def governed(tmp_path: Path) -> Iterator[Governed]:
    g = build_governed_lake(tmp_path / "lake")
    try:
        yield g
    finally:
        g.lake.close()


@pytest.fixture(scope="module")
def shared_app(shared: Governed) -> FastAPI:
    return create_app(shared.lake, ServerSettings(auth=True, statement_timeout=5))


def client_for(app: FastAPI, token: str | None, base_url: str = "http://studio.test") -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, headers=headers)


@pytest.fixture
async def outsider(shared_app: FastAPI, shared: Governed) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(shared_app, shared.outsider_token) as c:
        yield c


@pytest.fixture
async def analyst(shared_app: FastAPI, shared: Governed) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(shared_app, shared.analyst_token) as c:
        yield c


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ATTEMPTS.total:
        terminalreporter.write_line(
            f"security suite: {ATTEMPTS.total} attacks made, {ATTEMPTS.held} held, "
            f"{ATTEMPTS.total - ATTEMPTS.held} got through ({ATTEMPTS.by_route()})"
        )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(shared: Governed) -> Iterator[str]:
    """The app served by uvicorn on a loopback port (real sockets: keep-alive, browsers)."""
    import threading
    import time

    import uvicorn

    port = free_port()
    app = create_app(shared.lake, ServerSettings(auth=True, statement_timeout=5, port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
