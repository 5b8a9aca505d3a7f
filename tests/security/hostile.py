"""Hostile SQL forms a principal may send, as templates.

Placeholders: ``{data}`` is a glob over the raw Parquet files of ``vault.secrets`` (a table nobody but
superusers may read), ``{cust}`` the same for ``shop.customers`` (masked and filtered for analysts),
``{meta}`` its Iceberg metadata, ``{up}`` another user's leftover upload and ``{wh}`` the warehouse.
"""

from __future__ import annotations

from pathlib import Path

# Text that shows a leak when it appears in any answer: the secret table's values, rows of customers
# the analysts' row filter hides, another user's upload, Iceberg metadata.
MARKERS = ("launch", "2027-01-01", "upload-of-another-user", "bob@example.com", "fay@example.com", "format-version")

# The sandbox escape of issue 10 (a CTE named like a file path) and its variants.
CTE_ESCAPES = [
    'WITH "{data}" AS (SELECT * FROM "{data}") SELECT * FROM "{data}"',
    'WITH RECURSIVE "{data}" AS (SELECT * FROM "{data}") SELECT * FROM "{data}"',
    'WITH RECURSIVE "{data}" AS (SELECT * FROM "{data}" UNION ALL SELECT * FROM "{data}") SELECT * FROM "{data}"',
    'WITH "{cust}" AS (SELECT * FROM "{cust}") SELECT * FROM "{cust}"',
    'WITH "{meta}" AS (SELECT * FROM "{meta}") SELECT * FROM "{meta}"',
    'WITH "{up}" AS (SELECT * FROM "{up}") SELECT * FROM "{up}"',
    'WITH a AS (SELECT 1 AS x), "{data}" AS (SELECT * FROM "{data}") SELECT * FROM a, "{data}"',
    'WITH x AS (WITH "{data}" AS (SELECT * FROM "{data}") SELECT * FROM "{data}") SELECT * FROM x',
    'WITH a AS (SELECT * FROM "{data}"), "{data}" AS (SELECT 1 AS k) SELECT * FROM a',
    'WITH "{data}" AS MATERIALIZED (SELECT * FROM "{data}") SELECT * FROM "{data}"',
    'WITH "{data}" AS NOT MATERIALIZED (SELECT * FROM "{data}") SELECT k FROM "{data}"',
    'WITH "{data}" AS (SELECT 1 AS k) SELECT * FROM (WITH "{data}" AS (SELECT * FROM "{data}") SELECT * FROM "{data}")',
    'WITH "{data}" AS (SELECT * FROM "{DATA}") SELECT * FROM "{data}"',
    'WITH RECURSIVE "{data}" USING KEY (k) AS (SELECT * FROM "{data}" UNION SELECT * FROM "{data}") '
    'SELECT * FROM "{data}"',
    'WITH "{data}" AS (SELECT 1 AS k) SELECT * FROM shop.orders o, LATERAL '
    '(WITH "{data}" AS (SELECT * FROM "{data}") SELECT * FROM "{data}") x',
    'WITH "{data}" AS (SELECT * FROM "{data}") SELECT (SELECT count(*) FROM "{data}")',
    'WITH pg_tables AS (SELECT * FROM pg_tables) SELECT * FROM pg_tables',
    'WITH duckdb_views AS (SELECT * FROM duckdb_views) SELECT * FROM duckdb_views',
]

# Other hostile forms: table-function spellings, replacement scans in every place a table may stand,
# statements that wrap a query, unicode and quoting tricks.
OTHER_FORMS = [
    "SELECT * FROM (SELECT * FROM '{data}')",
    "SELECT (SELECT count(*) FROM '{data}')",
    "SELECT * FROM shop.orders WHERE EXISTS (SELECT 1 FROM '{up}')",
    "SELECT * FROM shop.orders o, LATERAL (SELECT * FROM '{data}') x",
    "SELECT * FROM shop.orders UNION ALL BY NAME SELECT * FROM '{data}'",
    "SELECT * FROM shop.orders POSITIONAL JOIN '{data}'",
    "SELECT * FROM shop.orders ASOF JOIN '{data}' d ON true",
    "SELECT * FROM unnest((SELECT list(k) FROM '{data}'))",
    "SELECT * FROM generate_series(1, (SELECT count(*) FROM '{data}'))",
    "FROM '{data}'",
    'FROM "{data}" SELECT *',
    "SELECT * FROM '{wh}/**/*.parquet'",
    "SELECT * FROM '{data}' AT (VERSION => 1)",
    'SELECT * FROM "{data}" AS "{data}"',
    "VALUES ((SELECT count(*) FROM '{data}'))",
    "SELECT * FROM read_parquet(['{data}'])",
    "SELECT * FROM \"read_parquet\"('{data}')",
    "SELECT * FROM main.read_parquet('{data}')",
    "SELECT * FROM system.main.read_csv('{up}')",
    "SELECT * FROM READ_CSV_AUTO('{up}')",
    "SELECT * FROM parquet_schema('{data}')",
    "SELECT * FROM read_ndjson_objects('{meta}')",
    "SELECT * FROM read_text('{meta}')",
    "SELECT * FROM iceberg_scan('{wh}/vault/secrets')",
    "SELECT * FROM query_table(['vault.secrets'])",
    "CREATE MACRO m() AS TABLE SELECT * FROM '{data}'",
    "CREATE TEMP MACRO m(x) AS (SELECT count(*) FROM '{data}')",
    "SUMMARIZE SELECT * FROM '{data}'",
    "SUMMARIZE '{data}'",
    "SUMMARIZE vault.secrets",
    "DESCRIBE '{data}'",
    "DESCRIBE SELECT * FROM '{data}'",
    "DESCRIBE vault.secrets",
    "SHOW SELECT * FROM '{up}'",
    "PIVOT '{data}' ON k USING first(v)",
    "SELECT * FROM (PIVOT '{data}' ON k USING first(v))",
    "UNPIVOT '{data}' ON COLUMNS(*) INTO NAME n VALUE v",
    "PREPARE p AS SELECT * FROM '{data}'",
    "EXECUTE p",
    "DEALLOCATE p",
    'SELECT * FROM "VAULT".SECRETS',
    "SELECT * FROM vault . secrets",
    'SELECT * FROM "vault"."secrets" AT (VERSION => 1)',
    'SELECT * FROM "vault.secrets"',
    'WITH "ｄａｔａ" AS (SELECT * FROM "{data}") SELECT * FROM "ｄａｔａ"',
    'WITH "a""b" AS (SELECT 1) SELECT * FROM "{data}"',
    "SELECT * FROM '{data}' -- vault.secrets",
    "SELECT * FROM shop.orders JOIN LATERAL (SELECT * FROM '{cust}') c ON true",
    "SELECT * FROM '{cust}' WHERE country = 'FR'",
    'SELECT * FROM "shop.customers@1~s0"."customers"',
    "SELECT * FROM sqlite_temp_master",
    "SELECT * FROM pg_class",
    "SELECT * FROM duckdb_views",
    "SELECT * FROM information_schema.schemata",
    "ATTACH '{wh}/../catalog.db' AS c (TYPE sqlite)",
    "SELECT * FROM glob('{wh}/**')",
]


def render(template: str, warehouse: Path, home: Path) -> str:
    wh = str(warehouse)
    data = f"{wh}/vault/secrets/data/**/*.parquet"
    return template.format(
        wh=wh,
        data=data,
        DATA=data.upper(),
        cust=f"{wh}/shop/customers/data/**/*.parquet",
        meta=f"{wh}/vault/secrets/metadata/*.metadata.json",
        up=f"{home}/tmp/uploads/leftover.csv",
    )


def leaked(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]
