"""The shortest path through the core API: create, append, query, time travel."""

from __future__ import annotations

import pyarrow as pa

from mlake.lake import Lake


def test_create_append_query_time_travel(any_lake: Lake) -> None:
    t = any_lake.create_table("shop.orders", pa.table({"id": [1, 2], "amount": [1.5, 2.5]}))
    first = t.history()[-1].snapshot_id
    t.append(pa.table({"id": [3], "amount": [4.0]}))
    assert any_lake.sql("select sum(amount) from shop.orders").scalar() == 8.0
    assert any_lake.sql(f"select count(*) from shop.orders AT (VERSION => {first})").scalar() == 2
