"""``lake.features``: the feature store's one entry point.

Everything the CLI, the REST API and Studio do with features goes through :class:`FeatureStore`:
define groups, write features (offline, and online for groups served online), build and reload
point-in-time correct training sets, read online features, materialize, search and check skew.

The owner's lake and a principal's (``lake.as_principal(p).features``) use this same class; what differs
is ``lake.access`` (see :mod:`mlake.governance.access`), which it asks at every step. A feature group's
offline store is a lake table (``features.<group>``), so access to features *is* access to that table:

- **Seeing a group** (listing, search, training-set lists) needs some grant on its offline table; a
  group whose table the actor cannot see is not listed. Describing it needs ``select``; its
  statistics and charts are computed through the actor's secure view (masked, filtered).
- **Training sets** read every group's offline table through the actor's secure views
  (``lake.engine.view_for``), so column masks, row filters and column grants apply to the
  point-in-time join: a masked feature comes out masked, a filtered row is never matched (the entity
  gets the latest *visible* value, or NULL). A training set needs the keys, the event time, the write
  time and the chosen features to be readable. Its entity rows (read through the actor's views as
  well) are saved in a table the actor owns — nobody else reads them without a grant — so no grant on
  the ``training_sets`` namespace is needed. Loading a saved training set needs ``select`` on every
  table it read; a principal's lists show only those it could load.
- **Online reads** need ``select`` on each group's offline table and on the columns of the features
  asked for. Masks and row filters are applied to the values served (see
  :mod:`mlake.features.online_access`); readers without masks or filters take the direct path, which
  costs no more than the owner's read.
- **Changes**: creating a group needs ``alter`` on the ``features`` namespace; writing rows needs
  ``insert`` on the group's table; adding features, changing or dropping a group and materializing
  need ``alter`` (changing the owner ``admin``). The online store is the lake's (one per lake, shared
  by every actor's store): writes and materialization fill it on the store's behalf, and reads apply
  the reader's rules.
- **Skew checks** compare raw online values with offline values, so they need ``select`` without
  masks, filters or column limits.

A principal's operations are written to the audit log (``features.*`` actions) with the tables they
touched; the owner's pass every check and audit nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlake.errors import MlakeError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.features.groups import (
    OFFLINE_NAMESPACE,
    WRITE_TIME,
    Feature,
    FeatureGroup,
    GroupRegistry,
    parse_features,
)
from mlake.features.lookup import (
    MISSING,
    PRESENT,
    GroupPolicy,
    OnlineFeatures,
    ReadPlan,
    normalize_keys,
    plan_read,
    read_online,
)
from mlake.features.materialize import MaterializeReport, forget_materializations, materialize_group
from mlake.features.models import GroupDescription
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
from mlake.tables.names import TableName

SERVING_CACHE_SECONDS = 5.0
RECIPE_TAG = "recipe"  # a group defined by a recipe: its tag names the fitted recipe version ("name@v3")

if TYPE_CHECKING:
    import pyarrow as pa

    from mlake.features.search import SearchHit
    from mlake.features.skew import SkewReport
    from mlake.governance.model import Privilege
    from mlake.governance.policy import TableAccess
    from mlake.lake import Lake
    from mlake.results import Result
    from mlake.tables.table import Table


class FeatureStore:
    """Feature groups, offline and online stores, training sets — for one lake, as its actor
    (``lake.access``) may use them; see the module docstring."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        # The online store and the read plans (group definitions, the same for every actor; access is
        # checked on every read) are the lake's: a principal's store shares the owner's.
        self._home: FeatureStore = lake._system().features if lake.access.governed else self
        self.registry = GroupRegistry(lake._core.metadata_engine, lake.settings.user)
        self._online: OnlineStore | None = None
        self._online_lock = threading.Lock()  # a server's first requests arrive together: open the store once
        # Online reads are the hot path: group definitions are cached for a few seconds (changes made
        # through this object are seen at once, changes made by other processes within SERVING_CACHE_SECONDS).
        self._plans: dict[tuple[str, ...], tuple[float, ReadPlan]] = self._home._plans if self._home is not self else {}

    # --- online store -------------------------------------------------------------------------------

    @property
    def online_store(self) -> OnlineStore:
        """The online store named by ``settings.online_url`` (SQLite in the home by default), opened once."""
        home = self._home
        if home._online is None:
            with home._online_lock:
                if home._online is None:
                    home._online = open_online_store(self._lake.settings.resolved_online_url())
        return home._online

    def use_online_store(self, store: OnlineStore | str) -> None:
        """Serve from another store (an instance, or a URL such as ``redis://127.0.0.1:6379/0``); the
        lake's store, so a superuser's change."""
        self._lake.access.require_superuser("change the lake's online store")
        home = self._home
        if home._online is not None:
            home._online.close()
        home._online = open_online_store(store) if isinstance(store, str) else store

    def close(self) -> None:
        """Close the online store (a principal's store leaves it to the owner's lake)."""
        if self._home is self and self._online is not None:
            self._online.close()
            self._online = None

    # --- access -------------------------------------------------------------------------------------

    def _table_access(self, group: FeatureGroup) -> TableAccess | None:
        """The actor's access to the group's offline table (None when the table is gone)."""
        try:
            return self._lake.access.table(group.table_name)
        except NotFoundError:
            return None

    def _require(self, privilege: Privilege, group: FeatureGroup) -> TableAccess:
        self._lake.access.require_visible(group.table_name)
        return self._lake.access.require(privilege, group.table_name)

    def _require_columns(self, group: FeatureGroup, columns: Iterable[str], purpose: str) -> TableAccess:
        access = self._require("select", group)
        if access.columns is not None:
            hidden = [c for c in dict.fromkeys(columns) if c not in access.columns]
            if hidden:
                who = self._lake.principal.name
                raise PermissionDeniedError(
                    f"Principal {who!r} may not read column(s) {', '.join(hidden)} of "
                    f"{group.table_name}, which {purpose} needs",
                    hint=f"ask an admin: mlake access grant select {group.table_name} {who}",
                )
        return access

    def reads_stored_times(self, group: FeatureGroup | str) -> bool:
        """Whether the actor reads the group's event and write times as stored (no column mask on them),
        so that a training set may trust the table's file statistics about them."""
        if isinstance(group, str):
            group = self.group(group)
        if not self._lake.access.governed:
            return True
        masked = {c.lower() for c in self._require("select", group).masks}
        return group.event_time.lower() not in masked and WRITE_TIME not in masked

    def _training_columns(self, group: FeatureGroup, features: Sequence[str]) -> TableAccess:
        return self._require_columns(
            group, [*group.key_names, group.event_time, WRITE_TIME, *features], "a training set"
        )

    @staticmethod
    def _tables_of(ts: TrainingSet) -> list[str]:
        entity_table = ts.entities.get("table")
        return [*ts.snapshots, *([entity_table] if entity_table else [])]

    def _require_training_set(self, ts: TrainingSet) -> None:
        for table in self._tables_of(ts):
            self._lake.access.require("select", TableName.parse(table))
        for group, feats in resolve_features(self, parse_feature_refs(ts.spec["features"])):
            self._training_columns(group, feats)

    def _may_load(self, ts: TrainingSet) -> bool:
        try:
            self._require_training_set(ts)
        except MlakeError:
            return False
        return True

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
        recipe: str | None = None,
    ) -> FeatureGroup:
        """Define a group; with ``data`` (any frame, table or SQL), types are taken from it and it is written.

        ``entities`` are the key column(s) (``["customer_id"]`` or ``{"customer_id": "long"}``);
        ``features`` maps names to types (``{"spend_30d": "double"}``, or ``(type, description)``), or
        lists names whose types come from ``data`` (default: every other column of ``data``). ``ttl``
        (``"30d"``, seconds, a timedelta) bounds how long a value stays valid after its event time.

        ``recipe`` (``"name"`` or ``"name@v3"``, a saved and fitted recipe of row-local steps) defines an
        on-demand group: its rows are the fitted recipe applied to the recipe's source table, and
        :meth:`get_online_features` with ``request=`` applies the same fitted recipe to request-time
        values, so training and serving compute each feature the same way.
        """
        with self._lake.audited("features.group.create", [f"{OFFLINE_NAMESPACE}.{name}"], name):
            self._lake.access.require_namespace("alter", OFFLINE_NAMESPACE)
            if recipe is not None:
                if data is not None:
                    raise ValidationError(
                        f"Feature group {name!r}: give a recipe or data, not both",
                        hint="the rows of a recipe's group are the recipe applied to its source table",
                    )
                data, binding = self._recipe_rows(recipe)
                tag_map = dict(tags) if isinstance(tags, Mapping) else dict.fromkeys(tags or (), "")
                tags = {**tag_map, RECIPE_TAG: binding}
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

    def _recipe_rows(self, spec: str) -> tuple[Result, str]:
        """The fitted recipe ``spec`` applied to its source (read as the actor, so it needs the source's
        grants), and the ``name@vN`` the group is bound to."""
        from mlake.processing.api import LakeExecutor, require_servable
        from mlake.tables.lineage import LineageInput

        name, _, v = spec.partition("@v")
        stored = self._lake.recipes.get(name, int(v) if v.isdigit() else None)
        fitted = require_servable(stored)
        if not stored.recipe.source:
            raise ValidationError(f"Recipe {name!r} names no source table", hint="give the recipe a source")
        ex = LakeExecutor(self._lake)
        sql = fitted.compile(ex, ex.table(stored.recipe.source)).sql()
        rows = self._lake.engine.query(sql)
        binding = f"{stored.name}@v{stored.version}"
        rows.lineage_inputs = [LineageInput("table", t, snapshot_id=s) for t, s in ex.pinned.items()]
        rows.lineage_inputs.append(LineageInput("query", f"recipe:{binding}", detail=sql))
        return rows, binding

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
        current = self.group(group)
        with self._lake.audited("features.group.alter", [str(current.table_name)], f"add features {list(features)}"):
            self._require("alter", current)
            return self._add_features(current, features)

    def _add_features(self, current: FeatureGroup, features: Mapping[str, Any] | Sequence[Feature]) -> FeatureGroup:
        self._plans.clear()
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
        g = self.group(group)
        with self._lake.audited("features.group.alter", [str(g.table_name)], repr(values)[:500]):
            self._require("admin" if "owner" in values else "alter", g)
            return self._update_group(g.name, values)

    def _update_group(self, group: str, values: dict[str, Any]) -> FeatureGroup:
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
        g = self.group(group)
        with self._lake.audited("features.group.drop", [str(g.table_name)], g.name):
            self._require("alter", g)
            self._plans.clear()
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
        incrementally, so the online store holds the latest value per entity by event time — on the
        store's behalf: writing needs ``insert``, not the ``alter`` that :meth:`materialize` needs.
        """
        g = self.group(group)
        with self._lake.audited("features.write", [str(g.table_name)], g.name):
            self._require("insert", g)
            summary, _ = write_features(self._lake, g, data)
            if online if online is not None else g.online:
                report = self._materialize(g.name, full=False)
                summary = WriteSummary(
                    summary.group,
                    summary.rows_written,
                    summary.snapshot_id,
                    summary.write_time,
                    report.entities_written,
                )
            return summary

    def materialize(self, group: str, *, full: bool = False) -> MaterializeReport:
        """Bring the online store up to the group's offline snapshot (incremental unless ``full``)."""
        g = self.group(group)
        with self._lake.audited("features.materialize", [str(g.table_name)], f"{g.name} full={full}"):
            self._require("alter", g)
            return self._materialize(g.name, full=full)

    def sync_online(self, group: str) -> MaterializeReport | None:
        """After rows were appended to the group's offline table by another writer (a stream delivery or a
        streaming query, which commit their stream position with the rows), bring the online store up to
        it incrementally — on the store's behalf, as :meth:`write` does, so it needs ``insert`` only.
        None for a group not served online."""
        g = self.group(group)
        self._require("insert", g)
        return self._materialize(g.name, full=False) if g.online else None

    def _materialize(self, group: str, *, full: bool) -> MaterializeReport:
        """The online store catches up, read as the lake's own (the store is the lake's, not the actor's)."""
        home = self._home
        return materialize_group(home._lake, home.group(group), home.online_store, full=full)

    def materialize_all(self, *, full: bool = False) -> list[MaterializeReport]:
        """Every online group the actor may alter."""
        reports = []
        for g in self.groups():
            access = self._table_access(g)
            if g.online and access is not None and access.privileges & {"alter", "admin"}:
                reports.append(self.materialize(g.name, full=full))
        return reports

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
        engine: str = "duckdb",
    ) -> TrainingSet:
        """Point-in-time correct feature values for each entity row; see :mod:`mlake.features.pit`.

        ``entities``: a frame, a lake table name, or SQL, with the groups' key column(s) and a time column
        (``entity_time``, found automatically when it is the only timestamp). ``features``:
        ``["group:feature", "group:*"]``. ``as_of``: only values written by then (what was known then).
        Saved training sets (the default) can be rebuilt identically with :meth:`load_training_set`.
        ``use`` (e.g. ``"model_training"``): refused with UseForbiddenError when a source the rows derive
        from does not allow it (see :mod:`mlake.sources`), unless ``override`` gives a reason, which the
        audit log records. ``engine``: ``duckdb`` (in process, the default) or ``ray`` (each group's join
        split by a hash of the entity key, the same SQL per bucket on Ray; identical rows, see
        :mod:`mlake.features.pit`); a saved set is rebuilt on the engine it was built with.
        """
        refs = parse_feature_refs(features)
        tables = list(dict.fromkeys(f"{OFFLINE_NAMESPACE}.{r.group}" for r in refs))
        if isinstance(entities, str | TableName) and " " not in str(entities).strip():
            tables.append(str(entities))
        detail = json.dumps({"features": features, "entities": entities if isinstance(entities, str) else None})
        with self._lake.audited("features.training_set", tables, detail[:2000]) as audit:
            for group, feats in resolve_features(self, refs):  # a group it may not see is refused here
                self._training_columns(group, feats)
            ts = create_training_set(
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
                engine=engine,
            )
            entity_table = ts.entities.get("table")
            if entity_table and audit is not None:
                audit.tables.append(entity_table)
            return ts

    def load_training_set(self, training_set_id: str) -> TrainingSet:
        ts = load_training_set(self._lake, training_set_id)
        with self._lake.audited("features.training_set.load", self._tables_of(ts), ts.id):
            self._require_training_set(ts)
            return ts

    def training_sets(self, group: str | None = None) -> list[TrainingSet]:
        """The saved training sets (a principal's: those it could load)."""
        found = list_training_sets(self._lake, group)
        if not self._lake.access.governed:
            return found
        return [t for t in found if self._may_load(t)]

    def save_entity_rows(self, name: TableName, data: pa.Table, *, description: str, training_set: str) -> Table:
        """Keep a saved training set's entity rows (given as a frame or SQL) in a table of their own.

        The table is owned by the actor. A principal's is created on its behalf (no grant on the
        ``training_sets`` namespace is needed) and the rows are appended by the principal (its lineage
        and audit trail name it)."""
        tags = {"training_set": training_set}
        if not self._lake.access.governed:
            return self._lake.create_table(
                name, data, description=description, owner=self._lake.settings.user, tags=tags
            )
        self._lake._system().create_table(
            name, schema=data.schema, description=description, owner=self._lake.principal.name, tags=tags
        )
        table = self._lake.table(name)
        if data.num_rows:
            table.append(data)
        return table

    def training_result(self, result: Result) -> Result:
        """The result a training set's rows are read through, bounded like the actor's SQL results."""
        return self._lake.engine.bounded(result)

    # --- online reads -------------------------------------------------------------------------------

    def get_online_features(
        self, keys: Any, features: Sequence[str] | str, *, now: datetime | None = None, request: Any = None
    ) -> OnlineFeatures:
        """Latest values and a status per value (present / missing / expired) for one or many entities.

        Needs ``select`` on each group's offline table and the features' columns; masks and row filters
        apply to the values served (see :mod:`mlake.features.online_access`). ``request``: request-time
        values, one row (a dict) per entity in the order of ``keys``; the features of groups defined by a
        recipe are then computed from them with the group's fitted recipe instead of read from the store."""
        if request is None and not self._lake.access.governed:  # the owner, stored values: the hot path
            return read_online(self.online_store, self._read_plan(features), normalize_keys(keys), now)
        entities = normalize_keys(keys)
        rows = _request_rows(request, len(entities))
        if not self._lake.access.governed:  # the owner: nothing to check or audit
            plan = self._read_plan(features)
            return self._on_demand(plan, read_online(self.online_store, plan, entities, now), rows)
        refs = parse_feature_refs(features)
        tables = list(dict.fromkeys(f"{OFFLINE_NAMESPACE}.{r.group}" for r in refs))
        names = [f"{r.group}:{r.feature}" for r in refs]
        count = f"{len(entities)} entit{'y' if len(entities) == 1 else 'ies'}"
        with self._lake.audited("features.online", tables, f"{count}: {', '.join(names)}"[:2000]) as audit:
            plan = self._read_plan(features)
            audit.detail = f"{count}: {', '.join(plan.features)}"[:2000]  # ``*`` resolved, the groups visible
            policies: dict[str, GroupPolicy] = {}
            for gp in plan.groups:
                access = self._require_columns(gp.group, gp.features, "this online read")
                if access.restricted:
                    if rows is not None and RECIPE_TAG in gp.group.tags:
                        raise PermissionDeniedError(
                            f"Masks or row filters apply to feature group {gp.group.name!r} for "
                            f"{self._lake.principal.name!r}; its values cannot be computed from request values",
                            hint="read its stored values (without request=)",
                        )
                    policies[gp.group.name] = self._online_policy(gp.group, access)
            return self._on_demand(plan, read_online(self.online_store, plan, entities, now, policies), rows)

    def _on_demand(self, plan: ReadPlan, result: OnlineFeatures, rows: list[dict[str, Any]] | None) -> OnlineFeatures:
        """Replace the values of recipe-defined groups by their recipe applied to the request rows (with
        the entity keys), after the actor's access to the group was checked."""
        if rows is None:
            return result
        from mlake.processing.api import apply_fitted, load_recipe

        for gp in plan.groups:
            binding = gp.group.tags.get(RECIPE_TAG)
            if not binding:
                continue
            name, _, v = binding.partition("@v")
            stored = load_recipe(self._lake._core.metadata_engine, name, int(v))
            if stored is None:
                raise NotFoundError(f"Recipe {binding} of feature group {gp.group.name!r} no longer exists")
            inputs = [{**e, **r} for e, r in zip(result.entities, rows, strict=True)]
            computed = apply_fitted(stored, inputs).to_pylist()
            if len(computed) != len(inputs):  # a step dropped rows: compute each row on its own
                computed = [next(iter(apply_fitted(stored, [row]).to_pylist()), None) for row in inputs]
            for i, out_row in enumerate(computed):
                for f, out in zip(gp.features, gp.outputs, strict=True):
                    result.values[i][out] = out_row.get(f) if out_row else None
                    result.statuses[i][out] = PRESENT if out_row else MISSING
                result.event_times[i][gp.group.name] = None  # computed now, from the request
        return result

    def _online_policy(self, group: FeatureGroup, access: TableAccess) -> GroupPolicy:
        from mlake.features.online_access import group_policy

        return group_policy(
            access,
            group.event_time,
            lambda: self._read_plan(f"{group.name}:*").groups[0],
            lambda: self._lake.engine.connection,
        )

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

    def describe(self, group: str, *, statistics: bool = True, distributions: bool = False) -> GroupDescription:
        """Schema, statistics, lineage, training sets using the group, online state; ``distributions``
        adds a histogram (numbers, times) or the top values (text, booleans) of each feature."""
        from mlake.features.search import describe_group

        g = self.group(group)
        with self._lake.audited("features.describe", [str(g.table_name)], g.name):
            self._require("select", g)
            info = describe_group(self._lake, g, with_statistics=statistics, with_distributions=distributions)
            serving = self.online_store.identity if info.online.enabled else None
            info = replace(info, online=replace(info.online, serving_store=serving))
            if self._lake.access.governed:
                loadable = {t.id for t in self.training_sets(g.name)}
                info = replace(
                    info,
                    training_sets=[t for t in info.training_sets if t.id in loadable],
                    privileges=self._lake.privileges(g.table_name),
                )
            return info

    def skew(self, group: str, *, sample: int = 100, seed: int = 0, now: datetime | None = None) -> SkewReport:
        """Skew checks compare raw online values with offline ones: only for unrestricted readers."""
        from mlake.features.skew import check_skew

        g = self.group(group)
        with self._lake.audited("features.skew", [str(g.table_name)], g.name):
            if self._require("select", g).restricted:
                raise PermissionDeniedError(
                    f"A skew check compares raw online values with {g.table_name}, which principal "
                    f"{self._lake.principal.name!r} reads masked, filtered or in part",
                    hint="ask someone with unrestricted access to the table to run it",
                )
            return check_skew(self._lake, g, sample=sample, seed=seed, now=now)


def _request_rows(request: Any, entities: int) -> list[dict[str, Any]] | None:
    """Request-time values as one dict per entity (a dict, a list of dicts, or any frame)."""
    if request is None:
        return None
    if isinstance(request, Mapping):
        rows = [dict(request)]
    elif isinstance(request, Sequence) and not isinstance(request, str):
        rows = [dict(r) for r in request]
    else:
        from mlake.tables.frames import to_arrow

        rows = to_arrow(request).to_pylist()
    if len(rows) != entities:
        raise ValidationError(
            f"{len(rows)} request row(s) for {entities} entit{'y' if entities == 1 else 'ies'}",
            hint="give one row of request-time values per entity, in the same order",
        )
    return rows
