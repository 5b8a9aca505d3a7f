"""The embedded durable log (the default stream backend): segment files on local disk."""

from __future__ import annotations

from mlake.streams.log.backend import LogBackend

__all__ = ["LogBackend"]
