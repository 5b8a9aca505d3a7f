"""On-demand features: a group defined by a fitted recipe over a source table serves, for request-time
values, exactly what its offline rows hold for the same input — the same fitted parameters, the same SQL.
A principal needs the group's grants (not the source's); without them it gets nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlake.errors import PermissionDeniedError, ValidationError
from mlake.lake import Lake
from mlake.processing.base import ProcessingError

T0 = datetime(2026, 3, 1, tzinfo=UTC)
VISITS = pa.table(
    {
        "customer_id": list(range(1, 9)),
        "at": [T0 + timedelta(hours=i) for i in range(8)],
        "amount": [3.0, 10.0, 250.0, 41.5, 0.0, 77.0, 12.0, 9.5],
        "channel": ["web", "app", "web", "store", "web", "app", "partner", "web"],
    }
)
RECIPE = {
    "name": "visit_features",
    "source": "shop.visits",
    "steps": [
        {"op": "log", "columns": ["amount"], "offset": 1},
        {"op": "standard_scale", "columns": ["amount"]},
        {"op": "one_hot", "column": "channel", "top_k": 2, "other": True},
    ],
}
FEATURES = ["visits:amount", "visits:channel_web", "visits:channel_app", "visits:channel_other"]


@pytest.fixture
def served(lake: Lake) -> Lake:
    lake.create_table("shop.visits", VISITS)
    lake.recipes.create(RECIPE)
    lake.recipes.run("visit_features", "shop.visits_fitted")  # fits the recipe on the source
    lake.features.create_group("visits", entities=["customer_id"], event_time="at", recipe="visit_features")
    return lake


def _offline(lake: Lake) -> dict[int, dict[str, object]]:
    rows = lake.sql("SELECT * FROM features.visits").to_arrow().to_pylist()
    return {r["customer_id"]: r for r in rows}


def test_offline_and_online_values_are_equal_for_the_same_input(served: Lake) -> None:
    group = served.features.group("visits")
    assert group.tags["recipe"] == "visit_features@v1"
    offline = _offline(served)
    raw = VISITS.to_pylist()
    keys = [{"customer_id": r["customer_id"]} for r in raw]
    request = [{"at": r["at"], "amount": r["amount"], "channel": r["channel"]} for r in raw]
    online = served.features.get_online_features(keys, FEATURES, request=request)
    for key, values, statuses in zip(keys, online.values, online.statuses, strict=True):
        expected = offline[key["customer_id"]]
        assert values == {f.split(":")[1]: expected[f.split(":")[1]] for f in FEATURES}
        assert set(statuses.values()) == {"present"}
    assert served.recipes.transform("visit_features", raw).column("amount").to_pylist() == [
        offline[r["customer_id"]]["amount"] for r in raw
    ]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amount=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    channel=st.sampled_from(["web", "app", "store", "brand-new"]),
)
def test_a_new_request_is_computed_with_the_training_parameters(served: Lake, amount: float, channel: str) -> None:
    """The values served for an unseen input are what the offline SQL gives for that input row."""
    online = served.features.get_online_features(
        {"customer_id": 99}, FEATURES, request={"at": T0, "amount": amount, "channel": channel}
    )
    stored = served.recipes.get("visit_features")
    assert stored.fitted is not None
    mean, std = stored.fitted.params[1]["amount"]  # what standard_scale learned on the source
    import math

    assert online.values[0]["amount"] == pytest.approx((math.log(amount + 1) - mean) / std, rel=1e-9, abs=1e-12)
    assert online.values[0]["channel_other"] == (1 if channel not in ("web", "app") else 0)


def test_stored_values_without_a_request_and_wrong_requests(served: Lake) -> None:
    served.features.materialize("visits")
    stored = served.features.get_online_features({"customer_id": 3}, FEATURES)
    assert stored.values[0]["amount"] == _offline(served)[3]["amount"]
    with pytest.raises(ValidationError, match="request row"):
        served.features.get_online_features([{"customer_id": 1}, {"customer_id": 2}], FEATURES, request=[{}])
    served.recipes.create({**RECIPE, "name": "unfitted"})
    with pytest.raises(ProcessingError, match="not fitted"):
        served.features.create_group("visits2", entities=["customer_id"], event_time="at", recipe="unfitted")
    with pytest.raises(ValidationError, match="not both"):
        served.features.create_group(
            "visits3", entities=["customer_id"], event_time="at", recipe="visit_features", data=VISITS
        )


def test_a_principal_needs_the_groups_grants(served: Lake) -> None:
    gov = served.governance
    gov.create_principal("ann")
    gov.create_principal("eve")
    gov.grant("ann", "select", "features.visits")  # the group, not its source table
    request = {"at": T0, "amount": 10.0, "channel": "web"}
    ann = served.as_principal("ann")
    got = ann.features.get_online_features({"customer_id": 2}, FEATURES, request=request)
    owner = served.features.get_online_features({"customer_id": 2}, FEATURES, request=request)
    assert got.values == owner.values
    with pytest.raises(PermissionDeniedError):
        served.as_principal("eve").features.get_online_features({"customer_id": 2}, FEATURES, request=request)
