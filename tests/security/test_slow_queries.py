"""One slow query must not stall every other client (issue 10, item 11): blocking work runs in the server's
worker threads, and the statement timeout ends the slow query with a clear error."""

from __future__ import annotations

import threading
import time

import httpx

from tests.governed_lake import Governed
from tests.security.attempts import ATTEMPTS

SLOW = "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3"


def test_a_slow_query_does_not_stall_other_clients(live: str, shared: Governed) -> None:
    headers = {"Authorization": f"Bearer {shared.analyst_token}"}
    slow: dict[str, object] = {}

    def run_slow() -> None:
        started = time.perf_counter()
        with httpx.Client(base_url=live, headers=headers, timeout=60) as c:
            r = c.post("/api/v1/sql", json={"sql": SLOW})
        slow.update(status=r.status_code, body=r.json(), seconds=time.perf_counter() - started)

    threads = [threading.Thread(target=run_slow) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # both slow queries are running now
    fast: list[float] = []
    with httpx.Client(base_url=live, headers=headers, timeout=60) as c:
        for _ in range(5):
            started = time.perf_counter()
            r = c.post("/api/v1/sql", json={"sql": "SELECT count(*) AS n FROM shop.orders"})
            fast.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.json()["rows"] == [[4]]
    for t in threads:
        t.join(timeout=60)
    assert slow["status"] == 422 and slow["body"]["code"] == "query_limit"  # type: ignore[index]
    timeout = 5.0  # the live server's statement timeout (tests/security/conftest.py)
    ATTEMPTS.record("slow query", max(fast) < timeout / 2)
    assert max(fast) < timeout / 2, f"fast queries waited {fast} while slow ones ran"
    assert float(slow["seconds"]) < timeout + 10  # type: ignore[arg-type]
