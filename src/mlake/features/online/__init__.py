"""Online stores: the latest feature values per entity, behind one protocol, chosen by URL."""

from __future__ import annotations

from mlake.features.online.base import (
    OnlineRecord,
    OnlineStore,
    OnlineStoreError,
    StoredValue,
    entity_key,
)


def open_online_store(url: str) -> OnlineStore:
    """The online store a URL names, from the backend registry (:mod:`mlake.backends`):
    ``sqlite:///path/online.db`` (default), ``redis://host:port/db?prefix=name``, or a third party's."""
    from mlake.backends import backend_for_url

    store: OnlineStore = backend_for_url("online_store", url).load()(url)
    return store


__all__ = ["OnlineRecord", "OnlineStore", "OnlineStoreError", "StoredValue", "entity_key", "open_online_store"]
