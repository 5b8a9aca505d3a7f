"""Fixtures of the stream tests: the embedded log in a temporary folder, the real NATS JetStream and Redis
of this machine. Each server-backed test works under a prefix of its own and removes everything under it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlake.streams import Streams, open_streams

NATS_URL = "nats://127.0.0.1:4222"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _remove_everything(streams: Streams) -> None:
    for name in streams.list_streams():
        streams.delete(name)


@pytest.fixture(
    params=[
        pytest.param("log", marks=pytest.mark.streams),
        pytest.param("nats", marks=[pytest.mark.streams, pytest.mark.nats]),
        pytest.param("redis", marks=[pytest.mark.streams, pytest.mark.redis]),
    ]
)
def streams(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Streams]:
    """The streams API on each backend in turn, empty, under names no other test uses."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "log":
        url = f"file://{tmp_path / 'streams'}"
    elif request.param == "nats":
        url = f"{NATS_URL}?prefix={prefix}"
    else:
        url = f"{REDIS_URL}?prefix={prefix}"
    try:
        s = open_streams(url)
    except Exception as exc:  # pragma: no cover - the suite's setup starts the servers
        pytest.fail(f"The {request.param} stream backend is not reachable at {url}: {exc}")
    try:
        yield s
    finally:
        _remove_everything(s)
        assert s.list_streams() == []
        s.close()


@pytest.fixture
def name() -> str:
    """A stream name of this test's own."""
    return f"s{uuid.uuid4().hex[:12]}"
