"""Feature groups on the governed test lake (tests/governed_lake.py), with grants, a row filter and a mask.

- ``customer_profile`` (tagged pii=true): analysts get SELECT on its offline table with the row filter
  ``country = 'DE'`` and the mask ``round(age, -1)``. Customer 2 lived in DE until recently: its latest
  row is FR (hidden from analysts), an older one is DE.
- ``order_stats`` (tagged pii=false): analysts read it through their tag grant, unrestricted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from mlake.lake import Lake

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR_AGO = NOW - timedelta(hours=1)
TEN_DAYS_AGO = NOW - timedelta(days=10)

PROFILE = pa.table(
    {
        "customer_id": [1, 2, 3, 4, 5, 6, 2],
        "ts": [HOUR_AGO] * 6 + [TEN_DAYS_AGO],
        "age": [31, 45, 27, 62, 38, 50, 44],
        "country": ["DE", "FR", "DE", "NL", "DE", "FR", "DE"],
        "spend": [10.5, 20.0, 30.25, 40.0, 50.0, 60.0, 5.0],
    }
)
ORDER_STATS = pa.table({"customer_id": [1, 2, 3, 5], "ts": [HOUR_AGO] * 4, "orders": [1, 1, 1, 1]})
DE_VISIBLE = {1, 3, 5}  # customers whose latest profile row analysts see


def add_feature_groups(lake: Lake) -> None:
    fs = lake.features
    fs.create_group(
        "customer_profile",
        entities=["customer_id"],
        event_time="ts",
        features={
            "age": ("long", "Age in years"),
            "country": ("string", "Country of residence"),
            "spend": ("double", "Spend in EUR over 30 days"),
        },
        data=PROFILE,
        ttl="30d",
        description="Who a customer is",
        owner="owner",
        tags={"pii": "true", "domain": "crm"},
    )
    fs.create_group(
        "order_stats",
        entities=["customer_id"],
        event_time="ts",
        data=ORDER_STATS,
        description="Orders per customer",
        owner="ml-team",
        tags={"pii": "false", "domain": "sales"},
    )
    gov = lake.governance
    gov.grant("analyst", "select", "features.customer_profile")
    gov.add_row_filter("features.customer_profile", "analyst", "country = 'DE'")
    gov.add_column_mask("features.customer_profile", "age", "analyst", "round(age, -1)")
