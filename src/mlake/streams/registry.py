"""Choosing a stream backend from a URL (``Settings.stream_url``); heavy clients are imported lazily."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from mlake.errors import ConfigError
from mlake.streams.base import StreamBackend
from mlake.streams.service import Streams

_SCHEMES = "file:///path (the embedded log, default), nats://host:4222 or redis://host:6379/0"


def open_stream_backend(url: str | None = None, *, home: str | Path | None = None) -> StreamBackend:
    """The backend a URL names; no URL means the embedded log in ``<home>/streams``."""
    if url is None or url == "":
        if home is None:
            raise ConfigError("No stream URL and no lake home to keep the embedded log in", hint=f"use {_SCHEMES}")
        from mlake.streams.log import LogBackend

        return LogBackend(Path(home) / "streams")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "file":
        from mlake.streams.log import LogBackend

        path = unquote(urlparse(url).path)
        if not path:
            raise ConfigError(f"The stream URL {url!r} names no folder", hint="use file:///absolute/folder")
        return LogBackend(path)
    if scheme in ("nats", "tls"):
        from mlake.streams.nats import NatsBackend

        return NatsBackend(url)
    if scheme in ("redis", "rediss"):
        from mlake.streams.redis import RedisBackend

        return RedisBackend(url)
    if scheme == "kafka":
        raise ConfigError(
            f"Kafka streams are not available yet ({url!r})",
            hint=f"the stream protocol allows a Kafka backend, but none is built; use {_SCHEMES}",
        )
    raise ConfigError(f"Unsupported stream URL {url!r}", hint=f"use {_SCHEMES}")


def open_streams(url: str | None = None, *, home: str | Path | None = None) -> Streams:
    """The streams API over the backend a URL names (see :func:`open_stream_backend`)."""
    return Streams(open_stream_backend(url, home=home))
