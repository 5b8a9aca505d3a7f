"""Lifecycle: a table with 1,000 snapshots — time and bytes reclaimed by expiry + orphan removal + compaction.

One table is built: 1,000 small appends (one snapshot per append, 1,000 rows of 6 columns), plus 20
orphaned Parquet files left by "failed writes". The lake's folder is copied aside; each contender runs, in
its own process, on the same lake at the same path (the copy is put back before the second one):

- **mlake**: ``lake.storage.apply(table, expire_older_than="0s", retain_last=1, orphan_grace="0s",
  metadata_versions_kept=5)`` — compacts the 1,000 small files into one, expires every snapshot but the
  current one, trims old metadata files, deletes the files nothing references any more.
- **baseline**: what pyiceberg offers on its own — ``tbl.maintenance.expire_snapshots().older_than(now)``
  — and then a plain ``os.remove`` of every file under the table's folder that no remaining snapshot or
  metadata references (computed with pyiceberg's manifests API). No compaction: pyiceberg has none.

Reported: seconds, bytes on disk before/after (``du`` of the table folder), files before/after, and the
time of a full scan (``SELECT sum(...)`` through DuckDB) of the maintained table, where the 1,000
small files cost most.

    .venv/bin/python -m benchmarks.bench_lifecycle [--snapshots N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import mlake
from benchmarks.common import DATA, machine, report, run_contender

HOME = DATA / "lifecycle_lake"
ROWS = 1_000
ORPHANS = 20


def _batch(i: int) -> pa.Table:
    rng = np.random.default_rng(i)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    return pa.table(
        {
            "id": pa.array(np.arange(i * ROWS, (i + 1) * ROWS), pa.int64()),
            "ts": pa.array([start] * ROWS, pa.timestamp("us", tz="UTC")),
            "user_id": pa.array(rng.integers(0, 10_000, ROWS), pa.int64()),
            "amount": pa.array(rng.random(ROWS) * 100),
            "score": pa.array(rng.random(ROWS)),
            "country": pa.array(rng.choice(["de", "fr", "us", "jp"], ROWS)),
        }
    )


def _folder(lake: mlake.Lake, table: str) -> Path:
    return Path(lake.table(table).location.removeprefix("file://"))


def disk(path: str) -> dict[str, int]:
    files = [p for p in Path(path).rglob("*") if p.is_file()]
    return {"bytes": sum(p.stat().st_size for p in files), "files": len(files)}


TABLE = "bench.events"
SAVED = DATA / "lifecycle_lake.saved"


def build(snapshots: int) -> str:
    for p in (HOME, SAVED):
        if p.exists():
            shutil.rmtree(p)
    lake = mlake.connect(HOME, threads=2)
    lake.create_table(TABLE, _batch(0))
    t = lake.table(TABLE)
    for i in range(1, snapshots):
        t.append(_batch(i))
    folder = _folder(lake, TABLE)
    for k in range(ORPHANS):  # what failed writes leave behind
        pq.write_table(_batch(10_000 + k), folder / "data" / f"failed-write-{k}.parquet")
    old = time.time() - 7200
    for p in folder.rglob("*"):
        os.utime(p, (old, old))  # written two hours ago: past any grace period
    lake.close()
    shutil.copytree(HOME, SAVED)
    return str(folder)


def restore() -> None:
    """Put the saved lake back (same absolute paths, so its catalog and metadata stay valid)."""
    shutil.rmtree(HOME)
    shutil.copytree(SAVED, HOME)


def scan_seconds(lake: mlake.Lake, table: str) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        lake.sql(f"SELECT count(*), sum(amount), avg(score) FROM {table}").fetchall()
        best = min(best, time.perf_counter() - t)
    return best


def run_mlake(table: str, folder: str) -> dict[str, Any]:
    lake = mlake.connect(HOME, threads=2)
    before = disk(folder)
    rows = lake.table(table).count()
    t = time.perf_counter()
    (rep,) = lake.storage.apply(
        table, expire_older_than="0s", retain_last=1, orphan_grace="0s", metadata_versions_kept=5
    )
    seconds = time.perf_counter() - t
    after = disk(folder)
    assert lake.table(table).count() == rows
    return {
        "apply_seconds": round(seconds, 3),
        "bytes_before": before["bytes"],
        "bytes_after": after["bytes"],
        "reclaimed_mb": round((before["bytes"] - after["bytes"]) / 1e6, 2),
        "files_before": before["files"],
        "files_after": after["files"],
        "data_files_after": len(list(lake.table(table).iceberg.scan().plan_files())),
        "scan_seconds_after": round(scan_seconds(lake, table), 3),
        "actions": "; ".join(a.detail for a in rep.actions),
    }


def run_pyiceberg(table: str, folder: str) -> dict[str, Any]:
    """pyiceberg's own expiry, then a plain rm of whatever nothing references any more."""
    from pyiceberg.manifest import ManifestEntryStatus

    lake = mlake.connect(HOME, threads=2)
    before = disk(folder)
    rows = lake.table(table).count()
    t = time.perf_counter()
    tbl = lake.catalog.load_table(tuple(table.split(".")))
    tbl.maintenance.expire_snapshots().older_than(datetime.now(UTC)).commit()
    tbl = lake.catalog.load_table(tuple(table.split(".")))
    keep = {tbl.metadata_location, *(e.metadata_file for e in tbl.metadata.metadata_log)}
    for snap in tbl.snapshots():
        keep.add(snap.manifest_list)
        for manifest in snap.manifests(tbl.io):
            keep.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(tbl.io, discard_deleted=False):
                if entry.status != ManifestEntryStatus.DELETED:
                    keep.add(entry.data_file.file_path)
    keep = {k.removeprefix("file://") for k in keep}
    for p in Path(folder).rglob("*"):
        if p.is_file() and str(p) not in keep:
            p.unlink()
    seconds = time.perf_counter() - t
    after = disk(folder)
    assert lake.table(table).count() == rows
    return {
        "apply_seconds": round(seconds, 3),
        "bytes_before": before["bytes"],
        "bytes_after": after["bytes"],
        "reclaimed_mb": round((before["bytes"] - after["bytes"]) / 1e6, 2),
        "files_before": before["files"],
        "files_after": after["files"],
        "data_files_after": len(list(tbl.scan().plan_files())),
        "scan_seconds_after": round(scan_seconds(lake, table), 3),
    }


def scan_before(table: str) -> dict[str, Any]:
    lake = mlake.connect(HOME, threads=2)
    return {"scan_seconds": round(scan_seconds(lake, table), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=1000)
    args = parser.parse_args()
    print(f"machine: {machine()}; building a table of {args.snapshots} snapshots ...")
    t = time.perf_counter()
    folder = build(args.snapshots)
    print(f"built in {time.perf_counter() - t:.0f}s")
    module = "benchmarks.bench_lifecycle"
    before = run_contender(module, "scan_before", TABLE, name="scan before")
    ours = run_contender(module, "run_mlake", TABLE, folder, name="mlake storage.apply")
    restore()
    base = run_contender(module, "run_pyiceberg", TABLE, folder, name="pyiceberg expire + rm")
    shutil.rmtree(SAVED)
    for m in (ours, base):  # the time of the maintenance itself, not of the checks around it
        m.seconds = float(m.extra.pop("apply_seconds"))
    print(f"full scan before maintenance: {before.extra['scan_seconds']} s")
    print(report(f"lifecycle of a table with {args.snapshots} snapshots", ours, [base]))
    o, b = ours.extra, base.extra
    print(
        f"reclaimed: mlake {o['reclaimed_mb']} MB of {o['bytes_before'] / 1e6:.1f} MB, "
        f"pyiceberg+rm {b['reclaimed_mb']} MB of {b['bytes_before'] / 1e6:.1f} MB; "
        f"scan after: mlake {o['scan_seconds_after']} s ({o['data_files_after']} data files), "
        f"pyiceberg+rm {b['scan_seconds_after']} s ({b['data_files_after']} data files)"
    )


if __name__ == "__main__":
    main()
