"""Masks, filters and column grants follow columns by Iceberg field id: through renames, into old
snapshots, and a principal cannot lift a restriction it is under (issue 10, items 3 and 4)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from fastapi import FastAPI

from mlake.errors import MlakeError, PermissionDeniedError
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from tests.governed_lake import Governed
from tests.security.attempts import ATTEMPTS
from tests.security.conftest import client_for

STAFF = pa.table(
    {"id": [1, 2], "name": ["Ann", "Bo"], "ssn": ["123-45-6789", "987-65-4321"], "salary": [50_000, 61_000]}
)
RAW = ("123-45-6789", "987-65-4321", "6789", "4321", "50000", "61000")


def _leaks(rows: list[dict[str, object]]) -> list[str]:
    text = repr(rows)
    return [r for r in RAW if r in text]


def _setup(g: Governed, *, salary: bool = True) -> int:
    lake = g.lake
    lake.create_table("hr.staff", STAFF if salary else STAFF.drop_columns(["salary"]))
    gov = lake.governance
    gov.grant("analyst", "select", "hr.staff")
    gov.add_column_mask("hr.staff", "ssn", "analyst", "redact")
    if salary:
        gov.add_column_mask("hr.staff", "salary", "analyst", "round(salary, -6)")
    return lake.table("hr.staff").history()[-1].snapshot_id


def _check(rows: list[dict[str, object]], what: str) -> None:
    leaks = _leaks(rows)
    ATTEMPTS.record("masks by field id", not leaks)
    assert not leaks, f"{what} shows {leaks}: {rows}"


def test_time_travel_to_before_the_masked_column_was_dropped(governed: Governed) -> None:
    old = _setup(governed, salary=False)  # the dropped column's mask was the table's only restriction
    governed.lake.table("hr.staff").drop_column("ssn")
    bob = governed.lake.as_principal("bob")
    rows = bob.sql(f"SELECT * FROM hr.staff AT (VERSION => {old})").to_pylist()
    _check(rows, "time travel after the drop")
    assert rows and all(r.get("ssn") in ("***", None) for r in rows)
    _check(bob.table("hr.staff").query(snapshot_id=old).to_pylist(), "a table read at the snapshot")


@pytest.mark.anyio
async def test_export_of_an_old_snapshot_is_masked(governed: Governed) -> None:
    old = _setup(governed, salary=False)
    governed.lake.table("hr.staff").drop_column("ssn")
    app: FastAPI = create_app(governed.lake, ServerSettings(auth=True, statement_timeout=5))
    async with client_for(app, governed.analyst_token) as analyst:
        r = await analyst.get("/api/v1/tables/hr.staff/export", params={"snapshot_id": old, "format": "csv"})
        assert r.status_code == 200
        leaks = [x for x in RAW if x in r.text]
        ATTEMPTS.record("masks by field id", not leaks)
        assert not leaks, r.text


def test_a_snapshot_where_the_masked_column_had_another_name(governed: Governed) -> None:
    lake = governed.lake
    lake.create_table("hr.staff", STAFF.rename_columns(["id", "name", "social", "pay"]))
    old = lake.table("hr.staff").history()[-1].snapshot_id
    lake.table("hr.staff").rename_column("social", "ssn")
    lake.table("hr.staff").rename_column("pay", "salary")
    gov = lake.governance
    gov.grant("analyst", "select", "hr.staff")
    gov.add_column_mask("hr.staff", "ssn", "analyst", "redact")
    gov.add_column_mask("hr.staff", "salary", "analyst", "round(salary, -6)")
    bob = lake.as_principal("bob")
    rows = bob.sql(f"SELECT * FROM hr.staff AT (VERSION => {old})").to_pylist()
    _check(rows, "the old name of a masked column")
    assert {r["social"] for r in rows} == {"***"} and {r["pay"] for r in rows} == {0}
    assert {r["ssn"] for r in bob.sql("SELECT ssn FROM hr.staff").to_pylist()} == {"***"}


def test_renaming_a_masked_column_keeps_its_mask(governed: Governed) -> None:
    _setup(governed)
    gov = governed.lake.governance
    gov.grant("bob", "alter", "hr.staff")  # bob may change the schema, but is still masked
    bob = governed.lake.as_principal("bob")
    bob.table("hr.staff").rename_column("ssn", "tax_id")
    bob.table("hr.staff").rename_column("salary", "pay")
    rows = bob.sql("SELECT * FROM hr.staff").to_pylist()
    _check(rows, "renamed masked columns")
    assert {r["tax_id"] for r in rows} == {"***"} and {r["pay"] for r in rows} == {0}
    # Swapping names does not move the mask off the data either.
    bob.table("hr.staff").rename_column("name", "tmp")
    bob.table("hr.staff").rename_column("tax_id", "name")
    _check(bob.sql("SELECT * FROM hr.staff").to_pylist(), "swapped names")
    _check(bob.table("hr.staff").head(5).to_pylist(), "a preview after the swap")


def test_a_column_grant_does_not_follow_a_swapped_name(governed: Governed) -> None:
    lake = governed.lake
    lake.create_table("hr.staff", STAFF)
    lake.governance.grant("alice", "select", "hr.staff.name")
    alice = lake.as_principal("alice")
    assert alice.sql("SELECT * FROM hr.staff").to_arrow().column_names == ["name"]
    lake.table("hr.staff").rename_column("name", "tmp")
    lake.table("hr.staff").rename_column("ssn", "name")
    try:
        rows = alice.sql("SELECT * FROM hr.staff").to_pylist()
    except MlakeError:
        rows = []
    _check(rows, "a column grant after a swap")


def test_a_dropped_column_is_denied_to_a_restricted_principal(governed: Governed) -> None:
    lake = governed.lake
    lake.create_table("hr.staff", STAFF)
    old = lake.table("hr.staff").history()[-1].snapshot_id
    lake.table("hr.staff").drop_column("salary")
    gov = lake.governance
    gov.grant("analyst", "select", "hr.staff")
    gov.add_row_filter("hr.staff", "analyst", "id > 0")
    gov.add_column_mask("hr.staff", "ssn", "analyst", "redact")
    bob = lake.as_principal("bob")
    table = bob.sql(f"SELECT * FROM hr.staff AT (VERSION => {old})").to_arrow()
    assert "salary" not in table.column_names and table.num_rows == 2
    _check(table.to_pylist(), "a column the policy does not know")
    owner_view = lake.sql(f"SELECT * FROM hr.staff AT (VERSION => {old})").to_arrow()
    assert "salary" in owner_view.column_names  # the owner reads history as it was


def test_a_principal_cannot_lift_its_own_restriction(governed: Governed) -> None:
    _setup(governed)
    gov = governed.lake.governance
    gov.grant("bob", "admin", "hr.staff")
    bob = governed.lake.as_principal("bob")
    masks = {m.column: m for m in bob.governance.column_masks("hr.staff")}
    for attempt in (
        lambda: bob.governance.delete_policy("column_mask", masks["ssn"].id),
        lambda: bob.governance.add_column_mask("hr.staff", "ssn", "analyst", "ssn"),
    ):
        with pytest.raises(PermissionDeniedError):
            attempt()
        ATTEMPTS.record("self-weakening", True)
    gov.add_row_filter("hr.staff", "bob", "id = 1")
    bob = governed.lake.as_principal("bob")  # a handle is built with the policy of its time (issue 10, item 6)
    f = next(f for f in bob.governance.row_filters("hr.staff") if f.grantee == "bob")
    with pytest.raises(PermissionDeniedError):
        bob.governance.delete_policy("row_filter", f.id)
    ATTEMPTS.record("self-weakening", True)
    _check(bob.sql("SELECT * FROM hr.staff").to_pylist(), "after the attempts")
    assert bob.sql("SELECT count(*) FROM hr.staff").scalar() == 1
    # Restrictions on others stay manageable by the table's admin.
    m = bob.governance.add_column_mask("hr.staff", "name", "alice", "redact")
    bob.governance.delete_policy("column_mask", m.id)

