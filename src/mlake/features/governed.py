"""The feature store as one principal may use it: ``lake.as_principal(p).features``.

A feature group's offline store is a lake table (``features.<group>``), so access to features *is*
access to that table, and every rule of :mod:`mlake.governance` applies as it does to any table:

- **Seeing a group** (listing, search, training-set lists) needs some grant on its offline table; a
  group whose table the principal cannot read is not listed. Describing it needs ``select``; its
  statistics and charts are computed through the principal's secure view (masked, filtered).
- **Training sets** read every group's offline table through the principal's secure views
  (``lake.engine.view_for``), so column masks, row filters and column grants apply to the
  point-in-time join: a masked feature comes out masked, a filtered row is never matched (the entity
  gets the latest *visible* value, or NULL). A training set needs the keys, the event time, the write
  time and the chosen features to be readable. Its entity rows (read through the principal's views
  as well) are saved in a table the principal owns — nobody else reads them without a grant — so no
  grant on the ``training_sets`` namespace is needed. Loading a saved training set needs ``select``
  on every table it read; lists show only those the principal could load.
- **Online reads** need ``select`` on each group's offline table and on the columns of the features
  asked for. Masks and row filters are applied to the values served, with the SQL the offline view
  uses: the stored latest row of an entity is rebuilt (keys, event time, features, write time) and
  run through the principal's masks and filters in DuckDB, so a masked feature is served masked and a
  row the filter hides is reported ``missing`` — as if the store had no value, which is what the
  principal may know. (Offline, the same filter may leave an older visible row to match; online only
  the latest row exists, so a principal whose filter hides it sees no value there.) Principals
  without masks or filters take the direct path, which costs no more than an ungoverned read.
- **Changes**: creating a group needs ``alter`` on the ``features`` namespace; writing rows needs
  ``insert`` on the group's table; adding features, changing or dropping a group and materializing
  need ``alter`` (changing the owner ``admin``). The online store is the feature store's own copy:
  writes and materialization fill it on the store's behalf, and reads apply the reader's rules.
- **Skew checks** compare raw online values with offline values, so they need ``select`` without
  masks, filters or column limits.

Every operation is written to the audit log (``features.*`` actions) with the tables it touched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import duckdb
import pyarrow as pa

from mlake.errors import MlakeError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.features.groups import OFFLINE_NAMESPACE, WRITE_TIME, Feature, FeatureGroup, GroupRegistry
from mlake.features.lookup import (
    EXPIRED,
    MISSING,
    PRESENT,
    GroupPlan,
    OnlineFeatures,
    ReadPlan,
    normalize_keys,
    read_online,
    reading_instant,
)
from mlake.features.materialize import MaterializeReport
from mlake.features.offline import WriteSummary, write_features
from mlake.features.online.base import entity_key
from mlake.features.store import FeatureStore
from mlake.features.training import (
    TrainingSet,
    list_training_sets,
    load_training_set,
    parse_feature_refs,
    resolve_features,
)
from mlake.results import translate_duckdb_error
from mlake.tables.names import TableName
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    from mlake.features.online import OnlineStore
    from mlake.features.search import SearchHit
    from mlake.features.skew import SkewReport
    from mlake.governance.engine import PrincipalEngine
    from mlake.governance.model import Privilege
    from mlake.governance.policy import TableAccess
    from mlake.lake import Lake
    from mlake.results import Result
    from mlake.tables.table import Table

_ROW = "__mlake_entity"


class GovernedFeatureStore(FeatureStore):
    """``lake.features`` of a principal's lake (:attr:`mlake.lake.Lake.access` governed); see the module docstring."""

    _lake: Lake

    def __init__(self, lake: Lake, base: FeatureStore) -> None:
        # Not FeatureStore.__init__: the online store and the read plans (group definitions, the same
        # for everyone; access is checked on every read) are the base store's.
        self._lake = lake
        self._base = base
        self.registry = GroupRegistry(lake._core.metadata_engine, lake.principal.name)
        self._plans = base._plans
        self._online = None

    # --- the shared online store --------------------------------------------------------------------

    @property
    def online_store(self) -> OnlineStore:
        return self._base.online_store

    def use_online_store(self, store: OnlineStore | str) -> None:
        self._lake.access.require_superuser("change the lake's online store")
        self._base.use_online_store(store)

    def close(self) -> None:
        """The online store belongs to the lake's own feature store."""

    # --- access ------------------------------------------------------------------------------------

    def _access(self, group: FeatureGroup) -> TableAccess | None:
        """The principal's access to the group's offline table (None when the table is gone)."""
        try:
            return self._lake.access.table(group.table_name)
        except NotFoundError:
            return None

    def _visible(self, group: FeatureGroup) -> bool:
        if self._lake.access.superuser:
            return True
        access = self._access(group)
        return access is not None and (access.can_read or bool(access.privileges))

    def _require(self, privilege: Privilege, group: FeatureGroup) -> TableAccess:
        self._lake.access.require_visible(group.table_name)
        return self._lake.access.require(privilege, group.table_name)

    def _require_columns(self, group: FeatureGroup, columns: Iterable[str], purpose: str) -> TableAccess:
        access = self._require("select", group)
        if access.columns is not None:
            hidden = [c for c in dict.fromkeys(columns) if c not in access.columns]
            if hidden:
                raise PermissionDeniedError(
                    f"Principal {self._lake.principal.name!r} may not read column(s) {', '.join(hidden)} of "
                    f"{group.table_name}, which {purpose} needs",
                    hint=f"ask an admin: mlake access grant select {group.table_name} {self._lake.principal.name}",
                )
        return access

    def _training_columns(self, group: FeatureGroup, features: Sequence[str]) -> TableAccess:
        return self._require_columns(
            group, [*group.key_names, group.event_time, WRITE_TIME, *features], "a training set"
        )

    def _tables_of(self, ts: TrainingSet) -> list[str]:
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

    def groups(self) -> list[FeatureGroup]:
        """The groups whose offline table this principal may read or change."""
        return [g for g in super().groups() if self._visible(g)]

    def create_group(self, name: str, **kw: Any) -> FeatureGroup:
        with self._lake.audited("features.group.create", [f"{OFFLINE_NAMESPACE}.{name}"], name):
            self._lake.access.require_namespace("alter", OFFLINE_NAMESPACE)
            return super().create_group(name, **kw)

    def add_features(self, group: str, features: Mapping[str, Any] | Sequence[Feature]) -> FeatureGroup:
        g = self.group(group)
        with self._lake.audited("features.group.alter", [str(g.table_name)], f"add features {list(features)}"):
            self._require("alter", g)
            return super().add_features(group, features)

    def update_group(self, group: str, **values: Any) -> FeatureGroup:
        g = self.group(group)
        with self._lake.audited("features.group.alter", [str(g.table_name)], repr(values)[:500]):
            self._require("admin" if "owner" in values else "alter", g)
            return super().update_group(group, **values)

    def drop_group(self, group: str, *, purge: bool = True) -> None:
        g = self.group(group)
        with self._lake.audited("features.group.drop", [str(g.table_name)], g.name):
            self._require("alter", g)
            super().drop_group(group, purge=purge)

    def describe(self, group: str, *, statistics: bool = True, distributions: bool = False) -> dict[str, Any]:
        g = self.group(group)
        with self._lake.audited("features.describe", [str(g.table_name)], g.name):
            self._require("select", g)
            info = super().describe(group, statistics=statistics, distributions=distributions)
            loadable = {t.id for t in self.training_sets(g.name)}
            info["training_sets"] = [t for t in info["training_sets"] if t["id"] in loadable]
            info["privileges"] = self._lake.privileges(g.table_name)
            return info

    def search(self, text: str | None = None, *, tag: str | None = None, owner: str | None = None) -> list[SearchHit]:
        return super().search(text, tag=tag, owner=owner)  # over self.groups(): only visible groups

    def skew(self, group: str, *, sample: int = 100, seed: int = 0, now: datetime | None = None) -> SkewReport:
        """Skew checks compare raw online values with offline ones: only for unrestricted readers."""
        g = self.group(group)
        with self._lake.audited("features.skew", [str(g.table_name)], g.name):
            if self._require("select", g).restricted:
                raise PermissionDeniedError(
                    f"A skew check compares raw online values with {g.table_name}, which principal "
                    f"{self._lake.principal.name!r} reads masked, filtered or in part",
                    hint="ask someone with unrestricted access to the table to run it",
                )
            return super().skew(group, sample=sample, seed=seed, now=now)

    # --- writing ------------------------------------------------------------------------------------

    def write(self, group: str, data: Any, *, online: bool | None = None) -> WriteSummary:
        """Append rows (read through the principal's views when they come from the lake); then the
        online store catches up on the store's behalf (readers' rules apply when they read)."""
        g = self.group(group)
        with self._lake.audited("features.write", [str(g.table_name)], g.name):
            self._require("insert", g)
            summary, _ = write_features(self._lake, g, data)
            if online if online is not None else g.online:
                report = self._base.materialize(g.name)
                summary = WriteSummary(
                    summary.group,
                    summary.rows_written,
                    summary.snapshot_id,
                    summary.write_time,
                    report.entities_written,
                )
            return summary

    def materialize(self, group: str, *, full: bool = False) -> MaterializeReport:
        g = self.group(group)
        with self._lake.audited("features.materialize", [str(g.table_name)], f"{g.name} full={full}"):
            self._require("alter", g)
            return self._base.materialize(g.name, full=full)

    def materialize_all(self, *, full: bool = False) -> list[MaterializeReport]:
        """Every online group this principal may alter."""
        reports = []
        for g in self.groups():
            access = self._access(g)
            if g.online and access is not None and access.privileges & {"alter", "admin"}:
                reports.append(self.materialize(g.name, full=full))
        return reports

    # --- training sets ------------------------------------------------------------------------------

    def training_set(self, entities: Any, features: Sequence[str] | str, **options: Any) -> TrainingSet:
        refs = parse_feature_refs(features)
        tables = list(dict.fromkeys(f"{OFFLINE_NAMESPACE}.{r.group}" for r in refs))
        if isinstance(entities, str | TableName) and " " not in str(entities).strip():
            tables.append(str(entities))
        spec = json.dumps({"features": features, "entities": entities if isinstance(entities, str) else None})
        with self._lake.audited("features.training_set", tables, spec[:2000]) as audit:
            selected = resolve_features(self, refs)  # a group it may not see is refused here, and audited
            for group, feats in selected:
                self._training_columns(group, feats)
            ts = super().training_set(entities, features, **options)
            entity_table = ts.entities.get("table")
            if entity_table:
                audit.tables.append(entity_table)
            return ts

    def load_training_set(self, training_set_id: str) -> TrainingSet:
        ts = load_training_set(self._lake, training_set_id)
        with self._lake.audited("features.training_set.load", self._tables_of(ts), ts.id):
            self._require_training_set(ts)
            return ts

    def training_sets(self, group: str | None = None) -> list[TrainingSet]:
        """The saved training sets this principal could load."""
        return [t for t in list_training_sets(self._lake, group) if self._may_load(t)]

    def save_entity_rows(self, name: TableName, data: pa.Table, *, description: str, training_set: str) -> Table:
        """The table is created on the principal's behalf and owned by it; the rows are appended by the
        principal (its lineage and audit trail name it)."""
        base: Any = self._lake._system()
        base.create_table(
            name,
            schema=data.schema,
            description=description,
            owner=self._lake.principal.name,
            tags={"training_set": training_set},
        )
        table = self._lake.table(name)
        if data.num_rows:
            table.append(data)
        return table

    def training_result(self, result: Result) -> Result:
        """Bounded like SQL results: the statement timeout, the result size and the download size."""
        from mlake.governance.engine import GovernedResult

        return GovernedResult(
            result.relation,
            result.sql,
            result.lineage_inputs,
            keepalive=result._keepalive,
            lake=self._lake,
            engine=cast("PrincipalEngine", self._lake.engine),
        )

    # --- online reads -------------------------------------------------------------------------------

    def get_online_features(
        self, keys: Any, features: Sequence[str] | str, *, now: datetime | None = None
    ) -> OnlineFeatures:
        refs = parse_feature_refs(features)
        entities = normalize_keys(keys)
        tables = list(dict.fromkeys(f"{OFFLINE_NAMESPACE}.{r.group}" for r in refs))
        names = [f"{r.group}:{r.feature}" for r in refs]
        detail = f"{len(entities)} entit{'y' if len(entities) == 1 else 'ies'}: {', '.join(names)}"
        with self._lake.audited("features.online", tables, detail[:2000]) as audit:
            plan = self._read_plan(features)
            if audit is not None:  # with ``*`` resolved, once the groups were found visible
                audit.detail = f"{detail.split(':', 1)[0]}: {', '.join(plan.features)}"[:2000]
            restricted: dict[str, TableAccess] = {}
            for gp in plan.groups:
                access = self._require_columns(gp.group, gp.features, "this online read")
                if access.restricted:
                    restricted[gp.group.name] = access
            if not restricted:
                return read_online(self.online_store, plan, entities, now)
            return self._restricted_read(plan, entities, reading_instant(now), restricted)

    def _restricted_read(
        self, plan: ReadPlan, entities: list[dict[str, Any]], now: datetime, restricted: dict[str, TableAccess]
    ) -> OnlineFeatures:
        values: list[dict[str, Any]] = [{} for _ in entities]
        statuses: list[dict[str, str]] = [{} for _ in entities]
        times: list[dict[str, datetime | None]] = [{} for _ in entities]
        for gp in plan.groups:
            access = restricted.get(gp.group.name)
            part = (
                read_online(self.online_store, ReadPlan((gp,), gp.outputs), entities, now)
                if access is None
                else self._read_through_policy(gp, access, entities, now)
            )
            for i in range(len(entities)):
                values[i].update(part.values[i])
                statuses[i].update(part.statuses[i])
                times[i].update(part.event_times[i])
        return OnlineFeatures(entities, list(plan.features), values, statuses, times)

    def _read_through_policy(
        self, gp: GroupPlan, access: TableAccess, entities: list[dict[str, Any]], now: datetime
    ) -> OnlineFeatures:
        """One group's values with the principal's masks and row filters applied (see the module docstring)."""
        group = gp.group
        keys = []
        for e in entities:
            try:
                keys.append(entity_key([e[k] for k in gp.key_names]))
            except KeyError as exc:
                raise ValidationError(
                    f"Entity {e!r} lacks {exc.args[0]!r}, a key of feature group {group.name!r}",
                    hint=f"{group.name} is keyed by {', '.join(gp.key_names)}",
                ) from None
        stored = self.online_store.read(group.name, keys)
        visible = self._apply_policy(group, access, entities, stored)
        shows_time = access.columns is None or group.event_time in access.columns
        now_us = int(now.timestamp() * 1_000_000)
        n = len(entities)
        values: list[dict[str, Any]] = [{} for _ in range(n)]
        statuses: list[dict[str, str]] = [{} for _ in range(n)]
        times: list[dict[str, datetime | None]] = [{} for _ in range(n)]
        for i, record in enumerate(stored):
            row = visible.get(i)
            if record is None or row is None:
                status = MISSING
            elif gp.ttl_us is not None and now_us - record.event_time_us > gp.ttl_us:
                status = EXPIRED
            else:
                status = PRESENT
            for f, out in zip(gp.features, gp.outputs, strict=True):
                values[i][out] = row[f] if status == PRESENT and row is not None else None
                statuses[i][out] = status
            shown = row.get(group.event_time) if row is not None and shows_time else None
            times[i][group.name] = shown if isinstance(shown, datetime) else None
        return OnlineFeatures(entities, list(gp.outputs), values, statuses, times)

    def _apply_policy(
        self, group: FeatureGroup, access: TableAccess, entities: list[dict[str, Any]], stored: list[Any]
    ) -> dict[int, dict[str, Any]]:
        """The stored rows rebuilt as offline rows, run through the masks and filters: entity index -> row."""
        present = [i for i, r in enumerate(stored) if r is not None]
        if not present:
            return {}
        full = self._read_plan(f"{group.name}:*").groups[0]  # every feature: masks and filters may use any
        names, decoders = list(full.features), full.decoders
        schema = group.offline_schema()
        columns: dict[str, list[Any]] = {f.name: [] for f in schema}
        for i in present:
            record = stored[i]
            payload = json.loads(record.payload)
            for k in group.key_names:
                columns[k].append(entities[i][k])
            columns[group.event_time].append(datetime.fromtimestamp(record.event_time_us / 1_000_000, UTC))
            columns[WRITE_TIME].append(datetime.fromtimestamp(record.write_time_us / 1_000_000, UTC))
            for name, decode in zip(names, decoders, strict=True):
                value = payload.get(name)
                columns[name].append(None if value is None else decode(value))
        arrays = [_typed(columns[f.name], f.type, f.name) for f in schema]
        rows = pa.Table.from_arrays([*arrays, pa.array(present, pa.int64())], names=[*schema.names, _ROW])
        wanted = [group.event_time, *names]
        select = [_ROW] + [
            f"{access.masks[c]} AS {quote_ident(c)}" if c in access.masks else quote_ident(c) for c in wanted
        ]
        view = f"__mlake_online_{uuid.uuid4().hex}"
        sql = f"SELECT {', '.join(select)} FROM {quote_ident(view)}"
        if access.filters:
            sql += " WHERE " + " AND ".join(f"({f})" for f in access.filters)
        cursor = self._lake.engine.connection.cursor()
        try:
            cursor.register(view, rows)
            out = cursor.sql(sql).to_arrow_table().to_pylist()
        except duckdb.Error as exc:  # a mask or filter that cannot run over the served row
            raise translate_duckdb_error(exc, sql) from exc
        finally:
            cursor.close()
        return {int(r.pop(_ROW)): r for r in out}


def _typed(values: list[Any], dtype: pa.DataType, column: str) -> pa.Array:
    """Values as an Arrow column of the offline type (entity keys may come as text, e.g. from a URL)."""
    try:
        return pa.array(values, dtype)
    except (pa.ArrowException, OverflowError, ValueError, TypeError):
        try:
            return pa.array([None if v is None else str(v) for v in values], pa.string()).cast(dtype)
        except (pa.ArrowException, OverflowError, ValueError, TypeError) as exc:
            raise ValidationError(f"Cannot read the values given for {column!r} as {dtype}") from exc
