"""Typed results of the feature store that travel: a group's description, shared by the core, the CLI,
REST (which serves ``to_dict()``, the JSON shape it always had) and the remote client (``from_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlake.features.groups import FeatureGroup, group_from_dict


@dataclass(frozen=True)
class OfflineState:
    """The group's offline table now."""

    name: str
    snapshot_id: int | None
    rows: int | None
    files: int | None
    size_bytes: int | None
    last_updated: str | None
    """ISO 8601, UTC."""


@dataclass(frozen=True)
class GroupLineage:
    upstream_tables: list[str] = field(default_factory=list)
    upstream: list[dict[str, Any]] = field(default_factory=list)
    """The lineage edges into the offline table (a :class:`~mlake.tables.lineage.LineageEdge`'s ``to_dict()``)."""


@dataclass(frozen=True)
class TrainingSetRef:
    """A saved training set that uses the group."""

    id: str | None
    name: str | None
    created_at: str | None


@dataclass(frozen=True)
class OnlineStoreState:
    """What one online store holds of the group: the offline snapshot last materialized into it."""

    store: str
    snapshot_id: int | None
    up_to_date: bool
    at: str | None
    rows_read: int | None
    entities_written: int | None


@dataclass(frozen=True)
class OnlineState:
    enabled: bool
    stores: list[OnlineStoreState] = field(default_factory=list)
    serving_store: str | None = None
    """The store online reads are served from (None when the group is not online)."""


@dataclass(frozen=True)
class GroupDescription:
    """What ``features.describe`` says about a group: its definition, offline table, lineage, statistics,
    training sets and online state."""

    group: FeatureGroup
    offline: OfflineState | None
    """None until the group has an offline table."""
    lineage: GroupLineage
    training_sets: list[TrainingSetRef]
    online: OnlineState
    statistics: dict[str, Any] | None = None
    """Rows, entities and per feature null fraction, min, max, mean ... (when asked for and there is data)."""
    distributions: dict[str, Any] | None = None
    """Per column: a histogram (numbers, times) or the top values (text, booleans), when asked for."""
    privileges: list[str] | None = None
    """What the acting principal may do with the group's table (for a principal; None for the owner)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form REST serves: the group's own ``to_dict()`` with the rest beside it."""
        out: dict[str, Any] = self.group.to_dict()
        out["offline"] = None if self.offline is None else dict(vars_of(self.offline))
        out["lineage"] = {
            "upstream_tables": list(self.lineage.upstream_tables),
            "upstream": list(self.lineage.upstream),
        }
        if self.statistics is not None:
            out["statistics"] = self.statistics
        if self.distributions is not None:
            out["distributions"] = self.distributions
        out["training_sets"] = [dict(vars_of(t)) for t in self.training_sets]
        out["online"] = {
            "enabled": self.online.enabled,
            "stores": [dict(vars_of(s)) for s in self.online.stores],
            "serving_store": self.online.serving_store,
        }
        if self.privileges is not None:
            out["privileges"] = list(self.privileges)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupDescription:
        online = d["online"]
        return cls(
            group=group_from_dict(d),
            offline=None if d.get("offline") is None else OfflineState(**d["offline"]),
            lineage=GroupLineage(**d["lineage"]),
            training_sets=[TrainingSetRef(**t) for t in d["training_sets"]],
            online=OnlineState(
                online["enabled"], [OnlineStoreState(**s) for s in online["stores"]], online.get("serving_store")
            ),
            statistics=d.get("statistics"),
            distributions=d.get("distributions"),
            privileges=d.get("privileges"),
        )


def vars_of(value: Any) -> dict[str, Any]:
    """A flat dataclass's fields as a dict (no deep copy, unlike ``dataclasses.asdict``)."""
    return {name: getattr(value, name) for name in value.__dataclass_fields__}
