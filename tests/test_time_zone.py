"""Naive timestamps mean UTC everywhere, whatever the process's time zone (``TZ``).

The fast tests switch this process to New York time (``time.tzset()``: DuckDB and Python read the zone
when a connection or a conversion asks for it) and walk one naive instant through ingest, SQL, a feature
write, a training set and an online read. The slow one re-runs the feature and SQL suites in a process
started with ``TZ=America/New_York``, so that every test of those suites also holds off UTC.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import mlake
from mlake.lake import Lake

ZONE = "America/New_York"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", ZONE)
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.fixture
def ny_lake(new_york: None, tmp_path: Path) -> Iterator[Lake]:
    with mlake.connect(tmp_path / "lake", threads=2, user="tester") as lk:
        yield lk


def test_the_process_really_is_off_utc(new_york: None) -> None:
    assert time.localtime(0).tm_hour == 19  # 1970-01-01 00:00Z is 19:00 in New York: the fixture works


def test_every_cursor_is_utc(ny_lake: Lake) -> None:
    zone = "SELECT current_setting('TimeZone')"
    assert ny_lake.sql(zone).scalar() == "UTC"
    assert ny_lake.engine.connection.cursor().sql(zone).fetchall() == [("UTC",)]
    with ny_lake.engine.internal_cursor(zone) as cursor:
        assert cursor.sql(zone).fetchall() == [("UTC",)]


def test_sql_reads_naive_times_as_utc(ny_lake: Lake, tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text("id,seen\n1,2026-01-01 00:00:00\n2,2026-01-01 23:30:00\n")
    ny_lake.ingest(csv, into="shop.events")
    as_utc = ny_lake.sql("SELECT epoch(CAST(seen AS TIMESTAMPTZ))::BIGINT FROM shop.events ORDER BY id").to_arrow()
    assert as_utc.column(0).to_pylist() == [
        int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
        int(datetime(2026, 1, 1, 23, 30, tzinfo=UTC).timestamp()),
    ]
    days = ny_lake.sql(
        "SELECT DISTINCT CAST(date_trunc('day', CAST(seen AS TIMESTAMPTZ)) AS VARCHAR) FROM shop.events"
    ).to_arrow()
    assert days.column(0).to_pylist() == ["2026-01-01 00:00:00+00"]


def test_features_treat_naive_event_times_as_utc(ny_lake: Lake) -> None:
    fs = ny_lake.features
    fs.create_group("spend", entities={"customer_id": "long"}, event_time="ts", features={"total": "double"}, ttl="1d")
    fs.write("spend", {"customer_id": [1], "ts": [datetime(2026, 1, 1)], "total": [5.0]})  # naive: UTC
    stored = ny_lake.sql("SELECT epoch(ts)::BIGINT FROM features.spend").scalar()
    assert stored == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    entities = {"customer_id": [1, 1], "when": [datetime(2026, 1, 1, 0, 30), datetime(2025, 12, 31, 23, 30)]}
    out = fs.training_set(entities, ["spend:total"], save=False).to_arrow()
    assert out["total"].to_pylist() == [5.0, None]  # 00:30Z sees the 00:00Z value; 23:30Z the day before does not
    fs.materialize("spend")
    online = fs.get_online_features([{"customer_id": 1}], ["spend:total"], now=datetime(2026, 1, 1, 23))
    assert online.values[0]["total"] == 5.0
    assert online.statuses[0]["total"] == "present"  # 23 hours old at 23:00 UTC (a naive `now` read as New York time would be 28)
    later = fs.get_online_features([{"customer_id": 1}], ["spend:total"], now=datetime(2026, 1, 2, 1))
    assert later.statuses[0]["total"] == "expired"  # 25 hours: past the 1-day TTL


def test_naive_as_of_is_utc(ny_lake: Lake) -> None:
    table = ny_lake.create_table("shop.t", {"x": [1]})
    committed = table.history()[-1].committed_at
    naive_after = (committed + timedelta(seconds=1)).astimezone(UTC).replace(tzinfo=None)
    assert ny_lake.sql("SELECT count(*) FROM shop.t", as_of=naive_after.isoformat()).scalar() == 1


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("TZ") == ZONE, reason="already running under the non-UTC zone")
def test_feature_and_sql_suites_pass_in_new_york() -> None:
    """The feature and SQL suites, in a separate process whose zone is not UTC (CI runs this with the rest)."""
    env = {**os.environ, "TZ": ZONE}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/features", "tests/test_sql.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
