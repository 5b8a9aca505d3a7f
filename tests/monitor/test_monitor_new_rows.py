"""``rows="new"`` reads only the data files appended since the last run when the history in between is
append-only, and falls back to the difference of the two snapshots when a snapshot deleted or rewrote
rows. Both must give the same rows; the appended path must not open the older files."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from mlake.errors import MlakeError, NotFoundError, PermissionDeniedError
from mlake.lake import Lake
from mlake.monitor.monitors import _new_rows
from mlake.tables.scan import appended_files, local_path, plan_scan

ROWS = 400


def batch(seed: int, first_id: int, n: int = ROWS) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(first_id, first_id + n),
            "amount": rng.normal(100, 15, n),
            "region": rng.choice(["north", "south"], n),
        }
    )


def rows(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: (r["id"], r["amount"]))


def difference(lake: Lake, name: str, snapshot: int, since: int) -> pa.Table:
    """The old way: both snapshots read whole, then their multiset difference."""
    t = lake.table(name)
    return _new_rows(t.query(snapshot_id=snapshot).to_arrow(), t.query(snapshot_id=since).to_arrow())


def current(lake: Lake, name: str) -> int:
    snap = lake.iceberg_table(name).current_snapshot()
    assert snap is not None
    return snap.snapshot_id


@pytest.fixture
def watched(lake: Lake) -> Lake:
    lake.create_table("nr.scored", batch(0, 0))
    for i in range(1, 4):
        lake.table("nr.scored").append(batch(i, i * ROWS))
    lake.monitoring.create("nr", target="nr.scored")
    return lake


def test_appended_files_give_exactly_the_difference_of_several_appends(watched: Lake) -> None:
    lake = watched
    since = lake.monitoring.get("nr").last_snapshot_id
    assert since is not None
    for i in range(4, 7):  # three snapshots between two runs
        lake.table("nr.scored").append(batch(i, i * ROWS))
    snapshot = current(lake, "nr.scored")
    data, read = lake.monitoring._rows(lake.monitoring.get("nr"), snapshot, since, datetime.now(UTC))
    assert read == {"method": "appended files", "files": 3}
    expected = difference(lake, "nr.scored", snapshot, since)
    assert data.num_rows == expected.num_rows == 3 * ROWS
    assert data.schema == expected.schema
    assert rows(data) == rows(expected)
    run = lake.monitoring.run("nr")
    assert run.rows == 3 * ROWS and run.summary["read"] == {"method": "appended files", "files": 3}
    # nothing new: no rows, and no difference either
    again = lake.monitoring.run("nr")
    assert again.status == "no_data" and again.summary["read"]["method"] == "no new snapshot"


def test_a_principal_reads_the_appended_files_through_its_grant(watched: Lake) -> None:
    lake = watched
    lake.governance.create_principal("nr_ann")
    lake.governance.create_principal("nr_eve")
    lake.governance.grant("nr_ann", "select", "nr.scored")
    since = lake.monitoring.get("nr").last_snapshot_id
    assert since is not None
    lake.table("nr.scored").append(batch(9, 9 * ROWS))
    snapshot = current(lake, "nr.scored")
    ann = lake.as_principal("nr_ann")
    data, read = ann.monitoring._rows(ann.monitoring.get("nr"), snapshot, since, datetime.now(UTC))
    assert read["method"] == "appended files"
    assert rows(data) == rows(difference(lake, "nr.scored", snapshot, since))
    run = ann.monitoring.run("nr")
    assert run.rows == ROWS and run.summary["read"]["method"] == "appended files"
    with pytest.raises((NotFoundError, PermissionDeniedError)):  # no grant: nothing read
        lake.as_principal("nr_eve").monitoring._appended_rows(lake.table("nr.scored").name, snapshot, since)


def test_a_delete_in_between_takes_the_snapshot_difference(watched: Lake) -> None:
    lake = watched
    since = lake.monitoring.get("nr").last_snapshot_id
    assert since is not None
    lake.table("nr.scored").append(batch(4, 4 * ROWS))
    lake.table("nr.scored").delete("id < 100")
    lake.table("nr.scored").append(batch(5, 5 * ROWS))
    snapshot = current(lake, "nr.scored")
    ice = lake.iceberg_table("nr.scored")
    assert appended_files(ice, since, snapshot) is None
    data, read = lake.monitoring._rows(lake.monitoring.get("nr"), snapshot, since, datetime.now(UTC))
    assert read == {"method": "snapshot difference"}
    assert rows(data) == rows(difference(lake, "nr.scored", snapshot, since))
    assert data.num_rows == 2 * ROWS  # the rows of the file the delete rewrote are not new
    # after the delete, appends alone again take the appended path from the new last snapshot
    lake.monitoring.run("nr")
    lake.table("nr.scored").append(batch(6, 6 * ROWS))
    assert lake.monitoring.run("nr").summary["read"] == {"method": "appended files", "files": 1}


def test_the_appended_path_does_not_open_older_files(watched: Lake) -> None:
    lake = watched
    since = lake.monitoring.get("nr").last_snapshot_id
    assert since is not None
    ice = lake.iceberg_table("nr.scored")
    old_files = [local_path(t.file.file_path) for t in ice.scan(snapshot_id=since).plan_files()]
    assert len(old_files) == 4
    lake.table("nr.scored").append(batch(8, 8 * ROWS))
    snapshot = current(lake, "nr.scored")
    planned = plan_scan(lake.iceberg_table("nr.scored"), snapshot, added_since=since)
    assert planned.files == 1 and planned.sql is not None
    assert not any(str(p) in planned.sql for p in old_files)
    # Remove the older data files from disk: a read that opened any of them would fail.
    for path in old_files:
        assert path is not None
        os.remove(path)
    run = lake.monitoring.run("nr")
    assert run.rows == ROWS and run.summary["read"] == {"method": "appended files", "files": 1}
    with pytest.raises(MlakeError):  # the difference would have needed them
        lake.table("nr.scored").query(snapshot_id=since).to_arrow()
