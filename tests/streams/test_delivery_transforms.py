"""Delivery transforms (a Python function, SQL over each buffer), time fields and partitioning, and bad
input on purpose: each bad record lands in the error table with its reason while good records flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import mlake
from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.streams import PutRecord


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    with mlake.connect(tmp_path / "lake", threads=2) as lk:
        lk.streams.create("events", partitions=2)
        yield lk


def errors(lake: Lake, table: str) -> dict[str, str]:
    rows = lake.sql(f"SELECT data, reason FROM {table}_errors").to_arrow().to_pylist()
    return {r["data"].decode(): r["reason"] for r in rows}


def test_bad_input_on_purpose_lands_in_the_error_table(lake: Lake) -> None:
    def enrich(value: dict[str, Any]) -> dict[str, Any] | None:
        if value.get("bot"):
            return None  # left out on purpose, counted
        if value["amount"] < 0:
            raise ValueError("negative amount")
        return {**value, "amount_cents": round(value["amount"] * 100)}

    good = [{"id": i, "amount": i + 0.5, "at": f"2026-12-0{1 + i % 3}T10:00:00Z"} for i in range(9)]
    bad: list[Any] = [
        b"not json",  # not JSON
        {"id": "x", "amount": 1.0, "at": "2026-12-01T10:00:00Z"},  # breaks the schema (id is an integer)
        {"id": 100, "amount": -1.0, "at": "2026-12-01T10:00:00Z"},  # the transform raises
        {"id": 101, "amount": 1.0, "at": "yesterday"},  # not a time
    ]
    put = lake.streams.put_batch("events", [PutRecord("k", v) for v in [*good[:5], *bad, *good[5:]]])
    assert put.ok
    big = lake.streams.put_batch("events", [PutRecord("k", b"x" * (2 * 1024 * 1024))])  # oversized: refused at put
    assert big[0].error_code == "record_too_large"
    lake.streams.put("events", {"id": 102, "amount": 1.0, "bot": True, "at": "2026-12-01T10:00:00Z"}, key="k")
    delivery = lake.streams.delivery(
        "events", "raw.events", transform=enrich, time_fields=["at"], partition_by=["day(at)"]
    )
    stats = delivery.run(idle_timeout=0.2)
    assert (stats.rows_written, stats.errors, stats.filtered) == (9, 4, 1)
    reasons = errors(lake, "raw.events")
    assert reasons["not json"].startswith("not JSON")
    assert "field 'id' is string here but int64" in next(r for d, r in reasons.items() if '"id":"x"' in d)
    assert "the transform raised ValueError: negative amount" in next(r for d, r in reasons.items() if '"id":100' in d)
    assert "is not a time" in next(r for d, r in reasons.items() if "yesterday" in d)
    table = lake.table("raw.events")
    assert [f.name for f in table.iceberg.spec().fields] == ["at_day"]
    rows = lake.sql('SELECT id, amount_cents, "at" FROM raw.events ORDER BY id').to_arrow().to_pylist()
    assert [r["amount_cents"] for r in rows] == [round((i + 0.5) * 100) for i in range(9)]
    assert rows[0]["at"] == datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_sql_transform_over_each_buffer(lake: Lake) -> None:
    values: list[Any] = [{"user": f"U{i % 3}", "page": f"/P{i}", "ms": i} for i in range(12)]
    values.append({"user": "U9", "page": "/boom", "ms": "not a number"})  # fails the SQL on its own
    lake.streams.put_batch("events", [PutRecord(v["user"], v) for v in values])
    delivery = lake.streams.delivery(
        "events",
        "raw.pages",
        transform_sql="SELECT lower(user) AS user, lower(page) AS page, ms::INTEGER * 1000 AS us FROM records",
    )
    stats = delivery.run(idle_timeout=0.2)
    assert (stats.rows_written, stats.errors) == (12, 1)
    rows = lake.sql("SELECT user, page, us FROM raw.pages ORDER BY us").to_arrow().to_pylist()
    assert rows[1] == {"user": "u1", "page": "/p1", "us": 1000}
    assert "the SQL transform failed" in next(iter(errors(lake, "raw.pages").values()))
    with pytest.raises(ValidationError):
        lake.streams.delivery("events", "raw.x", transform_sql="DROP TABLE records")
    with pytest.raises(ValidationError):
        lake.streams.delivery("events", "raw.x", changes_of="public.t", transform_sql="SELECT * FROM records")


def test_nested_objects_keep_flowing_across_buffers(lake: Lake) -> None:
    """Regression: the second append of rows with a nested object was refused (field ids compared)."""
    from mlake.streams.delivery import BufferHints

    values = [{"id": i, "attributes": {"device": "mobile", "country": "DE"}, "tags": ["a", "b"]} for i in range(6)]
    lake.streams.put_batch("events", [PutRecord(str(v["id"]), v) for v in values])
    stats = lake.streams.delivery("events", "raw.nested", hints=BufferHints(max_records=2)).run(idle_timeout=0.2)
    assert (stats.rows_written, stats.errors) == (6, 0) and stats.flushes >= 3
    assert lake.sql("SELECT count(*) AS n FROM raw.nested WHERE attributes.country = 'DE'").to_arrow().to_pylist() == [
        {"n": 6}
    ]


def test_an_oversized_record_lands_in_the_error_table_and_the_rest_flow(lake: Lake) -> None:
    """The put limit is the stream's; a delivery has its own (a broker's other clients may write larger
    records): a record over it is kept whole, unparsed, in the error table, and the position moves on."""
    big = {"id": 2, "blob": "x" * 5_000}
    put = lake.streams.put_batch("events", [PutRecord("k", {"id": 1}), PutRecord("k", big), PutRecord("k", {"id": 3})])
    assert put.ok
    delivery = lake.streams.delivery("events", "raw.sized", max_record_bytes=4_096)
    stats = delivery.run(idle_timeout=0.2)
    assert (stats.rows_written, stats.errors) == (2, 1)
    assert lake.sql("SELECT id FROM raw.sized ORDER BY id").to_arrow().column("id").to_pylist() == [1, 3]
    (data, reason), = errors(lake, "raw.sized").items()
    assert len(data) > 5_000 and '"id":2' in data.replace(" ", "")
    assert reason.startswith("record of 5,") and "limit of 4,096 bytes (max_record_bytes)" in reason
    assert lake.streams.delivery("events", "raw.sized", max_record_bytes=4_096).run(idle_timeout=0.2).records == 0
    with pytest.raises(ValidationError, match="max_record_bytes must be positive"):
        lake.streams.delivery("events", "raw.other", max_record_bytes=0)
