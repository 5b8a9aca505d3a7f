"""Ingesting from the real PostgreSQL and MariaDB on this machine, full and incremental."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa

from mlake.errors import IngestError, ValidationError
from mlake.ingest.database import watermarks
from mlake.lake import Lake

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_source(pg_database: str) -> Iterator[str]:
    engine = sa.create_engine(pg_database.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(sa.text("CREATE SCHEMA sales"))
        c.execute(
            sa.text(
                "CREATE TABLE sales.orders (id int PRIMARY KEY, customer text, amount numeric(10,2), "
                "updated_at timestamptz, tags jsonb, note text)"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO sales.orders SELECT i, 'c' || (i % 7), i * 1.25, "
                "timestamptz '2025-01-01' + i * interval '1 hour', jsonb_build_object('i', i), NULL "
                "FROM generate_series(1, 500) i"
            )
        )
    yield pg_database
    engine.dispose()


def _pg(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def test_postgres_full_then_incremental(lake: Lake, pg_source: str) -> None:
    r1 = lake.ingest_database(pg_source, "crm.orders", table="sales.orders", incremental_column="updated_at")
    assert r1.rows_written == 500 and r1.watermark is not None
    t = lake.table("crm.orders")
    types = {c.name: c.type for c in t.describe().columns}
    assert types["amount"] == "decimal(10, 2)" and types["updated_at"] == "timestamptz" and types["id"] == "long"
    assert lake.sql("select amount from crm.orders where id = 3").scalar() == Decimal("3.75")
    # nothing new: nothing loaded
    r2 = lake.ingest_database(pg_source, "crm.orders", table="sales.orders", incremental_column="updated_at")
    assert r2.rows_written == 0
    engine = _pg(pg_source)
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO sales.orders SELECT i, 'new', 1, timestamptz '2026-01-01' + i * interval '1 minute', "
                "NULL, 'late' FROM generate_series(501, 510) i"
            )
        )
    engine.dispose()
    r3 = lake.ingest_database(pg_source, "crm.orders", table="sales.orders", incremental_column="updated_at")
    assert r3.rows_written == 10
    assert t.count() == 510
    (wm,) = watermarks(lake, "crm.orders")
    assert wm["column_name"] == "updated_at" and wm["value"].year == 2026
    # lineage names the database (password-free) and the query
    edges = [e for e in lake.lineage("crm.orders").upstream if e.source.kind == "database"]
    assert len(edges) == 3 and "updated_at >" in (edges[-1].source.detail or "")
    # full reload ignores the watermark once
    r4 = lake.ingest_database(pg_source, "crm.full", table="sales.orders", incremental_column="id", full=True)
    assert r4.rows_written == 510


def test_postgres_query_and_overwrite(lake: Lake, pg_source: str) -> None:
    q = "select customer, count(*) as n, sum(amount) as total from sales.orders group by customer"
    lake.ingest_database(pg_source, "crm.by_customer", query=q)
    lake.ingest_database(pg_source, "crm.by_customer", query=q, mode="overwrite")
    assert lake.table("crm.by_customer").count() == 7


def test_type_mismatch_is_quarantined(lake: Lake, pg_source: str) -> None:
    lake.ingest_database(pg_source, "crm.t", query="select id, amount from sales.orders where id <= 3")
    report = lake.ingest_database(
        pg_source,
        "crm.t",
        query="select id + 1000 as id, case when id = 1 then 'abc' else amount::text end as amount "
        "from sales.orders where id <= 2",
    )
    assert report.rows_written == 1 and report.rows_quarantined == 1
    row = lake.sql("select kind, reason, raw from crm.t__quarantine").to_pylist()[0]
    assert row["kind"] == "TYPE" and "amount: cannot convert abc to decimal(10, 2)" in row["reason"]
    assert '"id": 1001' in row["raw"]
    assert lake.sql("select amount from crm.t where id = 1002").scalar() == Decimal("2.50")


def test_mariadb(lake: Lake) -> None:
    url = "mysql://root@127.0.0.1:3306/test"
    name = f"mlake_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/test")
    with engine.begin() as c:
        c.execute(
            sa.text(f"CREATE TABLE {name} (id INT PRIMARY KEY, price DECIMAL(8,3), seen DATETIME, label VARCHAR(20))")
        )
        c.execute(
            sa.text(
                f"INSERT INTO {name} VALUES (1, 1.5, '2025-01-01 10:00:00', 'a'), "
                "(2, 2.25, '2025-01-02 10:00:00', NULL)"
            )
        )
    try:
        report = lake.ingest_database(url, "erp.items", table=name, incremental_column="id")
        assert report.rows_written == 2
        with engine.begin() as c:
            c.execute(sa.text(f"INSERT INTO {name} VALUES (3, 9.999, '2025-01-03 10:00:00', 'c')"))
        assert lake.ingest_database(url, "erp.items", table=name, incremental_column="id").rows_written == 1
        assert lake.sql("select sum(price) from erp.items").scalar() == Decimal("13.749")
    finally:
        with engine.begin() as c:
            c.execute(sa.text(f"DROP TABLE {name}"))
        engine.dispose()


def test_bad_database_sources(lake: Lake, pg_source: str) -> None:
    with pytest.raises(ValidationError, match="Unsupported database URL"):
        lake.ingest_database("oracle://x/y", "crm.x", table="t")
    with pytest.raises(ValidationError, match="exactly one of"):
        lake.ingest_database(pg_source, "crm.x")
    with pytest.raises(IngestError, match="failed: .*does not exist"):
        lake.ingest_database(pg_source, "crm.x", table="sales.nope")
    with pytest.raises(IngestError, match="Incremental column 'nope'"):
        lake.ingest_database(pg_source, "crm.x", table="sales.orders", incremental_column="nope")
    with pytest.raises(IngestError):
        lake.ingest_database("postgresql://nobody:secret@127.0.0.1:1/none", "crm.x", table="t")
    assert not lake.table_exists("crm.x")
