"""SQL over the lake: references, time travel, CTAS/INSERT with lineage, results, errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from mlake.errors import NotFoundError, SqlError
from mlake.lake import Lake
from mlake.sql import find_table_refs


@pytest.fixture
def shop(lake: Lake) -> Lake:
    lake.create_table("shop.orders", pa.table({"id": [1, 2, 3], "amount": [10.0, 20.0, 30.0], "cust": [1, 1, 2]}))
    lake.create_table("shop.customers", pa.table({"cust": [1, 2], "name": ["ann", "bo"]}))
    return lake


def test_reference_finder_ignores_strings_and_comments() -> None:
    sql = 'select \'shop.orders\', x.y from shop.orders o -- shop.customers\n join "shop"."customers" using (cust)'
    refs = find_table_refs(sql, {"shop"})
    assert [str(r.name) for r in refs] == ["shop.orders", "shop.customers"]
    refs = find_table_refs("select * from shop.orders AT (VERSION => 42) where a.shop.orders = 1", {"shop"})
    assert refs[0].at_kind == "VERSION" and refs[0].at_value == "42"
    assert len(refs) == 1  # a.shop.orders is a column path, not a table
    refs = find_table_refs("select * from shop.t AT (TIMESTAMP => '2025-01-01 10:00')", {"shop"})
    assert refs[0].at_kind == "TIMESTAMP" and refs[0].at_value == "2025-01-01 10:00"
    assert find_table_refs("select * from information_schema.tables", {"shop"}) == []


def test_joins_qualified_columns_and_aliases(shop: Lake) -> None:
    rows = shop.sql(
        "select customers.name, sum(shop.orders.amount) as total from shop.orders "
        "join shop.customers using (cust) group by all order by 1"
    ).fetchall()
    assert rows == [("ann", 30.0), ("bo", 30.0)]
    assert shop.sql("select o.id from shop.orders o where o.amount > 15 order by 1").fetchall() == [(2,), (3,)]
    assert shop.sql("with big as (select * from shop.orders where amount > 15) select count(*) from big").scalar() == 2


def test_parameters_and_conversions(shop: Lake) -> None:
    r = shop.sql("select * from shop.orders where amount > ? order by id", params=[15])
    assert r.columns == ["id", "amount", "cust"]
    assert r.to_arrow().num_rows == 2
    assert r.to_pandas()["id"].tolist() == [2, 3]
    assert r.to_polars()["id"].to_list() == [2, 3]
    assert sum(b.num_rows for b in shop.sql("select * from shop.orders").batches(1)) == 3
    assert r.to_pylist()[0] == {"id": 2, "amount": 20.0, "cust": 1}
    assert len(r) == 2


def test_time_travel_in_sql(shop: Lake) -> None:
    first = shop.table("shop.orders").history()[0].snapshot_id
    shop.table("shop.orders").append(pa.table({"id": [4], "amount": [40.0], "cust": [2]}))
    now = shop.sql("select count(*) from shop.orders").scalar()
    then = shop.sql(f"select count(*) from shop.orders AT (VERSION => {first})").scalar()
    both = shop.sql(
        f"select (select count(*) from shop.orders) - (select count(*) from shop.orders AT (VERSION => {first}))"
    ).scalar()
    assert (now, then, both) == (4, 3, 1)


def test_ctas_and_insert_with_lineage(shop: Lake) -> None:
    r = shop.sql("create table mart.totals as select cust, sum(amount) as total from shop.orders group by cust")
    assert r.to_pylist()[0]["rows_written"] == 2
    shop.sql("insert into mart.totals select 9, 99.0")
    shop.sql("insert into mart.totals by name select 100.0 as total, 10 as cust")
    assert shop.sql("select count(*) from mart.totals").scalar() == 4
    up = shop.lineage("mart.totals").upstream_tables()
    assert up == {"shop.orders"}
    assert "mart.totals" in shop.lineage("shop.orders").downstream_tables()
    with pytest.raises(SqlError, match="gives 1 column"):
        shop.sql("insert into mart.totals select 1")
    with pytest.raises(Exception, match="already exists"):
        shop.sql("create table mart.totals as select 1 as x")
    shop.sql("create or replace table mart.totals as select 1 as x")
    assert shop.table("mart.totals").columns == ["x"]
    shop.sql("create table if not exists mart.totals as select 2 as y")
    assert shop.table("mart.totals").columns == ["x"]
    saved = shop.sql("select * from shop.customers").save("mart.people")
    assert saved.count() == 2


def test_errors_are_clear(shop: Lake) -> None:
    with pytest.raises(NotFoundError, match="shop.order does not exist .* did you mean shop.orders"):
        shop.sql("select * from shop.order")
    with pytest.raises(SqlError, match="Binder Error.*nope"):
        shop.sql("select nope from shop.orders")
    with pytest.raises(SqlError, match="Parser Error"):
        shop.sql("selec * from shop.orders")
    with pytest.raises(SqlError, match="Expected one SQL statement, got 2"):
        shop.sql("select 1; select 2")
    with pytest.raises(SqlError, match="not run on the lake"):
        shop.sql("delete from shop.orders")
    with pytest.raises(SqlError, match="not run on the lake"):
        shop.sql("drop table shop.orders")
    with pytest.raises(NotFoundError, match="Table orders does not exist .*did you mean shop.orders"):
        shop.sql("select * from orders")  # unqualified: not a lake table
    with pytest.raises(NotFoundError, match="Table nowhere.t does not exist"):
        shop.sql("select * from nowhere.t")
    with pytest.raises(SqlError, match="needs a snapshot id"):
        shop.sql("select * from shop.orders AT (VERSION => 'abc')")
    assert shop.table("shop.orders").count() == 3


def test_reads_push_projection_and_filters_into_the_parquet_scan(lake: Lake) -> None:
    n = 50_000
    lake.create_table("s.wide", pa.table({"id": pa.array(range(n)), "blob": pa.array(["x" * 200] * n)}))
    plan = "\n".join(row[1] for row in lake.sql("explain select sum(id) from s.wide where id > 5").fetchall())
    scan = plan[plan.index("READ_PARQUET") :]
    assert "Projections: id" in scan and "blob" not in scan and "Filters: id > 5" in scan


def test_repr_and_html(shop: Lake) -> None:
    r = shop.sql("select * from shop.orders order by id")
    assert "amount" in repr(r) and "<table" in r._repr_html_()
    assert "3 row(s)" in r._repr_html_()
    assert "shop.orders" in shop.table("shop.orders")._repr_html_()
    assert "upstream" in shop.lineage("shop.orders")._repr_html_()


def test_unusual_names_and_non_ascii_queries(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text('Order ID,select,"we""ird, col",Ünïcode\n1,a,x,ü\n2,b,y,é\n')
    lake.ingest(str(tmp_path / "n.csv"), into="raw.names")
    assert lake.table("raw.names").columns == ["Order ID", "select", 'we"ird, col', "Ünïcode"]
    rows = lake.sql('select "Order ID", "we""ird, col" from raw.names where "Ünïcode" <> \'ä\' order by 1').fetchall()
    assert rows == [(1, "x"), (2, "y")]
    lake.table("raw.names").rename_column("select", "choice")
    assert lake.sql("select choice from raw.names -- ünïcödé comment\n order by 1").fetchall() == [("a",), ("b",)]
