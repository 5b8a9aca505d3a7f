"""The second wall: a principal's DuckDB connection can open no file at all, whatever SQL reaches it.

These tests use the connection itself (a raw cursor of the sandboxed database), as if the first wall —
the check that binds every relation to a granted table's secure view — had been bypassed.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from mlake.governance.engine import PrincipalSqlPolicy
from tests.governed_lake import Governed
from tests.security.attempts import ATTEMPTS

_REFUSED = "(?i)permission|disabled|not allowed"


def _raw_connection(g: Governed) -> duckdb.DuckDBPyConnection:
    engine = g.lake.as_principal("bob").engine
    assert isinstance(engine.policy, PrincipalSqlPolicy)
    engine.query("SELECT count(*) FROM shop.orders").to_arrow()  # the database exists, with views
    return engine.connection.cursor()


def _hostile_file_reads(g: Governed) -> list[str]:
    home = g.lake.settings.home
    warehouse = g.lake.settings.local_warehouse_path()
    assert warehouse is not None
    data = warehouse / "shop" / "orders" / "data"
    data_file = next(p for p in data.rglob("*") if p.is_file())
    tmp = home / "tmp"
    uploads = tmp / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "left.csv").write_text("a\n1\n")
    cte = f"{data}/**/*.parquet"
    return [
        # the tables' own data files, by exact path, by glob, and through the CTE-named-like-a-path trick
        f"SELECT * FROM read_parquet('{data_file}')",
        f"SELECT * FROM '{data_file}'",
        f"SELECT * FROM read_parquet('{data}/**/*.parquet')",
        f'WITH "{cte}" AS (SELECT * FROM "{cte}") SELECT * FROM "{cte}"',
        f"SELECT * FROM parquet_metadata('{data_file}')",
        f"SELECT * FROM read_blob('{data_file}')",
        f"SELECT * FROM glob('{data}/*')",
        f"ATTACH '{data_file}' AS stolen",
        f"ATTACH '{data}/new.duckdb' AS planted",
        f"COPY (SELECT 1 AS x) TO '{data}/planted.parquet'",
        # Iceberg metadata, the home tmp folder (uploads, spill), the catalog
        f"SELECT * FROM read_json('{warehouse}/vault/secrets/metadata/*.metadata.json')",
        f"SELECT * FROM read_csv('{uploads}/left.csv')",
        f"SELECT * FROM read_text('{tmp}/**')",
        f"SELECT * FROM glob('{tmp}/*')",
        f"ATTACH '{tmp}/x.duckdb' AS t",
        f"COPY (SELECT 1 AS x) TO '{tmp}/planted.csv'",
        f"SELECT * FROM read_text('{home}/catalog.db')",
        # elsewhere on the machine, and relative to the working directory
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "ATTACH '/etc/passwd' AS etc",
        "SELECT * FROM read_csv('warehouse/x.csv')",
        "SELECT * FROM glob('*')",
    ]


def test_no_file_can_be_opened_from_the_connection(governed: Governed) -> None:
    con = _raw_connection(governed)
    attacks = _hostile_file_reads(governed)
    for sql in attacks:
        with pytest.raises(duckdb.Error, match=_REFUSED):
            con.sql(sql).fetchall() if sql.lstrip().upper().startswith(("SELECT", "WITH")) else con.execute(sql)
        ATTEMPTS.record("raw sandbox connection", True)
    tmp = governed.lake.settings.home / "tmp"
    assert not (tmp / "planted.csv").exists() and not (tmp / "x.duckdb").exists()
    assert not list(Path(governed.lake.settings.home).rglob("planted*")), "a COPY wrote a file"


def test_the_settings_wall_is_closed_and_locked(governed: Governed) -> None:
    con = _raw_connection(governed)
    settings = dict(
        con.sql(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'allowed_directories', 'allowed_paths', 'temp_directory', 'lock_configuration', "
            "'autoload_known_extensions', 'autoinstall_known_extensions')"
        ).fetchall()
    )
    assert settings == {
        "enable_external_access": "false",
        "allowed_directories": "[]",
        "allowed_paths": "[]",
        "temp_directory": "",
        "lock_configuration": "true",
        "autoload_known_extensions": "false",
        "autoinstall_known_extensions": "false",
    }
    warehouse = governed.lake.settings.local_warehouse_path()
    for sql in (
        "SET enable_external_access = true",
        f"SET allowed_directories = ['{warehouse}/']",
        "SET temp_directory = '/tmp'",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        "INSTALL httpfs",
        "LOAD httpfs",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(sql)
        ATTEMPTS.record("raw sandbox connection", True)


def test_a_table_created_later_is_readable_and_still_no_file(governed: Governed) -> None:
    con = _raw_connection(governed)
    governed.lake.create_table("shop.late", pa.table({"x": [1, 2]}))
    governed.lake.governance.grant("analyst", "select", "shop.late")
    bob = governed.lake.as_principal("bob")
    assert bob.sql("SELECT sum(x) FROM shop.late").scalar() == 3
    assert bob.sql("SELECT count(*) FROM shop.orders o, shop.late l").scalar() == 8
    assert con.sql("SELECT 1").fetchall() == [(1,)]  # the same database serves the new table
    warehouse = governed.lake.settings.local_warehouse_path()
    engine = bob.engine
    assert isinstance(engine.policy, PrincipalSqlPolicy)
    for sql in (
        f"SELECT * FROM read_json('{warehouse}/shop/late/metadata/*.json')",
        f"SELECT * FROM read_parquet('{warehouse}/shop/late/data/**/*.parquet')",
    ):
        with pytest.raises(duckdb.Error, match=_REFUSED):
            engine.connection.cursor().sql(sql).fetchall()
        ATTEMPTS.record("raw sandbox connection", True)


def _both(g: Governed, sql: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    owner = g.lake.sql(sql).to_arrow()
    root = g.lake.as_principal("root").sql(sql).to_arrow()
    assert owner.schema.names == root.schema.names, sql
    assert [str(t) for t in owner.schema.types] == [str(t) for t in root.schema.types], sql
    return sorted(owner.to_pylist(), key=repr), sorted(root.to_pylist(), key=repr)  # type: ignore[return-value]


def test_registered_scans_read_what_the_owner_reads_over_a_schema_history(governed: Governed) -> None:
    """Renames, added and dropped columns, a widened type, deletes and every snapshot (time travel):
    the principal's views (registered scans) give the owner's answers (read_parquet views)."""
    lake = governed.lake
    t = lake.create_table("lab.history", pa.table({"id": pa.array([1, 2, 3], pa.int32()), "v": ["a", "b", "c"]}))
    t.append(pa.table({"id": pa.array([4], pa.int32()), "v": ["d"]}))
    t.rename_column("v", "label")
    t.add_columns({"score": pa.float64()})
    t.append(pa.table({"id": pa.array([5], pa.int32()), "label": ["e"], "score": [0.5]}))
    t.widen_column("id", pa.int64())
    t.drop_column("score")
    t.delete("id = 2")
    t.append(pa.table({"id": pa.array([6], pa.int64()), "label": ["f"]}))
    snapshots = [s.snapshot_id for s in lake.table("lab.history").history()]
    assert len(snapshots) >= 5
    for sql in [
        "SELECT * FROM lab.history",
        "SELECT label, id FROM lab.history WHERE id > 2",
        *(f"SELECT * FROM lab.history AT (VERSION => {s})" for s in snapshots),
    ]:
        owner, root = _both(governed, sql)
        assert owner == root, sql
    nested = pa.table({"k": [1, 2], "tags": [["x", "y"], []]})
    lake.create_table("lab.nested", nested)  # read by pyiceberg's reader, registered as Arrow
    owner, root = _both(governed, "SELECT * FROM lab.nested")
    assert owner == root and len(owner) == 2


def test_nan_rows_are_not_pruned_away_by_parquet_bounds(governed: Governed) -> None:
    """Parquet min/max leave NaN out, so a reader that prunes on them drops NaN rows from
    ``isnan(x)``, ``x > c`` and ``x <> c``; both paths must return what Python's own filter does."""
    values = [1.0, float("nan"), None, 1.0]
    governed.lake.create_table("lab.nans", pa.table({"id": [1, 2, 3, 4], "f": values}))
    expected = {
        "isnan(f)": [2],
        "f > 5": [2],  # DuckDB orders NaN above every number
        "f <> 1": [2],
        "f = 1": [1, 4],
    }
    for predicate, ids in expected.items():
        owner, root = _both(governed, f"SELECT id FROM lab.nans WHERE {predicate}")
        assert sorted(r["id"] for r in owner) == ids, predicate  # type: ignore[index]
        assert sorted(r["id"] for r in root) == ids, predicate  # type: ignore[index]
