"""The table and lake methods the remote client gained for parity, over the real app (HTTP through httpx's
ASGI transport and a TestClient): each does what the local method does, with the local return types, and
a principal without the grant is refused by the server's choke points."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pyiceberg.schema import Schema
from tests.governed_lake import Governed

import mlake
from mlake.api import FeatureStoreAPI, GovernanceAPI, LakeAPI, QualityAPI, ResultAPI, SuiteStoreAPI, TableAPI
from mlake.client import RemoteLake
from mlake.errors import AlreadyExistsError, MlakeError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.maintenance import MaintenanceReport
from mlake.tables.lineage import LineageInput, WriteRecord
from mlake.tables.table import Page


@pytest.fixture
def clients(app: FastAPI, governed: Governed) -> Iterator[dict[str, RemoteLake]]:
    with TestClient(app, base_url="http://studio.test") as http:
        tokens = {"admin": governed.admin_token, "bob": governed.analyst_token, "alice": governed.outsider_token}
        out = {}
        for who, token in tokens.items():
            client = TestClient(app, base_url="http://studio.test")
            out[who] = mlake.connect("http://studio.test", token=token, client=client)
        yield out
        for c in out.values():
            c.close()
        http.close()


def test_the_remote_objects_are_the_protocols(clients: dict[str, RemoteLake], governed: Governed) -> None:
    remote = clients["admin"]
    for lake in (remote, governed.lake):
        assert isinstance(lake, LakeAPI)
        assert isinstance(lake.table("shop.orders"), TableAPI)
        assert isinstance(lake.sql("SELECT 1"), ResultAPI)
        assert isinstance(lake.features, FeatureStoreAPI)
        assert isinstance(lake.quality, QualityAPI) and isinstance(lake.quality.suites, SuiteStoreAPI)
        assert isinstance(lake.governance, GovernanceAPI)
        assert lake.me().principal.name in {"root", "owner"}


def test_writes_return_write_records_as_locally(clients: dict[str, RemoteLake], governed: Governed) -> None:
    remote = clients["admin"]
    schema = pa.schema([("id", pa.int64()), ("day", pa.date32()), ("amount", pa.float64())])
    made = remote.create_table("sales.daily", schema=schema, partition_by=["day"], tags=["gold"], description="d")
    local = governed.lake.table("sales.daily")
    assert made.count() == 0 and made.tags == {"gold": ""} and local.describe().partitioning
    with pytest.raises(AlreadyExistsError):
        remote.create_table("sales.daily", schema=schema)
    remote.create_table("sales.daily", schema=schema, exist_ok=True)

    rows = pa.table(
        {"id": [1, 2, 3], "day": pa.array([datetime(2026, 1, d).date() for d in (1, 1, 2)]), "amount": [1.0, 2.0, 3.0]}
    )
    write = made.append(rows, command="seed", inputs=[LineageInput("file", "seed.csv", "3 rows")])
    assert isinstance(write, WriteRecord) and write.rows_written == 3 and write.command == "seed"
    assert write.snapshot_id == local.history()[-1].snapshot_id and write.actor == "root"
    assert [i.ref for i in write.inputs] == ["seed.csv"]

    up = made.upsert(pa.table({"id": [3, 4], "day": rows.column("day").take([2, 2]), "amount": [30.0, 4.0]}), ["id"])
    assert up.operation == "upsert" and up.rows_written == 2
    gone = made.delete("amount < 2")
    assert gone.operation == "delete" and gone.rows_written == 1
    replaced = made.overwrite(pa.table({"id": [9], "day": rows.column("day").take([0]), "amount": [9.0]}), "id = 2")
    assert replaced.operation == "overwrite"
    assert sorted(made.to_arrow().column("id").to_pylist()) == [3, 4, 9]
    assert made.to_arrow(order_by="id").equals(local.to_arrow(order_by="id"))
    assert [w.write_id for w in remote.recent_writes(3)] == [w.write_id for w in governed.lake.recent_writes(3)]

    # a remote query as data runs on the server, so the write's lineage names its tables, as locally
    copy = remote.create_table(
        "sales.big_orders", schema=pa.schema([("order_id", pa.int64()), ("amount", pa.float64())])
    )
    query = remote.sql("SELECT order_id, amount FROM shop.orders WHERE amount > ?", params=[30])
    write = copy.append(query)
    assert write.rows_written == 2 and ("table", "shop.orders") in {(i.kind, i.ref) for i in write.inputs}
    assert "shop.orders" in remote.lineage("sales.big_orders").upstream_tables()


def test_a_batch_of_changes_is_one_commit_as_locally(clients: dict[str, RemoteLake], governed: Governed) -> None:
    """CDC's write (deletes by key, then upserted rows, one snapshot with the source position) over HTTP,
    with a date in the key: it travels as ISO text and must still match the date column."""
    remote = clients["admin"]
    days = pa.array([date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)], pa.date32())
    made = remote.create_table("lab.cdc", pa.table({"id": [1, 2, 3], "day": days, "v": [1.0, 2.0, 3.0]}))
    before = len(made.history())
    write = made.apply_changes(
        pa.table({"id": [2, 4], "day": pa.array([date(2026, 1, 2), date(2026, 1, 4)], pa.date32()), "v": [20.0, 4.0]}),
        ["id", "day"],
        delete_keys=[(3, date(2026, 1, 3)), (1, date(2025, 1, 1))],  # the second matches nothing: fine
        command="cdc batch",
        properties={"mlake.source-position": "lsn/42"},
    )
    assert write.operation == "upsert" and write.rows_written == 2 and write.command == "cdc batch"
    history = made.history()
    assert len(history) > before and history[-1].snapshot_id == write.snapshot_id
    local = governed.lake.table("lab.cdc")
    assert local.iceberg.current_snapshot().summary["mlake.source-position"] == "lsn/42"
    assert made.to_arrow(order_by="id").to_pylist() == [
        {"id": 1, "day": date(2026, 1, 1), "v": 1.0},
        {"id": 2, "day": date(2026, 1, 2), "v": 20.0},
        {"id": 4, "day": date(2026, 1, 4), "v": 4.0},
    ]
    made.apply_changes(pa.table({"id": [7], "day": days.take([0]), "v": [7.0]}), ["id"], delete_all=True)
    assert made.to_arrow().column("id").to_pylist() == [7]
    with pytest.raises(ValidationError, match="delete_keys"):
        remote._json(
            "POST",
            "/tables/lab.cdc/changes",
            data={"on": '["id"]', "sql": "SELECT 1 AS id", "delete_keys": "[1]"},
        )


def test_schema_changes_and_time_travel(clients: dict[str, RemoteLake], governed: Governed) -> None:
    remote = clients["admin"]
    t = remote.create_table("lab.runs", pa.table({"run": pa.array([1, 2], pa.int32()), "loss": [0.5, 0.25]}))
    first = t.history()[-1]
    t.add_columns({"note": "string", "epoch": pa.int32()}, docs={"note": "free text"})
    t.rename_column("note", "comment")
    t.widen_column("epoch", pa.int64())
    t.drop_column("loss")
    local = governed.lake.table("lab.runs")
    assert t.columns == local.columns == ["run", "comment", "epoch"]
    assert isinstance(t.schema, Schema) and t.schema == local.schema
    assert str(t.schema.find_field("epoch").field_type) == "long"

    assert t.snapshot_at(datetime.now(UTC)) == local.snapshot_at(datetime.now(UTC))
    assert t.check_snapshot(first.snapshot_id) == first.snapshot_id
    with pytest.raises(NotFoundError):
        t.check_snapshot(12345)
    with pytest.raises(NotFoundError):
        t.snapshot_at("2001-01-01")
    assert t.location == local.location


def test_pages_batches_and_results(clients: dict[str, RemoteLake], governed: Governed) -> None:
    remote = clients["admin"]
    orders = remote.table("shop.orders")
    page = orders.page(2, 1, order_by="amount", desc=True)
    local = governed.lake.table("shop.orders").page(2, 1, order_by="amount", desc=True)
    assert isinstance(page, Page) and page.rows.equals(local.rows)
    assert (page.has_more, page.total_rows, page.snapshot_id) == (local.has_more, local.total_rows, local.snapshot_id)
    assert sum(b.num_rows for b in orders.batches(3)) == 4

    query = "SELECT order_id, amount FROM shop.orders WHERE amount > ? ORDER BY order_id"
    result, same = remote.sql(query, params=[15]), governed.lake.sql(query, params=[15])
    assert result.count() == same.count() == 3
    assert result.page(2, 1).equals(same.page(2, 1))
    assert result.preview(2).equals(same.preview(2)) and result.types == same.types
    assert result.reader(2).read_all().equals(same.to_arrow())
    assert pa.table(result).equals(same.to_arrow())  # the Arrow C stream protocol


def test_catalog_maintenance_and_identity(clients: dict[str, RemoteLake], governed: Governed) -> None:
    remote = clients["admin"]
    assert remote.principal.name == "root" and remote.principal.superuser
    assert remote.audit_table == governed.lake.audit_table
    assert sorted(remote.privileges("shop.orders")) == ["admin", "alter", "insert", "select"]
    assert remote.search("orders", "shop") == governed.lake.search("orders", "shop")
    assert [h.name for h in remote.search("orders", "shop")] == ["shop.orders"]
    reports = remote.maintain("shop.orders", expire_older_than="0s", retain_last=1)
    assert len(reports) == 1 and isinstance(reports[0], MaintenanceReport) and reports[0].table == "shop.orders"
    remote.create_table("scratch.tmp", pa.table({"x": [1]}))
    remote.drop_table("scratch.tmp", purge=True)
    remote.drop_namespace("scratch")
    assert "scratch" not in governed.lake.namespaces()


def test_ingest_database_over_http(clients: dict[str, RemoteLake], governed: Governed, pg_database: str) -> None:
    engine = sa.create_engine(pg_database.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE people (id int PRIMARY KEY, name text)"))
        c.execute(sa.text("INSERT INTO people VALUES (1, 'ann'), (2, 'bob')"))
    engine.dispose()
    report = clients["admin"].ingest_database(pg_database, "crm.people", table="people")
    assert report.rows_written == 2 and governed.lake.table("crm.people").count() == 2
    # a principal may read only the sources the owner opened to principals: the server's database is not one
    with pytest.raises(PermissionDeniedError, match="ingest"):
        clients["bob"].ingest_database(pg_database, "shop.people", table="people")


REFUSED = (PermissionDeniedError, NotFoundError)  # a principal learns nothing about a table it holds no grant on


def test_a_principal_without_grants_is_refused(clients: dict[str, RemoteLake], governed: Governed) -> None:
    alice = clients["alice"]
    secrets = alice.table("vault.secrets")
    rows = pa.table({"k": ["x"], "v": ["y"]})
    attempts = {
        "append": lambda: secrets.append(rows),
        "overwrite": lambda: secrets.overwrite(rows),
        "upsert": lambda: secrets.upsert(rows, ["k"]),
        "apply_changes": lambda: secrets.apply_changes(rows, ["k"], delete_keys=[("launch",)]),
        "delete": lambda: secrets.delete("k = 'launch'"),
        "add_columns": lambda: secrets.add_columns({"z": "string"}),
        "rename_column": lambda: secrets.rename_column("v", "w"),
        "widen_column": lambda: secrets.widen_column("k", "string"),
        "drop_column": lambda: secrets.drop_column("v"),
        "schema": lambda: secrets.schema,
        "page": lambda: secrets.page(),
        "snapshot_at": lambda: secrets.snapshot_at(datetime.now(UTC)),
        "privileges": lambda: alice.privileges("vault.secrets"),
        "maintain": lambda: alice.maintain("vault.secrets"),
        "drop_table": lambda: alice.drop_table("vault.secrets"),
        "drop_namespace": lambda: alice.drop_namespace("vault"),
        "create_table": lambda: alice.create_table("vault.more", rows),
        "count": lambda: alice.sql("SELECT * FROM vault.secrets").count(),
    }
    for name, attempt in attempts.items():
        with pytest.raises(REFUSED):
            attempt()
            pytest.fail(f"{name} was not refused")
    assert alice.recent_writes() == []
    owner = governed.lake.table("vault.secrets")
    assert owner.columns == ["k", "v"] and owner.to_arrow().to_pylist() == [{"k": "launch", "v": "2027-01-01"}]
    assert "vault" in governed.lake.namespaces()


def test_a_reader_may_not_write_or_see_locations(clients: dict[str, RemoteLake], governed: Governed) -> None:
    bob = clients["bob"]
    orders = bob.table("shop.orders")
    assert orders.page(10).rows.num_rows == 4 and bob.privileges("shop.orders") == ["select"]
    assert bob.can_read_sql("SELECT * FROM shop.orders") and not bob.can_read_sql("SELECT * FROM vault.secrets")
    local_bob = governed.lake.as_principal("bob")
    for target in ("shop.orders", "shop.customers", "SELECT 1"):
        assert bob.quality.keeps(target) == local_bob.quality.keeps(target), target
    for attempt in (
        lambda: orders.append(pa.table({"order_id": [99]})),
        lambda: orders.delete("order_id = 10"),
        lambda: orders.add_columns({"z": "string"}),
        lambda: orders.location,
        lambda: bob.maintain("shop.orders"),
    ):
        with pytest.raises(PermissionDeniedError):
            attempt()
    assert governed.lake.table("shop.orders").count() == 4
    with pytest.raises(MlakeError):
        bob.create_table(f"shop.t{uuid.uuid4().hex[:6]}", pa.table({"x": [1]}))
