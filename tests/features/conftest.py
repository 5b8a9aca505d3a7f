"""Fixtures of the feature-store tests: online stores on SQLite and on the real Redis of this machine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlake.features.online import OnlineStore, open_online_store

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_store() -> OnlineStore:
    prefix = f"mlake_test_{uuid.uuid4().hex[:10]}"
    try:
        return open_online_store(f"{REDIS_URL}?prefix={prefix}")
    except Exception as exc:  # pragma: no cover - the suite's setup starts Redis
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")


def _cleanup_redis(store: OnlineStore) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{store.prefix}:*", count=1000))  # type: ignore[attr-defined]
    if keys:
        client.unlink(*keys)
    client.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def online_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    """Each online backend in turn; the Redis one under a key prefix of its own, removed afterwards."""
    if request.param == "sqlite":
        store = open_online_store(f"sqlite:///{tmp_path / 'online.db'}")
        yield store
        store.close()
        return
    store = _redis_store()
    try:
        yield store
    finally:
        _cleanup_redis(store)
        store.close()


@pytest.fixture
def redis_online_url() -> Iterator[str]:
    """A Redis online-store URL with a fresh key prefix; its keys are removed afterwards."""
    store = _redis_store()
    yield f"{REDIS_URL}?prefix={store.prefix}"  # type: ignore[attr-defined]
    _cleanup_redis(store)
    store.close()
