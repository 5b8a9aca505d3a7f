"""The feature store part of the demo lake: two feature groups over the shop and a churn training set.

- ``customer_orders``: at every completed order, the customer's orders and spend over the 30 days up to
  it (a rolling window in SQL), valid for 60 days.
- ``customer_clicks``: per customer and day, clickstream counts of that day, known at the end of the day,
  valid for 7 days.
- ``churn-training``: the labels of ``shop.churn_labels`` joined point-in-time with both groups at each
  label's ``as_of``: no feature can see past the cut-off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlake.features.training import forget_training_sets

if TYPE_CHECKING:
    from mlake.lake import Lake

ORDERS_SQL = """
SELECT customer_id, ordered_at AS ts,
       count(*) OVER w AS orders_30d,
       round(sum(amount) OVER w, 2) AS spend_30d,
       round(avg(amount) OVER w, 2) AS avg_order_30d
FROM (SELECT DISTINCT customer_id, ordered_at, amount FROM shop.orders WHERE status = 'completed' AND amount > 0)
WINDOW w AS (PARTITION BY customer_id ORDER BY ordered_at RANGE BETWEEN INTERVAL 30 DAYS PRECEDING AND CURRENT ROW)
"""

CLICKS_SQL = """
SELECT customer_id, date_trunc('day', ts) + INTERVAL 1 DAY AS day_end,
       count(*) FILTER (WHERE event_type = 'view') AS views_1d,
       count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts_1d,
       count(DISTINCT session_id) AS sessions_1d
FROM shop.events WHERE customer_id IS NOT NULL AND ts IS NOT NULL
GROUP BY ALL
"""


def build_feature_demo(lake: Lake) -> list[str]:
    """Create the demo's feature groups from the shop tables and save a churn training set."""
    fs = lake.features
    for name in ("customer_orders", "customer_clicks"):
        if fs.registry.exists(name):
            fs.drop_group(name)
    fs.create_group(
        "customer_orders",
        entities={"customer_id": "long"},
        event_time="ts",
        features={
            "orders_30d": ("long", "Completed orders in the 30 days up to the event"),
            "spend_30d": ("double", "Money spent (EUR) in the 30 days up to the event"),
            "avg_order_30d": ("double", "Average order value (EUR) over the same 30 days"),
        },
        ttl="60d",
        description="Rolling order statistics per customer, from shop.orders",
        owner="ml-team",
        tags={"domain": "sales", "pii": "false"},
    )
    orders = fs.write("customer_orders", ORDERS_SQL)
    fs.create_group(
        "customer_clicks",
        entities={"customer_id": "long"},
        event_time="day_end",
        features={
            "views_1d": ("long", "Product views on the day"),
            "carts_1d": ("long", "Add-to-cart events on the day"),
            "sessions_1d": ("long", "Sessions on the day"),
        },
        ttl="7d",
        description="Daily clickstream activity per customer, from shop.events",
        owner="web-team",
        tags={"domain": "web", "pii": "false"},
    )
    clicks = fs.write("customer_clicks", CLICKS_SQL)
    forget_training_sets(lake, "churn-training")  # built again, over the groups just made: not a new version
    ts = fs.training_set(
        "shop.churn_labels",
        ["customer_orders:*", "customer_clicks:*"],
        entity_time="as_of",
        name="churn-training",
        description="Churn labels with point-in-time order and click features at the cut-off",
    )
    return [
        f"features.customer_orders: {orders.rows_written:,} feature rows ({orders.online_entities:,} customers online)",
        f"features.customer_clicks: {clicks.rows_written:,} feature rows ({clicks.online_entities:,} customers online)",
        f"training set churn-training ({ts.id}): {len(ts):,} rows, point-in-time at each label's as_of",
    ]
