"""Feature distributions (describe(distributions=True)) and the small charts Studio draws from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from mlake.lake import Lake
from mlake.server.studio.feature_charts import distribution_svg, histogram_svg, short_number

START = datetime(2026, 1, 1, tzinfo=UTC)


def _group(lake: Lake) -> None:
    n = 1000
    spend = [float(i % 100) for i in range(n - 2)] + [1e6, None]  # one huge outlier and a null
    lake.features.create_group(
        "shape",
        entities=["customer_id"],
        event_time="ts",
        data=pa.table(
            {
                "customer_id": list(range(n)),
                "ts": [START + timedelta(hours=i) for i in range(n)],
                "spend": spend,
                "visits": [i % 4 for i in range(n)],
                "segment": ["a"] * 500 + ["b"] * 300 + ["c"] * 150 + [f"x{i}" for i in range(50)],
                "active": [i % 3 == 0 for i in range(n)],
            }
        ),
    )


def test_distributions_of_each_kind(lake: Lake) -> None:
    _group(lake)
    dist = lake.features.describe("shape", distributions=True).distributions or {}
    assert list(dist) == ["ts", "spend", "visits", "segment", "active"]
    spend = dist["spend"]
    assert spend["kind"] == "histogram" and spend["clipped"] and spend["max"] == 1e6
    assert sum(b["count"] for b in spend["bins"]) == 999  # every non-null value, the outlier in the last bin
    assert spend["bins"][-1]["upper"] < 1000  # the bins span the bulk, not the outlier
    assert spend["bins"][-1]["count"] >= 1 and len(spend["bins"]) <= 25
    visits = dist["visits"]
    assert visits["discrete"] and [(b["upper"], b["count"]) for b in visits["bins"]] == [
        (0.0, 250),
        (1.0, 250),
        (2.0, 250),
        (3.0, 250),
    ]
    ts = dist["ts"]
    assert ts["kind"] == "histogram" and sum(b["count"] for b in ts["bins"]) == 1000 and not ts["clipped"]
    assert ts["bins"][0]["upper"].startswith("2026-01")
    segment = dist["segment"]
    assert segment["values"][:3] == [
        {"value": "a", "count": 500},
        {"value": "b", "count": 300},
        {"value": "c", "count": 150},
    ]
    assert len(segment["values"]) == 8 and segment["other"] == 1000 - 950 - 5
    assert {v["value"] for v in dist["active"]["values"]} == {True, False}


def test_charts(lake: Lake) -> None:
    _group(lake)
    dist = lake.features.describe("shape", distributions=True).distributions or {}
    spend = histogram_svg(dist["spend"])
    assert spend.count('<rect class="bar"') == len(dist["spend"]["bins"]) and "1.0M" in spend  # the max, in a tooltip
    visits = distribution_svg(dist["visits"])
    assert visits.count('<rect class="bar"') == 4 and "<title>2: 250</title>" in visits
    top = distribution_svg(dist["segment"])
    assert top.count('<rect class="bar"') == 4 and "a: 500 (50%)" in top
    timeline = histogram_svg(dist["ts"], width=600, height=100, axis=True)
    assert "2026-01-01" in timeline and 'text-anchor="end"' in timeline
    assert histogram_svg({"kind": "histogram", "bins": []}) == '<span class="muted small">no values</span>'
    assert "<script" not in top and "style=" not in spend  # nothing the page's CSP would refuse
    assert [short_number(v) for v in (1234567, 0.0001234, 12.5, 3, 25_000)] == ["1.2M", "1.23e-04", "12.5", "3", "25k"]
