"""Change data capture from the real PostgreSQL of this machine into a stream, and its delivery into a lake
table that ends equal to the source table row for row — across a rolled-back transaction, a changed
primary key, changes put twice by a restarted capture, and a delivery SIGKILLed in the middle."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import mlake
from mlake.lake import Lake
from mlake.streams import PutRecord
from mlake.streams.cdc import ChangeDelivery, PostgresCapture
from mlake.streams.delivery import BufferHints

psycopg = pytest.importorskip("psycopg")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
COLUMNS = 'id, name, qty, price, amount, "at", flag'


@pytest.fixture
def source() -> Iterator[str]:
    """A database of this test's own with a table of several types; dropped afterwards (slots first)."""
    db = f"mlake_cdc_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        level = conn.execute("SHOW wal_level").fetchone()
        if level is None or level[0] != "logical":
            pytest.fail("PostgreSQL needs wal_level=logical: run scripts/services.sh")
        conn.execute(f"CREATE DATABASE {db}")
    url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text, qty bigint, price float8, amount numeric(12,2), "
            "at timestamptz, flag bool)"
        )
        for i in range(40):
            insert(conn, i)
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s", [db]
            )
            conn.execute(f"DROP DATABASE {db} WITH (FORCE)")


def insert(conn: Any, i: int) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    conn.execute(
        "INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [i, f"item {i}", i * 10, i / 4, Decimal(i) / 100, at, i % 2 == 0],
    )


def source_rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT {COLUMNS} FROM items ORDER BY id").fetchall()]


def lake_rows(lake: Lake, table: str) -> list[tuple[Any, ...]]:
    rows = lake.sql(f"SELECT {COLUMNS} FROM {table} ORDER BY id").to_arrow().to_pylist()
    return [tuple(r.values()) for r in rows]


def change_source(url: str, rng: random.Random, rounds: int, first_id: int) -> int:
    """Inserts, updates, deletes, a changed key and a rolled-back transaction, in many transactions."""
    next_id = first_id
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(rounds):
            with conn.transaction():
                for _ in range(rng.randint(1, 4)):
                    insert(conn, next_id)
                    next_id += 1
                conn.execute(
                    "UPDATE items SET qty = qty + 1, name = name || '+' WHERE id %% 7 = %s", [rng.randint(0, 6)]
                )
                conn.execute("DELETE FROM items WHERE id = %s", [rng.randint(0, next_id)])
            try:
                with conn.transaction():
                    conn.execute("DELETE FROM items")
                    insert(conn, 10_000)
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
        with conn.transaction():  # a changed primary key: the old row goes, the new one comes
            conn.execute("UPDATE items SET id = id + 100000 WHERE id = (SELECT min(id) FROM items)")
            conn.execute("UPDATE items SET name = NULL, amount = NULL WHERE id = (SELECT max(id) FROM items)")
    return next_id


@pytest.mark.streams
def test_snapshot_and_changes_mirror_the_source(source: str, tmp_path: Path) -> None:
    with (
        mlake.connect(tmp_path / "lake", threads=2) as lake,
        PostgresCapture(source, ["items"], lake.streams, "cdc-items") as capture,
    ):
        assert capture.start() == 40
        assert capture.start() == 0  # restarted: the snapshot is complete, not taken again
        change_source(source, random.Random(1), 12, 40)
        assert capture.poll() > 0
        delivery = ChangeDelivery(
            lake, lake.streams, "cdc-items", "mirror.items", source_table="items", hints=BufferHints(max_records=25)
        )
        stats = delivery.run(idle_timeout=0.2)
        assert stats.flushes > 3 and stats.errors == 0
        assert lake_rows(lake, "mirror.items") == source_rows(source)

        # a capture restarted before moving its slot puts changes again: the delivery skips them
        again = [r for r in lake.streams.read("cdc-items", 0, limit=10_000).records if r.json()["op"] != "r"]
        assert lake.streams.put_batch("cdc-items", [PutRecord(r.key, r.data) for r in again[-30:]]).ok
        change_source(source, random.Random(2), 3, 1000)
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("TRUNCATE items")
            insert(conn, 5)
        capture.poll()
        delivery.run(idle_timeout=0.2)
        assert lake_rows(lake, "mirror.items") == source_rows(source) and len(source_rows(source)) == 1
        capture.drop()


DELIVER = """
import sys, mlake
from mlake.streams.cdc import ChangeDelivery
from mlake.streams.delivery import BufferHints
lake = mlake.connect(sys.argv[1], threads=1)
d = ChangeDelivery(lake, lake.streams, "cdc-items", "mirror.items", source_table="items",
                   hints=BufferHints(max_records=7, max_seconds=0.02))
d.run(idle_timeout=30)
"""


@pytest.mark.slow
@pytest.mark.streams
def test_a_delivery_killed_in_the_middle_resumes_exactly(source: str, tmp_path: Path) -> None:
    home = tmp_path / "lake"
    rng = random.Random(7)
    with (
        mlake.connect(home, threads=2) as lake,
        PostgresCapture(source, ["public.items"], lake.streams, "cdc-items") as capture,
    ):
        capture.start()
        next_id = change_source(source, rng, 40, 40)
        capture.poll()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen([sys.executable, "-c", DELIVER, str(home)], env=env)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # kill it once it has committed a few batches
                if lake.table_exists("mirror.items") and len(lake.table("mirror.items").iceberg.snapshots()) >= 6:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.2))
            assert proc.poll() is None, "the delivery ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        partial = lake_rows(lake, "mirror.items")
        assert partial != source_rows(source)  # killed in the middle
        change_source(source, rng, 5, next_id)  # the source moves on while the delivery is down
        capture.poll()
        delivery = ChangeDelivery(lake, lake.streams, "cdc-items", "mirror.items", source_table="items")
        delivery.run(idle_timeout=0.3)
        assert lake_rows(lake, "mirror.items") == source_rows(source)
        capture.drop()


@pytest.mark.streams
def test_capture_and_mirror_from_the_cli(source: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mlake.cli.context import state
    from mlake.cli.main import app

    home = tmp_path / "lake"

    def invoke(*args: str) -> tuple[int, str]:
        try:
            result = CliRunner().invoke(app, ["--home", str(home), "-q", *args])
        finally:
            state.close()
        return result.exit_code, result.output

    code, out = invoke("streams", "capture", source, "--table", "items", "--stream", "pg-items")
    assert code == 0 and "captured 40 snapshot row(s)" in out
    change_source(source, random.Random(3), 4, 40)
    assert invoke("streams", "capture", source, "--table", "items", "--stream", "pg-items")[0] == 0
    code, out = invoke(
        "streams", "deliver", "pg-items", "--into", "mirror.items", "--changes-of", "items", "--idle-timeout", "0.2"
    )
    assert code == 0, out
    with mlake.connect(home) as lake:
        assert lake_rows(lake, "mirror.items") == source_rows(source)
        assert lake.streams.status("pg-items").deliveries[0].lag.lag_records == 0
    assert invoke("streams", "capture", source, "--table", "items", "--stream", "pg-items", "--drop")[0] == 0
    with psycopg.connect(ADMIN_URL) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'mlake_pg_items'"
        ).fetchone() == (0,)
