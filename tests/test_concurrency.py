"""Several processes append to one table at once: every commit lands, no row is lost or doubled."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pyarrow as pa
import pytest

import mlake

WRITERS = 8
APPENDS = 3
ROWS = 50


def _writer(home: str, catalog_url: str | None, worker: int) -> int:
    with mlake.connect(home, catalog_url=catalog_url, threads=1, user=f"w{worker}") as lake:
        t = lake.table("shop.events")
        for i in range(APPENDS):
            base = (worker * APPENDS + i) * ROWS
            t.append(pa.table({"id": list(range(base, base + ROWS)), "worker": [worker] * ROWS}))
    return worker


def _run(home: Path, catalog_url: str | None) -> None:
    with mlake.connect(home, catalog_url=catalog_url) as lake:
        lake.create_table("shop.events", schema=pa.schema([("id", pa.int64()), ("worker", pa.int64())]))
    ctx = mp.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        done = pool.starmap(_writer, [(str(home), catalog_url, w) for w in range(WRITERS)])
    assert sorted(done) == list(range(WRITERS))
    with mlake.connect(home, catalog_url=catalog_url) as lake:
        t = lake.table("shop.events")
        ids = t.to_arrow().column("id").to_pylist()
        assert sorted(ids) == list(range(WRITERS * APPENDS * ROWS))
        history = t.history()
        assert len(history) == WRITERS * APPENDS
        assert {s.actor for s in history} == {f"w{w}" for w in range(WRITERS)}
        assert len(lake.lineage_store.writes("shop.events")) == WRITERS * APPENDS


@pytest.mark.slow
def test_concurrent_appends_sqlite_catalog(tmp_path: Path) -> None:
    _run(tmp_path / "lake", None)


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_appends_postgres_catalog(tmp_path: Path, pg_database: str) -> None:
    _run(tmp_path / "lake", pg_database)


def test_threads_creating_one_namespace_at_once_all_succeed(tmp_path: Path) -> None:
    """The SQL catalog checks, then inserts: racing creators must not see its unique-key error."""
    import threading

    with mlake.connect(tmp_path / "lake", threads=2) as lake:
        for round_ in range(5):
            barrier = threading.Barrier(6)
            errors: list[BaseException] = []

            def create(name: str, barrier: threading.Barrier, errors: list[BaseException]) -> None:
                barrier.wait()
                try:
                    lake.create_namespace(name)
                except BaseException as exc:  # the test reports whatever escaped
                    errors.append(exc)

            args = (f"race{round_}", barrier, errors)
            workers = [threading.Thread(target=create, args=args) for _ in range(6)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            assert errors == []
            assert (f"race{round_}",) in lake.catalog.list_namespaces()
