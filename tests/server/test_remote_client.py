"""``mlake.connect(url)``: the Lake API against a server — straight on the ASGI app, and on a live uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.governed_lake import Governed

import mlake
from mlake.client import RemoteLake
from mlake.errors import AlreadyExistsError, NotFoundError, PermissionDeniedError
from mlake.governance.sandbox import SandboxError
from mlake.governance.tokens import AuthenticationError


@pytest.fixture
def remote(app: FastAPI, governed: Governed) -> Iterator[RemoteLake]:
    with TestClient(app, base_url="http://studio.test") as client:
        yield mlake.connect("http://studio.test", token=governed.admin_token, client=client)


def test_remote_lake_api(remote: RemoteLake, governed: Governed, tmp_path: Path) -> None:
    assert remote.namespaces() == ["shop", "vault"]
    assert [str(t) for t in remote.list_tables("shop")] == ["shop.customers", "shop.orders"]
    result = remote.sql("SELECT order_id, amount FROM shop.orders ORDER BY 1")
    table = result.to_arrow()
    assert table.schema.field("amount").type == pa.float64() and table.num_rows == 4
    assert result.to_pandas()["amount"].sum() == pytest.approx(166.75)
    assert remote.sql("SELECT count(*) FROM shop.orders").scalar() == 4
    orders = remote.table("shop.orders")
    assert orders.columns == ["order_id", "customer_id", "amount"] and orders.count() == 4
    assert orders.query(["order_id"], where="amount > 30", order_by="order_id").to_arrow().column(0).to_pylist() == [
        11,
        13,
    ]
    history = orders.history()
    assert history[-1].is_current and history[-1].total_rows == 4
    orders.set_metadata(description="Orders, edited remotely")
    assert governed.lake.table("shop.orders").describe().description == "Orders, edited remotely"
    graph = remote.lineage("shop.orders")
    assert graph.table == "shop.orders" and graph.upstream
    csv = tmp_path / "new.csv"
    csv.write_text("id,x\n1,a\n2,b\n")
    report = remote.ingest(csv, into="uploads.new")
    assert report.rows_written == 2 and report.created_table
    made = remote.create_table("uploads.frame", pa.table({"k": [1, 2, 3]}), tags={"pii": "false"})
    assert made.count() == 3 and made.tags == {"pii": "false"}
    with pytest.raises(AlreadyExistsError):
        remote.create_table("uploads.frame", pa.table({"k": [1]}))
    made.append(pa.table({"k": [4]}))
    first = made.history()[0].snapshot_id
    assert made.query(snapshot_id=first).to_arrow().num_rows == 3
    remote.sql("SELECT k * 2 AS k2 FROM uploads.frame").save("uploads.doubled")
    assert remote.table("uploads.doubled").count() == 4
    with pytest.raises(NotFoundError):
        remote.table("shop.nothing").describe()
    with pytest.raises(SandboxError):
        remote.sql("SELECT * FROM read_csv('/etc/passwd')").to_arrow()


def test_remote_errors_keep_their_class(app: FastAPI, governed: Governed) -> None:
    with TestClient(app, base_url="http://studio.test") as client:
        bob = mlake.connect("http://studio.test", token=governed.analyst_token, client=client)
        with pytest.raises(PermissionDeniedError, match=r"vault\.secrets"):
            bob.sql("SELECT * FROM vault.secrets").to_arrow()
        emails = bob.table("shop.customers").to_arrow(["email"]).column(0).to_pylist()
        assert all(e is None or e.startswith("***") for e in emails)
    with TestClient(app, base_url="http://studio.test") as client:
        nobody = mlake.connect("http://studio.test", token="mlk_abc_def", client=client)
        with pytest.raises(AuthenticationError):
            nobody.namespaces()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_remote_against_a_live_server(app: FastAPI, governed: Governed) -> None:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        with mlake.connect(f"http://127.0.0.1:{port}", token=governed.analyst_token) as bob:
            assert bob.me().principal.name == "bob"
            assert bob.sql("SELECT count(*) FROM shop.customers").scalar() == 3  # row filter applies
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    with mlake.connect("http://127.0.0.1:9", token="x") as gone:
        from mlake.errors import ConfigError

        with pytest.raises(ConfigError, match="Cannot reach"):
            gone.namespaces()
