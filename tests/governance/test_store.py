"""Principals, tokens, grants and the audit log's storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from tests.governed_lake import Governed

import mlake
from mlake.errors import AlreadyExistsError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.governance.model import Scope
from mlake.governance.store import audit_pending_table, tokens_table
from mlake.governance.tokens import AuthenticationError
from mlake.lake import Lake


def test_tokens_are_stored_hashed_and_checked(lake: Lake) -> None:
    gov = lake.governance
    gov.create_principal("svc", kind="service")
    record, token = gov.create_token("svc", "pipeline")
    assert token.startswith(f"mlk_{record.token_id}_") and len(token) > 40
    with lake.metadata_engine.connect() as conn:
        stored = conn.execute(sa.select(tokens_table)).one()
    assert token.split("_", 2)[2] not in stored.secret_hash and len(stored.secret_hash) == 64
    assert gov.authenticate(token).name == "svc"
    for bad in ("nonsense", token[:-2] + "xx", f"mlk_{record.token_id}_", "mlk_ffffffffffff_" + "a" * 43):
        with pytest.raises(AuthenticationError):
            gov.authenticate(bad)
    gov.revoke_token(record.token_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        gov.authenticate(token)
    events = gov.audit_events(action="authenticate")
    assert events and all(e.outcome == "denied" and token not in (e.message or "") for e in events)


def test_expired_tokens_and_disabled_principals(lake: Lake) -> None:
    gov = lake.governance
    gov.create_principal("temp")
    _, old = gov.create_token("temp", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(AuthenticationError, match="expired"):
        gov.authenticate(old)
    _, fresh = gov.create_token("temp", expires_at=datetime.now(UTC) + timedelta(days=1))
    assert gov.authenticate(fresh).name == "temp"
    gov.update_principal("temp", disabled=True)
    with pytest.raises(AuthenticationError, match="disabled"):
        gov.authenticate(fresh)


def test_names_and_scopes_are_validated(lake: Lake) -> None:
    gov = lake.governance
    for bad in ("Bob", "1bob", "bob smith", "x" * 65, ""):
        with pytest.raises(ValidationError):
            gov.create_principal(bad)
    gov.create_principal("bob")
    with pytest.raises(AlreadyExistsError):
        gov.create_role("bob")
    with pytest.raises(AlreadyExistsError):
        gov.create_role("public")
    with pytest.raises(NotFoundError):
        gov.grant("nobody", "select", "shop.orders")
    with pytest.raises(ValidationError):
        gov.grant("bob", "delete", "shop.orders")
    with pytest.raises(ValidationError):
        gov.grant("bob", "insert", "shop.orders.amount")
    for text, kind in [("*", "lake"), ("shop", "namespace"), ("shop.orders", "table"), ("tag:pii=false", "tag")]:
        assert Scope.parse(text).kind == kind
    assert Scope.parse("shop.orders.amount") == Scope("column", "shop.orders", "amount")
    for bad in ("", "a.b.c.d", "tag:", "Shop Orders"):
        with pytest.raises(ValidationError):
            Scope.parse(bad)
    with pytest.raises(ValidationError):
        gov.add_column_mask("shop.orders", "amount", "bob", "(SELECT 1 FROM read_csv('/etc/passwd'))")
    with pytest.raises(Exception):  # noqa: B017 - any refusal: SandboxError or SqlError
        gov.add_row_filter("shop.orders", "bob", "amount > 0) OR (SELECT true FROM glob('/etc/*')")


def test_grants_are_idempotent_and_revocable(lake: Lake) -> None:
    gov = lake.governance
    gov.create_principal("bob")
    a = gov.grant("bob", "select", "shop")
    b = gov.grant("bob", "select", "shop")
    assert a.id == b.id and len(gov.grants("bob")) == 1
    assert gov.revoke("bob", "select", "shop") == 1
    assert gov.grants("bob") == []


def test_principals_manage_only_what_they_may(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob").governance
    with pytest.raises(PermissionDeniedError):
        bob.create_principal("mallory", superuser=True)
    with pytest.raises(PermissionDeniedError):
        bob.grant("bob", "select", "*")
    with pytest.raises(PermissionDeniedError):
        bob.create_token("alice")
    _, own = bob.create_token(description="my laptop")
    assert governed.lake.governance.authenticate(own).name == "bob"
    assert {t.principal for t in bob.tokens()} == {"bob"}
    assert [p.name for p in bob.principals()] == ["bob"]
    root = governed.lake.as_principal("root").governance
    root.create_principal("mallory")
    assert "mallory" in [p.name for p in root.principals()]
    denied = governed.lake.governance.audit_events(principal="bob", outcome="denied")
    assert {e.action for e in denied} >= {"principal.create", "grant", "token.create"}


@pytest.mark.slow
def test_audit_events_survive_a_crash_and_flush_once(tmp_path: object) -> None:
    """Events are durable once recorded: a process killed before any flush loses none of them."""
    import subprocess
    import sys
    from pathlib import Path

    home = Path(str(tmp_path)) / "lake"
    with mlake.connect(home, threads=2, user="owner") as lake:
        lake.create_table("shop.t", {"a": [1]})
        lake.governance.create_principal("bob")
        lake.governance.grant("bob", "select", "shop")
    script = (
        "import os, mlake\n"
        f"lake = mlake.connect({str(home)!r}, threads=2, user='owner')\n"
        "bob = lake.as_principal('bob')\n"
        "for _ in range(3): bob.sql('SELECT * FROM shop.t').to_arrow()\n"
        "os._exit(0)  # dies without closing: no flush\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with mlake.connect(home, threads=2, user="owner") as lake:
        audit = lake.governance.audit
        assert audit.pending() == 3
        assert audit.flush() == 3
        assert audit.flush() == 0
        assert lake.sql("SELECT count(*) FROM mlake.audit_log WHERE principal = 'bob'").scalar() == 3


def test_a_flush_interrupted_after_commit_does_not_duplicate(lake: Lake) -> None:
    audit = lake.governance.audit
    for i in range(5):
        audit.record(principal="p", action=f"a{i}")
    assert audit.flush() == 5
    # Simulate a crash between the Iceberg commit and the cleanup: put the flushed rows back as pending.
    with lake.metadata_engine.begin() as conn:
        for i in range(1, 6):
            conn.execute(
                audit_pending_table.insert().values(
                    event_id=i, at=datetime.now(UTC), principal="p", action=f"a{i - 1}", outcome="ok"
                )
            )
    audit.record(principal="p", action="a5")
    audit.flush()
    assert lake.sql("SELECT count(*), count(DISTINCT event_id) FROM mlake.audit_log").fetchall() == [(6, 6)]
    assert audit.pending() == 0


def test_audit_log_is_readable_by_superusers_only(governed: Governed) -> None:
    governed.lake.as_principal("bob").sql("SELECT 1").to_arrow()
    root = governed.lake.as_principal("root")
    assert root.sql("SELECT count(*) FROM mlake.audit_log").scalar() >= 1  # flushed on read
    with pytest.raises(PermissionDeniedError):
        governed.lake.as_principal("bob").sql("SELECT * FROM mlake.audit_log")
    own = governed.lake.as_principal("bob").governance.audit_events()
    assert own and {e.principal for e in own} == {"bob"}


def test_event_ids_are_never_reused(lake: Lake) -> None:
    """Once every pending event is flushed, new events still get higher ids (none is mistaken for flushed)."""
    audit = lake.governance.audit
    audit.record(principal="p", action="first")
    assert audit.flush() == 1
    audit.record(principal="p", action="second")
    assert audit.flush() == 1
    assert [e.action for e in audit.events()] == ["second", "first"]


def test_group_commit_keeps_every_event(lake: Lake) -> None:
    """In server mode with ``wait=True`` concurrent events are committed together, and each caller returns
    after its commit."""
    import threading

    audit = lake.governance.audit
    audit.start(interval=0.2, wait=True)
    try:

        def burst(i: int) -> None:
            for j in range(20):
                audit.record(principal=f"p{i}", action=f"a{j}")

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        audit.stop()
    assert audit.pending() == 0
    assert lake.sql("SELECT count(*), count(DISTINCT event_id) FROM mlake.audit_log").fetchall() == [(160, 160)]


def test_local_administration_is_audited_once(governed: Governed) -> None:
    gov = governed.lake.governance
    gov.grant("alice", "select", "vault.secrets")
    governed.lake.as_principal("root").governance.grant("alice", "select", "shop.orders")
    grants = gov.audit_events(action="grant")
    assert [(e.principal, e.client, e.tables) for e in grants[:2]] == [
        ("root", None, ["shop.orders"]),
        ("owner", "local", ["vault.secrets"]),
    ]
    assert len([e for e in grants if "shop.orders" in e.tables]) == 1
