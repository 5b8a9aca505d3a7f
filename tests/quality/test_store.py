"""Stored suites (``lake.quality.suites``): saved per table, validated, run with their last result kept."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from mlake.errors import AlreadyExistsError, NotFoundError, ValidationError
from mlake.lake import Lake
from mlake.quality import Suite

ORDERS = pa.table({"order_id": [1, 2, 2, 4], "amount": [10.0, -5.0, 7.5, None]})
BASICS = "checks:\n  - unique: order_id\n  - in_range: {column: amount, min: 0}\n"


@pytest.fixture
def orders(lake: Lake) -> Lake:
    lake.create_table("shop.orders", ORDERS)
    return lake


def test_save_list_get_replace_delete(any_lake: Lake) -> None:
    any_lake.create_table("shop.orders", ORDERS)
    suites = any_lake.quality.suites
    stored = suites.save("shop.orders", "basics", BASICS)
    assert (stored.table, stored.name, stored.owner, stored.check_count) == ("shop.orders", "basics", "tester", 2)
    assert stored.last_run_at is None and stored.last_passed is None
    suites.save("shop.orders", "amounts", "checks:\n  - not_null: amount\n")
    assert [s.name for s in suites.list("shop.orders")] == ["amounts", "basics"]
    assert [s.name for s in suites.list()] == ["amounts", "basics"]
    assert suites.get("SHOP.ORDERS", "basics").yaml == BASICS  # table names are normalised
    with pytest.raises(AlreadyExistsError):
        suites.save("shop.orders", "basics", BASICS, replace=False)
    replaced = suites.save("shop.orders", "basics", "checks:\n  - not_null: order_id\n")
    assert replaced.id == stored.id and replaced.check_count == 1 and replaced.updated_at >= stored.updated_at
    suites.delete("shop.orders", "amounts")
    with pytest.raises(NotFoundError, match="no stored suite 'amounts'"):
        suites.get("shop.orders", "amounts")
    with pytest.raises(NotFoundError):
        suites.delete("shop.orders", "amounts")


@pytest.mark.parametrize(
    ("name", "yaml", "message"),
    [
        ("", BASICS, "Invalid suite name"),
        ("a/b", BASICS, "Invalid suite name"),
        ("x" * 201, BASICS, "Invalid suite name"),
        ("ok", "   ", "needs YAML"),
        ("ok", "checks: [", "not valid YAML"),
        ("ok", "checks:\n  - frobnicate: order_id\n", "cannot tell the check type"),
        ("ok", "table: shop.other\nchecks:\n  - not_null: order_id\n", "is for shop.other"),
        ("ok", "x: &a {not_null: order_id}\nchecks: [*a, *a]\n", "aliases"),
        ("ok", "/etc/passwd.yaml", "must have a list of checks"),  # text, never a path on the server
    ],
)
def test_bad_suites_are_refused_with_a_reason(orders: Lake, name: str, yaml: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        orders.quality.suites.save("shop.orders", name, yaml)
    assert orders.quality.suites.list() == []


def test_a_run_of_a_stored_suite_becomes_its_last_result(orders: Lake) -> None:
    q = orders.quality
    stored = q.suites.save("shop.orders", "basics", BASICS)
    result = q.check("shop.orders", stored)
    assert not result.passed and result.suite == "basics"
    last = q.suites.get("shop.orders", "basics")
    assert last.last_passed is False and last.last_run_at == result.computed_at
    assert last.last_result is not None and last.last_result["actor"] == "tester"
    assert {r["check"]: r["failing_rows"] for r in last.last_result["results"]} == {
        "unique(order_id)": 1,  # rows repeating a key already seen
        "in_range(amount)": 1,
    }
    assert all("samples" not in r for r in last.last_result["results"])  # figures, never rows of data
    assert [f["check"] for f in last.failing] == ["unique(order_id)", "in_range(amount)"]
    assert [s.name for s in q.suites.failing()] == ["basics"]
    history = q.history("shop.orders", kind="check")
    assert set(history.column("suite").to_pylist()) == {"basics"}
    q.check("shop.orders", last, save=False)  # not kept: the last result stays
    assert q.suites.get("shop.orders", "basics").last_result == last.last_result
    fixed = q.suites.save("shop.orders", "basics", "checks:\n  - not_null: order_id\n")
    assert fixed.last_result is None  # changed checks: the old result no longer describes them
    q.check("shop.orders", fixed)
    assert q.suites.get("shop.orders", "basics").last_passed is True and q.suites.failing() == []


def test_a_stored_suite_runs_by_its_name(orders: Lake, tmp_path: Path) -> None:
    q = orders.quality
    q.suites.save("shop.orders", "orders-basics", BASICS)
    result = q.check("shop.orders", "orders-basics")
    assert result.suite == "orders-basics" and not result.passed
    assert q.suites.get("shop.orders", "orders-basics").last_passed is False  # a run by name is its run
    with pytest.raises(ValidationError, match=r"neither a suite file nor a suite stored for shop.orders.*orders-basics"):
        q.check("shop.orders", "orders-basic")
    assert q.check("shop.orders", "[not_null: order_id]", save=False).passed  # one-line YAML still reads as YAML
    (tmp_path / "orders-basics").write_text("checks:\n  - not_null: order_id\n")
    assert q.check("shop.orders", str(tmp_path / "orders-basics"), save=False).passed  # a file wins


def test_stored_suites_outlive_a_dropped_table_unseen(orders: Lake) -> None:
    orders.quality.suites.save("shop.orders", "basics", BASICS)
    orders.drop_table("shop.orders")
    assert orders.quality.suites.list() == []
    orders.create_table("shop.orders", ORDERS)  # CREATE OR REPLACE keeps a table's checks
    assert [s.name for s in orders.quality.suites.list()] == ["basics"]


def test_suites_from_yaml_never_read_files(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(BASICS)
    assert len(Suite.load(str(path)).checks) == 2  # a path, for the CLI and Python
    with pytest.raises(ValidationError, match="must have a list of checks"):
        Suite.from_yaml(str(path))
