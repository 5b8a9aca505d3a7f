"""The second wall: even SQL the structural check missed can open no file but the tables' data files."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from mlake.governance.engine import PrincipalSqlPolicy
from tests.governed_lake import Governed
from tests.security.attempts import ATTEMPTS


def _raw_connection(g: Governed) -> duckdb.DuckDBPyConnection:
    engine = g.lake.as_principal("bob").engine
    assert isinstance(engine.policy, PrincipalSqlPolicy)
    engine.query("SELECT count(*) FROM shop.orders").to_arrow()  # the database exists
    return engine.connection.cursor()


def test_metadata_uploads_and_other_folders_cannot_be_opened(governed: Governed) -> None:
    home = governed.lake.settings.home
    warehouse = governed.lake.settings.local_warehouse_path()
    uploads = home / "tmp" / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "left.csv").write_text("a\n1\n")
    con = _raw_connection(governed)
    for sql in (
        f"SELECT * FROM read_json('{warehouse}/vault/secrets/metadata/*.metadata.json')",
        f"SELECT * FROM read_csv('{uploads}/left.csv')",
        f"SELECT * FROM read_text('{home}/catalog.db')",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM glob('{warehouse}/*')",
        "SELECT * FROM read_csv('warehouse/x.csv')",
    ):
        with pytest.raises(duckdb.Error, match="(?i)permission|disabled|not allowed"):
            con.sql(sql).fetchall()
        ATTEMPTS.record("raw sandbox connection", True)


def test_a_table_created_later_is_readable_and_still_alone(governed: Governed) -> None:
    con = _raw_connection(governed)
    governed.lake.create_table("shop.late", pa.table({"x": [1, 2]}))
    governed.lake.governance.grant("analyst", "select", "shop.late")
    bob = governed.lake.as_principal("bob")
    assert bob.sql("SELECT sum(x) FROM shop.late").scalar() == 3
    assert bob.sql("SELECT count(*) FROM shop.orders o, shop.late l").scalar() == 8
    assert con.sql("SELECT 1").fetchall() == [(1,)]  # a cursor of the old database still works
    warehouse = governed.lake.settings.local_warehouse_path()
    engine = bob.engine
    assert isinstance(engine.policy, PrincipalSqlPolicy)
    with pytest.raises(duckdb.Error, match="(?i)permission|disabled"):
        engine.connection.cursor().sql(f"SELECT * FROM read_json('{warehouse}/shop/late/metadata/*.json')").fetchall()
