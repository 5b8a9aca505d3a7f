"""Choosing a stream backend from a URL (``Settings.stream_url``) through the backend registry
(:mod:`mlake.backends`, which lists the built-in ones); heavy clients are imported only when chosen."""

from __future__ import annotations

from pathlib import Path

from mlake.backends import backend_for_url
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
    if url.lower().startswith("kafka://"):
        raise ConfigError(
            f"Kafka streams are not available yet ({url!r})",
            hint=f"the stream protocol allows a Kafka backend, but none is built; use {_SCHEMES}",
        )
    backend: StreamBackend = backend_for_url("stream", url).load()(url)
    return backend


def open_streams(url: str | None = None, *, home: str | Path | None = None) -> Streams:
    """The streams API over the backend a URL names (see :func:`open_stream_backend`)."""
    return Streams(open_stream_backend(url, home=home))
