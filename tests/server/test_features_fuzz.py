"""Generated requests against the feature routes, around real groups: never a server error.

Schemathesis (test_openapi_fuzz.py) covers every operation with inputs generated from the OpenAPI
document, but random names rarely hit a real group; here hypothesis builds requests from the real
groups' names and keys mixed with junk — odd JSON values as entity keys, wrong types, clashing rows —
as an analyst (masks and filters on: the governed path) and as a superuser (the direct path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.governed_features import NOW, add_feature_groups
from tests.governed_lake import Governed, build_governed_lake

from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

pytestmark = pytest.mark.slow

REAL = st.sampled_from(["customer_profile:age", "customer_profile:*", "order_stats:orders", "order_stats:*"])
JUNK = st.sampled_from(["customer_profile:nope", "nope:x", "order_stats", ":"]) | st.text(max_size=20)
FEATURES = st.one_of(st.lists(REAL, min_size=1, max_size=3), st.lists(REAL | JUNK, max_size=3))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
KEY = st.integers(min_value=-3, max_value=10)
GOOD_ENTITY = st.fixed_dictionaries({"customer_id": KEY})
JUNK_ENTITY = st.dictionaries(st.sampled_from(["customer_id", "id", "at", ""]), JSON_VALUES, max_size=3)
ENTITIES = st.one_of(st.lists(GOOD_ENTITY, min_size=1, max_size=5), st.lists(GOOD_ENTITY | JUNK_ENTITY, max_size=4))
TIME = st.sampled_from([NOW.isoformat(), "2020-01-01", (NOW.replace(tzinfo=None)).isoformat()])
TIMES = TIME | st.sampled_from(["not a time", ""]) | JSON_VALUES
GOOD_ROW = st.fixed_dictionaries({"customer_id": KEY, "at": TIME})
JUNK_ROW = st.fixed_dictionaries({"customer_id": JSON_VALUES, "at": TIMES}) | st.dictionaries(
    st.text(max_size=4), JSON_VALUES
)
ENTITY_ROWS = st.one_of(
    st.lists(GOOD_ROW, min_size=1, max_size=5), st.lists(GOOD_ROW | JUNK_ROW, min_size=1, max_size=4)
)
GOOD_WRITE = st.fixed_dictionaries({"customer_id": KEY, "ts": TIME, "orders": st.integers(0, 5) | st.none()})
JUNK_WRITE = st.fixed_dictionaries({"customer_id": JSON_VALUES, "ts": TIMES, "orders": JSON_VALUES}) | st.dictionaries(
    st.text(max_size=4), JSON_VALUES
)
WRITE_ROWS = st.one_of(
    st.lists(GOOD_WRITE, min_size=1, max_size=3), st.lists(GOOD_WRITE | JUNK_WRITE, min_size=1, max_size=3)
)


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    g: Governed = build_governed_lake(tmp_path_factory.mktemp("features-fuzz") / "lake")
    add_feature_groups(g.lake)
    app = create_app(g.lake, ServerSettings(auth=True, statement_timeout=5))
    with TestClient(app) as client:
        yield {
            "bob": _as(client, g.analyst_token),
            "root": _as(client, g.admin_token),
        }
    g.lake.close()


def _as(client: TestClient, token: str) -> Any:
    class As:
        def request(self, method: str, path: str, **kw: Any) -> Any:
            return client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)

    return As()


def _ok(response: Any) -> None:
    assert response.status_code < 500, response.text[:800]
    if response.status_code >= 400:
        assert response.json()["code"] not in ("internal_error", None)


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@SETTINGS
@given(who=st.sampled_from(["bob", "root"]), features=FEATURES, entities=ENTITIES)
def test_online_reads(clients: dict[str, Any], who: str, features: list[str], entities: list[dict[str, Any]]) -> None:
    _ok(clients[who].request("POST", "/api/v1/features/online", json={"features": features, "entities": entities}))


@SETTINGS
@given(
    who=st.sampled_from(["bob", "root"]),
    features=FEATURES,
    rows=ENTITY_ROWS,
    entity_time=st.sampled_from([None, "at", None, "at", "customer_id", "nope"]),
    as_of=st.sampled_from([None, NOW.isoformat(), "2001-01-01T00:00:00Z"]),
)
def test_training_sets(
    clients: dict[str, Any],
    who: str,
    features: list[str],
    rows: list[dict[str, Any]],
    entity_time: str | None,
    as_of: str | None,
) -> None:
    body = {"features": features, "entities": {"rows": rows}, "entity_time": entity_time, "as_of": as_of}
    response = clients[who].request("POST", "/api/v1/features/training-sets", params={"save": False}, json=body)
    _ok(response)


@SETTINGS
@given(
    who=st.sampled_from(["bob", "root"]),
    group=st.sampled_from(["order_stats", "order_stats", "customer_profile"]) | st.text(max_size=10),
    rows=WRITE_ROWS,
)
def test_writes(clients: dict[str, Any], who: str, group: str, rows: list[dict[str, Any]]) -> None:
    path = f"/api/v1/features/groups/{quote(group, safe='')}/write"
    _ok(clients[who].request("POST", path, json={"rows": rows, "online": False}))
