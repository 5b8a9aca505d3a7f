"""Rules enforced in the core for every path: current policies, hidden SQL text, counts, locations and
the sources a principal may ingest from (issue: leaks an attacker with a token found)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from tests.governed_lake import Governed, build_governed_lake

import mlake
from mlake.errors import PermissionDeniedError
from mlake.tables.lineage import HIDDEN_TEXT


@pytest.fixture
def governed(tmp_path: Path) -> Governed:
    g = build_governed_lake(tmp_path / "lake")
    yield g  # type: ignore[misc]
    g.lake.close()


def test_a_handle_obeys_grants_revoked_and_masks_added_after_it_was_made(governed: Governed) -> None:
    lake = governed.lake
    bob = lake.as_principal("bob")
    assert bob.sql("SELECT count(*) FROM shop.orders").scalar() == 4
    orders = bob.table("shop.orders")
    lake.governance.add_column_mask("shop.orders", "amount", "analyst", "null")
    assert bob.sql("SELECT max(amount) FROM shop.orders").scalar() is None  # the same handle, masked now
    assert orders.to_arrow().column("amount").null_count == 4
    lake.governance.revoke("analyst", "select", "tag:pii=false")
    with pytest.raises(PermissionDeniedError):
        bob.sql("SELECT count(*) FROM shop.orders").scalar()
    with pytest.raises(PermissionDeniedError):
        orders.describe()


def test_saved_queries_naming_unreadable_tables_are_not_shown(governed: Governed) -> None:
    lake = governed.lake
    lake.dashboards.save_query("secret plans", "SELECT * FROM vault.secrets")
    lake.dashboards.save_query("orders", "SELECT * FROM shop.orders")
    board = lake.dashboards.create_dashboard("mixed")
    for q in lake.dashboards.queries():
        lake.dashboards.pin(board.id, q.id)
    bob = lake.as_principal("bob")
    assert [q.name for q in bob.dashboards.queries()] == ["orders"]
    assert [t.query.name for t in bob.dashboards.dashboard(board.id).tiles] == ["orders"]
    hidden = next(q for q in lake.dashboards.queries() if q.name == "secret plans")
    with pytest.raises(mlake.MlakeError):
        bob.dashboards.query(hidden.id)
    assert len(lake.dashboards.dashboard(board.id).tiles) == 2  # the owner sees everything


def test_counts_locations_and_lineage_text_are_not_shown_where_they_leak(governed: Governed) -> None:
    lake = governed.lake
    lake.sql("CREATE TABLE shop.mix AS SELECT o.order_id, s.k FROM shop.orders o, vault.secrets s")
    lake.governance.grant("bob", "select", "shop.mix")
    bob = lake.as_principal("bob")
    info = bob.table("shop.customers").describe()  # bob's row filter keeps only DE customers
    assert info.row_filtered and info.rows is None and info.size_bytes is None
    assert info.location is None
    with pytest.raises(PermissionDeniedError):
        _ = bob.table("shop.orders").location
    graph = bob.lineage("shop.mix")
    assert graph.upstream_tables() == {"shop.orders"}  # the edge from vault.secrets is left out
    texts = [e.write.command for e in graph.upstream] + [e.source.detail or "" for e in graph.upstream]
    assert not any("vault.secrets" in t for t in texts)
    assert HIDDEN_TEXT in texts
    owner_graph = lake.lineage("shop.mix")
    assert any("vault.secrets" in e.write.command for e in owner_graph.upstream)


def test_principals_ingest_only_uploads_and_allowed_sources(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "rows.csv").write_text("a\n1\n")
    private = tmp_path / "private.csv"
    private.write_text("a\n2\n")
    g = build_governed_lake(tmp_path / "lake")
    g.lake.governance.grant("bob", "alter", "scratch")
    bob = g.lake.as_principal("bob")
    for source in (
        str(private),
        f"{tmp_path}/*.csv",
        "http://127.0.0.1:1/x.csv",
        "/etc/passwd",
        f"{drop}/../private.csv",
    ):
        with pytest.raises(PermissionDeniedError, match="ingest"):
            bob.ingest(source, into="scratch.t")
    g.lake.close()
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner", ingest_allowed=[str(drop)])
    bob = lake.as_principal("bob")
    assert bob.ingest(str(drop / "rows.csv"), into="scratch.t").rows_written == 1
    uploads = lake.settings.home / "tmp" / "uploads" / "x"
    uploads.mkdir(parents=True)
    (uploads / "up.csv").write_text("a\n3\n")
    assert bob.ingest(str(uploads / "up.csv"), into="scratch.t").rows_written == 1
    assert lake.as_principal("root").ingest(str(private), into="scratch.t").rows_written == 1  # superusers may
    lake.close()


def test_reads_and_writes_refuse_a_hidden_table_as_they_refuse_a_missing_one(governed: Governed) -> None:
    """``Table.query()`` said "no SELECT grant" for vault.secrets but "does not exist" for vault.nope."""
    bob = governed.lake.as_principal("bob")  # no grant of any kind on the vault namespace
    for act in (
        lambda t: t.query().to_arrow(),
        lambda t: t.append(pa.table({"x": [1]})),
        lambda t: t.delete("true"),
    ):
        messages = []
        for name in ("vault.secrets", "vault.nope"):
            with pytest.raises(PermissionDeniedError) as caught:
                act(bob.table(name))
            messages.append(str(caught.value).replace(name, "<table>"))
        assert messages[0] == messages[1]
