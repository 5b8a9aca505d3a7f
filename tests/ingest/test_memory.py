"""Peak memory of an ingest does not follow the file's size (the file is streamed, not loaded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

CODE = """
import resource, sys, mlake
lake = mlake.connect(sys.argv[1], ingest_memory_limit="256MB", threads=2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = lake.ingest(sys.argv[2], into="big.t")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(report.rows_written, before // 1024, after // 1024)
"""


@pytest.mark.slow
def test_ingest_peak_memory_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    duckdb.sql(f"""COPY (SELECT i AS id, repeat('x', 150) || i AS payload, random() AS v FROM range(2000000) t(i))
                   TO '{path}' (HEADER)""")
    size_mb = path.stat().st_size / 2**20
    assert size_mb > 300
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(tmp_path / "lake"), str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    rows, before_mb, peak_mb = (int(x) for x in out)
    assert rows == 2_000_000
    # the whole file as Arrow would be > size_mb; the ingest stays far below that
    assert peak_mb - before_mb < 0.6 * size_mb, (peak_mb, before_mb, size_mb)
