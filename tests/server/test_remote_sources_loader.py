"""Sources, provenance, training-set uses and loaders through ``mlake.connect(url)``: over the real app
(HTTP through a TestClient), each gives what the local call gives on the same lake, and a principal
without grants is refused with the same message whether the table exists or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi import FastAPI
from tests.governed_features import NOW, add_feature_groups
from tests.governed_lake import Governed

from mlake.client import RemoteLake
from mlake.errors import MlakeError, NotFoundError, PermissionDeniedError, UseForbiddenError
from mlake.sources.registry import Provenance


@pytest.fixture
def app(governed: Governed) -> FastAPI:
    from mlake.server.app import create_app
    from mlake.server.settings import ServerSettings

    lake = governed.lake
    add_feature_groups(lake)
    lake.sources.register("crm", kind="internal", license="internal", allowed_uses=["analytics"], personal_data=True)
    lake.sources.attach("shop.customers", "crm")
    lake.sources.attach("features.customer_profile", "crm")
    return create_app(lake, ServerSettings(auth=True, statement_timeout=5))


def _refusal(call: Any) -> str:
    with pytest.raises(MlakeError) as info:
        call()
    assert isinstance(info.value, PermissionDeniedError | NotFoundError)
    return str(info.value).replace("shop.nothing_here", "X").replace("vault.secrets", "X")


def test_sources_and_provenance_match_the_local_registry(remotes: dict[str, RemoteLake], governed: Governed) -> None:
    admin, bob, alice = remotes["admin"], remotes["bob"], remotes["alice"]
    made = admin.sources.register("web", kind="public", license="CC-BY-4.0", expires="2030-01-01")
    assert made.expires is not None and made.expires.isoformat() == "2030-01-01"
    assert admin.sources.get("web") == governed.lake.sources.get("web")
    assert [s.name for s in bob.sources.list()] == [s.name for s in governed.lake.sources.list()] == ["crm", "web"]
    admin.sources.attach("shop.orders", "web")
    remote = bob.table("shop.orders").provenance()
    local = governed.lake.as_principal("bob").table("shop.orders").provenance()
    assert isinstance(remote, Provenance) and remote == local and remote.licenses == ["CC-BY-4.0"]
    assert admin.sources.provenance(["shop.orders", "shop.customers"]) == governed.lake.sources.provenance(
        ["shop.orders", "shop.customers"]
    )
    with pytest.raises(UseForbiddenError, match="may not be used for model_training"):
        bob.sources.require_use("shop.customers", "model_training")
    kept = bob.sources.require_use("shop.customers", "model_training", override="separate agreement")
    assert kept.personal_data
    with pytest.raises(PermissionDeniedError):
        bob.sources.register("mine", kind="public")
    admin.sources.detach("shop.orders", "web")
    admin.sources.remove("web")
    with pytest.raises(NotFoundError):
        admin.sources.get("web")
    # no grants: the same refusal for a table that exists and one that does not
    assert _refusal(lambda: alice.table("vault.secrets").provenance()) == _refusal(
        lambda: alice.table("shop.nothing_here").provenance()
    )
    assert _refusal(lambda: alice.sources.attach("vault.secrets", "crm")) == _refusal(
        lambda: alice.sources.attach("shop.nothing_here", "crm")
    )


def test_training_set_uses_and_provenance(remotes: dict[str, RemoteLake], governed: Governed) -> None:
    bob = remotes["bob"].features
    frame = pd.DataFrame({"customer_id": [1, 3], "at": [NOW] * 2})
    with pytest.raises(UseForbiddenError, match="model_training"):
        bob.training_set(frame, ["customer_profile:age"], entity_time="at", use="model_training")
    ts = bob.training_set(
        frame, ["customer_profile:age"], entity_time="at", name="ok", use="model_training", override="signed DPA"
    )
    local = governed.lake.as_principal("bob").features.load_training_set(ts.id or "")
    assert ts.provenance() == local.provenance() and [u.source.name for u in ts.provenance().sources] == ["crm"]
    assert bob.training_set(frame, ["customer_profile:age"], entity_time="at", use="analytics", save=False)


def _epoch(loader: Any) -> list[int]:
    return [int(v) for batch in loader for v in np.asarray(batch["customer_id"])]


def test_loaders_match_the_local_ones(remotes: dict[str, RemoteLake], governed: Governed, tmp_path: Path) -> None:
    bob, local = remotes["bob"], governed.lake.as_principal("bob")
    options: dict[str, Any] = {"batch_size": 2, "shuffle": True, "seed": 3, "cache": tmp_path / "c"}
    # a governed table: the analyst's rows only (row filter), the same rows as locally
    remote_rows = _epoch(bob.table("shop.customers").loader(**options))
    assert sorted(remote_rows) == sorted(_epoch(local.table("shop.customers").loader(**options))) == [1, 3, 5]
    masked = next(iter(bob.loader("shop.customers", batch_size=10, format="arrow")))
    assert isinstance(masked, pa.RecordBatch) and sorted(masked.column("age").to_pylist()) == [30, 30, 40]
    # a query result: the same batches in the same (shuffled) order as the local loader
    sql = "SELECT customer_id, amount FROM shop.orders"
    assert _epoch(bob.sql(sql).loader(**options)) == _epoch(local.sql(sql).loader(**options))
    # sharded by rank: every row exactly once across ranks, each rank's share as locally
    shards = [_epoch(bob.loader(sql, rank=r, world_size=2, batch_size=1)) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == [1, 2, 3, 5]
    assert shards == [_epoch(local.loader(sql, rank=r, world_size=2, batch_size=1)) for r in range(2)]
    # a saved training set, with columns chosen
    frame = pd.DataFrame({"customer_id": [1, 3, 5], "at": [NOW] * 3})
    ts = bob.features.training_set(frame, ["customer_profile:*"], entity_time="at", name="for-loading")
    local_ts = local.features.load_training_set(ts.id or "")
    chosen = {"columns": ["customer_id", "age"], "batch_size": 8, "format": "arrow"}
    assert next(iter(ts.loader(**chosen))).equals(next(iter(local_ts.loader(**chosen))))
    # no grants: the same refusal for a table that exists and one that does not, before any row is read
    alice = remotes["alice"]
    assert _refusal(lambda: alice.table("vault.secrets").loader()) == _refusal(
        lambda: alice.table("shop.nothing_here").loader()
    )
    assert _refusal(lambda: alice.loader("SELECT * FROM vault.secrets")) == _refusal(
        lambda: alice.loader("SELECT * FROM shop.nothing_here")
    )
