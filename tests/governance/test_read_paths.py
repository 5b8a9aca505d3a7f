"""Every in-process read path obeys grants, row filters and column masks, and is audited.

Paths: SQL, table reads (previews, pages, filters), exports (streamed batches), derived tables
(CTAS / Result.save, as a training set is saved), and engine views (how other areas — training sets,
quality — read tables). REST and Studio are tested in tests/server.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from tests.governed_lake import Governed

from mlake.errors import PermissionDeniedError

DE_IDS = [1, 3, 5]


def test_sql_path(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    rows = bob.sql("SELECT customer_id, email, age FROM shop.customers ORDER BY 1").to_pylist()
    assert [r["customer_id"] for r in rows] == DE_IDS  # row filter: country = 'DE'
    assert rows[0]["email"] == "***@example.com"  # mask: email
    assert rows[2]["age"] == 40  # mask: round(age, -1) of 38
    assert bob.sql("SELECT count(*) FROM shop.customers WHERE country <> 'DE'").scalar() == 0
    alice = governed.lake.as_principal("alice")
    with pytest.raises(PermissionDeniedError, match="alice"):
        alice.sql("SELECT * FROM shop.customers")
    with pytest.raises(PermissionDeniedError):
        bob.sql("SELECT * FROM vault.secrets")
    with pytest.raises(PermissionDeniedError):  # a join does not smuggle a table in
        bob.sql("SELECT * FROM shop.orders JOIN vault.secrets ON true")
    events = governed.lake.governance.audit_events(action="sql")
    denied = [e for e in events if e.outcome == "denied"]
    assert {e.principal for e in denied} == {"alice", "bob"}
    assert any("vault.secrets" in e.tables for e in denied)
    ok = [e for e in events if e.outcome == "ok" and e.principal == "bob"]
    assert ok and "shop.customers" in ok[-1].tables and ok[-1].detail and "shop.customers" in ok[-1].detail


def test_time_travel_is_filtered_too(governed: Governed) -> None:
    customers = governed.lake.table("shop.customers")
    first = customers.history()[-1].snapshot_id
    customers.append(pa.table({"customer_id": [7], "email": ["gus@example.com"], "country": ["DE"], "age": [70]}))
    bob = governed.lake.as_principal("bob")
    old = bob.sql(f"SELECT customer_id, email FROM shop.customers AT (VERSION => {first}) ORDER BY 1").to_pylist()
    assert [r["customer_id"] for r in old] == DE_IDS
    assert all(r["email"] is None or r["email"].startswith("***") for r in old)
    assert bob.table("shop.customers").count() == 4


def test_table_read_path(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    table = bob.table("shop.customers")
    data = table.to_arrow()
    assert sorted(data.column("customer_id").to_pylist()) == DE_IDS
    assert "ann@example.com" not in data.column("email").to_pylist()
    assert table.head(2).to_arrow().num_rows == 2
    assert table.query(["customer_id"], where="customer_id > 2").to_arrow().column(0).to_pylist() == [3, 5]
    assert table.count() == 3
    info = table.describe()
    assert {c.name: c.masked for c in info.columns} == {
        "customer_id": False,
        "email": True,
        "country": False,
        "age": True,
    }
    assert info.row_filtered is True
    alice = governed.lake.as_principal("alice")
    for read in (
        lambda: alice.table("shop.customers").to_arrow(),
        lambda: alice.table("shop.customers").describe(),
        lambda: alice.table("shop.customers").history(),
        lambda: alice.lineage("shop.customers"),
    ):
        with pytest.raises(PermissionDeniedError):
            read()
    reads = governed.lake.governance.audit_events(action="table.read")
    assert {(e.principal, e.outcome) for e in reads} >= {("bob", "ok"), ("alice", "denied")}


def test_export_path(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    batches = list(bob.sql("SELECT * FROM shop.customers").batches(2))
    exported = pa.Table.from_batches(batches)
    assert sorted(exported.column("customer_id").to_pylist()) == DE_IDS
    assert all(e is None or e.startswith("***") for e in exported.column("email").to_pylist())
    reader = bob.table("shop.customers").query().reader()
    assert reader.read_all().num_rows == 3


def test_derived_tables_keep_the_restrictions(governed: Governed) -> None:
    """A table saved from what a principal reads (as a training set is) holds only what it could see."""
    governed.lake.governance.grant("bob", "alter", "scratch")
    bob = governed.lake.as_principal("bob")
    bob.sql("CREATE TABLE scratch.training AS SELECT customer_id, email, age FROM shop.customers").to_arrow()
    saved = governed.lake.table("scratch.training").to_arrow()
    assert sorted(saved.column("customer_id").to_pylist()) == DE_IDS
    assert "ann@example.com" not in saved.column("email").to_pylist()
    bob.sql("SELECT * FROM shop.orders").save("scratch.orders_copy")
    assert governed.lake.table("scratch.orders_copy").count() == 4
    alice = governed.lake.as_principal("alice")
    with pytest.raises(PermissionDeniedError):
        alice.sql("CREATE TABLE scratch.stolen AS SELECT * FROM shop.orders")
    with pytest.raises(PermissionDeniedError):  # bob may read orders but not create tables there
        bob.sql("CREATE TABLE shop.copy AS SELECT * FROM shop.orders")
    with pytest.raises(PermissionDeniedError):  # nor insert into them
        bob.sql("INSERT INTO shop.orders SELECT * FROM shop.orders")


def test_engine_views_used_by_other_areas(governed: Governed) -> None:
    """Areas that build their own SQL over ``lake.engine.view_for`` (training sets, checks) are governed."""
    bob = governed.lake.as_principal("bob")
    view = bob.engine.view_for(bob.table("shop.customers").name)
    rows = bob.engine.run_internal(f"SELECT customer_id, email FROM {view} ORDER BY 1").to_pylist()
    assert [r["customer_id"] for r in rows] == DE_IDS and rows[0]["email"].startswith("***")
    with pytest.raises(PermissionDeniedError):
        bob.engine.view_for(bob.table("vault.secrets").name)


def test_listing_shows_only_what_a_principal_may_use(governed: Governed) -> None:
    assert [str(t) for t in governed.lake.as_principal("bob").list_tables()] == ["shop.customers", "shop.orders"]
    assert governed.lake.as_principal("alice").list_tables() == []
    assert len(governed.lake.as_principal("root").list_tables()) >= 3


def test_writes_need_grants(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    orders = bob.table("shop.orders")
    with pytest.raises(PermissionDeniedError):
        orders.append(pa.table({"order_id": [99], "customer_id": [1], "amount": [1.0]}))
    with pytest.raises(PermissionDeniedError):
        orders.set_metadata(description="mine now")
    with pytest.raises(PermissionDeniedError):
        bob.drop_table("shop.orders")
    governed.lake.governance.grant("bob", "insert", "shop.orders")
    bob = governed.lake.as_principal("bob")
    bob.table("shop.orders").append(pa.table({"order_id": [99], "customer_id": [1], "amount": [1.0]}))
    assert governed.lake.table("shop.orders").count() == 5
    writes = governed.lake.lineage_store.writes("shop.orders", limit=1)
    assert writes[0].actor == "bob"  # lineage names the principal
    with pytest.raises(PermissionDeniedError):  # insert does not include alter
        bob.table("shop.orders").delete("order_id = 99")


def test_owner_of_a_table_administers_it(governed: Governed) -> None:
    governed.lake.table("vault.secrets").set_metadata(owner="alice")
    alice = governed.lake.as_principal("alice")
    assert alice.sql("SELECT v FROM vault.secrets").scalar() == "2027-01-01"
    alice.governance.grant("bob", "select", "vault.secrets")
    assert governed.lake.as_principal("bob").sql("SELECT count(*) FROM vault.secrets").scalar() == 1
    with pytest.raises(PermissionDeniedError):  # but not tables it does not own
        alice.governance.grant("alice", "select", "shop.customers")


def test_column_grants_expose_only_those_columns(governed: Governed) -> None:
    gov = governed.lake.governance
    gov.grant("alice", "select", "vault.secrets.k")
    alice = governed.lake.as_principal("alice")
    assert alice.sql("SELECT * FROM vault.secrets").to_arrow().column_names == ["k"]
    assert [c.name for c in alice.table("vault.secrets").describe().columns] == ["k"]
    with pytest.raises(PermissionDeniedError):
        alice.table("vault.secrets").query(["v"]).to_arrow()
    from mlake.errors import SqlError

    with pytest.raises(SqlError):
        alice.sql("SELECT v FROM vault.secrets").to_arrow()


def test_tag_grants_follow_the_tags(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    with pytest.raises(PermissionDeniedError):
        bob.sql("SELECT * FROM vault.secrets")
    governed.lake.table("vault.secrets").set_metadata(tags={"pii": "false"})
    assert governed.lake.as_principal("bob").sql("SELECT count(*) FROM vault.secrets").scalar() == 1
    governed.lake.table("vault.secrets").set_metadata(tags={"pii": "true"})
    with pytest.raises(PermissionDeniedError):
        governed.lake.as_principal("bob").sql("SELECT * FROM vault.secrets")


def test_revoking_takes_effect_at_once(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    assert bob.sql("SELECT count(*) FROM shop.orders").scalar() == 4
    governed.lake.governance.revoke("analyst", "select", "tag:pii=false")
    with pytest.raises(PermissionDeniedError):
        governed.lake.as_principal("bob").sql("SELECT count(*) FROM shop.orders")


def test_quarantine_of_a_masked_table_needs_alter(governed: Governed, tmp_path: object) -> None:
    from pathlib import Path

    csv = Path(str(tmp_path)) / "more.csv"
    csv.write_text("customer_id,email,country,age\n8,hal@example.com,DE,33\nnot-a-number,x,DE,1\n")
    report = governed.lake.ingest(str(csv), into="shop.customers", types={"customer_id": "long"})
    assert report.rows_quarantined == 1
    governed.lake.governance.grant("analyst", "select", "shop")  # even with the namespace granted
    bob = governed.lake.as_principal("bob")
    with pytest.raises(PermissionDeniedError):
        bob.sql("SELECT * FROM shop.customers__quarantine")
