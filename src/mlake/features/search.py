"""Discovery: find groups and features by name, description, tag and owner; describe a group fully.

A description gathers what someone deciding whether to reuse a group needs: its schema, statistics of
its offline data, where its data came from (lineage of its Iceberg table), which saved training sets
use it, and how far each online store has caught up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from mlake.features.groups import WRITE_TIME, FeatureGroup
from mlake.features.metastore import materializations_table
from mlake.features.models import (
    GroupDescription,
    GroupLineage,
    OfflineState,
    OnlineState,
    OnlineStoreState,
    TrainingSetRef,
)
from mlake.features.training import list_training_sets
from mlake.tables.types import quote_ident, quote_literal

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


def _view_schema(lake: Lake, view: str) -> pa.Schema:
    """The columns ``lake`` sees through a view: a principal's column grants may hide some, and its
    masks may change their types."""
    schema: pa.Schema = lake.engine.run_internal(f"SELECT * FROM {view} LIMIT 0").to_arrow().schema
    return schema


def statistics(lake: Lake, group: FeatureGroup) -> dict[str, Any]:
    """Rows, entities, event-time range, last write, and per-feature null share / min / max / mean.

    Computed over what ``lake`` may read: through a principal's row filters and masks, and only over
    the columns it may read (what it may not is left out, or None)."""
    if not lake.table_exists(group.table_name):
        return {"rows": 0}
    view = lake.engine.view_for(group.table_name)
    schema = _view_schema(lake, view)
    types = {n.lower(): t for n, t in zip(schema.names, schema.types, strict=True)}
    aggs = ["count(*) AS rows"]
    if all(k.lower() in types for k in group.key_names):
        aggs.append(f"count(DISTINCT ({', '.join(quote_ident(k) for k in group.key_names)})) AS entities")
    if group.event_time.lower() in types:
        et = quote_ident(group.event_time)
        aggs += [f"min({et}) AS first_event", f"max({et}) AS last_event"]
    if WRITE_TIME in types:
        aggs += [f"max({WRITE_TIME}) AS last_write", f"count(DISTINCT {WRITE_TIME}) AS writes"]
    feats = [f for f in group.features if f.name.lower() in types]
    numeric = {f.name for f in feats if _kind(types[f.name.lower()]) == "number"}
    for i, f in enumerate(feats):
        col = quote_ident(f.name)
        aggs.append(f"count({col}) AS n{i}")
        if f.name in numeric:
            aggs += [f"min({col}) AS min{i}", f"max({col}) AS max{i}", f"avg({col}) AS avg{i}"]
    row = lake.engine.run_internal(f"SELECT {', '.join(aggs)} FROM {view}").to_pylist()[0]
    rows = row["rows"]
    per_feature = {}
    for i, f in enumerate(feats):
        info: dict[str, Any] = {"null_fraction": (1 - row[f"n{i}"] / rows) if rows else None}
        if f.name in numeric:
            info.update(min=row[f"min{i}"], max=row[f"max{i}"], mean=row[f"avg{i}"])
        per_feature[f.name] = info

    def when(key: str) -> str | None:
        value = row.get(key)
        return value.isoformat() if value else None

    return {
        "rows": rows,
        "entities": row.get("entities"),
        "first_event": when("first_event"),
        "last_event": when("last_event"),
        "last_write": when("last_write"),
        "writes": row.get("writes"),
        "features": per_feature,
    }


def _kind(dtype: pa.DataType) -> str | None:
    """How a column is charted: ``number`` / ``time`` (histogram), ``category`` (top values) or not at all."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "number"
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return "time"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_boolean(dtype):
        return "category"
    return None


def _bins(lo: Any, hi: Any, kind: str, bins: int) -> str:
    """SQL of the histogram boundaries between ``lo`` and ``hi`` (DuckDB's round-numbered equal-width
    bins; times in UTC, as DuckDB bins only time-zone-less timestamps)."""
    if kind == "time":
        lo, hi = (quote_literal(_naive_utc(v).isoformat(sep=" ")) for v in (lo, hi))
        return f"equi_width_bins(TIMESTAMP {lo}, TIMESTAMP {hi}, {bins}, true)"
    return f"equi_width_bins({float(lo)!r}::DOUBLE, {float(hi)!r}::DOUBLE, {bins}, true)"


def _naive_utc(value: Any) -> datetime:
    if not isinstance(value, datetime):  # a date
        return datetime(value.year, value.month, value.day)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def distributions(lake: Lake, group: FeatureGroup, *, bins: int = 20, top: int = 8) -> dict[str, Any]:
    """Per feature (and the event time), what its values look like, for charts next to the schema.

    Numbers and times: ``{"kind": "histogram", "bins": [{"upper": u, "count": n}, ...], "min", "max",
    "clipped"}``, where a bin counts the values above the previous bin's upper bound up to its own (the
    first bin from the minimum). Number bins span the 0.5th to 99.5th percentile (approximate), so one
    outlier does not squeeze every other value into one bar; values beyond count in the first or last
    bin (``clipped`` says whether any did); a few distinct integers get one bin each (``discrete``,
    ``upper`` is then the value). Text and booleans: ``{"kind": "top", "values": [{"value",
    "count"}, ...], "other": n}``. Computed over what ``lake`` may read, so a principal's masks and row
    filters apply (a column is charted by the type it has after masking). Two scans for numbers and
    times together, one per text column.
    """
    if not lake.table_exists(group.table_name):
        return {}
    view = lake.engine.view_for(group.table_name)
    schema = _view_schema(lake, view)
    wanted = [group.event_time, *group.feature_names]
    kinds = {c: _kind(schema.field(c).type) for c in wanted if c in schema.names}
    ranged = [c for c, k in kinds.items() if k in ("number", "time")]
    out: dict[str, Any] = {}
    if ranged:
        bounds = []
        for c in ranged:
            col = quote_ident(c)
            bounds.append(f"min({col}), max({col})")
            if kinds[c] == "number":
                bounds.append(f"approx_quantile({col}::DOUBLE, 0.005), approx_quantile({col}::DOUBLE, 0.995)")
            else:
                bounds.append("NULL, NULL")
        found = lake.engine.run_internal(f"SELECT {', '.join(bounds)} FROM {view}").fetchall()[0]
        aggs, names, ranges = [], [], []
        for i, c in enumerate(ranged):
            low, high, p_low, p_high = found[4 * i : 4 * i + 4]
            if low is None or high is None:
                out[c] = {"kind": "histogram", "bins": [], "min": None, "max": None, "clipped": False}
                continue
            lo, hi = low, high
            if p_low is not None and p_high is not None and p_low < p_high:
                lo, hi = max(float(low), p_low), min(float(high), p_high)
            if kinds[c] == "time":
                value = f"CAST({quote_ident(c)} AS TIMESTAMP)"
            else:
                value = f"least(greatest({quote_ident(c)}::DOUBLE, {float(lo)!r}), {float(hi)!r})"
            boundaries = _bins(lo, hi, str(kinds[c]), bins)
            discrete = pa.types.is_integer(schema.field(c).type) and hi - lo < bins
            if discrete:  # a few integers: one bar each
                boundaries = "[" + ", ".join(f"{v}::DOUBLE" for v in range(int(lo), int(hi) + 1)) + "]"
            # FILTER: least/greatest skip NULLs, so a NULL would otherwise be counted at the bound
            aggs.append(f"histogram({value}, {boundaries}) FILTER (WHERE {quote_ident(c)} IS NOT NULL)")
            names.append(c)
            ranges.append((low, high, lo != low or hi != high, discrete))
        if aggs:
            hist = lake.engine.run_internal(f"SELECT {', '.join(aggs)} FROM {view}").fetchall()[0]
            for c, h, (low, high, clipped, discrete) in zip(names, hist, ranges, strict=True):
                pairs = sorted(h.items() if isinstance(h, dict) else (h or []))
                out[c] = {
                    "kind": "histogram",
                    "bins": [{"upper": _plain(u), "count": int(n)} for u, n in pairs],
                    "min": _plain(low),
                    "max": _plain(high),
                    "clipped": clipped,
                    "discrete": discrete,
                }
    categories = [c for c, k in kinds.items() if k == "category"]
    if categories:
        total = int(lake.engine.run_internal(f"SELECT count(*) FROM {view}").scalar() or 0)
        for c in categories:
            col = quote_ident(c)
            rows = lake.engine.run_internal(
                f"SELECT {col} AS v, count(*) AS n FROM {view} GROUP BY ALL ORDER BY n DESC, v NULLS LAST LIMIT {top}"
            ).fetchall()
            out[c] = {
                "kind": "top",
                "values": [{"value": v, "count": int(n)} for v, n in rows],
                "other": total - sum(int(n) for _, n in rows),
            }
    return {c: out[c] for c in wanted if c in out}


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def describe_group(
    lake: Lake, group: FeatureGroup, *, with_statistics: bool = True, with_distributions: bool = False
) -> GroupDescription:
    offline: OfflineState | None = None
    lineage = GroupLineage()
    stats: dict[str, Any] | None = None
    dists: dict[str, Any] | None = None
    table_name = group.table_name
    if lake.table_exists(table_name):
        described = lake.table(table_name).describe()
        offline = OfflineState(
            described.name,
            described.snapshot_id,
            described.rows,
            described.files,
            described.size_bytes,
            described.last_updated,
        )
        graph = lake.lineage(table_name)
        lineage = GroupLineage(sorted(graph.upstream_tables()), [e.to_dict() for e in graph.upstream])
        if with_statistics:
            stats = statistics(lake, group)
        if with_distributions:
            dists = distributions(lake, group)
    training_sets = [
        TrainingSetRef(t.id, t.name, t.created_at.isoformat() if t.created_at else None)
        for t in list_training_sets(lake, group.name)
    ]
    with lake._core.metadata_engine.connect() as conn:
        rows = conn.execute(
            sa.select(materializations_table).where(materializations_table.c.group_name == group.name)
        ).fetchall()
    current = offline.snapshot_id if offline is not None else None
    stores = [
        OnlineStoreState(
            r.store,
            r.snapshot_id,
            r.snapshot_id == current,
            r.at.isoformat() if r.at else None,
            r.rows_read,
            r.entities_written,
        )
        for r in rows
    ]
    return GroupDescription(
        group, offline, lineage, training_sets, OnlineState(group.online, stores), statistics=stats, distributions=dists
    )
