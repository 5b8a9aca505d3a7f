"""``RemoteResult.batches`` streams: a result far larger than the client's memory budget arrives with
bounded memory, over a real socket to a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import uvicorn
from tests.governed_lake import Governed, build_governed_lake

import mlake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

ROWS = 2_000_000
QUERY = f"SELECT i, repeat('x', 80) || i::VARCHAR AS payload FROM range({ROWS}) t(i)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Governed]]:
    governed = build_governed_lake(tmp_path / "lake")
    app = create_app(governed.lake, ServerSettings(auth=True, statement_timeout=60, max_result_rows=ROWS * 2))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", governed
    finally:
        server.should_exit = True
        thread.join(10)
        governed.lake.close()


@pytest.mark.slow
def test_batches_stream_with_bounded_memory(served: tuple[str, Governed]) -> None:
    url, governed = served
    remote = mlake.connect(url, token=governed.analyst_token)
    budget = 64 * 1024 * 1024  # the client's memory budget for this result: 64 MiB
    rows = 0
    peak = 0
    last = -1
    baseline = pa.total_allocated_bytes()
    for batch in remote.sql(QUERY).batches(50_000):
        assert batch.num_rows <= 50_000
        ids = batch.column("i").to_pylist()
        assert ids[0] == last + 1  # in order, nothing lost or repeated
        last = ids[-1]
        rows += batch.num_rows
        peak = max(peak, pa.total_allocated_bytes() - baseline)
    remote.close()
    total_bytes = ROWS * (8 + 88)
    assert rows == ROWS
    assert total_bytes > 2 * budget  # the result is larger than the budget ...
    assert peak < budget, f"peak Arrow memory {peak / 2**20:.0f} MiB while streaming"  # ... and never held whole


def test_batches_rechunk_and_errors(served: tuple[str, Governed]) -> None:
    url, governed = served
    remote = mlake.connect(url, token=governed.analyst_token)
    sizes = [b.num_rows for b in remote.sql("SELECT * FROM range(1000) t(i)").batches(300)]
    assert sizes == [300, 300, 300, 100]
    with pytest.raises(mlake.MlakeError, match="vault.secrets"):
        next(remote.sql("SELECT * FROM vault.secrets").batches())
    remote.close()
