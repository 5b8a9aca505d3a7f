"""Typed descriptions of tables, shared by the core, the REST schemas and the remote client.

:meth:`mlake.tables.table.Table.describe` returns a :class:`TableInfo` and :meth:`mlake.lake.Lake.search`
a list of :class:`TableSummary`; the REST API sends their ``to_dict()`` (the JSON it always sent) and the
client reads them back with ``from_dict()``, so every face picks fields by name with a type checker
watching instead of by string key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ColumnInfo:
    """One column as the actor may see it."""

    name: str
    type: str
    required: bool
    doc: str | None
    field_id: int
    masked: bool = False  # the actor reads it through a column mask

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "doc": self.doc,
            "field_id": self.field_id,
            "masked": self.masked,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnInfo:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass(frozen=True)
class TableInfo:
    """Everything a catalog page shows about a table, as the actor may see it.

    ``rows``, ``files`` and ``size_bytes`` are None for a principal whose row filter narrows the table
    (the totals would describe rows it may not see); ``location`` is None but for superusers;
    ``privileges`` is set for a principal's lake only (what it may do with the table)."""

    name: str
    description: str | None
    owner: str | None
    tags: dict[str, str]
    columns: list[ColumnInfo]
    partitioning: list[str]
    location: str | None
    snapshot_id: int | None
    rows: int | None
    files: int | None
    size_bytes: int | None
    last_updated: str | None  # ISO 8601, UTC
    format_version: int
    row_filtered: bool
    privileges: list[str] | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        """The table's description as JSON data (what ``GET /api/v1/tables/{name}`` answers)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
            "columns": [c.to_dict() for c in self.columns],
            "partitioning": list(self.partitioning),
            "location": self.location,
            "snapshot_id": self.snapshot_id,
            "rows": self.rows,
            "files": self.files,
            "size_bytes": self.size_bytes,
            "last_updated": self.last_updated,
            "format_version": self.format_version,
            "row_filtered": self.row_filtered,
        }
        if self.privileges is not None:
            out["privileges"] = list(self.privileges)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableInfo:
        values = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        values["columns"] = [ColumnInfo.from_dict(c) for c in d["columns"]]
        return cls(**values)


@dataclass(frozen=True)
class TableSummary:
    """One table as catalog listings and search show it."""

    name: str
    namespace: str
    table: str
    description: str | None
    owner: str | None
    tags: dict[str, str]
    rows: int | None
    size_bytes: int | None
    last_updated: str | None  # ISO 8601, UTC
    columns: list[str] = field(default_factory=list)
    quarantine: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "table": self.table,
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
            "rows": self.rows,
            "size_bytes": self.size_bytes,
            "last_updated": self.last_updated,
            "columns": list(self.columns),
            "quarantine": self.quarantine,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableSummary:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


__all__ = ["ColumnInfo", "TableInfo", "TableSummary"]
