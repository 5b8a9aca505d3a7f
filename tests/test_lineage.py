"""Lineage across several steps: files → table → derived tables, upstream and downstream."""

from __future__ import annotations

from pathlib import Path

from mlake.lake import Lake


def test_multi_step_lineage(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text("id,amount\n1,10\n2,20\n")
    lake.ingest(str(tmp_path / "o.csv"), into="raw.orders")
    lake.sql("create table mart.big as select * from raw.orders where amount > 15")
    lake.sql("create table mart.report as select count(*) as n from mart.big")
    snap_orders = lake.table("raw.orders").history()[-1].snapshot_id

    g = lake.lineage("mart.report")
    assert g.upstream_tables() == {"mart.big", "raw.orders"}
    files = [e for e in g.upstream if e.source.kind == "file"]
    assert files and files[0].depth == 3 and files[0].source.detail.startswith("xxh3:")
    table_edge = next(e for e in g.upstream if e.source.ref == "raw.orders")
    assert table_edge.source.snapshot_id == snap_orders and table_edge.target == "mart.big"

    down = lake.lineage("raw.orders")
    assert down.downstream_tables() == {"mart.big", "mart.report"}
    assert {e.depth for e in down.downstream} == {1, 2}
    d = down.to_dict()
    assert d["table"] == "raw.orders" and len(d["downstream"]) == 2


def test_writes_record_actor_and_command(lake: Lake) -> None:
    t = lake.create_table("s.t", {"a": [1]})
    t.append({"a": [2]}, command="nightly load")
    (last,) = lake.lineage_store.writes("s.t", limit=1)
    assert last.actor == "tester" and last.command == "nightly load" and last.snapshot_id is not None
    assert t.history()[-1].command == "nightly load"


def test_drop_forgets_own_lineage_but_downstream_keeps_its_inputs(lake: Lake) -> None:
    lake.create_table("s.src", {"a": [1]})
    lake.sql("create table s.dst as select * from s.src")
    lake.drop_table("s.src")
    assert lake.lineage("s.dst").upstream_tables() == {"s.src"}
    lake.create_table("s.src", {"a": [5]})
    assert lake.lineage("s.src").upstream[0].source.kind == "dataframe"
    assert len(lake.lineage("s.src").upstream) == 1
