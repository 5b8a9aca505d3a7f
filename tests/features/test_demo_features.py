"""The demo lake builds feature groups and a point-in-time correct churn training set."""

from __future__ import annotations

import pytest

from mlake.demo import build_demo
from mlake.lake import Lake


@pytest.mark.slow
def test_demo_builds_feature_groups_and_a_training_set(lake: Lake) -> None:
    lines = build_demo(lake, customers=300)
    assert any("churn-training" in line for line in lines)
    fs = lake.features
    assert {g.name for g in fs.groups()} == {"customer_orders", "customer_clicks", "customer_views_1h"}
    ts = fs.load_training_set("churn-training")
    data = ts.to_arrow()
    assert data.num_rows == 300
    cutoff = data["as_of"][0].as_py()
    assert data.column_names[:3] == ["customer_id", "as_of", "churned"]
    assert data["orders_30d"].null_count < 300  # most customers have recent orders
    # no leakage: each value is the customer's latest row at or before the cut-off (within the 60-day TTL),
    # computed here independently with a plain aggregate
    expected = dict(
        lake.sql(
            f"""SELECT customer_id, arg_max(orders_30d, ts) FROM features.customer_orders
                WHERE ts <= TIMESTAMPTZ '{cutoff.isoformat()}'
                  AND ts >= TIMESTAMPTZ '{cutoff.isoformat()}' - INTERVAL 60 DAY GROUP BY ALL"""
        ).fetchall()
    )
    got = dict(zip(data["customer_id"].to_pylist(), data["orders_30d"].to_pylist(), strict=True))
    assert {k: v for k, v in got.items() if v is not None} == expected
    assert fs.load_training_set(ts.id).to_arrow().equals(data)
    info = fs.describe("customer_orders")
    assert info.lineage.upstream_tables == ["shop.orders"]
    assert [t.name for t in info.training_sets] == ["churn-training"]
    from mlake.features.demo import build_feature_demo

    build_feature_demo(lake)  # the demo built again: still one training set of that name
    assert [(t.name, t.version) for t in fs.training_sets()] == [("churn-training", 1)]
    # the demo's timeline ends today, so its online features hold values now (TTLs 60 days and 7 days),
    # for the customer of its suggested `mlake features get ... --entity customer_id=42` too
    online = fs.get_online_features(
        [{"customer_id": c} for c in range(1, 301)], ["customer_orders:spend_30d", "customer_clicks:views_1d"]
    )
    for feature in ("spend_30d", "views_1d"):
        present = sum(s[feature] == "present" for s in online.statuses)
        assert present > 100, (feature, present)  # 0 when the data ended long ago
        assert online.statuses[41][feature] == "present"
