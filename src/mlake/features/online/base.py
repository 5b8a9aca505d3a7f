"""The online store protocol: latest feature values per entity, for low-latency reads.

A backend stores, per (group, entity key), one record: the event time and write time of the values
(microseconds since the epoch) and the values themselves as a JSON object (built by DuckDB during
materialization, decoded by the feature store with the group's types). Backends know nothing about
features; they only guarantee the one rule that makes online equal offline:

    a record replaces the stored one only if its (event_time, write_time) is not older,

so an older event never overwrites a newer one, whatever order writes arrive in, and for equal event
times the later write wins — the same tie-break the point-in-time join uses offline. The one exception is
``reconcile``, with which materialization repairs entities whose newest offline rows were deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from mlake.errors import MlakeError


class OnlineStoreError(MlakeError):
    """The online store cannot be reached or refused an operation."""

    code = "online_store_unavailable"
    http_status = 503


class OnlineRecord(NamedTuple):
    """One entity's latest values in one group (plain 4-tuples in this order are accepted too)."""

    key: str
    event_time_us: int
    write_time_us: int
    payload: str  # JSON object: feature name -> value


class StoredValue(NamedTuple):
    event_time_us: int
    write_time_us: int
    payload: str


@runtime_checkable
class OnlineStore(Protocol):
    """What every online backend implements (one shared test suite runs against each)."""

    @property
    def identity(self) -> str:
        """A stable name for this store (its URL without secrets), under which materialization progress is kept."""
        ...

    def upsert(self, group: str, records: Sequence[OnlineRecord]) -> int:
        """Apply records with the newer-wins rule; returns how many replaced or created a stored record."""
        ...

    def reconcile(
        self, group: str, records: Sequence[OnlineRecord], deleted: Sequence[str], written_up_to_us: int
    ) -> int:
        """Make entities equal the offline store again after rows were deleted or rewritten there: each
        record replaces the stored one and each key in ``deleted`` is removed, whatever their times,
        except where the stored record was written after ``written_up_to_us`` (the newest write the
        offline snapshot holds: a later online write is newer than anything that snapshot knows).
        Returns how many records were replaced, created or removed."""
        ...

    def read(self, group: str, keys: Sequence[str]) -> list[StoredValue | None]:
        """The stored record for each key, in the order asked (None where the entity is unknown)."""
        ...

    def keys(self, group: str) -> Iterator[str]:
        """Every entity key the group has in this store, in no particular order (streamed)."""
        ...

    def count(self, group: str) -> int:
        """How many entities the group has in this store."""
        ...

    def drop_group(self, group: str) -> None:
        """Forget every record of the group."""
        ...

    def close(self) -> None: ...


KEY_SEPARATOR = "\x1f"  # ASCII unit separator: joins composite entity keys


def entity_key(values: Sequence[object]) -> str:
    """The online key of an entity: its key values as text, joined; must equal what DuckDB builds."""
    parts = []
    for v in values:
        if isinstance(v, bool):
            parts.append("true" if v else "false")
        else:
            parts.append(str(v))
    return KEY_SEPARATOR.join(parts)
