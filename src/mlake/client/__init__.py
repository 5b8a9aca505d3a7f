"""The remote client: ``mlake.connect("http://host:port", token=...)`` — the Lake API against a server."""

from __future__ import annotations

from mlake.client.remote import RemoteLake
from mlake.client.tables import RemoteResult, RemoteTable

__all__ = ["RemoteLake", "RemoteResult", "RemoteTable"]
