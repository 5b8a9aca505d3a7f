"""Shared fixtures: real lakes in temporary folders, real PostgreSQL/MariaDB/Redis on this machine.

Every test that touches a server uses names of its own (a fresh database, a key prefix, a stream
name) and removes them afterwards, so runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlake
from mlake.lake import Lake

PG_ADMIN_URL = os.environ.get("MLAKE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_URL = os.environ.get("MLAKE_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked slow first.

    ``make test`` spreads the suite over both cores (pytest-xdist); a two-minute test handed out last
    leaves one core idle while the other finishes it, so the long ones start at once. The sort is stable:
    within each group the order is pytest's usual one.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _pg_admin() -> object:
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards); yields its URL."""
    name = f"mlake_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = _pg_admin()
    except Exception as exc:  # pragma: no cover - the suite's setup starts PostgreSQL
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    with conn:  # type: ignore[attr-defined]
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[attr-defined]
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with _pg_admin() as conn:  # type: ignore[attr-defined]
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    """An embedded lake (SQLite catalog, local warehouse) in a temporary folder."""
    with mlake.connect(tmp_path / "lake", threads=2, user="tester") as lk:
        yield lk


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lake]:
    """The same lake on each catalog backend: the table suite runs on SQLite and PostgreSQL."""
    overrides: dict[str, object] = {"threads": 2, "user": "tester"}
    if request.param == "postgres":
        overrides["catalog_url"] = request.getfixturevalue("pg_database")
    with mlake.connect(tmp_path / "lake", **overrides) as lk:
        yield lk
