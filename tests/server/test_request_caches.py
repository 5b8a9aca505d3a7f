"""What the REST fast path keeps between requests (tokens, policies, parsed SQL, queued audit events)
must never outlive a change: a revoked grant, token or mask applies to the very next request, even when
another process made the change, and every audit event reaches the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from tests.governed_lake import Governed

import mlake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

QUERY = {"sql": "SELECT sum(amount) AS total FROM shop.orders"}


def _in_another_process(home: Path, code: str) -> None:
    """Run ``code`` with ``gov`` (the owner's governance) in a separate Python process."""
    script = f"import mlake\nwith mlake.connect({str(home)!r}, threads=1, user='owner') as lake:\n    gov = lake.governance\n"
    script += "".join(f"    {line}\n" for line in code.splitlines())
    subprocess.run([sys.executable, "-c", script], check=True, timeout=180)


def test_a_grant_revoked_by_another_process_applies_to_the_next_request(governed: Governed) -> None:
    app = create_app(governed.lake, ServerSettings(auth=True, statement_timeout=10))
    headers = {"Authorization": f"Bearer {governed.analyst_token}"}
    with TestClient(app, base_url="http://studio.test", headers=headers) as client:
        for _ in range(3):  # warm: token, policy and parsed statement are cached now
            assert client.post("/api/v1/sql", json=QUERY).json()["rows"] == [[166.75]]
        _in_another_process(governed.lake.settings.home, "gov.revoke('analyst', 'select', 'tag:pii=false')")
        denied = client.post("/api/v1/sql", json=QUERY)
        assert denied.status_code == 403, denied.text
        assert denied.json()["code"] == "permission_denied"
        _in_another_process(governed.lake.settings.home, "gov.grant('analyst', 'select', 'tag:pii=false')")
        assert client.post("/api/v1/sql", json=QUERY).status_code == 200


def test_a_mask_added_applies_to_the_next_request(governed: Governed) -> None:
    app = create_app(governed.lake, ServerSettings(auth=True, statement_timeout=10))
    headers = {"Authorization": f"Bearer {governed.analyst_token}"}
    body = {"sql": "SELECT amount FROM shop.orders ORDER BY order_id"}
    with TestClient(app, base_url="http://studio.test", headers=headers) as client:
        assert client.post("/api/v1/sql", json=body).json()["rows"] == [[20.0], [35.5], [12.25], [99.0]]
        _in_another_process(
            governed.lake.settings.home, "gov.add_column_mask('shop.orders', 'amount', 'analyst', 'round(amount, -2)')"
        )
        assert client.post("/api/v1/sql", json=body).json()["rows"] == [[0.0], [0.0], [0.0], [100.0]]


def test_a_token_revoked_by_another_process_is_refused_at_once(governed: Governed) -> None:
    app = create_app(governed.lake, ServerSettings(auth=True, statement_timeout=10))
    token_id = governed.analyst_token.split("_")[1]
    headers = {"Authorization": f"Bearer {governed.analyst_token}"}
    with TestClient(app, base_url="http://studio.test", headers=headers) as client:
        assert client.post("/api/v1/sql", json=QUERY).status_code == 200
        _in_another_process(governed.lake.settings.home, f"gov.revoke_token({token_id!r})")
        assert client.post("/api/v1/sql", json=QUERY).status_code == 401


def test_every_audit_event_of_a_server_reaches_the_log(governed: Governed) -> None:
    """Requests do not wait for their audit event's commit; shutdown writes what is still queued, and a
    fresh process reading the lake finds one event per request."""
    app = create_app(governed.lake, ServerSettings(auth=True, statement_timeout=10, audit_flush_seconds=3600))
    headers = {"Authorization": f"Bearer {governed.analyst_token}"}
    with TestClient(app, base_url="http://studio.test", headers=headers) as client:
        for _ in range(25):
            assert client.post("/api/v1/sql", json=QUERY).status_code == 200
    home = governed.lake.settings.home
    governed.lake.close()
    with mlake.connect(home, threads=1, user="owner") as lake:
        events = lake.governance.audit_events(principal="bob", action="sql", limit=1000)
        assert len(events) == 25
        assert {e.outcome for e in events} == {"ok"}
