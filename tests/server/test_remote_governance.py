"""``mlake.connect(url).governance``: access control of a server from Python, with the local model types,
and what the server refuses a principal who is not a superuser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.governed_lake import Governed

import mlake
from mlake.client import RemoteLake
from mlake.errors import PermissionDeniedError
from mlake.governance.model import Grant, Principal, Scope
from mlake.governance.tokens import AuthenticationError


@pytest.fixture
def clients(app: FastAPI, governed: Governed) -> Iterator[dict[str, RemoteLake]]:
    with TestClient(app, base_url="http://studio.test") as admin, TestClient(app, base_url="http://studio.test") as bob:
        yield {
            "admin": mlake.connect("http://studio.test", token=governed.admin_token, client=admin),
            "bob": mlake.connect("http://studio.test", token=governed.analyst_token, client=bob),
        }


def test_an_admin_manages_access_remotely(clients: dict[str, RemoteLake], governed: Governed, app: FastAPI) -> None:
    gov = clients["admin"].governance
    assert {p.name for p in gov.principals()} >= {"root", "bob", "alice"}
    carol = gov.create_principal("carol", display_name="Carol", roles=["analyst"])
    assert isinstance(carol, Principal) and carol.roles == ("analyst",) and carol.created_at is not None
    assert gov.principal("carol") == carol
    auditors = gov.create_role("auditors", "read the vault")
    gov.add_member("auditors", "carol")
    assert next(r for r in gov.roles() if r.name == "auditors").members == ("carol",)
    assert auditors.description == "read the vault"

    g = gov.grant("auditors", "select", "vault.secrets")
    assert isinstance(g, Grant) and g.scope == Scope("table", "vault.secrets") and g.granted_by == "root"
    mask = gov.add_column_mask("vault.secrets", "v", "auditors", "redact")
    hidden = gov.add_row_filter("vault.secrets", "auditors", "k <> 'launch'")
    assert [f.id for f in gov.row_filters("vault.secrets")] == [hidden.id]
    record, token = gov.create_token("carol", "tests")
    assert token.startswith("mlk_") and record.principal == "carol" and not record.revoked
    assert governed.lake.governance.column_masks("vault.secrets")[0].id == mask.id  # done on the server's lake
    with TestClient(app, base_url="http://studio.test") as http:
        carol_lake = mlake.connect("http://studio.test", token=token, client=http)
        assert carol_lake.sql("SELECT v FROM vault.secrets").to_pylist() == []  # the row filter
        gov.delete_policy("row_filter", hidden.id)
        assert carol_lake.sql("SELECT v FROM vault.secrets").scalar() == "***"  # the mask
        gov.delete_policy("column_mask", mask.id)
        assert carol_lake.sql("SELECT v FROM vault.secrets").scalar() == "2027-01-01"
        assert gov.revoke("auditors", "select", "vault.secrets") == 1
        with pytest.raises(PermissionDeniedError):
            carol_lake.sql("SELECT v FROM vault.secrets").to_arrow()
        assert gov.revoke_token(record.token_id).revoked
        with pytest.raises(AuthenticationError):
            carol_lake.sql("SELECT 1").to_arrow()

    events = gov.audit_events(principal="root", limit=50)
    assert any(e.action == "grant" for e in events) and all(e.at.tzinfo is not None for e in events)
    gov.remove_member("auditors", "carol")
    gov.delete_role("auditors")
    gov.update_principal("carol", disabled=True)
    assert gov.principal("carol").disabled
    gov.delete_principal("carol")
    assert "carol" not in {p.name for p in gov.principals()}


def test_an_analyst_sees_only_their_own_and_may_not_grant(clients: dict[str, RemoteLake]) -> None:
    gov = clients["bob"].governance
    assert [p.name for p in gov.principals()] == ["bob"]
    assert {str(g.scope) for g in gov.grants()} == {"tag:pii=false", "shop.customers"}
    with pytest.raises(PermissionDeniedError):
        gov.grant("analyst", "select", "vault.secrets")
    with pytest.raises(PermissionDeniedError):
        gov.create_principal("mallory", superuser=True)
    assert all(e.principal == "bob" for e in gov.audit_events(limit=20))
