"""The feature store's read paths obey grants, column masks and row filters, and are audited.

Paths: training sets (built, saved, loaded, exported), online reads, describe/statistics/charts,
listing and search. The offline store of a group is the lake table ``features.<group>``; the rules
are in :mod:`mlake.features.store`. REST and Studio are tested in tests/server/test_features_*.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from tests.governed_features import DE_VISIBLE, NOW, add_feature_groups
from tests.governed_lake import Governed, build_governed_lake

from mlake.errors import PermissionDeniedError, ValidationError
from mlake.features.store import FeatureStore

ENTITIES = pa.table({"customer_id": [1, 2, 3, 4, 5, 6, 99], "at": [NOW] * 7})


@pytest.fixture(scope="module")
def features_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    """One lake with feature groups for the tests that only read (and undo what they change)."""
    g = build_governed_lake(tmp_path_factory.mktemp("features") / "lake")
    add_feature_groups(g.lake)
    try:
        yield g
    finally:
        g.lake.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Governed]:
    g = build_governed_lake(tmp_path / "lake")
    add_feature_groups(g.lake)
    try:
        yield g
    finally:
        g.lake.close()


def test_a_principal_uses_the_one_store_sharing_the_online_store(features_lake: Governed) -> None:
    bob = features_lake.lake.as_principal("bob")
    assert type(bob.features) is FeatureStore and bob.features._lake.access.governed
    assert bob.features.online_store is features_lake.lake.features.online_store  # opened once per lake
    assert bob.features is bob.features
    with pytest.raises(PermissionDeniedError):
        bob.features.use_online_store("sqlite:///elsewhere.db")


def test_training_set_path(features_lake: Governed) -> None:
    lake = features_lake.lake
    bob = lake.as_principal("bob")
    rows = bob.features.training_set(ENTITIES, ["customer_profile:*"], save=False).to_arrow().to_pylist()
    by_id = {r["customer_id"]: r for r in rows}
    assert [r["customer_id"] for r in rows] == [1, 2, 3, 4, 5, 6, 99]  # every entity row, in order
    assert by_id[1]["age"] == 30 and by_id[5]["age"] == 40  # mask: round(age, -1)
    assert by_id[1]["spend"] == 10.5 and by_id[1]["country"] == "DE"
    # The row filter hides FR/NL rows: 4 and 6 get nothing; 2 gets its latest *visible* row (DE, 10 days ago).
    assert by_id[4]["age"] is None and by_id[6]["spend"] is None
    assert by_id[2]["country"] == "DE" and by_id[2]["spend"] == 5.0
    unrestricted = lake.features.training_set(ENTITIES, ["customer_profile:*"], save=False).to_arrow().to_pylist()
    assert unrestricted[0]["age"] == 31 and unrestricted[1]["country"] == "FR"
    alice = lake.as_principal("alice")
    with pytest.raises(PermissionDeniedError, match="features.customer_profile"):
        alice.features.training_set(ENTITIES, ["customer_profile:age"], save=False)
    with pytest.raises(PermissionDeniedError):  # the entity rows are read as the principal too
        bob.features.training_set("SELECT k AS customer_id, now() AS at FROM vault.secrets", ["order_stats:*"])
    events = lake.governance.audit_events(action="features.training_set")
    assert {(e.principal, e.outcome) for e in events} >= {("bob", "ok"), ("alice", "denied"), ("bob", "denied")}
    assert any("features.customer_profile" in e.tables for e in events if e.principal == "alice")


def test_saved_training_sets_are_the_principals_own(fresh: Governed) -> None:
    lake = fresh.lake
    bob = lake.as_principal("bob")
    ts = bob.features.training_set(ENTITIES, ["customer_profile:age", "order_stats:orders"], name="bob-set")
    copy = ts.entities["table"]
    assert copy.startswith("training_sets.") and lake.table(copy).describe().owner == "bob"
    assert lake.lineage_store.writes(copy, limit=1)[0].actor == "bob"  # bob appended its rows
    first = ts.to_arrow()
    lake.features.write("customer_profile", pa.table({"customer_id": [1], "ts": [NOW], "age": [99]}))
    again = lake.as_principal("bob").features.load_training_set("bob-set").to_arrow()
    assert again.equals(first)  # rebuilt from the same snapshots, through the same mask
    assert [t.id for t in lake.as_principal("bob").features.training_sets()] == [ts.id]
    alice = lake.as_principal("alice")
    assert alice.features.training_sets() == []  # alice could not load it: not listed
    with pytest.raises(PermissionDeniedError):
        alice.features.load_training_set(ts.id)
    lake.governance.grant("alice", "select", "features")  # the features, but not bob's entity rows
    with pytest.raises(PermissionDeniedError, match=copy):
        lake.as_principal("alice").features.load_training_set(ts.id)
    assert lake.features.load_training_set(ts.id).to_arrow().num_rows == 7  # superusers may
    loads = lake.governance.audit_events(action="features.training_set.load")
    assert {(e.principal, e.outcome) for e in loads} >= {("bob", "ok"), ("alice", "denied")}


def test_training_set_results_are_bounded_like_sql(fresh: Governed) -> None:
    from mlake.governance.sandbox import QueryLimitError, SandboxLimits

    lake = fresh.lake
    ts = lake.as_principal("bob").features.training_set(ENTITIES, ["order_stats:*"], save=False)
    lake.governance.limits = SandboxLimits(max_result_rows=3, max_export_rows=5)
    with pytest.raises(QueryLimitError):
        ts.to_arrow()
    with pytest.raises(QueryLimitError):
        list(ts.batches(2))


def test_column_grants_limit_training_sets_and_online_reads(fresh: Governed) -> None:
    lake = fresh.lake
    gov = lake.governance
    for column in ("customer_id", "ts", "write_time", "orders"):
        gov.grant("alice", "select", f"features.order_stats.{column}")
    alice = lake.as_principal("alice")
    assert alice.features.training_set(ENTITIES, ["order_stats:orders"], save=False).to_arrow().num_rows == 7
    lake.features.add_features("order_stats", {"returns": ("long", "Returned orders")})
    alice = lake.as_principal("alice")
    with pytest.raises(PermissionDeniedError, match="returns"):
        alice.features.training_set(ENTITIES, ["order_stats:*"], save=False)
    with pytest.raises(PermissionDeniedError, match="returns"):
        alice.features.get_online_features({"customer_id": 1}, ["order_stats:returns"])
    online = alice.features.get_online_features({"customer_id": 1}, ["order_stats:orders"])
    assert online.values == [{"orders": 1}]
    assert online.statuses == [{"orders": "present"}]
    stats = alice.features.describe("order_stats", distributions=True)  # over the granted columns only
    assert stats.statistics is not None and stats.distributions is not None
    assert stats.statistics["features"].keys() == {"orders"} and stats.distributions.keys() == {"ts", "orders"}


def test_online_read_path(features_lake: Governed) -> None:
    lake = features_lake.lake
    entities = [{"customer_id": i} for i in (1, 2, 3, 4, 5, 99)]
    bob = lake.as_principal("bob").features.get_online_features(entities, ["customer_profile:*", "order_stats:*"])
    assert bob.features == ["age", "country", "spend", "orders"]
    statuses = [s["age"] for s in bob.statuses]
    assert statuses == ["present", "missing", "present", "missing", "present", "missing"]  # 2 and 4: filtered
    assert {e["customer_id"] for e, s in zip(entities, statuses, strict=True) if s == "present"} == DE_VISIBLE
    assert [v["age"] for v in bob.values] == [30, None, 30, None, 40, None]  # masked
    assert bob.values[0] == {"age": 30, "country": "DE", "spend": 10.5, "orders": 1}
    assert bob.values[1]["orders"] == 1 and bob.statuses[1]["orders"] == "present"  # another group, unfiltered
    assert bob.event_times[1]["customer_profile"] is None and bob.event_times[0]["customer_profile"] is not None
    owner = lake.features.get_online_features(entities, ["customer_profile:age"])
    assert [v["age"] for v in owner.values] == [31, 45, 27, 62, 38, None]
    with pytest.raises(PermissionDeniedError):
        lake.as_principal("alice").features.get_online_features(entities, ["order_stats:orders"])
    with pytest.raises(ValidationError, match="customer_id"):
        lake.as_principal("bob").features.get_online_features([{"id": 1}], ["customer_profile:age"])
    text_key = lake.as_principal("bob").features.get_online_features({"customer_id": "3"}, ["customer_profile:age"])
    assert text_key.values == [{"age": 30}]  # keys as text (from a URL or a form) work on the governed path
    events = lake.governance.audit_events(action="features.online")
    assert {(e.principal, e.outcome) for e in events} >= {("bob", "ok"), ("alice", "denied"), ("bob", "error")}
    ok = next(e for e in events if e.principal == "bob" and e.outcome == "ok" and "6 entities" in (e.detail or ""))
    assert ok.tables == ["features.customer_profile", "features.order_stats"] and "age, country" in (ok.detail or "")


def test_online_expiry_and_a_text_mask(fresh: Governed) -> None:
    lake = fresh.lake
    lake.governance.add_column_mask("features.customer_profile", "country", "analyst", "hash")
    bob = lake.as_principal("bob").features
    later = NOW + timedelta(days=31)  # past the 30-day TTL
    expired = bob.get_online_features({"customer_id": 1}, ["customer_profile:country"], now=later)
    assert expired.statuses == [{"country": "expired"}] and expired.values == [{"country": None}]
    hidden = bob.get_online_features({"customer_id": 4}, ["customer_profile:country"], now=later)
    assert hidden.statuses == [{"country": "missing"}]  # filtered out, expired or not
    now = bob.get_online_features({"customer_id": 1}, ["customer_profile:country"])
    assert now.values == [{"country": hashlib.md5(b"DE").hexdigest()}]
    offline = bob.training_set(ENTITIES.slice(0, 1), ["customer_profile:country"], save=False).to_arrow()
    assert offline.column("country").to_pylist() == [now.values[0]["country"]]  # the same mask as offline


def test_describe_listing_and_search(features_lake: Governed) -> None:
    lake = features_lake.lake
    bob = lake.as_principal("bob").features
    assert [g.name for g in bob.groups()] == ["customer_profile", "order_stats"]
    info = bob.describe("customer_profile", distributions=True).to_dict()
    stats = info["statistics"]
    assert stats["rows"] == 4 and stats["entities"] == 4  # DE rows only: 1, 3, 5 and customer 2's old row
    assert stats["features"]["age"]["min"] == 30 and stats["features"]["age"]["max"] == 40  # masked
    countries = info["distributions"]["country"]["values"]
    assert countries == [{"value": "DE", "count": 4}]
    assert info["privileges"] == ["select"]
    full = lake.features.describe("customer_profile", distributions=True).to_dict()
    assert full["statistics"]["rows"] == 7 and {v["value"] for v in full["distributions"]["country"]["values"]} == {
        "DE",
        "FR",
        "NL",
    }
    alice = lake.as_principal("alice").features
    assert alice.groups() == [] and alice.search("customer") == []
    with pytest.raises(PermissionDeniedError):
        alice.describe("order_stats")
    assert {h.group for h in bob.search("orders")} == {"order_stats"}
    assert [g.group for g in bob.search(tag="domain=crm")] == ["customer_profile"]


def test_changes_need_grants(fresh: Governed) -> None:
    lake = fresh.lake
    gov = lake.governance
    bob = lake.as_principal("bob").features
    rows = pa.table({"customer_id": [7], "ts": [NOW], "orders": [3]})
    with pytest.raises(PermissionDeniedError, match="INSERT"):
        bob.write("order_stats", rows)
    with pytest.raises(PermissionDeniedError, match="ALTER"):
        bob.materialize("order_stats")
    with pytest.raises(PermissionDeniedError, match="namespace features"):
        bob.create_group("mine", entities={"k": "long"}, event_time="ts", features={"x": "double"})
    assert not lake.features.registry.exists("mine")
    with pytest.raises(PermissionDeniedError):
        bob.drop_group("order_stats")
    with pytest.raises(PermissionDeniedError):
        bob.update_group("order_stats", description="mine")
    gov.grant("bob", "insert", "features.order_stats")
    bob = lake.as_principal("bob").features
    summary = bob.write("order_stats", rows)
    assert summary.rows_written == 1 and summary.online_entities == 1  # the online copy follows the write
    assert lake.lineage_store.writes("features.order_stats", limit=1)[0].actor == "bob"
    assert lake.features.get_online_features({"customer_id": 7}, ["order_stats:orders"]).values == [{"orders": 3}]
    gov.grant("bob", "alter", "features")
    bob = lake.as_principal("bob").features
    bob.create_group("mine", entities={"k": "long"}, event_time="ts", features={"x": "double"})
    assert lake.features.group("mine").created_by == "bob"
    assert bob.materialize("order_stats").up_to_date
    with pytest.raises(PermissionDeniedError, match="ADMIN"):  # changing the owner needs admin
        bob.update_group("order_stats", owner="bob")
    bob.drop_group("mine")
    actions = {(e.action, e.outcome) for e in gov.audit_events(principal="bob") if e.action.startswith("features.")}
    assert actions >= {
        ("features.write", "denied"),
        ("features.write", "ok"),
        ("features.materialize", "denied"),
        ("features.group.create", "denied"),
        ("features.group.create", "ok"),
        ("features.group.drop", "ok"),
    }


def test_skew_checks_need_unrestricted_access(features_lake: Governed) -> None:
    lake = features_lake.lake
    with pytest.raises(PermissionDeniedError, match="masked, filtered"):
        lake.as_principal("bob").features.skew("customer_profile")
    report = lake.as_principal("bob").features.skew("order_stats")
    assert report.values_compared == 4 and not report.mismatches
