"""Skew check: do the online values equal what the offline store says was true at the same moment?

For a sample of the group's entities, the online store is read at ``now`` and the offline store is
point-in-time joined at ``now`` against the snapshot the online store was last materialized from
(so data written since, not yet materialized, is reported as lag rather than as skew). Any difference
in a value, or in whether a value exists or has expired, is a mismatch: a bug in a pipeline that writes
online directly, a store that lost data, or a TTL read differently on the two sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.features.groups import FeatureGroup
from mlake.features.lookup import EXPIRED, MISSING, PRESENT, plan_read, read_online, reading_instant
from mlake.features.materialize import last_materialized
from mlake.features.pit import ROW, GroupRead, point_in_time
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    from mlake.lake import Lake

_ET = "__mlake_offline_event_time"


@dataclass
class SkewReport:
    group: str
    store: str
    checked_at: datetime
    offline_snapshot: int | None
    current_snapshot: int | None
    entities: int
    values_compared: int
    skipped: int = 0  # values whose online event time is after the check time (not comparable)
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lagging(self) -> bool:
        """The online store has not caught up with the offline table's current snapshot."""
        return self.offline_snapshot != self.current_snapshot

    @property
    def mismatch_rate(self) -> float:
        return len(self.mismatches) / self.values_compared if self.values_compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "store": self.store,
            "checked_at": self.checked_at.isoformat(),
            "offline_snapshot": self.offline_snapshot,
            "current_snapshot": self.current_snapshot,
            "lagging": self.lagging,
            "entities": self.entities,
            "values_compared": self.values_compared,
            "skipped": self.skipped,
            "mismatch_rate": self.mismatch_rate,
            "mismatches": self.mismatches,
        }

    def summary(self) -> str:
        lag = " (online store lags the offline table: run materialize)" if self.lagging else ""
        return (
            f"{self.group}: {len(self.mismatches)} mismatch(es) in {self.values_compared} value(s) "
            f"of {self.entities} entit(ies){lag}"
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b)


def check_skew(
    lake: Lake, group: FeatureGroup, *, sample: int = 100, seed: int = 0, now: datetime | None = None
) -> SkewReport:
    store = lake.features.online_store
    now = reading_instant(now)
    table = lake.table(group.table_name) if lake.table_exists(group.table_name) else None
    snap = table.iceberg.current_snapshot() if table is not None else None
    current = snap.snapshot_id if snap else None
    materialized = last_materialized(lake, group.name, store)
    pinned = materialized if materialized is not None else current
    report = SkewReport(group.name, store.identity, now, materialized, current, 0, 0)
    if pinned is None:
        return report
    view = lake.engine.view_for(group.table_name, pinned)
    keys = ", ".join(quote_ident(k) for k in group.key_names)
    sampled = lake.engine.run_internal(
        f"SELECT * FROM (SELECT DISTINCT {keys} FROM {view}) USING SAMPLE reservoir({int(sample)} ROWS) "
        f"REPEATABLE ({int(seed)}) ORDER BY {keys}"
    ).to_arrow()
    if sampled.num_rows == 0:
        return report
    entities = sampled.append_column("__mlake_now", pa.array([now] * sampled.num_rows, pa.timestamp("us", tz="UTC")))
    entities = entities.append_column(ROW, pa.array(range(sampled.num_rows), pa.int64()))
    feats = group.feature_names
    present = {
        c.lower() for c in lake.table(group.table_name).iceberg.scan(snapshot_id=pinned).projection().column_names
    }
    offline_feats = tuple(f for f in feats if f.lower() in present)
    read = GroupRead(group, view, offline_feats, offline_feats, tuple(group.key_names), _ET)
    cursor = lake.engine.connection.cursor()
    try:
        _, _, kept = point_in_time(cursor, entities, "__mlake_now", [read])
        offline = kept[0].to_pylist()
    finally:
        cursor.close()
    entity_dicts = sampled.to_pylist()
    online = read_online(store, plan_read([(group, feats)], [feats]), entity_dicts, now)
    ttl = group.ttl_us
    now_us = int(now.timestamp() * 1_000_000)
    for i, row in enumerate(offline):
        et = row[_ET]
        if et is None:
            expected_status = MISSING
        elif ttl is not None and now_us - int(et.timestamp() * 1_000_000) > ttl:
            expected_status = EXPIRED
        else:
            expected_status = PRESENT
        online_et = online.event_times[i][group.name]
        if online_et is not None and online_et > now:
            report.skipped += len(feats)  # the online store moved past the check time; offline cannot say
            continue
        for f in feats:
            report.values_compared += 1
            expected = row.get(f) if expected_status == PRESENT else None
            got, status = online.values[i][f], online.statuses[i][f]
            if status != expected_status or not _same(got, expected):
                report.mismatches.append(
                    {
                        "entity": entity_dicts[i],
                        "feature": f,
                        "online_value": got,
                        "online_status": status,
                        "online_event_time": online_et,
                        "offline_value": expected,
                        "offline_status": expected_status,
                        "offline_event_time": et,
                    }
                )
    report.entities = sampled.num_rows
    return report
