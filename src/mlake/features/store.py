"""``lake.features``: the feature store's one entry point.

Everything the CLI, the REST API and Studio do with features goes through :class:`FeatureStore`:
define groups, write features (offline, and online for groups served online), build and reload
point-in-time correct training sets, read online features, materialize, search and check skew.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlake.features.groups import Feature, FeatureGroup, GroupRegistry, parse_features
from mlake.features.lookup import OnlineFeatures, ReadPlan, normalize_keys, plan_read, read_online
from mlake.features.materialize import MaterializeReport, forget_materializations, materialize_group
from mlake.features.offline import WriteSummary, ensure_offline_table, write_features
from mlake.features.online import OnlineStore, open_online_store
from mlake.features.training import (
    TrainingSet,
    create_training_set,
    list_training_sets,
    load_training_set,
    output_names,
    parse_feature_refs,
    resolve_features,
)

SERVING_CACHE_SECONDS = 5.0

if TYPE_CHECKING:
    import pyarrow as pa

    from mlake.features.search import SearchHit
    from mlake.features.skew import SkewReport
    from mlake.lake import Lake
    from mlake.results import Result
    from mlake.tables.names import TableName
    from mlake.tables.table import Table


class FeatureStore:
    """Feature groups, offline and online stores, training sets — for one lake."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        self.registry = GroupRegistry(lake._core.metadata_engine, lake.settings.user)
        self._online: OnlineStore | None = None
        self._online_lock = threading.Lock()  # a server's first requests arrive together: open the store once
        # Online reads are the hot path: group definitions are cached for a few seconds (changes made
        # through this object are seen at once, changes made by other processes within SERVING_CACHE_SECONDS).
        self._plans: dict[tuple[str, ...], tuple[float, ReadPlan]] = {}

    # --- online store -------------------------------------------------------------------------------

    @property
    def online_store(self) -> OnlineStore:
        """The online store named by ``settings.online_url`` (SQLite in the home by default), opened once."""
        if self._online is None:
            with self._online_lock:
                if self._online is None:
                    self._online = open_online_store(self._lake.settings.resolved_online_url())
        return self._online

    def use_online_store(self, store: OnlineStore | str) -> None:
        """Serve from another store (an instance, or a URL such as ``redis://127.0.0.1:6379/0``)."""
        if self._online is not None:
            self._online.close()
        self._online = open_online_store(store) if isinstance(store, str) else store

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
            self._online = None

    # --- groups -------------------------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        *,
        entities: Sequence[str] | Mapping[str, Any] | str,
        event_time: str,
        features: Mapping[str, Any] | Sequence[Feature | str] | None = None,
        data: Any = None,
        ttl: timedelta | str | float | None = None,
        description: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | Sequence[str] | None = None,
        online: bool = True,
    ) -> FeatureGroup:
        """Define a group; with ``data`` (any frame, table or SQL), types are taken from it and it is written.

        ``entities`` are the key column(s) (``["customer_id"]`` or ``{"customer_id": "long"}``);
        ``features`` maps names to types (``{"spend_30d": "double"}``, or ``(type, description)``), or
        lists names whose types come from ``data`` (default: every other column of ``data``). ``ttl``
        (``"30d"``, seconds, a timedelta) bounds how long a value stays valid after its event time.
        """
        types: dict[str, Any] = {}
        source = None
        if data is not None:
            from mlake.features.offline import source_relation

            source = source_relation(self._lake, data)
            types = dict(zip(source.columns, source.relation.limit(0).to_arrow_table().schema.types, strict=True))
            types.pop("__mlake_input_row", None)  # the row number that orders a frame's rows
        self._plans.clear()
        group = self.registry.create(
            name,
            entities=entities,
            event_time=event_time,
            features=features,
            data_types=types,
            ttl=ttl,
            description=description,
            owner=owner,
            tags=tags,
            online=online,
        )
        try:
            ensure_offline_table(self._lake, group)
        except Exception:
            self.registry.drop(name)
            raise
        if source is not None:
            self.write(group.name, source)
        return group

    def group(self, name: str) -> FeatureGroup:
        """A group's definition — its offline table's metadata, so a principal needs some grant on it."""
        found = self.registry.get(name)
        self._lake.access.require_visible(found.table_name)
        return found

    def groups(self) -> list[FeatureGroup]:
        """The groups whose offline tables the actor may see."""
        return [g for g in self.registry.all() if self._lake.access.visible(g.table_name)]

    def add_features(self, group: str, features: Mapping[str, Any] | Sequence[Feature]) -> FeatureGroup:
        """Add features to a group: nullable columns in its offline table, no data rewritten."""
        self._plans.clear()
        current = self.group(group)
        new = parse_features(features, {}, current.version + 1)
        updated = self.registry.add_features(current, new)
        table = ensure_offline_table(self._lake, updated)
        from mlake.features.types import arrow_type

        existing = {c.lower() for c in table.columns}
        missing = {f.name: arrow_type(f.dtype) for f in new if f.name.lower() not in existing}
        if missing:
            table.add_columns(missing, docs={f.name: f.description for f in new if f.description})
        return updated

    def update_group(self, group: str, **values: Any) -> FeatureGroup:
        """Change ``description``, ``owner``, ``tags``, ``ttl`` or ``online``.

        Owner, tags and description are also set on the offline table ``features.<group>``: governance
        reads them there (an owner administers the table, grants by tag follow the tags)."""
        self._plans.clear()
        before = self.group(group)
        updated = self.registry.update(before, **values)
        meta = {k: values[k] for k in ("owner", "tags", "description") if k in values}
        if meta and self._lake.table_exists(updated.table_name):
            table = self._lake.table(updated.table_name)
            tags = {"feature_group": updated.name, **updated.tags}
            table.set_metadata(
                owner=updated.owner if "owner" in meta else None,
                tags=tags if "tags" in meta else None,
                remove_tags=[t for t in before.tags if t not in tags] if "tags" in meta else (),
                description=f"Offline store of feature group {updated.name}"
                + (f": {updated.description}" if updated.description else "")
                if "description" in meta
                else None,
            )
        return updated

    def drop_group(self, group: str, *, purge: bool = True) -> None:
        """Forget a group; ``purge`` also drops its offline table and its online records."""
        self._plans.clear()
        g = self.group(group)
        if purge:
            self._lake.drop_table(g.table_name, missing_ok=True)
            if g.online:
                self.online_store.drop_group(g.name)
        forget_materializations(self._lake, g.name)
        self.registry.drop(g.name)

    # --- writing ------------------------------------------------------------------------------------

    def write(self, group: str, data: Any, *, online: bool | None = None) -> WriteSummary:
        """Append feature rows (a frame, ``"ns.table"``, or SQL) to the offline store as one snapshot.

        For a group served online (or with ``online=True``), the new rows are then materialized
        incrementally, so the online store holds the latest value per entity by event time.
        """
        g = self.group(group)
        summary, _ = write_features(self._lake, g, data)
        if online if online is not None else g.online:
            report = self.materialize(g.name)
            summary = WriteSummary(
                summary.group, summary.rows_written, summary.snapshot_id, summary.write_time, report.entities_written
            )
        return summary

    def materialize(self, group: str, *, full: bool = False) -> MaterializeReport:
        """Bring the online store up to the group's offline snapshot (incremental unless ``full``)."""
        return materialize_group(self._lake, self.group(group), self.online_store, full=full)

    def materialize_all(self, *, full: bool = False) -> list[MaterializeReport]:
        return [self.materialize(g.name, full=full) for g in self.groups() if g.online]

    # --- training sets ------------------------------------------------------------------------------

    def training_set(
        self,
        entities: Any,
        features: Sequence[str] | str,
        *,
        as_of: datetime | str | None = None,
        entity_time: str | None = None,
        name: str | None = None,
        description: str | None = None,
        save: bool = True,
        use: str | None = None,
        override: str | None = None,
    ) -> TrainingSet:
        """Point-in-time correct feature values for each entity row; see :mod:`mlake.features.pit`.

        ``entities``: a frame, a lake table name, or SQL, with the groups' key column(s) and a time column
        (``entity_time``, found automatically when it is the only timestamp). ``features``:
        ``["group:feature", "group:*"]``. ``as_of``: only values written by then (what was known then).
        Saved training sets (the default) can be rebuilt identically with :meth:`load_training_set`.
        ``use`` (e.g. ``"model_training"``): refused with UseForbiddenError when a source the rows derive
        from does not allow it (see :mod:`mlake.sources`), unless ``override`` gives a reason, which the
        audit log records.
        """
        return create_training_set(
            self._lake,
            entities,
            features,
            as_of=as_of,
            entity_time=entity_time,
            name=name,
            description=description,
            save=save,
            use=use,
            override=override,
        )

    def load_training_set(self, training_set_id: str) -> TrainingSet:
        return load_training_set(self._lake, training_set_id)

    def training_sets(self, group: str | None = None) -> list[TrainingSet]:
        return list_training_sets(self._lake, group)

    def save_entity_rows(self, name: TableName, data: pa.Table, *, description: str, training_set: str) -> Table:
        """Keep a saved training set's entity rows (given as a frame or SQL) in a table of their own."""
        return self._lake.create_table(
            name, data, description=description, owner=self._lake.settings.user, tags={"training_set": training_set}
        )

    def training_result(self, result: Result) -> Result:
        """The result a training set's rows are read through (a governed store bounds it like SQL)."""
        return result

    # --- online reads -------------------------------------------------------------------------------

    def get_online_features(
        self, keys: Any, features: Sequence[str] | str, *, now: datetime | None = None
    ) -> OnlineFeatures:
        """Latest values and a status per value (present / missing / expired) for one or many entities."""
        return read_online(self.online_store, self._read_plan(features), normalize_keys(keys), now)

    def _read_plan(self, features: Sequence[str] | str) -> ReadPlan:
        key = (features,) if isinstance(features, str) else tuple(features)
        cached = self._plans.get(key)
        clock = time.monotonic()
        if cached is not None and clock - cached[0] < SERVING_CACHE_SECONDS:
            return cached[1]
        selected = resolve_features(self, parse_feature_refs(features))
        plan = plan_read(selected, output_names(selected, sorted({k for g, _ in selected for k in g.key_names})))
        if len(self._plans) > 1000:
            self._plans.clear()
        self._plans[key] = (clock, plan)
        return plan

    # --- discovery and checks -------------------------------------------------------------------------

    def search(self, text: str | None = None, *, tag: str | None = None, owner: str | None = None) -> list[SearchHit]:
        from mlake.features.search import search

        return search(self, text, tag=tag, owner=owner)

    def describe(self, group: str, *, statistics: bool = True, distributions: bool = False) -> dict[str, Any]:
        """Schema, statistics, lineage, training sets using the group, online state; ``distributions``
        adds a histogram (numbers, times) or the top values (text, booleans) of each feature."""
        from mlake.features.search import describe_group

        info = describe_group(
            self._lake, self.group(group), with_statistics=statistics, with_distributions=distributions
        )
        info["online"]["serving_store"] = self.online_store.identity if info["online"]["enabled"] else None
        return info

    def skew(self, group: str, *, sample: int = 100, seed: int = 0, now: datetime | None = None) -> SkewReport:
        from mlake.features.skew import check_skew

        return check_skew(self._lake, self.group(group), sample=sample, seed=seed, now=now)
