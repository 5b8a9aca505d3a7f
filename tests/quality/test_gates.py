"""A quality gate refuses a bad batch through the real ingest path: nothing reaches the table."""

from __future__ import annotations

from pathlib import Path

SUITE = """
name: orders gate
checks:
  - not_null: customer_id
  - in_range: {column: amount, min: 0}
  - unique: order_id
  - in_range: {column: amount, max: 500, severity: warn}
"""


def test_gate_passes_a_good_batch_and_refuses_a_bad_one(lake, tmp_path: Path):
    suite = tmp_path / "gate.yaml"
    suite.write_text(SUITE)
    good = tmp_path / "good.csv"
    good.write_text("order_id,customer_id,amount\n1,10,5.5\n2,11,7.25\n3,12,900\n")
    gate = lake.quality.gate(suite)
    report = lake.ingest(good, into="g.orders", gate=gate)
    assert report.gate is None and report.rows_written == 3
    assert gate.last is not None and gate.last.passed and gate.last.warnings  # the warning does not block
    before = lake.table("g.orders").count()

    bad = tmp_path / "bad.csv"
    bad.write_text("order_id,customer_id,amount\n4,,5\n5,13,-2\n5,14,1\n")
    report = lake.ingest(bad, into="g.orders", gate=gate)
    assert report.rows_written == 0 and report.rows_quarantined == 3
    assert "quality gate orders gate failed" in report.gate
    assert "not_null(customer_id)" in report.gate and "unique(order_id)" in report.gate
    assert lake.table("g.orders").count() == before
    quarantined = lake.sql("select kind, reason from g.orders__quarantine").to_pylist()
    assert {q["kind"] for q in quarantined} == {"GATE"} and "in_range(amount)" in quarantined[0]["reason"]
    assert not gate.last.passed and gate.last.rows == 3
    kinds = lake.quality.history("g.orders").column("kind").to_pylist()
    assert set(kinds) == {"gate"}

    # once fixed, the same rows can be ingested
    fixed = tmp_path / "fixed.csv"
    fixed.write_text("order_id,customer_id,amount\n4,13,5\n5,14,2\n")
    assert lake.ingest(fixed, into="g.orders", gate=gate).rows_written == 2


def test_gate_with_references_checks_the_staged_batch_against_a_lake_table(lake, tmp_path: Path):
    import pyarrow as pa

    lake.create_table("g.customers", pa.table({"id": [1, 2]}))
    gate = lake.quality.gate(
        {"checks": [{"references": {"column": "customer_id", "table": "g.customers", "key": "id"}}]}
    )
    f = tmp_path / "o.csv"
    f.write_text("order_id,customer_id\n1,1\n2,3\n")
    report = lake.ingest(
        f,
        into="g.o",
        gate=gate,
    )
    assert report.gate and "references(customer_id)" in report.gate
    assert not lake.table_exists("g.o") or lake.table("g.o").count() == 0
