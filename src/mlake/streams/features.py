"""Streams into the feature store: a delivery or a streaming query whose target is a feature group.

Both write the group's offline table (``features.<group>``) the way they write any table — the rows and
the stream position (or the query's state) in one Iceberg commit, guarded by a compare-and-set — so each
record reaches the offline store exactly once across crashes. The rows are shaped as the group's offline
schema first: entity keys, event time and the group's features (other fields of a record are left out;
a record without its keys or event time, or with a value that does not fit its feature's type, goes to
the error table with the reason), and a ``write_time``, one per buffer.

After each commit the online store catches up incrementally from the offline table
(:meth:`mlake.features.store.FeatureStore.sync_online`), so values are served within the buffer interval.
The online write is idempotent and newer-wins by (event time, write time) in both stores (SQLite and
Redis enforce it in the write itself), so an older event never overwrites a newer one whatever the order
records arrive in. A run starts with the same catch-up, so a process killed between the offline commit
and the online write leaves nothing behind after its restart: online equals the latest row per entity
of the offline table.

A streaming query into a group writes one row per result row and window: its event time is the
window's end (the moment the aggregate became true), unless the SQL returns the event time column itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import ValidationError
from mlake.streams.delivery import Delivery, TableAccess
from mlake.streams.models import Record
from mlake.streams.query import StreamingQuery

if TYPE_CHECKING:
    from mlake.features.groups import FeatureGroup
    from mlake.features.store import FeatureStore
    from mlake.tables.table import Table


def feature_group_of(lake: TableAccess, group: str) -> tuple[FeatureStore, FeatureGroup]:
    """The lake's feature store and the group (a principal needs some grant on its offline table)."""
    store: FeatureStore | None = getattr(lake, "features", None)
    if store is None:
        raise ValidationError("Delivery into a feature group needs a lake with a feature store")
    return store, store.group(group)


def offline_rows(
    group: FeatureGroup, rows: Sequence[tuple[Record, dict[str, Any]]], write_time: datetime
) -> tuple[pa.Table, list[tuple[Record, str]]]:
    """Rows in the group's offline schema (last one wins per entity and event time within the buffer) and
    the records that cannot be rows, with the reason."""
    from mlake.features.groups import WRITE_TIME
    from mlake.streams.delivery import parse_time

    schema = group.offline_schema()
    values_schema = schema.remove(schema.get_field_index(WRITE_TIME))
    names = values_schema.names
    needed = [*group.key_names, group.event_time]
    candidates: list[tuple[Record, dict[str, Any]]] = []
    errors: list[tuple[Record, str]] = []
    for record, value in rows:
        missing = [n for n in needed if value.get(n) is None]
        if missing:
            errors.append(
                (record, f"lacks {', '.join(missing)}: feature group {group.name!r} needs its keys and event time")
            )
            continue
        row = {n: value.get(n) for n in names}
        try:
            if not isinstance(row[group.event_time], datetime):
                row[group.event_time] = parse_time(row[group.event_time])
        except (TypeError, ValueError, OverflowError) as exc:
            errors.append((record, f"field {group.event_time!r} is not a time: {exc}"))
            continue
        candidates.append((record, row))
    try:  # the whole buffer at once; only when that fails is each row checked on its own
        pa.Table.from_pylist([row for _, row in candidates], schema=values_schema)
        good = candidates
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        good = []
        for record, row in candidates:
            try:
                pa.Table.from_pylist([row], schema=values_schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
                errors.append((record, f"does not fit feature group {group.name!r}: {exc}"))
                continue
            good.append((record, row))
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _, row in good:
        key = tuple(row[n] for n in needed)
        kept.pop(key, None)  # the last record of the buffer for an entity and event time wins
        kept[key] = {**row, WRITE_TIME: write_time}
    return pa.Table.from_pylist(list(kept.values()), schema=schema), errors


class FeatureDelivery(Delivery):
    """Delivers a stream into a feature group, offline exactly once and online newer-wins (module doc)."""

    def __init__(self, lake: TableAccess, streams: Any, stream: str, *, feature_group: str, **kwargs: Any) -> None:
        self.features, self.group = feature_group_of(lake, feature_group)
        if kwargs.get("partition_by"):
            raise ValidationError("A feature group's offline table is partitioned by the store, not the delivery")
        time_fields = tuple(kwargs.pop("time_fields", ()))
        super().__init__(
            lake,
            streams,
            stream,
            str(self.group.table_name),
            time_fields=(*time_fields, self.group.event_time),
            **kwargs,
        )

    def run(self, **kwargs: Any) -> Any:
        """As :meth:`Delivery.run`, after the online store caught up with what a killed run committed."""
        self._after_commit()
        return super().run(**kwargs)

    def _rows(
        self, rows: list[tuple[Record, dict[str, Any]]], table: Table | None
    ) -> tuple[pa.Table, list[tuple[Record, str]]]:
        from mlake.features.offline import next_write_time

        return offline_rows(self.group, rows, next_write_time())

    def _after_commit(self) -> None:
        self.features.sync_online(self.group.name)


class FeatureQuery(StreamingQuery):
    """A streaming query whose window results are feature values of a group, offline and online."""

    def __init__(
        self, lake: TableAccess, streams: Any, stream: str, sql: str, *, feature_group: str, **kwargs: Any
    ) -> None:
        self.features, self.group = feature_group_of(lake, feature_group)
        super().__init__(lake, streams, stream, sql, str(self.group.table_name), **kwargs)

    def run(self, **kwargs: Any) -> Any:
        """As :meth:`StreamingQuery.run`, after the online store caught up with what a killed run committed."""
        self._after_emit()
        return super().run(**kwargs)

    def _shape(self, data: pa.Table) -> pa.Table:
        from mlake.features.groups import WRITE_TIME
        from mlake.features.offline import next_write_time

        event = self.group.event_time
        if event not in data.column_names:
            data = data.append_column(event, data.column("window_end"))
        keep = [f for f in self.group.offline_schema() if f.name != WRITE_TIME]
        unknown = set(data.column_names) - {f.name for f in keep} - {"window_start", "window_end"}
        if unknown:
            raise ValidationError(
                f"The streaming query {self.name!r} returns column(s) {', '.join(sorted(unknown))} that are not "
                f"features of group {self.group.name!r}",
                hint="return the entity keys and features only (add features first with lake.features.add_features)",
            )
        columns = {
            f.name: data.column(f.name).cast(f.type) if f.name in data.column_names else pa.nulls(data.num_rows, f.type)
            for f in keep
        }
        columns[WRITE_TIME] = pa.array([next_write_time()] * data.num_rows, pa.timestamp("us", tz="UTC"))
        return pa.table(columns, schema=self.group.offline_schema())

    def _after_emit(self) -> None:
        self.features.sync_online(self.group.name)
