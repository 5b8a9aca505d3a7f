"""Training sets on every engine: DuckDB in process, Ray's plan run serially with any number of buckets,
and a local Ray (2 CPUs) give exactly the same rows — values, nulls, types and order.

The partitioned path splits the entity rows and each group's rows by a hash of the entity key and runs
the in-process SQL per bucket (see :mod:`mlake.features.pit`). The property test varies the data and
the bucket count and checks that neither changes the result and that nothing leaks from the future or
past a TTL. The lake tests cover ties (later write wins), TTL expiry, several groups with different
keys (composite, string, negative integers given as int32), entities with no features, ``as_of``, naive
and zoned entity times — run this file under ``TZ=America/New_York`` as well — and access: a principal's
masks and row filters apply on Ray as in process, and one without grants gets nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlake
from mlake.engines.partitioned import SerialPartitionedCompute, Stage
from mlake.errors import ConfigError, PermissionDeniedError
from mlake.features.groups import WRITE_TIME, EntityKey, Feature, FeatureGroup
from mlake.features.pit import ROW, GroupRead, WriteTimes, point_in_time
from mlake.features.training import compute_rows
from mlake.lake import Lake
from tests.governed_features import NOW, add_feature_groups
from tests.governed_lake import build_governed_lake

BASE = datetime(2025, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
BUCKETS = (1, 2, 3, 7)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray with 2 CPUs for this module; ``engine="ray"`` uses it (and leaves it running)."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


# --- the join alone, on random data ------------------------------------------------------------------


def _group(name: str, ttl_minutes: int | None) -> FeatureGroup:
    return FeatureGroup(
        name=name,
        entities=(EntityKey("k", "long"),),
        event_time="et",
        features=(Feature("v", "long"), Feature("x", "double"), Feature("s", "string")),
        ttl=None if ttl_minutes is None else ttl_minutes * MINUTE,
    )


GROUP_SCHEMA = pa.schema(
    [
        ("k", pa.int64()),
        ("et", pa.timestamp("us", tz="UTC")),
        ("v", pa.int64()),
        ("x", pa.float64()),
        ("s", pa.string()),
        (WRITE_TIME, pa.timestamp("us", tz="UTC")),
    ]
)
writes_strategy = st.lists(  # each write: rows of (key, event minute, nullable x); negative keys hash apart
    st.lists(
        st.tuples(st.integers(-3, 3), st.integers(0, 30), st.one_of(st.none(), st.floats(-5, 5, allow_nan=False))),
        max_size=12,
    ),
    max_size=4,
)
entities_strategy = st.lists(st.tuples(st.integers(-4, 4), st.one_of(st.none(), st.integers(-2, 34))), max_size=25)


def _feature_rows(writes: list[list[tuple[int, int, float | None]]]) -> list[dict[str, Any]]:
    """Rows as the offline store holds them: per write, one row per (key, event time), the last given."""
    rows: list[dict[str, Any]] = []
    n = 0
    for w, write in enumerate(writes):
        kept: dict[tuple[int, int], dict[str, Any]] = {}
        for key, minute, x in write:
            kept[(key, minute)] = {"k": key, "et": BASE + minute * MINUTE, "v": n, "x": x, "s": f"r{n}"}
            n += 1
        rows += [{**r, WRITE_TIME: BASE + timedelta(days=1) + w * MINUTE} for r in kept.values()]
    return rows


def _join(
    groups: list[tuple[FeatureGroup, list[dict[str, Any]]]],
    entities: list[tuple[int, int | None]],
    as_of: datetime | None,
    compute: SerialPartitionedCompute | None,
    known: bool,
) -> pa.Table:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as the lake's sessions
    reads = []
    for i, (group, rows) in enumerate(groups):
        con.register(f"g{i}", pa.Table.from_pylist(rows, schema=GROUP_SCHEMA))
        meta = None
        if known:  # what the Iceberg statistics would say: the 64-bit ordering keys
            writes = tuple(sorted({int(r[WRITE_TIME].timestamp() * 1e6) for r in rows}))
            times = [int(r["et"].timestamp() * 1e6) for r in rows]
            meta = WriteTimes(writes, (min(times), max(times)) if times else None)
        reads.append(GroupRead(group, f"g{i}", ("v", "x", "s"), (f"v{i}", f"x{i}", f"s{i}"), ("k",), f"et{i}", meta))
    ent = pa.table(
        {
            "k": pa.array([k for k, _ in entities], pa.int32()),  # int32 entity key, long group key
            "t": pa.array([None if m is None else BASE + m * MINUTE for _, m in entities], pa.timestamp("us")),
            "label": pa.array([f"e{i}" for i in range(len(entities))]),
            ROW: pa.array(range(len(entities)), pa.int64()),
        }
    )
    relation, _, _ = point_in_time(con, ent, "t", reads, as_of, compute=compute)
    return relation.to_arrow_table()


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    writes_a=writes_strategy,
    writes_b=writes_strategy,
    entities=entities_strategy,
    ttl_a=st.one_of(st.none(), st.integers(0, 10)),
    ttl_b=st.one_of(st.none(), st.integers(0, 10)),
    as_of_write=st.one_of(st.none(), st.integers(-1, 4)),
    known=st.booleans(),
    buckets=st.sampled_from(BUCKETS),
)
def test_the_bucket_count_never_changes_the_rows_nor_leaks_the_future(
    writes_a: list[list[tuple[int, int, float | None]]],
    writes_b: list[list[tuple[int, int, float | None]]],
    entities: list[tuple[int, int | None]],
    ttl_a: int | None,
    ttl_b: int | None,
    as_of_write: int | None,
    known: bool,
    buckets: int,
) -> None:
    groups = [(_group("a", ttl_a), _feature_rows(writes_a)), (_group("b", ttl_b), _feature_rows(writes_b))]
    as_of = None if as_of_write is None else BASE + timedelta(days=1) + as_of_write * MINUTE
    reference = _join(groups, entities, as_of, None, known)
    got = _join(groups, entities, as_of, SerialPartitionedCompute(buckets), known)
    assert got.schema == reference.schema
    assert got.equals(reference), f"{buckets} bucket(s) changed the rows"
    for row in got.to_pylist():
        for i, (group, rows) in enumerate(groups):
            if row[f"v{i}"] is None:
                continue
            source = next(r for r in rows if r["v"] == row[f"v{i}"])
            t = row["t"].replace(tzinfo=UTC)
            assert source["k"] == row["k"] and source["et"] <= t, "a value from the future"
            assert group.ttl is None or t - source["et"] <= group.ttl, "a value past its TTL"
            assert as_of is None or source[WRITE_TIME] <= as_of, "a value written after as_of"


def test_a_stage_splits_tables_only_by_named_keys_of_the_same_arity() -> None:
    with pytest.raises(ValueError, match="named keys"):
        Stage("SELECT 1", keys=None, split=(("t", ("k",)),))
    with pytest.raises(ValueError, match="1 key"):
        Stage("SELECT 1", keys=("a", "b"), split=(("t", ("k",)),))


# --- training sets of a lake, on every engine ----------------------------------------------------------

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    lake = mlake.connect(tmp_path_factory.mktemp("shop") / "lake", threads=2, user="tester")
    f = lake.features
    f.create_group(
        "orders",
        entities={"customer_id": "long"},
        event_time="ts",
        features={"spend": "double", "n": "int"},
        ttl="5d",
        online=False,
    )
    f.create_group(
        "visits",  # a composite key, string part
        entities={"customer_id": "long", "shop": "string"},
        event_time="at",
        features={"views": "long", "last_page": "string", "day": "date"},
        online=False,
    )
    f.create_group("regions", entities={"region": "int"}, event_time="at", features={"rate": "double"}, online=False)
    customers = list(range(-20, 40))
    f.write(
        "orders",
        {
            "customer_id": [c for c in customers for _ in range(3)],
            "ts": [T0 + (d * 2 + (c % 3)) * DAY for c in customers for d in range(3)],
            "spend": [float(c * 10 + d) if (c + d) % 7 else None for c in customers for d in range(3)],
            "n": [c + d for c in customers for d in range(3)],
        },
    )
    # a correction with the same event times: the later write wins the tie
    f.write("orders", {"customer_id": customers[::4], "ts": [T0] * 15, "spend": [-1.0] * 15, "n": [0] * 15})
    f.write(
        "visits",
        {
            "customer_id": [c for c in customers for _ in ("a", "b")],
            "shop": [s for _ in customers for s in ("a", "b")],
            "at": [T0 + (c % 5) * DAY for c in customers for _ in ("a", "b")],
            "views": [c * 2 + (s == "b") for c in customers for s in ("a", "b")],
            "last_page": [f"/p/{c}/{s}" for c in customers for s in ("a", "b")],
            "day": [(T0 + (c % 5) * DAY).date() for c in customers for _ in ("a", "b")],
        },
    )
    f.write("regions", {"region": [-1, 0, 1], "at": [T0, T0, T0 + 3 * DAY], "rate": [0.5, 1.5, 2.5]})
    yield lake
    lake.close()


def _entities(zone: timezone | None) -> pa.Table:
    """Entity rows in a scrambled order, customers with and without features (99, 100), every TTL state."""
    rows = [(c, (c * 7) % 11, ("a", "b", "z")[c % 3]) for c in [*range(-22, 42, 1), 99, 100, -20, 5, 5]]
    times = [T0 + h * 13 * timedelta(hours=1) for _, h, _ in rows]
    if zone is None:  # naive: read as UTC whatever TZ the process runs in
        when = pa.array([t.replace(tzinfo=None) for t in times], pa.timestamp("us"))
    else:
        when = pa.array([t.astimezone(zone) for t in times], pa.timestamp("us", tz=str(zone)))
    return pa.table(
        {
            "customer_id": pa.array([c for c, _, _ in rows], pa.int32()),
            "shop": [s for _, _, s in rows],
            "region": pa.array([c % 3 - 1 for c, _, _ in rows], pa.int64()),
            "when": when,
        }
    ).take(pa.array([(i * 17) % len(rows) for i in range(len(rows))]))


FEATURES = ["orders:*", "visits:views", "visits:last_page", "visits:day", "regions:rate"]
ZONES = [None, UTC, timezone(timedelta(hours=-5), "UTC-05:00")]


def _reference(lake: Lake, entities: pa.Table, **options: Any) -> pa.Table:
    return lake.features.training_set(entities, FEATURES, save=False, **options).to_arrow()


@pytest.mark.parametrize("zone", ZONES, ids=["naive", "utc", "minus5"])
@pytest.mark.parametrize("buckets", BUCKETS)
def test_serial_buckets_equal_duckdb(shop: Lake, zone: timezone | None, buckets: int) -> None:
    entities = _entities(zone)
    reference = _reference(shop, entities)
    ts = shop.features.training_set(entities, FEATURES, save=False)
    got = compute_rows(ts, SerialPartitionedCompute(buckets)).to_arrow()
    assert got.schema == reference.schema and got.equals(reference)
    assert reference.num_rows == entities.num_rows
    assert reference.column("customer_id").equals(entities.column("customer_id"))  # the entity order
    rows = reference.to_pylist()
    assert any(r["spend"] == -1.0 for r in rows), "the correction (later write) wins some ties"
    assert any(r["n"] is None and r["customer_id"] in range(-20, 40) for r in rows), "some values expired (TTL)"
    assert all(r["views"] is None and r["spend"] is None for r in rows if r["customer_id"] in (99, 100))


@pytest.mark.slow
@pytest.mark.parametrize("zone", ZONES, ids=["naive", "utc", "minus5"])
def test_ray_equals_duckdb(shop: Lake, ray_cluster: None, zone: timezone | None) -> None:
    entities = _entities(zone)
    first_write = datetime.fromtimestamp(shop.table("features.orders").iceberg.snapshots()[0].timestamp_ms / 1000, UTC)
    for as_of in (None, first_write):  # as of the first write of orders, the correction is not known yet
        reference = _reference(shop, entities, as_of=as_of)
        got = shop.features.training_set(entities, FEATURES, save=False, engine="ray", as_of=as_of).to_arrow()
        assert got.schema == reference.schema and got.equals(reference)
        assert (-1.0 in got.column("spend").to_pylist()) == (as_of is None)


@pytest.mark.slow
def test_a_saved_set_rebuilds_on_its_engine(shop: Lake, ray_cluster: None) -> None:
    entities = _entities(UTC)
    ts = shop.features.training_set(entities, FEATURES, name="on-ray", engine="ray")
    assert ts.spec["engine"] == "ray"
    again = shop.features.load_training_set("on-ray")
    assert again.spec["engine"] == "ray"
    assert again.to_arrow().equals(_reference(shop, entities))
    assert "engine" not in shop.features.training_set(entities, FEATURES, save=False).spec


def test_an_unknown_engine_is_refused_before_anything_is_read(shop: Lake) -> None:
    with pytest.raises(ConfigError, match="Unknown compute 'spark'"):
        shop.features.training_set(_entities(UTC), FEATURES, save=False, engine="spark")


@pytest.mark.slow
def test_access_rules_apply_on_ray(tmp_path: Path, ray_cluster: None) -> None:
    g = build_governed_lake(tmp_path / "lake")
    add_feature_groups(g.lake)
    try:
        entities = pa.table({"customer_id": [1, 2, 3, 4, 5, 6, 99], "at": [NOW] * 7})
        bob = g.lake.as_principal("bob")
        on_duckdb = bob.features.training_set(entities, ["customer_profile:*"], save=False).to_arrow()
        on_ray = bob.features.training_set(entities, ["customer_profile:*"], save=False, engine="ray").to_arrow()
        assert on_ray.equals(on_duckdb)
        by_id = {r["customer_id"]: r for r in on_ray.to_pylist()}
        assert by_id[1]["age"] == 30 and by_id[4]["age"] is None  # masked; hidden by the row filter
        assert by_id[2]["country"] == "DE"  # the latest *visible* row
        with pytest.raises(PermissionDeniedError):
            g.lake.as_principal("alice").features.training_set(
                entities, ["customer_profile:age"], save=False, engine="ray"
            )
    finally:
        g.lake.close()
