"""Storage usage of tables: what the current snapshot holds, what only old snapshots hold, what nothing
holds (orphans), and the metadata that ties them together — per table, summed per namespace.

A table's bytes are read from its manifests (data and delete files, wherever they live: a colder tier is
counted as the table's too) and from a listing of its folder (metadata files and orphans). Every
measurement can be appended to the lake table :data:`USAGE_TABLE`, so growth over time is a SQL query
and a chart away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.table import Table as IcebergTable

from mlake.maintenance import list_files, manifest_files, snapshot_manifests
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.lake import Lake

USAGE_TABLE = TableName("mlake", "storage_usage")

USAGE_SCHEMA = pa.schema(
    [
        ("measured_at", pa.timestamp("us", tz="UTC")),
        ("table_name", pa.string()),
        ("namespace", pa.string()),
        ("snapshots", pa.int64()),
        ("current_files", pa.int64()),
        ("current_bytes", pa.int64()),
        ("old_files", pa.int64()),
        ("old_bytes", pa.int64()),
        ("orphan_files", pa.int64()),
        ("orphan_bytes", pa.int64()),
        ("metadata_bytes", pa.int64()),
        ("tiered_bytes", pa.int64()),
        ("total_bytes", pa.int64()),
        ("trigger", pa.string()),
    ]
)


def _strip(uri: str) -> str:
    return uri.split("://", 1)[1] if "://" in uri else uri


@dataclass
class TableUsage:
    """One table's storage. ``old_bytes``: data held only by snapshots before the current one (what
    expiring them frees); ``orphan_bytes``: files under the table's folders no metadata references;
    ``tiered_bytes``: the part of ``current_bytes`` stored outside the table's folder (a colder tier)."""

    table: str
    namespace: str
    snapshots: int = 0
    current_files: int = 0
    current_bytes: int = 0
    old_files: int = 0
    old_bytes: int = 0
    orphan_files: int = 0
    orphan_bytes: int = 0
    metadata_bytes: int = 0
    tiered_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.current_bytes + self.old_bytes + self.orphan_bytes + self.metadata_bytes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"total_bytes": self.total_bytes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableUsage:
        return cls(**{k: v for k, v in data.items() if k != "total_bytes"})


@dataclass
class NamespaceUsage:
    """The sum of a namespace's tables (those the actor may see)."""

    namespace: str
    tables: int = 0
    current_bytes: int = 0
    old_bytes: int = 0
    orphan_bytes: int = 0
    metadata_bytes: int = 0
    total_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NamespaceUsage:
        return cls(**data)


@dataclass
class StorageReport:
    """Usage of some tables at one moment, by table (largest first) and by namespace."""

    measured_at: datetime
    tables: list[TableUsage] = field(default_factory=list)

    @property
    def namespaces(self) -> list[NamespaceUsage]:
        out: dict[str, NamespaceUsage] = {}
        for t in self.tables:
            ns = out.setdefault(t.namespace, NamespaceUsage(t.namespace))
            ns.tables += 1
            ns.current_bytes += t.current_bytes
            ns.old_bytes += t.old_bytes
            ns.orphan_bytes += t.orphan_bytes
            ns.metadata_bytes += t.metadata_bytes
            ns.total_bytes += t.total_bytes
        return sorted(out.values(), key=lambda n: -n.total_bytes)

    @property
    def total_bytes(self) -> int:
        return sum(t.total_bytes for t in self.tables)

    def largest(self, n: int = 10) -> list[TableUsage]:
        return sorted(self.tables, key=lambda t: -t.total_bytes)[:n]

    def table(self, name: str) -> TableUsage:
        return next(t for t in self.tables if t.table == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measured_at": self.measured_at.isoformat(),
            "tables": [t.to_dict() for t in self.tables],
            "namespaces": [n.to_dict() for n in self.namespaces],
            "total_bytes": self.total_bytes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StorageReport:
        return cls(datetime.fromisoformat(data["measured_at"]), [TableUsage.from_dict(t) for t in data["tables"]])


@dataclass
class UsagePoint:
    """One recorded measurement of one table (a row of :data:`USAGE_TABLE`)."""

    measured_at: datetime
    table: str
    namespace: str
    current_bytes: int
    old_bytes: int
    orphan_bytes: int
    total_bytes: int
    trigger: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"measured_at": self.measured_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UsagePoint:
        return cls(**(data | {"measured_at": datetime.fromisoformat(data["measured_at"])}))


def measure_table(lake: Lake, name: TableName, tbl: IcebergTable, extra_roots: tuple[str, ...] = ()) -> TableUsage:
    """Measure one table (the caller has checked the actor may see it)."""
    usage = TableUsage(str(name), name.namespace, snapshots=len(tbl.metadata.snapshots))
    io = tbl.io
    root = _strip(tbl.location()).rstrip("/") + "/"
    current: dict[str, int] = {}
    everything: dict[str, int] = {}
    referenced: set[str] = set()
    if tbl.metadata_location:
        referenced.add(_strip(tbl.metadata_location))
    referenced.update(_strip(e.metadata_file) for e in tbl.metadata.metadata_log)
    referenced.update(_strip(s.statistics_path) for s in tbl.metadata.statistics)
    now = tbl.current_snapshot()
    for snap in tbl.metadata.snapshots:
        referenced.add(_strip(snap.manifest_list))
        for manifest in snapshot_manifests(io, snap):
            referenced.add(_strip(manifest.manifest_path))
            for uri, size in manifest_files(io, manifest):
                path = _strip(uri)
                everything[path] = size
                if now is not None and snap.snapshot_id == now.snapshot_id:
                    current[path] = size
    usage.current_files, usage.current_bytes = len(current), sum(current.values())
    usage.tiered_bytes = sum(size for path, size in current.items() if not path.startswith(root))
    old = {p: s for p, s in everything.items() if p not in current}
    usage.old_files, usage.old_bytes = len(old), sum(old.values())
    listing: dict[str, dict[str, Any]] = {}
    for location in (tbl.location(), *extra_roots):
        listing |= list_files(lake, location)
    for path, info in listing.items():
        size = int(info.get("size") or 0)
        if path in everything:
            continue
        if path in referenced:
            usage.metadata_bytes += size
        else:
            usage.orphan_files += 1
            usage.orphan_bytes += size
    return usage


def usage_rows(report: StorageReport, trigger: str) -> pa.Table:
    rows = [
        t.to_dict() | {"measured_at": report.measured_at, "table_name": t.table, "trigger": trigger}
        for t in report.tables
    ]
    return pa.Table.from_pylist(rows, schema=USAGE_SCHEMA)


def now_utc() -> datetime:
    return datetime.now(UTC)
