"""``remote.recipes``: saved recipes through the real app (HTTP through a TestClient) give what the local
``lake.recipes`` gives on the same lake; a principal that may not read a recipe's source is told it does
not exist, exactly as for a recipe that does not."""

from __future__ import annotations

import pyarrow as pa
import pytest
from tests.governed_lake import Governed

from mlake.client import RemoteLake
from mlake.errors import MlakeError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.processing.api import RecipeRun, StoredRecipe
from mlake.processing.recipe import Recipe

ORDERS = """
name: scaled_orders
source: shop.orders
steps:
  - {op: standard_scale, columns: [amount]}
  - {op: select, columns: [order_id, customer_id, amount]}
"""
SECRETS = "name: peek\nsource: vault.secrets\nsteps:\n  - {op: select, columns: [k]}\n"


def test_recipes_remotely_as_locally(remotes: dict[str, RemoteLake], governed: Governed) -> None:
    admin, bob, alice = remotes["admin"].recipes, remotes["bob"].recipes, remotes["alice"].recipes
    local = governed.lake.recipes
    made = bob.create(ORDERS)
    assert isinstance(made, StoredRecipe) and made.version == 1 and made.created_by == "bob"
    assert bob.create(Recipe.from_yaml(ORDERS)).version == 2
    assert bob.get("scaled_orders", 1) == local.get("scaled_orders", 1)
    assert [r.version for r in bob.versions("scaled_orders")] == [1, 2]
    assert [r.name for r in bob.list()] == [r.name for r in local.list()] == ["scaled_orders"]
    assert bob.preview("scaled_orders", rows=3).equals(local.preview("scaled_orders", rows=3))
    assert bob.preview(Recipe.from_yaml(ORDERS)).num_rows == 4

    run = admin.run("scaled_orders", "shop.orders_scaled", version=1)
    assert isinstance(run, RecipeRun) and run.rows == 4 and run.fitted and run.table == "shop.orders_scaled"
    assert admin.get("scaled_orders", 1).fitted == local.get("scaled_orders", 1).fitted is not None
    assert bob.export("scaled_orders", "sql", version=1) == local.export("scaled_orders", "sql", version=1)
    assert bob.export("scaled_orders", "yaml") == local.export("scaled_orders", "yaml")
    with pytest.raises(ValidationError, match="Unknown export format"):
        bob.export("scaled_orders", "docx")
    rows = pa.table({"order_id": [1], "customer_id": [7], "amount": [42.0]})
    assert bob.transform("scaled_orders", rows, version=1).equals(local.transform("scaled_orders", rows, version=1))
    assert bob.transform("scaled_orders", rows.to_pylist(), version=1).num_rows == 1
    with pytest.raises(PermissionDeniedError):
        bob.run("scaled_orders", "shop.bobs_copy", version=1)  # no create grant on shop

    # a recipe over a table alice may not read is "not found", with the message of one that does not exist
    governed.lake.recipes.create(SECRETS)
    messages = []
    for name in ("peek", "nothing_here"):
        with pytest.raises(NotFoundError) as info:
            alice.get(name)
        messages.append(str(info.value).replace(name, "X"))
    assert messages[0] == messages[1]
    with pytest.raises(MlakeError):
        alice.create(SECRETS)
    assert [r.name for r in alice.list()] == []
