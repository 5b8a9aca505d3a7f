"""``mlake.connect(url).features``: the feature store's API against a server, as admin and as analyst."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.governed_features import NOW, add_feature_groups
from tests.governed_lake import Governed

import mlake
from mlake.client import RemoteLake
from mlake.errors import AlreadyExistsError, ConfigError, NotFoundError, PermissionDeniedError


@pytest.fixture
def app(governed: Governed) -> FastAPI:
    from mlake.server.app import create_app
    from mlake.server.settings import ServerSettings

    add_feature_groups(governed.lake)
    return create_app(governed.lake, ServerSettings(auth=True, statement_timeout=5))


@pytest.fixture
def clients(app: FastAPI, governed: Governed) -> Iterator[dict[str, RemoteLake]]:
    with TestClient(app, base_url="http://studio.test") as admin, TestClient(app, base_url="http://studio.test") as bob:
        yield {
            "admin": mlake.connect("http://studio.test", token=governed.admin_token, client=admin),
            "bob": mlake.connect("http://studio.test", token=governed.analyst_token, client=bob),
        }


def test_discovery_and_online_reads(clients: dict[str, RemoteLake], governed: Governed) -> None:
    bob = clients["bob"].features
    assert [g.name for g in bob.groups()] == ["customer_profile", "order_stats"]
    profile = bob.group("customer_profile")
    assert profile == governed.lake.features.group("customer_profile")  # the same definition, rebuilt
    assert profile.ttl == timedelta(days=30) and profile.feature("age").description == "Age in years"
    assert [(h.group, h.feature) for h in bob.search("spend")] == [("customer_profile", "spend")]
    assert (bob.describe("customer_profile").statistics or {})["rows"] == 4  # filtered to DE
    online = bob.get_online_features(
        [{"customer_id": 1}, {"customer_id": 2}], ["customer_profile:age", "order_stats:*"]
    )
    assert online.values == [{"age": 30, "orders": 1}, {"age": None, "orders": 1}]
    assert online.statuses[1] == {"age": "missing", "orders": "present"}
    assert online.event_times[0]["customer_profile"] is not None
    assert online.to_pandas()["age"].tolist()[0] == 30
    with pytest.raises(NotFoundError):
        bob.get_online_features({"customer_id": 1}, ["nope:x"])


def test_training_sets_from_a_frame_and_a_table(
    clients: dict[str, RemoteLake], governed: Governed, tmp_path: Path
) -> None:
    bob = clients["bob"].features
    frame = pd.DataFrame({"customer_id": [1, 2, 3, 6], "at": [NOW] * 4})
    ts = bob.training_set(frame, ["customer_profile:*"], entity_time="at", name="remote-set")
    assert len(ts) == 4 and ts.columns == ["customer_id", "at", "age", "country", "spend"]
    local = governed.lake.as_principal("bob").features.load_training_set(ts.id or "").to_arrow()
    assert ts.to_arrow().equals(local)  # the same rows, masks and filter as in process
    assert ts.to_pandas()["age"].tolist()[:3] == [30, 40, 30]
    assert ts.to_polars().height == 4
    assert ts.to_parquet(tmp_path / "ts.parquet") == 4 and pq.read_table(tmp_path / "ts.parquet").equals(local)
    again = bob.load_training_set("remote-set")
    assert again.id == ts.id and again.snapshots == ts.snapshots
    assert [t.id for t in bob.training_sets("customer_profile")] == [ts.id]
    governed.lake.create_table("shop.labels", pa.table({"customer_id": [1, 5], "as_of": [NOW, NOW]}))
    governed.lake.governance.grant("bob", "select", "shop.labels")
    from_table = bob.training_set("shop.labels", ["order_stats:orders"], save=False)
    assert len(from_table) == 2 and from_table.id is None
    with pytest.raises(PermissionDeniedError):
        bob.training_set("SELECT 1 AS customer_id, now() AS at FROM vault.secrets", ["order_stats:orders"])


@pytest.mark.slow
def test_a_training_set_on_ray_over_rest(clients: dict[str, RemoteLake], governed: Governed) -> None:
    """``engine="ray"`` reaches the server, which joins on Ray through bob's views: the same rows as in
    process; an unknown engine is refused with the engines there are."""
    pytest.importorskip("ray")
    bob = clients["bob"].features
    frame = pd.DataFrame({"customer_id": [6, 1, 2, 3, 99], "at": [NOW] * 5})
    ts = bob.training_set(frame, ["customer_profile:*", "order_stats:*"], entity_time="at", engine="ray")
    assert ts.spec["features"] and len(ts) == 5
    local = governed.lake.as_principal("bob").features.training_set(
        frame, ["customer_profile:*", "order_stats:*"], entity_time="at", save=False
    )
    assert ts.to_arrow().equals(local.to_arrow())  # masks and the row filter apply on Ray too
    with pytest.raises(ConfigError, match="ray"):
        bob.training_set(frame, ["customer_profile:*"], entity_time="at", engine="spark")


def test_changes(clients: dict[str, RemoteLake]) -> None:
    admin, bob = clients["admin"].features, clients["bob"].features
    spec = {"entities": {"customer_id": "long"}, "event_time": "ts", "features": {"visits": ("long", "Visits")}}
    with pytest.raises(PermissionDeniedError):
        bob.create_group("visits", **spec)
    rows = pd.DataFrame({"customer_id": [1, 2], "ts": [NOW, NOW], "visits": [3, 4]})
    group = admin.create_group("visits", **spec, data=rows, ttl=timedelta(days=2), tags={"pii": "false"})
    assert group.ttl == timedelta(days=2)
    with pytest.raises(AlreadyExistsError):
        admin.create_group("visits", **spec)
    assert bob.get_online_features({"customer_id": 2}, "visits:visits").values == [{"visits": 4}]
    written = admin.write("visits", "SELECT customer_id, now() AS ts, 9 AS visits FROM shop.orders", online=False)
    assert written.rows_written == 4 and written.online_entities is None
    report = admin.materialize("visits")
    assert report.entities_written == 4 and report.incremental
    assert [f.name for f in admin.add_features("visits", {"pages": "long"}).features] == ["visits", "pages"]
    assert admin.update_group("visits", ttl=None, description="Visits").ttl is None
    admin.drop_group("visits")
    assert [g.name for g in admin.groups()] == ["customer_profile", "order_stats"]


def test_the_local_signatures_work_remotely(clients: dict[str, RemoteLake], governed: Governed) -> None:
    """Types taken from the data, tags as a list, materialize_all, skew, online reads at a given time,
    training sets listed as objects, dropping with purge: as the local feature store does them."""
    admin, bob = clients["admin"].features, clients["bob"].features
    rows = pa.table({"customer_id": [1, 2], "ts": [NOW, NOW], "visits": [3, 4], "pages": [1.5, 2.5]})
    group = admin.create_group("visits", entities=["customer_id"], event_time="ts", data=rows, tags=["web"], ttl="1d")
    local = governed.lake.features.group("visits")
    assert group == local and [f.name for f in group.features] == ["visits", "pages"]
    assert {f.name: f.dtype for f in group.features} == {"visits": "long", "pages": "double"}
    assert group.tags == {"web": ""}
    governed.lake.create_table("web.clicks", rows)  # types read from a table or a query on the server
    for source in ("web.clicks", "SELECT * FROM web.clicks"):
        with pytest.raises(mlake.MlakeError, match="'nope' is not known"):
            admin.create_group(
                "more", entities="customer_id", event_time="ts", features=["visits", "nope"], data=source
            )
    with pytest.raises(mlake.MlakeError, match="customer_id"):
        admin.create_group("nothing", entities=["customer_id"], event_time="ts", features={"x": "long"})

    reports = admin.materialize_all()
    assert "visits" in {r.group for r in reports}
    skew = admin.skew("visits", now=NOW + timedelta(hours=1))
    assert skew.group == "visits" and skew.values_compared and not skew.mismatches
    later = admin.get_online_features({"customer_id": 1}, "visits:visits", now=NOW + timedelta(days=2))
    assert later.statuses == [{"visits": "expired"}]  # judged at the time asked, past the one-day TTL
    with pytest.raises(PermissionDeniedError):
        bob.materialize("visits")

    admin.training_set(pa.table({"customer_id": [1], "at": [NOW]}), ["visits:visits"], name="v")
    (listed,) = admin.training_sets("visits")
    assert listed.name == "v" and listed.version == 1 and len(listed) == 1 and listed.columns[-1] == "visits"
    assert [b.num_rows for b in listed.batches(1)] == [1]
    admin.drop_group("visits", purge=True)
    assert not governed.lake.table_exists("features.visits")


def test_on_demand_group_from_a_recipe(clients: dict[str, RemoteLake], governed: Governed) -> None:
    """A recipe-defined group created over REST serves, for request-time values, what its offline rows hold."""
    lake = governed.lake
    steps = [
        {"op": "derive", "name": "at", "expression": "TIMESTAMPTZ '2026-01-01 00:00:00+00'"},
        {"op": "standard_scale", "columns": ["amount"]},
    ]
    lake.recipes.create({"name": "order_amounts", "source": "shop.orders", "steps": steps})
    lake.recipes.run("order_amounts", "shop.order_amounts")  # fits it
    with pytest.raises(PermissionDeniedError):  # the analyst may not define groups
        clients["bob"].features.create_group("amounts", entities=["order_id"], event_time="at", recipe="order_amounts")
    admin = clients["admin"].features
    group = admin.create_group("amounts", entities=["order_id"], event_time="at", recipe="order_amounts")
    assert group.tags["recipe"] == "order_amounts@v1"
    offline = {r["order_id"]: r["amount"] for r in lake.sql("SELECT * FROM features.amounts").to_arrow().to_pylist()}
    online = admin.get_online_features(
        [{"order_id": 11}, {"order_id": 12}], ["amounts:amount"], request=[{"amount": 35.5}, {"amount": 12.25}]
    )
    assert [v["amount"] for v in online.values] == pytest.approx([offline[11], offline[12]])


def test_sync_online_over_rest(clients: dict[str, RemoteLake], governed: Governed) -> None:
    from mlake.errors import PermissionDeniedError
    from mlake.features.materialize import MaterializeReport

    report = clients["admin"].features.sync_online("customer_profile")
    assert isinstance(report, MaterializeReport) and report.group == "customer_profile"
    assert report.rows_read == 0  # nothing was appended offline since the last materialization
    with pytest.raises(PermissionDeniedError):
        clients["bob"].features.sync_online("customer_profile")  # an analyst may read, not insert
