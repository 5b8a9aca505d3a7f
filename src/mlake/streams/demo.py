"""The streaming part of the demo lake: the clickstream arrives through a stream.

The events (the same JSON lines as the demo's ``events.jsonl``, bad lines included) are put into the
embedded-log stream ``shop-clicks``, keyed by customer, and a delivery writes them into ``shop.events``
(partitioned by month, bad records in ``shop.events_errors`` with their reason). The history arrives
first; then a streaming query, started at the stream's end, keeps the live feature ``views_1h`` (views
per customer in the last hour, a sliding window every 10 minutes) in the feature group
``customer_views_1h``, online and offline, while the last day's traffic arrives.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import MlakeError
from mlake.streams.delivery import BufferHints
from mlake.streams.models import PutRecord
from mlake.streams.query import Window

if TYPE_CHECKING:
    from mlake.lake import Lake

STREAM = "shop-clicks"
LIVE_GROUP = "customer_views_1h"
VIEWS_SQL = "SELECT customer_id, count(*) AS views_1h FROM records WHERE event_type = 'view' GROUP BY customer_id"
BAD_LINES: list[bytes] = [
    b'{"event_id": -1, "customer_id": 1, "ts": "yesterday-ish", "event_type": "view"}',
    b"{truncated json",
]


def build_stream_demo(
    lake: Lake, events: pa.Table, *, table: str = "shop.events", live: timedelta = timedelta(days=1)
) -> list[str]:
    """Put ``events`` through the stream into ``table`` and keep the live feature from the last ``live`` of them."""
    streams = lake.streams
    if streams.exists(STREAM):
        streams.delete(STREAM)
    streams.create(STREAM, partitions=1, retention=timedelta(days=7))  # one: lateness is exact
    rows = sorted(events.to_pylist(), key=lambda r: r["ts"])  # a clickstream arrives in about time order
    newest = max(r["ts"] for r in rows)
    history = [r for r in rows if r["ts"] < newest - live]
    recent = [r for r in rows if r["ts"] >= newest - live]
    delivery = streams.delivery(
        STREAM,
        table,
        name="shop-events",
        hints=BufferHints(max_records=1_000_000, max_bytes=512 * 1024 * 1024),
        time_fields=["ts"],
        partition_by=["month(ts)"],
    )
    _put(lake, history, BAD_LINES)
    first = delivery.run(idle_timeout=0.0)
    if lake.features.registry.exists(LIVE_GROUP):  # the demo is rebuilt
        lake.features.drop_group(LIVE_GROUP)
    lake.features.create_group(
        LIVE_GROUP,
        entities={"customer_id": "long"},
        event_time="ts",
        features={"views_1h": ("long", "Page views in the hour up to ts, from the live stream")},
        description="Live feature: views per customer in the last hour, kept by a streaming query",
        owner="web-team",
    )
    query = streams.query(
        STREAM,
        VIEWS_SQL,
        feature_group=LIVE_GROUP,
        event_time="ts",
        window=Window(timedelta(hours=1), slide=timedelta(minutes=10)),
        name="customer-views-1h",
        start="latest",
    )
    _put(lake, recent, [])
    second = delivery.run(idle_timeout=0.0)
    stats = query.run(idle_timeout=0.0, drain=True)
    online = lake.features.online_store.count(LIVE_GROUP)
    return [
        f"{table}: {first.rows_written + second.rows_written:,} event(s) delivered from stream {STREAM} "
        f"({first.errors + second.errors} bad record(s) in {delivery.error_table_name})",
        f"features.{LIVE_GROUP}: live feature views_1h kept by a streaming query over the last {_days(live)}: "
        f"{stats.windows} window(s), {stats.rows_written} row(s), {online} customer(s) online, {stats.late} late",
    ]


def _put(lake: Lake, rows: list[dict[str, Any]], extra: list[bytes]) -> None:
    """Put the rows (JSON, keyed by customer) and the extra raw records, in batches; each must be acknowledged."""
    records = [PutRecord(str(r["customer_id"]), _json(r)) for r in rows] + [PutRecord("0", b) for b in extra]
    for start in range(0, len(records), 5000):
        result = lake.streams.put_batch(STREAM, records[start : start + 5000])
        if not result.ok:
            raise MlakeError(f"The demo could not put {result.failed_count} record(s) into stream {STREAM}")


def _json(row: dict[str, Any]) -> bytes:
    return json.dumps({k: (v.isoformat() if k == "ts" else v) for k, v in row.items()}).encode()


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"
