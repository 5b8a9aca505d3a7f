"""The point-in-time join against a brute-force reference, on random data (hypothesis).

Feature rows come in "writes" (each with its own write time, as the offline store stores them), with
duplicate event times within and across writes, values at exactly the TTL edge, writes that arrive
late (an early event time written late), entity rows with null times, and an ``as_of`` that cuts
writes off. The join runs on DuckDB exactly as training sets run it; the reference loops in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlake.features.groups import WRITE_TIME, EntityKey, Feature, FeatureGroup
from mlake.features.pit import ROW, GroupRead, WriteTimes, point_in_time

BASE = datetime(2025, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _group(name: str, ttl_minutes: int | None) -> FeatureGroup:
    return FeatureGroup(
        name=name,
        entities=(EntityKey("k", "long"),),
        event_time="et",
        features=(Feature("v", "long"), Feature("x", "double")),
        ttl=None if ttl_minutes is None else ttl_minutes * MINUTE,
    )


writes_strategy = st.lists(  # each write: rows of (key, event minute, nullable x)
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 30), st.one_of(st.none(), st.floats(-5, 5, allow_nan=False))),
        min_size=0,
        max_size=12,
    ),
    min_size=0,
    max_size=5,
)
entities_strategy = st.lists(
    st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(-2, 34))), min_size=0, max_size=25
)


def _feature_rows(writes: list[list[tuple[int, int, float | None]]]) -> list[dict[str, Any]]:
    """Rows as the offline store holds them: per write, the last row per (key, event time) survives."""
    rows: list[dict[str, Any]] = []
    next_id = 0
    for w, write in enumerate(writes):
        kept: dict[tuple[int, int], dict[str, Any]] = {}
        for key, minute, x in write:
            kept[(key, minute)] = {"k": key, "et": BASE + minute * MINUTE, "v": next_id, "x": x}
            next_id += 1
        write_time = BASE + timedelta(days=1) + w * MINUTE
        for row in kept.values():
            rows.append({**row, WRITE_TIME: write_time})
    return rows


def _reference(
    features: list[dict[str, Any]], key: int, t: datetime | None, ttl: timedelta | None, as_of: datetime | None
) -> dict[str, Any] | None:
    if t is None:
        return None
    candidates = [r for r in features if r["k"] == key and r["et"] <= t and (as_of is None or r[WRITE_TIME] <= as_of)]
    if not candidates:
        return None
    best = max(candidates, key=lambda r: (r["et"], r[WRITE_TIME]))
    if ttl is not None and t - best["et"] > ttl:
        return None
    return best


def _us(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _metadata(rows: list[dict[str, Any]], pad: bool) -> WriteTimes:
    """What the Iceberg statistics would say about ``rows``; ``pad``: a superset (a write time no row has,
    a wider event-time range), as statistics of files whose rows were deleted say."""
    writes = {_us(r[WRITE_TIME]) for r in rows} | ({_us(BASE)} if pad else set())
    times = [_us(r["et"]) for r in rows]
    if not times:
        return WriteTimes(tuple(sorted(writes)))
    lo, hi = min(times) - (3_600_000_000 if pad else 0), max(times) + (3_600_000_000 if pad else 0)
    return WriteTimes(tuple(sorted(writes)), (lo, hi))


def _run(
    con: duckdb.DuckDBPyConnection,
    groups: list[tuple[FeatureGroup, list[dict[str, Any]]]],
    entities: list[tuple[int, int | None]],
    as_of: datetime | None,
    known: str = "nothing",
) -> list[dict[str, Any]]:
    """The join as training sets run it; ``known``: what the metadata tells (``nothing``: the 128-bit
    key; ``exact`` or ``padded`` statistics: the 64-bit keys)."""
    schema = pa.schema(
        [
            ("k", pa.int64()),
            ("et", pa.timestamp("us", tz="UTC")),
            ("v", pa.int64()),
            ("x", pa.float64()),
            (WRITE_TIME, pa.timestamp("us", tz="UTC")),
        ]
    )
    reads = []
    for i, (group, rows) in enumerate(groups):
        con.register(f"g{i}", pa.Table.from_pylist(rows, schema=schema))
        meta = None if known == "nothing" else _metadata(rows, known == "padded")
        reads.append(GroupRead(group, f"g{i}", ("v", "x"), (f"v{i}", f"x{i}"), ("k",), f"et{i}", meta))
    ent = pa.table(
        {
            "k": pa.array([k for k, _ in entities], pa.int64()),
            "t": pa.array(
                [None if m is None else BASE + m * MINUTE for _, m in entities], pa.timestamp("us", tz="UTC")
            ),
            ROW: pa.array(range(len(entities)), pa.int64()),
        }
    )
    relation, _, _ = point_in_time(con, ent, "t", reads, as_of)
    return relation.to_arrow_table().to_pylist()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    writes_a=writes_strategy,
    writes_b=writes_strategy,
    entities=entities_strategy,
    ttl_a=st.one_of(st.none(), st.integers(0, 10)),
    ttl_b=st.one_of(st.none(), st.integers(0, 10)),
    as_of_write=st.one_of(st.none(), st.integers(-1, 5)),
    single=st.booleans(),
    known=st.sampled_from(["nothing", "exact", "padded"]),
)
def test_training_set_equals_brute_force(
    writes_a: list[list[tuple[int, int, float | None]]],
    writes_b: list[list[tuple[int, int, float | None]]],
    entities: list[tuple[int, int | None]],
    ttl_a: int | None,
    ttl_b: int | None,
    as_of_write: int | None,
    single: bool,
    known: str,
) -> None:
    feats_a, feats_b = _feature_rows(writes_a), _feature_rows(writes_b)
    group_a, group_b = _group("a", ttl_a), _group("b", ttl_b)
    # as_of at (or half a minute after) a write time: exactly on a write time must include that write.
    as_of = None if as_of_write is None else BASE + timedelta(days=1) + as_of_write * MINUTE
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    groups = [(group_a, feats_a)] if single else [(group_a, feats_a), (group_b, feats_b)]
    result = _run(con, groups, entities, as_of, known)

    assert len(result) == len(entities), "every entity row is kept"
    for row, (key, minute) in zip(result, entities, strict=True):
        t = None if minute is None else BASE + minute * MINUTE
        assert row["k"] == key and row["t"] == t, "entity rows keep their order and values"
        for i, (group, feats) in enumerate(groups):
            expected = _reference(feats, key, t, group.ttl, as_of)
            assert row[f"v{i}"] == (expected["v"] if expected else None)
            assert row[f"x{i}"] == (expected["x"] if expected else None)
            if row[f"v{i}"] is not None:  # no value from the future, nothing written after as_of
                source = next(r for r in feats if r["v"] == row[f"v{i}"])
                assert t is not None and source["et"] <= t
                assert as_of is None or source[WRITE_TIME] <= as_of
                assert group.ttl is None or t - source["et"] <= group.ttl


@pytest.mark.parametrize("known", ["nothing", "exact", "padded"])
def test_ties_latest_write_wins_and_ttl_edge_is_inclusive(known: str) -> None:
    group = _group("a", 5)
    rows = [
        {"k": 1, "et": BASE, "v": 1, "x": 1.0, WRITE_TIME: BASE + timedelta(days=1)},
        {"k": 1, "et": BASE, "v": 2, "x": 2.0, WRITE_TIME: BASE + timedelta(days=2)},  # correction of v=1
    ]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    out = _run(con, [(group, rows)], [(1, 0), (1, 5), (1, 6), (1, -1), (1, 10_000)], None, known)
    # same event time: later write wins; t - et == ttl still valid; before the first row: nothing; long
    # after the last event time (beyond the statistics' range): matched, then expired by the TTL
    assert [r["v0"] for r in out] == [2, 2, None, None, None]
    assert [r["et0"] for r in out] == [BASE, BASE, BASE, None, BASE]
    out = _run(con, [(group, rows)], [(1, 0)], BASE + timedelta(days=1, hours=12), known)
    assert [r["v0"] for r in out] == [1]  # as of before the correction, the first value was known


def test_entity_rows_come_back_in_row_number_order() -> None:
    """Entity rows given in any order come back ordered by their row numbers, with their own values."""
    group = _group("a", None)
    rows = [{"k": k, "et": BASE, "v": k, "x": None, WRITE_TIME: BASE + timedelta(days=1)} for k in range(3)]
    con = duckdb.connect()
    con.register("g0", pa.Table.from_pylist(rows))
    ent = pa.table(
        {"k": pa.array([2, 0, 1], pa.int64()), "t": pa.array([BASE] * 3, pa.timestamp("us", tz="UTC")), ROW: [7, 3, 5]}
    )
    read = GroupRead(group, "g0", ("v",), ("v",), ("k",), write_times=WriteTimes((_us(BASE + timedelta(days=1)),)))
    relation, _, _ = point_in_time(con, ent, "t", [read])
    assert relation.columns == ["k", "t", "v"]
    assert relation.to_arrow_table().to_pydict()["k"] == [0, 1, 2] == relation.to_arrow_table().to_pydict()["v"]
