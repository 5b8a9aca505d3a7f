"""Online stores: the latest feature values per entity, behind one protocol, chosen by URL."""

from __future__ import annotations

from mlake.errors import ConfigError
from mlake.features.online.base import (
    OnlineRecord,
    OnlineStore,
    OnlineStoreError,
    StoredValue,
    entity_key,
)


def open_online_store(url: str) -> OnlineStore:
    """``sqlite:///path/online.db`` (default) or ``redis://host:port/db?prefix=name``."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        from mlake.features.online.sqlite import SqliteOnlineStore

        if not url.lower().startswith("sqlite:///"):
            raise ConfigError(
                f"Cannot read the online store URL {url!r}",
                hint="use sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        return SqliteOnlineStore(url[len("sqlite:///") :])
    if scheme in ("redis", "rediss", "unix"):
        from mlake.features.online.redis import RedisOnlineStore

        return RedisOnlineStore(url)
    raise ConfigError(
        f"Unsupported online store URL {url!r}", hint="use sqlite:///path/online.db or redis://host:port/db"
    )


__all__ = ["OnlineRecord", "OnlineStore", "OnlineStoreError", "StoredValue", "entity_key", "open_online_store"]
