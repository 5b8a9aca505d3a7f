"""The real app over a governed lake, reached through httpx's ASGI transport (no sockets, no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.governed_lake import Governed, build_governed_lake

from mlake.client import RemoteLake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def governed(tmp_path: Path) -> Iterator[Governed]:
    g = build_governed_lake(tmp_path / "lake")
    try:
        yield g
    finally:
        g.lake.close()


@pytest.fixture
def app(governed: Governed) -> FastAPI:
    return create_app(governed.lake, ServerSettings(auth=True, statement_timeout=5))


def client_for(app: FastAPI, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://studio.test", headers=headers)


@pytest.fixture
async def admin(app: FastAPI, governed: Governed) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, governed.admin_token) as c:
        yield c


@pytest.fixture
async def analyst(app: FastAPI, governed: Governed) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, governed.analyst_token) as c:
        yield c


@pytest.fixture
async def outsider(app: FastAPI, governed: Governed) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, governed.outsider_token) as c:
        yield c


@pytest.fixture
def remotes(app: FastAPI, governed: Governed) -> Iterator[dict[str, RemoteLake]]:
    """``mlake.connect(url)`` as root (superuser), bob (analyst) and alice (no grants), over a TestClient."""
    from fastapi.testclient import TestClient

    import mlake

    tokens = {"admin": governed.admin_token, "bob": governed.analyst_token, "alice": governed.outsider_token}
    https = [TestClient(app, base_url="http://studio.test") for _ in tokens]
    pairs = zip(tokens.items(), https, strict=True)
    yield {who: mlake.connect("http://studio.test", token=t, client=h) for (who, t), h in pairs}
    for h in https:
        h.close()
