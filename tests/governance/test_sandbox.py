"""Sandboxed SQL: hostile statements are refused with a clear error; lake SQL still works; limits hold."""

from __future__ import annotations

import pytest
from tests.governed_lake import Governed

from mlake.errors import MlakeError, PermissionDeniedError, SqlError
from mlake.governance.sandbox import QueryLimitError, SandboxError, SandboxLimits

HOSTILE = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'data.csv'",
    "SELECT content FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM read_json('/etc/os-release')",
    "SELECT * FROM read_parquet('{warehouse}/**/*.parquet')",
    "SELECT * FROM parquet_scan('{warehouse}/shop/customers/data/x.parquet')",
    "SELECT * FROM parquet_metadata('{warehouse}/x.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM query_table('vault.secrets')",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM sqlite_master",
    "SELECT getenv('HOME')",
    "SELECT current_setting('memory_limit')",
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    "COPY (SELECT * FROM shop.orders) TO '/tmp/mlake-leak.csv'",
    "COPY shop.orders TO '/tmp/mlake-leak.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '/tmp/mlake-export'",
    "ATTACH '/tmp/mlake-other.db' AS other",
    "ATTACH ':memory:' AS other",
    "DETACH memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL spatial",
    "SET enable_external_access = true",
    "SET memory_limit = '100GB'",
    "RESET memory_limit",
    "PRAGMA enable_profiling",
    "PRAGMA database_list",
    "CALL duckdb_settings()",
    "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "CREATE MACRO leak() AS TABLE SELECT * FROM read_csv('/etc/passwd')",
    "CREATE VIEW v AS SELECT 1",
    "DROP TABLE shop.orders",
    "DELETE FROM shop.orders",
    "UPDATE shop.orders SET amount = 0",
    "USE memory",
    "CHECKPOINT",
    "VACUUM",
    "SHOW TABLES",
    "SHOW ALL TABLES",
    "SELECT 1; SELECT * FROM read_csv('/etc/passwd')",
    'SELECT * FROM "shop.customers@1~s0"."customers"',
    "SELECT * FROM memory.main.anything",
    "WITH x AS (SELECT 1) SELECT * FROM x, read_csv('/etc/passwd')",
    "SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))",
    "SELECT * FROM shop.orders WHERE amount IN (SELECT 1 FROM glob('/etc/*'))",
    "SELECT json_execute_serialized_sql('x')",
    "SELECT * FROM json_execute_serialized_sql('x')",
    "SELECT pg_get_viewdef('x')",
    "SELECT setseed(0.5)",
    "EXPLAIN SELECT * FROM shop.customers",
    "EXPLAIN ANALYZE SELECT * FROM shop.customers",
]


@pytest.mark.parametrize("sql", HOSTILE)
def test_hostile_sql_is_refused(shared: Governed, sql: str) -> None:
    bob = shared.lake.as_principal("bob")
    warehouse = str(shared.lake.settings.local_warehouse_path())
    with pytest.raises(MlakeError) as info:
        bob.sql(sql.format(warehouse=warehouse)).to_arrow()
    err = info.value
    assert isinstance(err, SandboxError | SqlError | PermissionDeniedError), type(err)
    assert err.message and "Traceback" not in err.message


def test_at_least_forty_hostile_attempts() -> None:
    assert len(HOSTILE) >= 40


def test_superusers_are_sandboxed_too(governed: Governed) -> None:
    root = governed.lake.as_principal("root")
    with pytest.raises(SandboxError):
        root.sql("SELECT * FROM read_csv('/etc/passwd')").to_arrow()
    assert root.sql("SELECT count(*) FROM vault.secrets").scalar() == 1
    assert root.sql("EXPLAIN SELECT * FROM shop.orders").to_arrow().num_rows >= 1


def test_no_file_was_written(governed: Governed) -> None:
    from pathlib import Path

    bob = governed.lake.as_principal("bob")
    for sql in ("COPY (SELECT 1) TO '/tmp/mlake-sandbox-probe.csv'",):
        with pytest.raises(MlakeError):
            bob.sql(sql)
    assert not Path("/tmp/mlake-sandbox-probe.csv").exists()


LEGIT = [
    "SELECT channel FROM (SELECT 'web' AS channel) t",
    "SELECT count(*), sum(amount), avg(amount), median(amount) FROM shop.orders",
    "SELECT o.order_id, c.country FROM shop.orders o JOIN shop.customers c USING (customer_id) ORDER BY 1",
    "WITH big AS (SELECT * FROM shop.orders WHERE amount > 20) SELECT count(*) FROM big",
    "SELECT customer_id, row_number() OVER (ORDER BY amount DESC) AS r FROM shop.orders",
    "SELECT date_trunc('month', TIMESTAMP '2025-03-04 05:06:07'), strftime(DATE '2025-01-02', '%Y')",
    "SELECT list_transform([1, 2, 3], lambda x: x * 2), {'a': 1}.a, 'abc' ILIKE 'A%', regexp_matches('ab', 'b')",
    "SELECT * FROM range(3)",
    "SELECT unnest([1, 2])",
    "SELECT amount::INTEGER, TRY_CAST('x' AS INTEGER), coalesce(NULL, 1) FROM shop.orders",
    "SELECT * EXCLUDE (amount) FROM shop.orders",
    "SELECT COLUMNS('order.*') FROM shop.orders",
    "SELECT country, count(*) FILTER (WHERE age > 30) FROM shop.customers GROUP BY ALL",
    "SELECT * FROM shop.orders UNION ALL SELECT * FROM shop.orders",
    "SELECT * FROM shop.orders USING SAMPLE 50%",
    "FROM shop.orders SELECT order_id LIMIT 1",
    "DESCRIBE SELECT * FROM shop.orders",
    "SUMMARIZE shop.orders",
    "SELECT 'read_csv(''/etc/passwd'')' AS looks_bad_but_is_text",
]


@pytest.mark.parametrize("sql", LEGIT)
def test_ordinary_sql_still_runs(shared: Governed, sql: str) -> None:
    bob = shared.lake.as_principal("bob")
    bob.sql(sql).to_arrow()


def test_time_travel_runs_in_the_sandbox(governed: Governed) -> None:
    orders = governed.lake.table("shop.orders")
    first = orders.history()[-1].snapshot_id
    orders.append({"order_id": [14], "customer_id": [6], "amount": [1.0]})
    bob = governed.lake.as_principal("bob")
    assert bob.sql(f"SELECT count(*) FROM shop.orders AT (VERSION => {first})").scalar() == 4
    assert bob.sql("SELECT count(*) FROM shop.orders").scalar() == 5


def test_statement_timeout(governed: Governed) -> None:
    gov = governed.lake.governance
    gov.limits = SandboxLimits(timeout_seconds=0.3)
    bob = governed.lake.as_principal("bob")
    with pytest.raises(QueryLimitError, match="statement timeout"):
        bob.sql("SELECT count(*) FROM range(100000000000) a, range(1000) b").to_arrow()
    events = gov.audit_events(principal="bob", action="sql.limit")
    assert events and events[0].outcome == "error"


def test_result_size_limit(governed: Governed) -> None:
    governed.lake.governance.limits = SandboxLimits(max_result_rows=10)
    bob = governed.lake.as_principal("bob")
    with pytest.raises(QueryLimitError, match="more than 10 rows"):
        bob.sql("SELECT * FROM range(11)").to_arrow()
    assert len(bob.sql("SELECT * FROM range(10)").to_arrow()) == 10
    assert bob.sql("SELECT * FROM range(1000)").preview(5).num_rows == 5  # previews stay within the limit


def test_export_stream_limit(governed: Governed) -> None:
    governed.lake.governance.limits = SandboxLimits(max_export_rows=100)
    bob = governed.lake.as_principal("bob")
    with pytest.raises(QueryLimitError, match="download limit"):
        list(bob.sql("SELECT * FROM range(1000)").batches(50))


def test_filters_and_sorts_from_users_are_checked(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    orders = bob.table("shop.orders")
    assert orders.query(where="amount > 20").to_arrow().num_rows == 2
    for where in (
        "1=1 UNION SELECT * FROM read_csv('/etc/passwd')",
        "amount > (SELECT count(*) FROM vault.secrets)",
        "getenv('HOME') IS NOT NULL",
        "1=1; DROP TABLE x",
        "1=1 --",
    ):
        with pytest.raises((SandboxError, SqlError)):
            orders.query(where=where).to_arrow()
    with pytest.raises(SandboxError):
        orders.query(order_by="(SELECT 1 FROM read_csv('/etc/passwd'))").to_arrow()
