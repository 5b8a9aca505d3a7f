"""``lake.storage`` over REST (the real app through a TestClient, driven by the remote client) and the CLI:
the same results as in process, and a principal without grants gets nothing from usage, history or
policies and may change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import mlake
from mlake.errors import NotFoundError, PermissionDeniedError
from mlake.lake import Lake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from tests.lifecycle.test_lifecycle import events, make_history


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner")
    make_history(lake, "shop.orders", batches=3)
    make_history(lake, "hr.salaries", batches=2)
    lake.storage.set_policy("hr", retain_last=2, tier_location=str(tmp_path / "secret-cold"))
    lake.storage.usage(record=True)
    lake.governance.create_principal("ada", superuser=True)
    lake.governance.create_principal("bob")
    lake.governance.create_principal("eve")
    lake.governance.grant("bob", "alter", "shop.orders")
    app = create_app(lake, ServerSettings(auth=True))
    clients = {}
    for who in ("ada", "bob", "eve"):
        token = lake.governance.create_token(who)[1]
        clients[who] = mlake.connect(
            "http://studio.test", token=token, client=TestClient(app, base_url="http://studio.test")
        )
    yield {"lake": lake, **clients}
    for c in clients.values():
        c.close()
    lake.close()


def test_remote_usage_policies_and_runs_match_the_local_ones(world: dict[str, Any]) -> None:
    lake: Lake = world["lake"]
    ada = world["ada"]
    local = lake.storage.usage()
    remote = ada.storage.usage()
    assert [t.to_dict() for t in remote.tables] == [t.to_dict() for t in local.tables]
    assert {n.namespace for n in remote.namespaces} == {"shop", "hr", "mlake"}
    stored = ada.storage.set_policy("shop.orders", retention_days=30, time_column="ts", compact=False)
    assert stored.set_by == "ada" and lake.storage.get_policy("shop.orders") == stored
    assert ada.storage.effective_policy("shop.orders") == lake.storage.effective_policy("shop.orders")
    (dry,) = ada.storage.apply("shop.orders", dry_run=True)
    assert dry.dry_run and next(a for a in dry.actions if a.kind == "retention").rows == 10
    assert lake.table("shop.orders").count() == 30
    (done,) = ada.storage.apply("shop.orders", expire_older_than="0s", retain_last=1, orphan_grace="0s")
    assert lake.table("shop.orders").count() == 20
    assert done.bytes_saved == done.bytes_before - done.bytes_after
    data_after = lake.storage.usage("shop.orders").table("shop.orders")
    assert data_after.current_bytes + data_after.old_bytes < local.table("shop.orders").current_bytes
    pin = ada.storage.pin("shop.orders", "keep-me")
    assert [p.to_dict() for p in ada.storage.pins("shop.orders")] == [
        p.to_dict() for p in lake.storage.pins("shop.orders")
    ]
    assert pin.snapshot_id in {p.snapshot_id for p in lake.storage.pins("shop.orders")}
    ada.storage.unpin("shop.orders", "keep-me")
    assert [p.trigger for p in ada.storage.history("shop.orders")] == ["measure", "maintain"]
    ada.storage.remove_policy("shop.orders")
    assert ada.storage.get_policy("shop.orders") is None
    with pytest.raises(NotFoundError):
        ada.storage.remove_policy("shop.orders")


def test_a_principal_sees_only_its_tables_and_one_without_grants_nothing(world: dict[str, Any]) -> None:
    bob, eve = world["bob"], world["eve"]
    assert [t.table for t in bob.storage.usage().tables] == ["shop.orders"]
    assert {p.table for p in bob.storage.history()} == {"shop.orders"}
    assert bob.storage.policies() == []  # the hr policy is not bob's to see
    bob.storage.set_policy("shop.orders", retain_last=3)
    assert [r.table for r in bob.storage.apply(dry_run=True)] == ["shop.orders"]
    with pytest.raises(PermissionDeniedError):
        bob.storage.set_policy("hr.salaries", retain_last=1)
    assert eve.storage.usage().tables == [] and eve.storage.history() == []
    assert eve.storage.policies() == [] and eve.storage.apply() == []
    for call in (
        lambda: eve.storage.usage("hr.salaries"),
        lambda: eve.storage.get_policy("hr.salaries"),
        lambda: eve.storage.set_policy("hr", retain_last=1),
        lambda: eve.storage.set_policy("shop.orders", retain_last=1),
        lambda: eve.storage.apply("shop.orders"),
        lambda: eve.storage.pin("shop.orders", "mine"),
        lambda: eve.storage.pins("hr.salaries"),
        lambda: eve.storage.effective_policy("hr.salaries"),
        lambda: eve.storage.history("hr.salaries"),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    assert eve.storage.get_policy("hr") is None
    assert world["lake"].storage.effective_policy("hr.salaries").retain_last == 2


def test_cli_sets_policies_shows_usage_and_maintains(world: dict[str, Any]) -> None:
    from mlake.cli.main import app

    lake: Lake = world["lake"]
    home = str(lake.settings.home)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--home", home, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = run("storage", "policy", "set", "shop.orders", "--retention-days", "30", "--time-column", "ts")
    assert "policy set" in out and "retention_days=30.0" in out
    assert "shop.orders" in run("storage", "policy", "list")
    out = run("maintain", "shop.orders", "--dry-run")
    assert "would delete 10 row(s)" in out and lake.table("shop.orders").count() == 30
    out = run("maintain", "shop.orders", "--older-than", "0s", "--retain-last", "1", "--orphan-grace", "0s")
    assert "deleted 10 row(s)" in out and lake.table("shop.orders").count() == 20
    assert "shop.orders" in run("storage", "usage") and "namespaces" in run("storage", "usage")
    assert "maintain" in run("storage", "history", "shop.orders")
    run("storage", "pin", "shop.orders", "v1")
    assert "tag v1" in run("storage", "pins", "shop.orders")
    run("storage", "policy", "remove", "shop.orders")
    assert "retention" not in run("storage", "policy", "show", "shop.orders")
    lake.table("shop.orders").append(events(500, [0.0]))
