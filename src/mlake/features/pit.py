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

Strategy: one ``ASOF LEFT JOIN`` per group, a sort-merge on (keys, time) that never pairs an entity row
with all rows of its key. The tie-break is folded into the join's inequality: both sides carry a
128-bit ordering key ``event_time_us * 2^64 + write_time_us`` (entity side: ``t_us * 2^64 + 2^64-1``), so
the join's "greatest key not above" is exactly "latest event time <= t, then latest write time". Every
entity row is kept (LEFT join) and the result comes back in the entity input's order (a row number
carried through).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


def point_in_time_sql(
    entities: str,
    entity_columns: list[str],
    entity_time: str,
    reads: list[GroupRead],
    as_of: datetime | None = None,
) -> str:
    """The SELECT that joins ``entities`` (which carries a ``__mlake_row`` column) with every group."""
    t = quote_ident(entity_time)
    ctes = [
        f"__e AS (SELECT *, epoch_us(CAST({t} AS TIMESTAMPTZ)) AS __pit_ts, "
        f"epoch_us(CAST({t} AS TIMESTAMPTZ))::HUGEINT * {_SHIFT} + {_LOW_MAX} AS __pit_e FROM {entities})"
    ]
    previous = "__e"
    outputs: list[str] = []
    for i, read in enumerate(reads):
        g = read.group
        et = quote_ident(g.event_time)
        cols = [f"{quote_ident(k)} AS __k{i}_{j}" for j, k in enumerate(g.key_names)]
        cols.append(f"epoch_us({et}) AS __et{i}")
        cols.append(f"epoch_us({et})::HUGEINT * {_SHIFT} + epoch_us({WRITE_TIME}) AS __pit_f{i}")
        cols += [f"{quote_ident(f)} AS __v{i}_{j}" for j, f in enumerate(read.features)]
        where = f" WHERE {WRITE_TIME} <= TIMESTAMPTZ {quote_literal(as_of.isoformat())}" if as_of is not None else ""
        ctes.append(f"__g{i} AS (SELECT {', '.join(cols)} FROM {read.source}{where})")
        on = " AND ".join(
            f"{previous}.{quote_ident(col)} = __g{i}.__k{i}_{j}" for j, col in enumerate(read.key_columns)
        )
        carried = ", ".join([f"__g{i}.__et{i}"] + [f"__g{i}.__v{i}_{j}" for j in range(len(read.features))])
        ctes.append(
            f"__j{i} AS (SELECT {previous}.*, {carried} FROM {previous} ASOF LEFT JOIN __g{i} "
            f"ON {on} AND {previous}.__pit_e >= __g{i}.__pit_f{i})"
        )
        previous = f"__j{i}"
        ttl = g.ttl_us
        for j, name in enumerate(read.output_names):
            value = f"__v{i}_{j}"
            if ttl is not None:
                value = f"CASE WHEN __pit_ts - __et{i} <= {ttl} THEN {value} END"
            outputs.append(f"{value} AS {quote_ident(name)}")
        if read.event_time_output:
            outputs.append(f"make_timestamptz(__et{i}) AS {quote_ident(read.event_time_output)}")
    select = [quote_ident(c) for c in entity_columns if c != ROW] + outputs
    return f"WITH {', '.join(ctes)} SELECT {', '.join(select)} FROM {previous} ORDER BY {ROW}"
