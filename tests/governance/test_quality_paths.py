"""Quality on a principal's lake: profiles, checks, suggestions, reports and history obey grants, masks and
row filters, run sandboxed, keep figures only from whole-table reads, and are audited (see
mlake.quality.access). The REST and Studio faces are tested in tests/server."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.governed_lake import Governed

from mlake.errors import PermissionDeniedError, ValidationError
from mlake.governance.sandbox import SandboxError
from mlake.quality import InRange, NotNull, Suite

DE_IDS = [1, 3, 5]  # bob's row filter: country = 'DE'


def test_profile_reads_the_principals_view(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    p = bob.quality.profile("shop.customers", save=False)
    assert p.rows == 3  # the row filter holds
    emails = [v for v, _ in p["email"].top_values]
    assert emails and all(str(v).startswith("***") for v in emails)  # the mask holds in top values
    assert {v for v, _ in p["age"].top_values} <= {30, 40}  # round(age, -1)
    assert p["age"].max == 40 and p["country"].top_values == [("DE", 3)]
    assert bob.quality.profile("SELECT * FROM shop.customers", save=False).rows == 3
    joined = bob.quality.profile(
        "SELECT o.amount, c.email FROM shop.orders o JOIN shop.customers c USING (customer_id)"
    )
    assert joined.rows == 3 and all(str(v).startswith("***") for v, _ in joined["email"].top_values)


def test_principals_without_select_are_refused_and_audited(governed: Governed) -> None:
    alice = governed.lake.as_principal("alice")
    for measure in (
        lambda: alice.quality.profile("shop.customers"),
        lambda: alice.quality.profile("SELECT * FROM shop.orders"),
        lambda: alice.quality.check("shop.orders", Suite([NotNull("order_id")])),
        lambda: alice.quality.suggest("shop.orders"),
        lambda: alice.quality.report("shop.orders"),
        lambda: alice.quality.history("shop.orders"),
        lambda: alice.quality.suites.list("shop.orders"),
        lambda: alice.quality.suites.save("shop.orders", "mine", "checks:\n  - not_null: order_id\n"),
    ):
        with pytest.raises(PermissionDeniedError, match="alice"):
            measure()
    governed.lake.governance.audit.flush()
    events = [e for e in governed.lake.governance.audit_events(principal="alice") if e.action.startswith("quality.")]
    assert {e.action for e in events} >= {
        "quality.profile",
        "quality.check",
        "quality.suggest",
        "quality.report",
        "quality.history",
        "quality.suite.save",
    }
    assert all(e.outcome == "denied" for e in events)
    assert any("shop.customers" in e.tables for e in events)


def test_checks_see_the_view_and_their_samples_are_masked(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    suite = Suite([NotNull("email"), InRange("age", max=35)])
    result = bob.quality.check("shop.customers", suite, save=False)
    not_null, in_range = result["not_null(email)"], result["in_range(age)"]
    assert not_null.rows_checked == 3 and not_null.failing_rows == 1  # customer 3 has no email
    assert in_range.failing_rows == 1  # masked ages 30, 30, 40: only the rounded 40 fails
    assert in_range.samples == [{"customer_id": 5, "email": "***@example.com", "country": "DE", "age": 40}]
    custom = bob.quality.check(
        "shop.customers", {"checks": [{"type": "sql", "query": "select * from {table} where country <> 'DE'"}]}
    )
    assert custom.passed and custom.results[0].failing_rows == 0  # the filter applies inside custom SQL


HOSTILE_SUITES = [
    "checks:\n  - type: sql\n    query: select * from read_csv('/etc/passwd')\n",
    "checks:\n  - type: sql\n    query: select * from vault.secrets\n",
    "checks:\n  - type: sql\n    query: select getenv('HOME') as h from {table}\n",
    'checks:\n  - in_range: {column: age, min: 0, where: "email in (select v from vault.secrets)"}\n',
    "checks:\n  - in_range: {column: age, min: 0, where: \"length(current_setting('threads')) > 0\"}\n",
    "checks:\n  - in_set: {column: country, values: [DE], where: \"1 = 1) OR (SELECT 1 FROM glob('/*')\"}\n",
    "checks:\n  - references: {column: customer_id, table: vault.secrets, key: k}\n",
    'checks:\n  - in_range: {column: age, min: 0, where: "age IN (SELECT age FROM \\"shop.customers@1\\".customers)"}\n',
]


@pytest.mark.parametrize("suite", HOSTILE_SUITES)
def test_check_sql_is_sandboxed(governed: Governed, suite: str) -> None:
    bob = governed.lake.as_principal("bob")
    with pytest.raises((SandboxError, PermissionDeniedError, ValidationError)) as caught:
        bob.quality.check("shop.customers", Suite.from_yaml(suite, untrusted=True), save=False)
    assert "Traceback" not in caught.value.message


def test_runs_are_kept_only_from_whole_table_reads(governed: Governed) -> None:
    lake = governed.lake
    bob, root = lake.as_principal("bob"), lake.as_principal("root")
    assert not bob.quality.keeps("shop.customers") and bob.quality.keeps("shop.orders")
    bob.quality.profile("shop.customers")  # restricted view: measured, not kept
    bob.quality.profile("shop.orders")  # bob reads orders whole: kept on his behalf (no grant on the history)
    root.quality.profile("shop.customers")
    history = lake.quality.history("shop.orders")
    assert set(history.column("actor").to_pylist()) == {"bob"}
    customers = lake.quality.history("shop.customers", metric="rows")
    assert customers.column("value").to_pylist() == [6.0]  # root's run only: bob's 3 rows were not mixed in
    with pytest.raises(PermissionDeniedError, match="row filter and a column mask apply"):
        bob.quality.history("shop.customers")
    with pytest.raises(PermissionDeniedError):
        bob.quality.anomalies("shop.customers")
    assert bob.quality.history("shop.orders").num_rows == history.num_rows
    report = bob.quality.report("shop.customers", save=True)
    assert report.history is None and report.profile.rows == 3
    assert lake.quality.history("shop.customers", metric="rows").num_rows == 1  # the report's run was not kept
    with pytest.raises(PermissionDeniedError, match="superusers"):
        bob.quality.history("SELECT * FROM shop.orders")


def test_stored_suites_follow_the_table(governed: Governed) -> None:
    lake = governed.lake
    gov = lake.governance
    bob, root, alice = lake.as_principal("bob"), lake.as_principal("root"), lake.as_principal("alice")
    stored = root.quality.suites.save("shop.customers", "contract", "checks:\n  - not_null: email\n")
    assert stored.owner == "root"
    root.quality.check("shop.customers", stored)
    kept = root.quality.suites.get("shop.customers", "contract")
    assert kept.last_passed is False and kept.last_result and kept.last_result["actor"] == "root"
    assert all("samples" not in r for r in kept.last_result["results"])  # figures, never rows
    seen = bob.quality.suites.get("shop.customers", "contract")  # bob reads the table: he sees the suite ...
    assert seen.yaml == stored.yaml and seen.last_result is None and seen.last_result_hidden  # ... not its result
    assert bob.quality.suites.failing() == []
    assert [s.name for s in root.quality.suites.failing()] == ["contract"]
    mine = bob.quality.check("shop.customers", seen)  # his own run, on his view: returned, not recorded
    assert mine.rows == 3
    assert root.quality.suites.get("shop.customers", "contract").last_result == kept.last_result
    assert alice.quality.suites.list() == []
    with pytest.raises(PermissionDeniedError, match="its owner"):
        bob.quality.suites.save("shop.customers", "contract", "checks:\n  - not_null: country\n")
    with pytest.raises(PermissionDeniedError):
        bob.quality.suites.delete("shop.customers", "contract")
    gov.grant("bob", "alter", "shop.customers")  # maintainers of the table may change its suites
    lake.as_principal("bob").quality.suites.save("shop.customers", "contract", "checks:\n  - not_null: country\n")
    lake.as_principal("bob").quality.suites.delete("shop.customers", "contract")
    assert root.quality.suites.list("shop.customers") == []
    gov.audit.flush()
    actions = {(e.principal, e.action, e.outcome) for e in gov.audit_events() if e.action.startswith("quality.suite")}
    assert ("bob", "quality.suite.save", "denied") in actions and ("bob", "quality.suite.delete", "ok") in actions


def test_a_gate_is_kept_for_a_principal_without_grants_on_the_history(governed: Governed, tmp_path: Path) -> None:
    lake = governed.lake
    lake.governance.grant("bob", "insert", "shop.orders")
    bob = lake.as_principal("bob")
    batch = lake.settings.home / "tmp" / "uploads" / "gate" / "orders.csv"  # principals ingest uploads
    batch.parent.mkdir(parents=True)
    batch.write_text("order_id,customer_id,amount\n20,1,5.0\n21,2,-3.0\n")
    report = bob.ingest(str(batch), into="shop.orders", gate=bob.quality.gate({"checks": [{"not_null": "order_id"}]}))
    assert report.rows_written == 2
    gates = lake.quality.history("shop.orders", kind="gate")
    assert gates.num_rows and set(gates.column("actor").to_pylist()) == {"bob"}
