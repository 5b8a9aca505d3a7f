"""``lake.storage``: what the lake's tables cost to keep, and the lifecycle policies that keep it down.

- :meth:`LakeStorage.usage` measures tables (bytes and files of the current snapshot, bytes only old
  snapshots hold, orphans, metadata), sums them by namespace and ranks the largest;
  ``record=True`` appends the measurement to ``mlake.storage_usage`` and :meth:`LakeStorage.history`
  reads it back as growth over time.
- Policies (:class:`~mlake.lifecycle.policy.LifecyclePolicy`) are set per table or namespace and stored
  in the control-plane database; :meth:`LakeStorage.apply` (what ``mlake maintain`` and a pipeline's
  ``maintain`` step run) applies each table's effective policy: retention (delete rows older than N days
  by a time column), tiering (move old files to a colder location), compaction, snapshot expiry (keeping
  every snapshot a training set or a tag pins) and orphan removal — and reports what it did and the bytes
  saved. ``dry_run=True`` reports what it would do and changes nothing.

Access: a principal measures, and reads the history of, only the tables it may see (any grant);
setting or removing a table's policy and applying it need ``alter`` on the table, a namespace's policy
``alter`` on the namespace; pinning a snapshot needs ``alter``.
"""

from __future__ import annotations

import builtins
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pyiceberg.expressions import BooleanExpression, LessThan
from pyiceberg.table import Table as IcebergTable

from mlake.errors import NotFoundError, ValidationError
from mlake.lifecycle.metastore import policies_table
from mlake.lifecycle.policy import DEFAULT_TIER_ZSTD_LEVEL, DEFAULTS, LifecyclePolicy, StoredPolicy
from mlake.lifecycle.tiering import check_tier_location, plan_tiering, tier_files, tier_root
from mlake.lifecycle.usage import (
    USAGE_SCHEMA,
    USAGE_TABLE,
    StorageReport,
    TableUsage,
    UsagePoint,
    measure_table,
    usage_rows,
)
from mlake.maintenance import (
    DEFAULT_TARGET_BYTES,
    MaintenanceReport,
    compact_table,
    compaction_plan,
    expire_snapshots,
    manifest_files,
    parse_duration,
    pinned_snapshots,
    remove_orphan_files,
    snapshot_manifests,
    snapshots_to_expire,
)
from mlake.tables.names import TableName, check_part
from mlake.tables.writer import with_retries

if TYPE_CHECKING:
    from mlake.lake import Lake


@dataclass
class LifecycleAction:
    """One thing a lifecycle run did (or, in a dry run, would do) to a table."""

    kind: str  # retention | tier | compact | expire | orphans
    detail: str
    files: int = 0
    bytes: int = 0
    rows: int = 0
    snapshots: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LifecycleReport:
    """What a lifecycle run did to one table, and the bytes it saved (measured before and after; in a
    dry run, estimated from what expiry and orphan removal would delete)."""

    table: str
    dry_run: bool
    policy: dict[str, Any]
    actions: list[LifecycleAction] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0
    bytes_saved: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LifecycleReport:
        actions = [LifecycleAction(**a) for a in data.get("actions", [])]
        return cls(**(data | {"actions": actions}))

    def summary(self) -> str:
        done = "; ".join(a.detail for a in self.actions) or "nothing to do"
        verb = "would save" if self.dry_run else "saved"
        return f"{self.table}: {done} ({verb} {self.bytes_saved:,} bytes)"


@dataclass
class SnapshotPin:
    """A snapshot that expiry keeps, and why (a training set read it, or a tag or branch holds it)."""

    snapshot_id: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scope(scope: str) -> tuple[str, str]:
    """``ns.table`` → ("table", "ns.table"); ``ns`` → ("namespace", "ns")."""
    text = scope.strip().lower()
    if "." in text:
        return "table", str(TableName.parse(text))
    check_part(text, "namespace", scope)
    return "namespace", text


def _stored(row: Any) -> StoredPolicy:
    at = row.set_at if row.set_at.tzinfo else row.set_at.replace(tzinfo=UTC)
    return StoredPolicy(
        scope=row.scope,
        kind=row.kind,
        policy=LifecyclePolicy(**json.loads(row.policy)),
        set_by=row.set_by,
        set_at=at,
    )


class LakeStorage:
    """``lake.storage``: storage usage and its growth, lifecycle policies, and applying them."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        self._db = lake._core.metadata_engine

    # --- usage ---------------------------------------------------------------------------------------

    def _tables(self, table: str | TableName | None, namespace: str | None) -> list[TableName]:
        if table is not None:
            name = TableName.parse(table)
            self._lake.access.require_visible(name)
            if self._lake._core.metadata_location(name) is None:
                raise self._lake.not_found(name)
            return [name]
        return self._lake.list_tables(namespace)

    def usage(
        self, table: str | TableName | None = None, namespace: str | None = None, *, record: bool = False
    ) -> StorageReport:
        """Storage of one table, a namespace's tables, or every table the actor may see; ``record``
        appends the measurement to ``mlake.storage_usage`` (growth over time, :meth:`history`)."""
        names = self._tables(table, namespace)
        report = StorageReport(datetime.now(UTC))
        for name in names:
            tbl = self._lake.iceberg_table(name)
            report.tables.append(measure_table(self._lake, name, tbl, self._extra_roots(name)))
        report.tables.sort(key=lambda t: -t.total_bytes)
        if record:
            self._record(report, "measure")
        return report

    def _extra_roots(self, name: TableName) -> tuple[str, ...]:
        policy = self._effective(name)
        return (tier_root(policy.tier_location, name),) if policy.tier_location else ()

    def _record(self, report: StorageReport, trigger: str) -> None:
        """Kept by mlake on the actor's behalf (like the audit log): the owner's lake writes it."""
        if not report.tables:
            return
        system = self._lake._system()
        table = system.create_table(
            USAGE_TABLE, schema=USAGE_SCHEMA, exist_ok=True, description="Storage usage of every table, per measurement"
        )
        table.append(usage_rows(report, trigger), command=f"storage usage ({trigger})")

    def history(
        self, table: str | TableName | None = None, namespace: str | None = None, *, limit: int = 10_000
    ) -> builtins.list[UsagePoint]:
        """Recorded measurements (oldest first) of one table, a namespace, or every table the actor may see."""
        wanted = {str(n) for n in self._tables(table, namespace)} if table is not None or namespace else None
        system = self._lake._system()
        if not system.table_exists(USAGE_TABLE):
            return []
        data = system.table(USAGE_TABLE).to_arrow().sort_by("measured_at")
        seen: dict[str, bool] = {}
        out: builtins.list[UsagePoint] = []
        for row in data.to_pylist():
            name = row["table_name"]
            if wanted is not None and name not in wanted:
                continue
            if name not in seen:
                try:
                    seen[name] = self._lake.access.visible(TableName.parse(name))
                except Exception:
                    seen[name] = False  # dropped since, or not a name the actor may learn of
            if seen[name]:
                out.append(
                    UsagePoint(
                        row["measured_at"],
                        name,
                        row["namespace"],
                        row["current_bytes"],
                        row["old_bytes"],
                        row["orphan_bytes"],
                        row["total_bytes"],
                        row["trigger"],
                    )
                )
        return out[-limit:]

    # --- policies ------------------------------------------------------------------------------------

    def _require_alter(self, kind: str, scope: str) -> None:
        if kind == "table":
            name = TableName.parse(scope)
            self._lake.access.require_visible(name)
            self._lake.access.require("alter", name)
            if self._lake._core.metadata_location(name) is None:
                raise self._lake.not_found(name)
        else:
            self._lake.access.require_namespace("alter", scope)

    def _sees(self, kind: str, scope: str) -> bool:
        if self._lake.access.superuser:
            return True
        if kind == "table":
            return self._lake.access.visible(TableName.parse(scope))
        return scope in self._lake.namespaces()

    def set_policy(
        self, scope: str, policy: LifecyclePolicy | dict[str, Any] | None = None, **rules: Any
    ) -> StoredPolicy:
        """Set the lifecycle policy of a table (``ns.table``) or a namespace (``ns``), replacing any
        before; ``policy`` and keyword ``rules`` (e.g. ``retention_days=90, time_column="ts"``) combine."""
        kind, key = _scope(scope)
        given = policy.set_fields() if isinstance(policy, LifecyclePolicy) else dict(policy or {})
        try:
            chosen = LifecyclePolicy(**(given | rules))
        except ValueError as exc:
            raise ValidationError(f"Cannot use this lifecycle policy for {key}: {exc}") from exc
        if (chosen.retention_days is not None or chosen.tier_after_days is not None) and not chosen.time_column:
            raise ValidationError(
                f"A retention or tiering rule for {key} needs the column that ages rows",
                hint="add time_column='<a date or timestamp column>'",
            )
        if chosen.tier_after_days is not None and not chosen.tier_location:
            raise ValidationError(f"Tiering {key} needs a tier_location", hint="a folder, or s3://bucket/prefix")
        if chosen.tier_location:
            check_tier_location(self._lake, chosen.tier_location)
        self._require_alter(kind, key)
        if kind == "table" and chosen.time_column:
            columns = {f.name for f in self._lake.iceberg_table(key).schema().fields}
            if chosen.time_column not in columns:
                raise ValidationError(
                    f"Table {key} has no column {chosen.time_column!r}", hint=f"columns: {sorted(columns)}"
                )
        stored = StoredPolicy(
            scope=key, kind=kind, policy=chosen, set_by=self._lake.principal.name, set_at=datetime.now(UTC)
        )
        values = {
            "kind": kind,
            "policy": json.dumps(chosen.set_fields()),
            "set_by": stored.set_by,
            "set_at": stored.set_at,
        }
        audit = self._lake.audited("lifecycle.set_policy", [key] if kind == "table" else [], chosen.describe())
        with audit, self._db.begin() as conn:
            conn.execute(policies_table.delete().where(policies_table.c.scope == key))
            conn.execute(policies_table.insert().values(scope=key, **values))
        return stored

    def get_policy(self, scope: str) -> StoredPolicy | None:
        """The policy set on exactly this table or namespace (None: none set here)."""
        kind, key = _scope(scope)
        if kind == "table":
            self._lake.access.require_visible(TableName.parse(key))
        elif not self._sees(kind, key):
            return None
        with self._db.connect() as conn:
            row = conn.execute(sa.select(policies_table).where(policies_table.c.scope == key)).first()
        return _stored(row) if row is not None else None

    def policies(self) -> builtins.list[StoredPolicy]:
        """Every policy on a table or namespace the actor may see."""
        with self._db.connect() as conn:
            rows = list(conn.execute(sa.select(policies_table).order_by(policies_table.c.scope)))
        out = []
        for row in rows:
            try:
                if self._sees(row.kind, row.scope):
                    out.append(_stored(row))
            except Exception:
                continue
        return out

    def remove_policy(self, scope: str) -> None:
        kind, key = _scope(scope)
        self._require_alter(kind, key)
        audit = self._lake.audited("lifecycle.remove_policy", [key] if kind == "table" else [], key)
        with audit, self._db.begin() as conn:
            gone = conn.execute(policies_table.delete().where(policies_table.c.scope == key)).rowcount
        if not gone:
            raise NotFoundError(f"No lifecycle policy is set on {key}", hint="mlake storage policies lists them")

    def _effective(self, name: TableName) -> LifecyclePolicy:
        with self._db.connect() as conn:
            rows = {
                r.scope: LifecyclePolicy(**json.loads(r.policy))
                for r in conn.execute(
                    sa.select(policies_table).where(policies_table.c.scope.in_([str(name), name.namespace]))
                )
            }
        policy = DEFAULTS
        for scope in (name.namespace, str(name)):
            if scope in rows:
                policy = rows[scope].over(policy)
        return policy

    def effective_policy(self, table: str | TableName) -> LifecyclePolicy:
        """The rules a run applies to ``table``: its policy, over its namespace's, over the defaults."""
        name = TableName.parse(table)
        self._lake.access.require_visible(name)
        return self._effective(name)

    # --- pins ----------------------------------------------------------------------------------------

    def pins(self, table: str | TableName) -> builtins.list[SnapshotPin]:
        """The snapshots of ``table`` that expiry keeps: read by a training set, or held by a tag/branch."""
        name = TableName.parse(table)
        self._lake.access.require_visible(name)
        self._lake.access.require("select", name)
        found = pinned_snapshots(self._lake, name, self._lake.iceberg_table(name))
        return [SnapshotPin(s, why) for s, why in sorted(found.items())]

    def pin(self, table: str | TableName, tag: str, snapshot_id: int | None = None) -> SnapshotPin:
        """Tag a snapshot (the current one by default) so that no expiry removes it (an Iceberg tag)."""
        name = TableName.parse(table)
        if not tag or len(tag) > 200 or tag == "main":
            raise ValidationError(f"Cannot use {tag!r} as a tag name", hint="a short name other than 'main'")
        chosen: builtins.list[int] = []

        def attempt(tbl: IcebergTable) -> None:
            snap = tbl.snapshot_by_id(snapshot_id) if snapshot_id is not None else tbl.current_snapshot()
            if snap is None:
                raise NotFoundError(f"Table {name} has no snapshot {snapshot_id or '(empty table)'}")
            chosen[:] = [snap.snapshot_id]
            tbl.manage_snapshots().create_tag(snap.snapshot_id, tag).commit()

        with self._lake.audited("lifecycle.pin", [str(name)], tag):
            catalog = self._lake.catalog_for_write(name, "alter")
            with_retries(catalog, name.identifier, attempt, self._lake.settings.commit_retries)
        return SnapshotPin(chosen[0], f"tag {tag}")

    def unpin(self, table: str | TableName, tag: str) -> None:
        name = TableName.parse(table)

        def attempt(tbl: IcebergTable) -> None:
            if tag not in tbl.refs() or tag == "main":
                raise NotFoundError(f"Table {name} has no tag {tag!r}")
            tbl.manage_snapshots().remove_tag(tag).commit()

        with self._lake.audited("lifecycle.unpin", [str(name)], tag):
            catalog = self._lake.catalog_for_write(name, "alter")
            with_retries(catalog, name.identifier, attempt, self._lake.settings.commit_retries)

    # --- applying policies ---------------------------------------------------------------------------

    def apply(
        self,
        table: str | TableName | None = None,
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        **overrides: Any,
    ) -> builtins.list[LifecycleReport]:
        """Apply each table's effective policy (``overrides``: rules that win over every policy for this
        run, e.g. ``expire_older_than="0s"``). Without ``table``: every table the actor may alter."""
        try:
            forced = LifecyclePolicy(**overrides)
        except ValueError as exc:
            raise ValidationError(f"Cannot use these lifecycle options: {exc}") from exc
        if table is not None:
            names = self._tables(table, None)
            self._lake.access.require("alter", names[0])
        else:
            names = [n for n in self._lake.list_tables(namespace) if self._lake.access.can("alter", n)]
        reports = []
        after = StorageReport(datetime.now(UTC))
        for name in names:
            report, usage = self._apply_one(name, forced.over(self._effective(name)), dry_run)
            reports.append(report)
            if usage is not None:
                after.tables.append(usage)
        if not dry_run:
            self._record(after, "maintain")
        return reports

    def _apply_one(
        self, name: TableName, policy: LifecyclePolicy, dry_run: bool
    ) -> tuple[LifecycleReport, TableUsage | None]:
        started = time.perf_counter()
        lake = self._lake
        report = LifecycleReport(str(name), dry_run, policy.set_fields())
        roots = (tier_root(policy.tier_location, name),) if policy.tier_location else ()
        before = measure_table(lake, name, lake.iceberg_table(name), roots)
        report.bytes_before = before.total_bytes
        with lake.audited("lifecycle.apply", [str(name)], ("dry run: " if dry_run else "") + policy.describe()):
            if policy.retention_days is not None and policy.time_column:
                report.actions.append(self._retention(name, policy.time_column, policy.retention_days, dry_run))
            if policy.tier_after_days is not None and policy.tier_location and policy.time_column:
                report.actions.append(self._tier(name, policy, dry_run))
            target = policy.target_file_bytes or DEFAULT_TARGET_BYTES
            if policy.compact:
                report.actions.append(self._compact(name, target, roots, dry_run))
            if policy.metadata_versions_kept is not None:
                report.actions.append(self._metadata_versions(name, policy.metadata_versions_kept, dry_run))
            expire = self._expire(name, policy, dry_run)
            report.actions.append(expire)
            if policy.remove_orphans:
                grace = parse_duration(policy.orphan_grace or "1h")
                if dry_run:
                    # files the expiry would free are not orphans yet: their bytes are in the expire action
                    count, freed = remove_orphan_files(lake, name, grace, dry_run=True, extra_roots=roots)
                else:
                    count, freed = remove_orphan_files(lake, name, grace, extra_roots=roots)
                word = "would remove" if dry_run else "removed"
                report.actions.append(LifecycleAction("orphans", f"{word} {count} orphan file(s)", count, freed))
        report.actions = [a for a in report.actions if a.files or a.rows or a.snapshots or a.kind == "retention"]
        if dry_run:
            report.bytes_after = report.bytes_before
            report.bytes_saved = sum(a.bytes for a in report.actions if a.kind in ("expire", "orphans"))
            usage = None
        else:
            usage = measure_table(lake, name, lake.iceberg_table(name), roots)
            report.bytes_after = usage.total_bytes
            report.bytes_saved = report.bytes_before - report.bytes_after
        report.seconds = time.perf_counter() - started
        return report, usage

    def _retention(self, name: TableName, column: str, days: float, dry_run: bool) -> LifecycleAction:
        from mlake.lifecycle.tiering import cutoff_value

        tbl = self._lake.iceberg_table(name)
        try:
            field_type = tbl.schema().find_field(column).field_type
        except ValueError as exc:
            raise ValidationError(f"Table {name} has no column {column!r} to age rows by") from exc
        cutoff = datetime.now(UTC) - timedelta(days=days)
        expr: BooleanExpression = LessThan(column, cutoff_value(field_type, cutoff))  # type: ignore[call-arg, arg-type]
        rows = tbl.scan(row_filter=expr).count() if tbl.current_snapshot() is not None else 0
        when = f"{column} < {cutoff:%Y-%m-%d %H:%M} UTC"
        if dry_run or rows == 0:
            word = "would delete" if dry_run else "deleted"
            return LifecycleAction("retention", f"{word} {rows} row(s) with {when}", rows=rows)
        self._lake.table(name).delete(expr, command=f"retention: delete rows with {when}")
        return LifecycleAction("retention", f"deleted {rows} row(s) with {when}", rows=rows)

    def _tier(self, name: TableName, policy: LifecyclePolicy, dry_run: bool) -> LifecycleAction:
        assert policy.tier_location and policy.time_column and policy.tier_after_days
        tbl = self._lake.iceberg_table(name)
        plan = plan_tiering(tbl, name, policy.time_column, policy.tier_after_days, policy.tier_location)
        if dry_run:
            return LifecycleAction(
                "tier", f"would move {len(plan.files)} file(s) to {plan.root}", len(plan.files), plan.bytes
            )
        moved, written = tier_files(self._lake, name, plan, policy.tier_zstd_level or DEFAULT_TIER_ZSTD_LEVEL)
        detail = f"moved {moved} file(s) ({plan.bytes:,} → {written:,} bytes) to {plan.root}"
        return LifecycleAction("tier", detail, moved, written)

    def _compact(self, name: TableName, target: int, roots: tuple[str, ...], dry_run: bool) -> LifecycleAction:
        if dry_run:
            bins = compaction_plan(self._lake.iceberg_table(name), target, roots)
            files = sum(len(b) for b in bins)
            size = sum(f.file_size_in_bytes for b in bins for f in b)
            return LifecycleAction("compact", f"would compact {files} file(s) into {len(bins)}", files, size)
        report = MaintenanceReport(str(name))
        compact_table(self._lake, name, report, target, roots)
        detail = f"compacted {report.files_compacted} file(s) into {report.files_written}"
        return LifecycleAction("compact", detail, report.files_compacted)

    def _metadata_versions(self, name: TableName, keep: int, dry_run: bool) -> LifecycleAction:
        """Every commit writes a new metadata file and Iceberg keeps the last 100 by default, each listing
        every snapshot: on a table of many small commits they outweigh the data. The table's properties
        are set so that commits keep ``keep`` and delete older ones (the next commit, expiry, trims them)."""
        tbl = self._lake.iceberg_table(name)
        extra = max(len(tbl.metadata.metadata_log) - keep, 0)
        wanted = {
            "write.metadata.previous-versions-max": str(keep),
            "write.metadata.delete-after-commit.enabled": "true",
        }
        if dry_run:
            return LifecycleAction(
                "metadata", f"would keep {keep} old metadata file(s) of {len(tbl.metadata.metadata_log)}", extra
            )
        if any(tbl.properties.get(k) != v for k, v in wanted.items()):

            def attempt(t: IcebergTable) -> None:
                t.transaction().set_properties(wanted).commit_transaction()

            catalog = self._lake.catalog_for_write(name, "alter")
            with_retries(catalog, name.identifier, attempt, self._lake.settings.commit_retries)
        return LifecycleAction(
            "metadata", f"keeps {keep} old metadata file(s) (had {len(tbl.metadata.metadata_log)})", extra
        )

    def _expire(self, name: TableName, policy: LifecyclePolicy, dry_run: bool) -> LifecycleAction:
        older = parse_duration(policy.expire_older_than or "7d")
        keep = policy.retain_last or 5
        tbl = self._lake.iceberg_table(name)
        pins = pinned_snapshots(self._lake, name, tbl)
        ids = snapshots_to_expire(tbl, older, keep, set(pins))
        files, size = _freed_by_expiry(tbl, set(ids))
        kept = sum(1 for s in tbl.snapshots() if s.snapshot_id in pins and s.snapshot_id not in ids)
        pinned = f", keeping {kept} pinned" if kept else ""
        if dry_run:
            return LifecycleAction(
                "expire", f"would expire {len(ids)} snapshot(s){pinned}", files, size, snapshots=len(ids)
            )
        count = expire_snapshots(self._lake, name, older, keep)
        return LifecycleAction("expire", f"expired {count} snapshot(s){pinned}", files, size, snapshots=count)


def _freed_by_expiry(tbl: IcebergTable, expiring: set[int]) -> tuple[int, int]:
    """Data files (count, bytes) that only the ``expiring`` snapshots reference."""
    if not expiring:
        return 0, 0
    gone: dict[str, int] = {}
    kept: set[str] = set()
    for snap in tbl.metadata.snapshots:
        for manifest in snapshot_manifests(tbl.io, snap):
            for path, size in manifest_files(tbl.io, manifest):
                if snap.snapshot_id in expiring:
                    gone[path] = size
                else:
                    kept.add(path)
    freed = {p: s for p, s in gone.items() if p not in kept}
    return len(freed), sum(freed.values())


__all__ = ["LakeStorage", "LifecycleAction", "LifecycleReport", "SnapshotPin"]
