"""Governance on a PostgreSQL control plane (the team setup): the same rules, the same audit log."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import mlake
from mlake.errors import PermissionDeniedError

pytestmark = pytest.mark.postgres


def test_governance_on_postgres(pg_database: str, tmp_path: Path) -> None:
    with mlake.connect(tmp_path / "lake", catalog_url=pg_database, threads=2, user="owner") as lake:
        lake.create_table(
            "shop.people", pa.table({"id": [1, 2, 3], "country": ["DE", "FR", "DE"], "email": ["a@x", "b@y", "c@z"]})
        )
        gov = lake.governance
        gov.create_role("analyst")
        gov.create_principal("bob", roles=["analyst"])
        gov.grant("analyst", "select", "shop")
        gov.add_row_filter("shop.people", "analyst", "country = 'DE'")
        gov.add_column_mask("shop.people", "email", "bob", "redact")
        _, token = gov.create_token("bob")
        bob = lake.as_principal(gov.authenticate(token))
        rows = bob.sql("SELECT id, email FROM shop.people ORDER BY id").to_pylist()
        assert rows == [{"id": 1, "email": "***"}, {"id": 3, "email": "***"}]
        gov.create_principal("alice")
        with pytest.raises(PermissionDeniedError):
            lake.as_principal("alice").sql("SELECT * FROM shop.people")
        assert gov.audit.flush() >= 2
        gov.audit.record(principal="p", action="after-empty")  # ids keep growing after the pending table emptied
        assert gov.audit.flush() == 1
        events = gov.audit_events()
        assert events[0].action == "after-empty" and {"bob", "alice"} <= {e.principal for e in events}
