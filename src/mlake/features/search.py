"""Discovery: find groups and features by name, description, tag and owner; describe a group fully.

A description gathers what someone deciding whether to reuse a group needs: its schema, statistics of
its offline data, where its data came from (lineage of its Iceberg table), which saved training sets
use it, and how far each online store has caught up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlake.features.groups import WRITE_TIME, FeatureGroup
from mlake.features.metastore import materializations_table
from mlake.features.training import list_training_sets
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    from mlake.features.store import FeatureStore
    from mlake.lake import Lake

_NUMERIC = {"int", "long", "float", "double"}


@dataclass(frozen=True)
class SearchHit:
    """A group (``feature`` None) or one of its features that matched, and where the match was."""

    group: str
    feature: str | None
    matched: str  # name | description | tag | owner | feature | feature description | all
    text: str  # what matched, for display
    score: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _tag_matches(group: FeatureGroup, tag: str) -> bool:
    key, sep, value = tag.partition("=")
    if key not in group.tags:
        return False
    return not sep or group.tags[key] == value


def search(
    store: FeatureStore, text: str | None, *, tag: str | None = None, owner: str | None = None
) -> list[SearchHit]:
    """Groups and features matching every filter given; ``text`` matches case-insensitively anywhere."""
    hits: list[SearchHit] = []
    needle = (text or "").strip().lower()
    for g in store.groups():
        if tag is not None and not _tag_matches(g, tag):
            continue
        if owner is not None and (g.owner or "").lower() != owner.lower():
            continue
        if not needle:
            hits.append(SearchHit(g.name, None, "all", g.description or "", 1))
            continue
        if needle in g.name.lower():
            hits.append(SearchHit(g.name, None, "name", g.name, 100 if needle == g.name.lower() else 80))
        elif g.description and needle in g.description.lower():
            hits.append(SearchHit(g.name, None, "description", g.description, 50))
        elif any(needle in k.lower() or needle in v.lower() for k, v in g.tags.items()):
            tags = ", ".join(f"{k}={v}" if v else k for k, v in g.tags.items())
            hits.append(SearchHit(g.name, None, "tag", tags, 40))
        elif g.owner and needle in g.owner.lower():
            hits.append(SearchHit(g.name, None, "owner", g.owner, 30))
        for f in g.features:
            if needle in f.name.lower():
                hits.append(SearchHit(g.name, f.name, "feature", f.name, 90 if needle == f.name.lower() else 70))
            elif f.description and needle in f.description.lower():
                hits.append(SearchHit(g.name, f.name, "feature description", f.description, 45))
    return sorted(hits, key=lambda h: (-h.score, h.group, h.feature or ""))


def statistics(lake: Lake, group: FeatureGroup) -> dict[str, Any]:
    """Rows, entities, event-time range, last write, and per-feature null share / min / max / mean."""
    if not lake.table_exists(group.table_name):
        return {"rows": 0}
    table = lake.table(group.table_name)
    present = {c.lower() for c in table.columns}
    view = lake.engine.view_for(group.table_name)
    keys = ", ".join(quote_ident(k) for k in group.key_names)
    et = quote_ident(group.event_time)
    aggs = [
        "count(*) AS rows",
        f"count(DISTINCT ({keys})) AS entities",
        f"min({et}) AS first_event",
        f"max({et}) AS last_event",
        f"max({WRITE_TIME}) AS last_write",
        f"count(DISTINCT {WRITE_TIME}) AS writes",
    ]
    feats = [f for f in group.features if f.name.lower() in present]
    for i, f in enumerate(feats):
        col = quote_ident(f.name)
        aggs.append(f"count({col}) AS n{i}")
        if f.dtype in _NUMERIC:
            aggs += [f"min({col}) AS min{i}", f"max({col}) AS max{i}", f"avg({col}) AS avg{i}"]
    row = lake.engine.run_internal(f"SELECT {', '.join(aggs)} FROM {view}").to_pylist()[0]
    rows = row["rows"]
    per_feature = {}
    for i, f in enumerate(feats):
        info: dict[str, Any] = {"null_fraction": (1 - row[f"n{i}"] / rows) if rows else None}
        if f.dtype in _NUMERIC:
            info.update(min=row[f"min{i}"], max=row[f"max{i}"], mean=row[f"avg{i}"])
        per_feature[f.name] = info
    return {
        "rows": rows,
        "entities": row["entities"],
        "first_event": row["first_event"].isoformat() if row["first_event"] else None,
        "last_event": row["last_event"].isoformat() if row["last_event"] else None,
        "last_write": row["last_write"].isoformat() if row["last_write"] else None,
        "writes": row["writes"],
        "features": per_feature,
    }


def describe_group(lake: Lake, group: FeatureGroup, *, with_statistics: bool = True) -> dict[str, Any]:
    info = group.to_dict()
    table_name = group.table_name
    if lake.table_exists(table_name):
        table = lake.table(table_name)
        described = table.describe()
        info["offline"] = {
            k: described[k] for k in ("name", "snapshot_id", "rows", "files", "size_bytes", "last_updated")
        }
        graph = lake.lineage(table_name)
        info["lineage"] = {
            "upstream_tables": sorted(graph.upstream_tables()),
            "upstream": [e.to_dict() for e in graph.upstream],
        }
        if with_statistics:
            info["statistics"] = statistics(lake, group)
    else:
        info["offline"] = None
        info["lineage"] = {"upstream_tables": [], "upstream": []}
    info["training_sets"] = [
        {"id": t.id, "name": t.name, "created_at": t.created_at.isoformat() if t.created_at else None}
        for t in list_training_sets(lake, group.name)
    ]
    with lake.metadata_engine.connect() as conn:
        rows = conn.execute(
            sa.select(materializations_table).where(materializations_table.c.group_name == group.name)
        ).fetchall()
    current = info["offline"]["snapshot_id"] if info["offline"] else None
    info["online"] = {
        "enabled": group.online,
        "stores": [
            {
                "store": r.store,
                "snapshot_id": r.snapshot_id,
                "up_to_date": r.snapshot_id == current,
                "at": r.at.isoformat() if r.at else None,
            }
            for r in rows
        ],
    }
    return info
