"""A server's audit events are queued and group-committed without making requests wait; none is lost."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from mlake.lake import Lake


def _logged(lake: Lake) -> list[tuple[int, int]]:
    return lake.sql("SELECT count(*), count(DISTINCT event_id) FROM mlake.audit_log").fetchall()


def test_queued_events_are_written_by_stop(lake: Lake) -> None:
    audit = lake.governance.audit
    audit.start(interval=3600)  # no periodic flush: only the writer thread and stop() move events
    try:

        def burst(i: int) -> None:
            for j in range(25):
                audit.record(principal=f"p{i}", action=f"a{j}")

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        audit.stop()
    assert audit.queued() == 0
    assert audit.pending() == 0
    assert _logged(lake) == [(200, 200)]


def test_a_read_of_the_log_sees_events_still_queued(lake: Lake) -> None:
    audit = lake.governance.audit
    audit.start(interval=3600)
    try:
        for j in range(5):
            audit.record(principal="p", action=f"seen{j}")
        assert {e.action for e in audit.events(principal="p")} == {f"seen{j}" for j in range(5)}
    finally:
        audit.stop()


def test_events_stay_queued_while_the_metastore_refuses_them(lake: Lake) -> None:
    """A failed commit puts the batch back in the queue; it is written once the metastore accepts it."""
    audit = lake.governance.audit
    engine = lake.metadata_engine
    audit.record(principal="p", action="before")  # creates nothing new; the table exists from here on
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE mlake_audit_pending RENAME TO mlake_audit_pending_away"))
    audit.start(interval=3600)
    try:
        for j in range(10):
            audit.record(principal="p", action=f"while-broken{j}")
        time.sleep(1.0)  # the writer tries (and fails) a few times meanwhile
        with engine.connect() as conn:  # nothing reached the metastore...
            assert conn.execute(sa.text("SELECT count(*) FROM mlake_audit_pending_away")).scalar() == 1
        assert audit.queued() in (0, 10)  # ...and the events are queued (or in the writer's hands)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE mlake_audit_pending_away RENAME TO mlake_audit_pending"))
        deadline = time.monotonic() + 10
        while audit.queued() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert audit.queued() == 0
    finally:
        audit.stop()
    assert sorted(e.action for e in audit.events(principal="p", limit=100)) == sorted(
        ["before", *(f"while-broken{j}" for j in range(10))]
    )
