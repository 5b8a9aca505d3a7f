"""Point-in-time joins on DuckDB: for each entity row, the feature values that were true at its time.

For every entity row (entity keys + an entity time ``t``) and every feature group, the answer is the
group's row with the same keys and the latest event time ``<= t``; when the group has a TTL and that
row's event time is older than ``t - ttl``, the values are NULL (expired: the same rule the online store
applies). With ``as_of``, only rows written at or before ``as_of`` count (what was known then), so a
late-arriving or backfilled row is invisible to a training set "as of" an earlier moment.

Ties are broken deterministically: among rows with the same keys and event time, the one with the
latest write time wins (a correction beats the value it corrects). Within one write such duplicates
cannot exist (the offline store keeps the last row of the input), and one process never hands out
the same write time twice.

Strategy: one ``ASOF LEFT JOIN`` per group (see :func:`point_in_time`), a sort-merge on (keys, time) that
never pairs an entity row with all rows of its key. The tie-break is folded into the join's inequality:
both sides carry a 128-bit ordering key ``event_time_us * 2^64 + write_time_us`` (entity side: ``t_us *
2^64 + 2^64-1``), so the join's "greatest key not above" is exactly "latest event time <= t, then latest
write time". Every entity row is kept (LEFT join) and the result comes back in the entity input's order
(a row number carried through).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from mlake.features.groups import WRITE_TIME, FeatureGroup
from mlake.tables.types import quote_ident, quote_literal

ROW = "__mlake_row"
_SHIFT = "18446744073709551616"  # 2^64
_LOW_MAX = "18446744073709551615"  # 2^64 - 1


@dataclass(frozen=True)
class GroupRead:
    """One group in a point-in-time join: where its rows are and which features to bring."""

    group: FeatureGroup
    source: str  # a SQL relation: a view reference or a parenthesised SELECT
    features: tuple[str, ...]
    output_names: tuple[str, ...]
    key_columns: tuple[str, ...]  # the entity-side column for each of the group's keys, in order
    event_time_output: str | None = None  # also output the matched row's event time (before TTL) under this name


def _group_join_sql(
    entities: str,
    entity_columns: list[str],
    entity_time: str,
    read: GroupRead,
    i: int,
    as_of: datetime | None,
    carry_entities: bool,
) -> str:
    """One group's ASOF join; carries every entity column (``carry_entities``) or only the row number."""
    t = quote_ident(entity_time)
    g = read.group
    et = quote_ident(g.event_time)
    keys = sorted(set(read.key_columns))
    narrow = "*" if carry_entities else ", ".join([ROW, *(quote_ident(k) for k in keys)])
    cols = [f"{quote_ident(k)} AS __k{i}_{j}" for j, k in enumerate(g.key_names)]
    cols.append(f"epoch_us({et}) AS __et{i}")
    cols.append(f"epoch_us({et})::HUGEINT * {_SHIFT} + epoch_us({WRITE_TIME}) AS __pit_f{i}")
    cols += [f"{quote_ident(f)} AS __v{i}_{j}" for j, f in enumerate(read.features)]
    where = f" WHERE {WRITE_TIME} <= TIMESTAMPTZ {quote_literal(as_of.isoformat())}" if as_of is not None else ""
    on = " AND ".join(f"__e.{quote_ident(col)} = __g.__k{i}_{j}" for j, col in enumerate(read.key_columns))
    picked = []
    for j, name in enumerate(read.output_names):
        value = f"__g.__v{i}_{j}"
        if g.ttl_us is not None:
            value = f"CASE WHEN __e.__pit_ts - __g.__et{i} <= {g.ttl_us} THEN {value} END"
        picked.append(f"{value} AS {quote_ident(name)}")
    if read.event_time_output:
        picked.append(f"make_timestamptz(__g.__et{i}) AS {quote_ident(read.event_time_output)}")
    carried = [f"__e.{quote_ident(c)}" for c in entity_columns] if carry_entities else [f"__e.{ROW}"]
    return (
        f"WITH __e AS (SELECT {narrow}, epoch_us(CAST({t} AS TIMESTAMPTZ)) AS __pit_ts, "
        f"epoch_us(CAST({t} AS TIMESTAMPTZ))::HUGEINT * {_SHIFT} + {_LOW_MAX} AS __pit_e FROM {entities}), "
        f"__g AS (SELECT {', '.join(cols)} FROM {read.source}{where}) "
        f"SELECT {', '.join(carried + picked)} FROM __e ASOF LEFT JOIN __g ON {on} AND __e.__pit_e >= __g.__pit_f{i}"
    )


def _outputs(read: GroupRead) -> list[str]:
    return list(read.output_names) + ([read.event_time_output] if read.event_time_output else [])


def point_in_time(
    cursor: duckdb.DuckDBPyConnection,
    entities: str,
    entity_columns: list[str],
    entity_time: str,
    reads: list[GroupRead],
    as_of: datetime | None = None,
) -> tuple[duckdb.DuckDBPyRelation, str, list[pa.Table]]:
    """The point-in-time join of ``entities`` (a relation with a ``__mlake_row`` column) with every group.

    Returns the relation (in the entity input's order), its SQL, and Arrow tables that must outlive it.
    One group is one lazy query whose ASOF join carries the entity columns. Several groups are joined one
    at a time, each with a narrow projection of the entity rows (row number, keys, time) into a small
    Arrow table of row number + values, then joined back by row number: memory holds one group's join
    at a time, so time and memory grow linearly with the number of groups.
    """
    visible = [c for c in entity_columns if c != ROW]
    if len(reads) == 1:
        inner = _group_join_sql(entities, entity_columns, entity_time, reads[0], 0, as_of, carry_entities=True)
        columns = [quote_ident(c) for c in [*visible, *_outputs(reads[0])]]
        sql = f"SELECT {', '.join(columns)} FROM ({inner}) ORDER BY {ROW}"
        return cursor.sql(sql), sql, []
    kept: list[pa.Table] = []
    joins, outputs = [], []
    for i, read in enumerate(reads):
        part = cursor.sql(_group_join_sql(entities, entity_columns, entity_time, read, i, as_of, False))
        table = part.to_arrow_table()
        name = f"__mlake_pit_{uuid.uuid4().hex}"
        cursor.register(name, table)
        kept.append(table)
        joins.append(f"JOIN {name} AS __j{i} USING ({ROW})")
        outputs += [f"__j{i}.{quote_ident(c)}" for c in _outputs(read)]
    select = [f"__src.{quote_ident(c)}" for c in visible] + outputs
    sql = f"SELECT {', '.join(select)} FROM {entities} AS __src {' '.join(joins)} ORDER BY __src.{ROW}"
    return cursor.sql(sql), sql, kept
