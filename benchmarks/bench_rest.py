"""REST latency and throughput of ``mlake serve`` on loopback, against baselines measured in the same run.

    .venv/bin/python -m benchmarks.bench_rest [--customers 5000] [--requests 300] [--seconds 10]

A real uvicorn server runs in its own process on the demo lake, with token auth on and a non-superuser
principal (grants by tag, a column mask: the governed path every request takes). From another process:

- latency (p50/p99, one client, keep-alive) of a small SQL query and of a table preview (a page of rows),
  next to the same query run in process through the governed lake (what the REST layer adds) and next to
  ``GET /health`` (what uvicorn + FastAPI + auth cost with no work at all);
- throughput with 50 concurrent clients on the small SQL query, next to 50 clients on ``/health``;
- latency of an online feature read (``POST /api/v1/features/online``, 10 features, one entity and a batch
  of 100, random entities of a group of 100,000) as a principal reading the group in full (grant by tag) and
  as one with a column mask and a row filter on it (the values then go through DuckDB), next to the same read
  in process (on the lake itself, and through the principal's governed lake), to ``mlake features serve``
  (the same endpoint without tokens, grants or audit) and to ``GET /api/v1/me``.

    .venv/bin/python -m benchmarks.bench_rest --part features    # only the online feature reads
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import DATA, ROOT, machine

FEATURE_ENTITIES = 100_000
FEATURES = [f"bench_online:f{i}" for i in range(10)]
ONLINE = "/api/v1/features/online"
QUERY = "SELECT channel, count(*) AS orders, round(sum(amount), 2) AS revenue FROM shop.orders GROUP BY ALL"
PREVIEW = "/api/v1/tables/shop.orders/rows?limit=20"


def build(home: Path, customers: int) -> str:
    """The demo lake with an analyst principal; returns the analyst's token (kept beside the lake)."""
    import mlake
    from mlake.demo import build_demo

    token_file = home / "bench-token"
    if token_file.exists():
        return token_file.read_text().strip()
    with mlake.connect(home, threads=2, user="owner") as lake:
        build_demo(lake, customers=customers)
        gov = lake.governance
        gov.create_role("analyst")
        gov.create_principal("bench", kind="service", roles=["analyst"])
        gov.grant("analyst", "select", "tag:pii=false")
        gov.add_column_mask("shop.orders", "customer_id", "analyst", "hash")
        _, token = gov.create_token("bench", "benchmark")
    token_file.write_text(token)
    return token


def build_features(home: Path) -> str:
    """A feature group of 100,000 entities x 10 double features (fresh values, served online), readable by
    ``bench`` through its tag grant; ``bench_masked`` reads it with a column mask and a row filter.
    Returns ``bench_masked``'s token."""
    import random
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa

    import mlake

    token_file = home / "bench-masked-token"
    with mlake.connect(home, threads=2, user="owner") as lake:
        fs = lake.features
        if not fs.registry.exists("bench_online"):
            rng = random.Random(5)
            data = {
                "customer_id": pa.array(range(FEATURE_ENTITIES), pa.int64()),
                "ts": pa.array([datetime.now(UTC) - timedelta(hours=1)] * FEATURE_ENTITIES),
            }
            for i in range(10):
                data[f"f{i}"] = pa.array([rng.random() for _ in range(FEATURE_ENTITIES)])
            fs.create_group(
                "bench_online",
                entities=["customer_id"],
                event_time="ts",
                data=pa.table(data),
                description="Ten random scores per customer (benchmark)",
                tags={"pii": "false"},
            )
        if token_file.exists():
            return token_file.read_text().strip()
        gov = lake.governance
        gov.create_principal("bench_masked", kind="service")
        gov.grant("bench_masked", "select", "features.bench_online")
        gov.add_column_mask("features.bench_online", "f0", "bench_masked", "round(f0, 1)")
        gov.add_row_filter("features.bench_online", "bench_masked", "customer_id % 10 <> 9")
        _, token = gov.create_token("bench_masked", "benchmark")
    token_file.write_text(token)
    return token


def _online_bodies(n: int, size: int, seed: int) -> list[dict[str, Any]]:
    import random

    rng = random.Random(seed)
    return [
        {"features": FEATURES, "entities": [{"customer_id": k} for k in rng.sample(range(FEATURE_ENTITIES), size)]}
        for _ in range(n)
    ]


def bodies_latency(client: httpx.Client, path: str, bodies: list[dict[str, Any]]) -> list[float]:
    for body in bodies[:20]:  # warm-up
        client.post(path, json=body).raise_for_status()
    out = []
    for body in bodies:
        t = time.perf_counter()
        client.post(path, json=body).raise_for_status()
        out.append(time.perf_counter() - t)
    return out


def in_process_online(home: Path, principal: str | None, bodies: list[dict[str, Any]]) -> list[float]:
    """``get_online_features`` in this process: on the lake itself, or through a principal's governed lake
    (grants checked, masks applied, an audit event committed per read)."""
    import mlake

    with mlake.connect(home, threads=2) as lake:
        target = lake.as_principal(principal) if principal else lake
        fs = target.features
        for body in bodies[:20]:
            fs.get_online_features(body["entities"], body["features"])
        out = []
        for body in bodies:
            t = time.perf_counter()
            fs.get_online_features(body["entities"], body["features"])
            out.append(time.perf_counter() - t)
        lake.governance.audit.flush()
    return out


def serve_features(home: str, port: str) -> None:
    """``mlake features serve``: the same online endpoint alone, without tokens, grants or audit."""
    import uvicorn

    import mlake
    from mlake.server.serving import create_app

    uvicorn.run(
        create_app(mlake.connect(home, threads=2)),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
    )


def feature_reads(home: Path, token: str, masked_token: str, requests: int) -> list[str]:
    """The online-feature-read table (issue 5): REST next to its baselines, all measured in this run."""
    single = _online_bodies(requests, 1, 1)
    batch = _online_bodies(max(requests // 3, 50), 100, 2)
    rows: list[tuple[str, str, list[float]]] = []
    server, url = _start("serve", str(home))
    try:
        for who, tok in (("grant by tag", token), ("column mask + row filter", masked_token)):
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tok}"}, timeout=60) as client:
                rows.append((f"REST `POST {ONLINE}` ({who})", "1 entity", bodies_latency(client, ONLINE, single)))
                rows.append((f"REST `POST {ONLINE}` ({who})", "100 entities", bodies_latency(client, ONLINE, batch)))
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            rows.append(
                (
                    "baseline: REST with no work (`GET /api/v1/me`: auth + JSON)",
                    "—",
                    latency(client, "GET", "/api/v1/me", None, requests),
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    standalone, standalone_url = _start("serve_features", str(home))
    try:
        with httpx.Client(base_url=standalone_url, timeout=60) as client:
            rows.append(
                (
                    "baseline: `mlake features serve` (no tokens, grants, audit)",
                    "1 entity",
                    bodies_latency(client, ONLINE, single),
                )
            )
            rows.append(
                (
                    "baseline: `mlake features serve` (no tokens, grants, audit)",
                    "100 entities",
                    bodies_latency(client, ONLINE, batch),
                )
            )
    finally:
        standalone.terminate()
        standalone.wait(timeout=30)
    rows.append(
        ("baseline: in process, governed lake (`bench`, audited)", "1 entity", in_process_online(home, "bench", single))
    )
    rows.append(
        (
            "baseline: in process, governed lake (`bench`, audited)",
            "100 entities",
            in_process_online(home, "bench", batch),
        )
    )
    rows.append(
        ("baseline: in process, `lake.features.get_online_features`", "1 entity", in_process_online(home, None, single))
    )
    rows.append(
        (
            "baseline: in process, `lake.features.get_online_features`",
            "100 entities",
            in_process_online(home, None, batch),
        )
    )
    ours = {size: _percentiles(samples)[1] for name, size, samples in rows[:2]}
    lines = [
        f"### Online feature read over REST, one client (10 features; {len(single)} single and {len(batch)} "
        "batch requests, random entities, after warm-up)",
        "",
        "| what | entities | p50 ms | p99 ms | mean ms | ours (p99, same size) ÷ this |",
        "|---|---|---|---|---|---|",
    ]
    for name, size, samples in rows:
        p50, p99, mean = _percentiles(samples)
        ratio = f"{ours[size] / p99:.2f}" if size in ours else ""
        lines.append(f"| {name} | {size} | {p50:.2f} | {p99:.2f} | {mean:.2f} | {ratio} |")
    return lines


def serve(home: str, port: str) -> None:
    """The server process: uvicorn with one worker, tokens required, access log off."""
    _serve_lake(home, port, auth=True)


def serve_owner(home: str, port: str) -> None:
    """The same server without tokens (loopback): every request acts as the lake's local superuser, the
    owner path (no grants, masks or filters to apply)."""
    _serve_lake(home, port, auth=False)


def _serve_lake(home: str, port: str, *, auth: bool) -> None:
    import uvicorn

    import mlake
    from mlake.server.app import create_app
    from mlake.server.settings import ServerSettings

    lake = mlake.connect(home, threads=2)
    uvicorn.run(
        create_app(lake, ServerSettings(port=int(port), auth=auth)),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000, statistics.fmean(ordered) * 1000


def latency(client: httpx.Client, method: str, path: str, body: Any, n: int) -> list[float]:
    for _ in range(10):  # warm-up: pinned views, metadata caches, connection
        client.request(method, path, json=body).raise_for_status()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.request(method, path, json=body).raise_for_status()
        out.append(time.perf_counter() - t)
    return out


def in_process_latency(home: Path, n: int) -> list[float]:
    """The same query through the governed lake in this process: no HTTP, no JSON."""
    import mlake

    with mlake.connect(home, threads=2) as lake:
        bench = lake.as_principal("bench")
        for _ in range(10):
            bench.sql(QUERY).preview(1001)
        out = []
        for _ in range(n):
            t = time.perf_counter()
            bench.sql(QUERY).preview(1001)
            out.append(time.perf_counter() - t)
        lake.governance.audit.flush()
    return out


def throughput(
    url: str, token: str, method: str, path: str, body: Any, clients: int, seconds: float
) -> dict[str, float]:
    """``clients`` concurrent keep-alive clients (one thread and connection each) for ``seconds``.

    Threads with blocking clients, not asyncio: on this machine httpx's async client caps out near
    150 requests/s with 50 connections even against a bare FastAPI endpoint, which would measure the
    client instead of the server.
    """
    samples: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def worker() -> None:
        local: list[float] = []
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = client.request(method, path, json=body)
                local.append(time.perf_counter() - t)
                if r.status_code >= 400:
                    with lock:
                        errors[0] += 1
        with lock:
            samples.extend(local)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    p50, p99, _ = _percentiles(samples)
    return {"rps": len(samples) / elapsed, "p50": p50, "p99": p99, "requests": len(samples), "errors": errors[0]}


def bare_server(port: str) -> None:
    """Baseline server: FastAPI + uvicorn answering a constant, no auth, no lake (the framework's floor)."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    def hello() -> dict[str, int]:
        return {"ok": 1}

    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


def bare_duckdb_server(home: str, port: str) -> None:
    """Baseline server: FastAPI + uvicorn (same settings: one worker, access log off) whose endpoint runs
    the same small query with DuckDB on the same Parquet files (``read_parquet`` of the table's current
    snapshot), one cursor per request, and returns the rows as JSON — no auth, no catalog, no policy."""
    import duckdb
    import uvicorn
    from fastapi import FastAPI

    import mlake
    from mlake.tables.scan import plan_scan

    with mlake.connect(home, threads=2) as lake:
        source = plan_scan(lake.iceberg_table("shop.orders"), None, None).sql
    con = duckdb.connect(":memory:", config={"threads": 2})
    con.execute(f"CREATE SCHEMA shop; CREATE VIEW shop.orders AS {source}")
    app = FastAPI()

    @app.post("/sql")
    def sql(body: dict[str, Any]) -> dict[str, Any]:
        cursor = con.cursor()
        try:
            table = cursor.sql(str(body["sql"])).limit(1001).to_arrow_table()
        finally:
            cursor.close()
        return {"columns": table.column_names, "rows": [list(r.values()) for r in table.to_pylist()]}

    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


def _start(target: str, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = str(_free_port())
    # The servers import the same mlake as this process (a PYTHONPATH given, e.g. another checkout to compare).
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or f"{ROOT}:{ROOT / 'src'}"}
    call = ", ".join(repr(a) for a in (*args, port))
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from benchmarks.bench_rest import {target}; {target}({call})"], cwd=ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240  # a loaded 2-core machine imports the server slowly
    while True:
        try:
            httpx.get(url + "/openapi.json", timeout=1)
            httpx.get(url + "/api/v1/health", timeout=1)
            return proc, url
        except httpx.HTTPError:
            if time.time() > deadline or proc.poll() is not None:
                proc.terminate()
                raise RuntimeError(f"{target} did not start") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--part", choices=("all", "sql", "features"), default="all")
    parser.add_argument("--rounds", type=int, default=2, help="turns each SQL path takes (best kept)")
    args = parser.parse_args()
    home = DATA / f"rest-lake-{args.customers}"
    token = build(home, args.customers)
    command = (
        f"Command: `.venv/bin/python -m benchmarks.bench_rest --customers {args.customers} --requests {args.requests} "
        f"--seconds {args.seconds:g} --clients {args.clients}"
    )
    if args.part in ("all", "features"):
        masked_token = build_features(home)
        lines = feature_reads(home, token, masked_token, args.requests)
        lines += ["", f"{command} --part features`; {date.today().isoformat()}; {machine()}.", ""]
        print("\n".join(lines), flush=True)
    if args.part == "features":
        return
    # Every server runs for the whole measurement and the paths take turns, round after round (the best
    # round of each kept): on a shared machine a burst of someone else's load then hits every path alike,
    # instead of whichever happened to be measured during it.
    servers = {
        "governed": _start("serve", str(home)),
        "owner": _start("serve_owner", str(home)),
        "duck": _start("bare_duckdb_server", str(home)),
        "bare": _start("bare_server"),
    }
    try:
        url, owner_url, duck_url, bare_url = (servers[k][1] for k in ("governed", "owner", "duck", "bare"))
        headers = {"Authorization": f"Bearer {token}"}
        lat: dict[str, list[list[float]]] = {k: [] for k in ("sql", "owner", "duck", "preview", "me")}
        for _ in range(args.rounds):
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                lat["sql"].append(latency(client, "POST", "/api/v1/sql", {"sql": QUERY}, args.requests))
                lat["preview"].append(latency(client, "GET", PREVIEW, None, args.requests))
                lat["me"].append(latency(client, "GET", "/api/v1/me", None, args.requests))
            with httpx.Client(base_url=owner_url, timeout=60) as client:
                lat["owner"].append(latency(client, "POST", "/api/v1/sql", {"sql": QUERY}, args.requests))
            with httpx.Client(base_url=duck_url, timeout=60) as client:
                lat["duck"].append(latency(client, "POST", "/sql", {"sql": QUERY}, args.requests))
        sql, owner_sql, duck_sql, preview, health = (
            min(lat[k], key=lambda samples: _percentiles(samples)[0]) for k in ("sql", "owner", "duck", "preview", "me")
        )
        local = in_process_latency(home, args.requests)
        loads: dict[str, list[dict[str, float]]] = {k: [] for k in ("sql", "owner", "duck", "preview", "me", "bare")}
        sql_body = {"sql": QUERY}
        for _ in range(args.rounds):
            loads["sql"].append(throughput(url, token, "POST", "/api/v1/sql", sql_body, args.clients, args.seconds))
            loads["owner"].append(
                throughput(owner_url, "", "POST", "/api/v1/sql", sql_body, args.clients, args.seconds)
            )
            loads["duck"].append(throughput(duck_url, "", "POST", "/sql", sql_body, args.clients, args.seconds))
            loads["preview"].append(throughput(url, token, "GET", PREVIEW, None, args.clients, args.seconds))
            loads["me"].append(throughput(url, token, "GET", "/api/v1/me", None, args.clients, args.seconds))
            loads["bare"].append(throughput(bare_url, "", "GET", "/hello", None, args.clients, args.seconds))
        load_sql, load_owner, load_duck, load_preview, load_floor, load_bare = (
            max(loads[k], key=lambda r: r["rps"]) for k in ("sql", "owner", "duck", "preview", "me", "bare")
        )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait(timeout=30)

    rows = [
        ("REST: small SQL query (POST /api/v1/sql)", sql),
        ("REST: same query, owner path (server without tokens: local superuser)", owner_sql),
        ("baseline: bare FastAPI + DuckDB, same query on the same files", duck_sql),
        ("REST: table preview, 20 rows (GET .../rows)", preview),
        ("baseline: REST with no work (GET /api/v1/me: auth + JSON)", health),
        ("baseline: same query in process (governed lake, no HTTP)", local),
    ]
    lines = [
        f"### REST latency, one client ({args.requests} requests each, after warm-up; best of {args.rounds} "
        "interleaved rounds by p50)",
        "",
        "| what | p50 ms | p99 ms | mean ms | ours (SQL p50) ÷ this |",
        "|---|---|---|---|---|",
    ]
    sql_p50 = _percentiles(sql)[0]
    for name, samples in rows:
        p50, p99, mean = _percentiles(samples)
        lines.append(f"| {name} | {p50:.2f} | {p99:.2f} | {mean:.2f} | {sql_p50 / p50:.2f} |")
    lines += [
        "",
        f"### Throughput, {args.clients} concurrent clients on loopback ({args.seconds:g} s each, best of "
        f"{args.rounds} interleaved rounds)",
        "",
        "| what | requests/s | p50 ms | p99 ms | requests | errors | ours ÷ this (req/s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in (
        ("REST: small SQL query (principal: tag grant + column mask)", load_sql),
        ("REST: same query, owner path (local superuser)", load_owner),
        ("baseline: bare FastAPI + DuckDB, same query on the same files", load_duck),
        ("REST: table preview, 20 rows", load_preview),
        ("baseline: REST with no work (GET /api/v1/me: auth + JSON)", load_floor),
        ("baseline: bare FastAPI + uvicorn, constant answer", load_bare),
    ):
        lines.append(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['requests']:.0f} | {r['errors']:.0f} | "
            f"{load_sql['rps'] / r['rps']:.2f} |"
        )
    lines += [
        "",
        f"Principal ÷ owner path: {load_sql['rps'] / load_owner['rps']:.2f}× the requests/s, "
        f"{_percentiles(sql)[0] / _percentiles(owner_sql)[0]:.2f}× the one-client p50 (target: within 20%). "
        f"Principal ÷ bare FastAPI + DuckDB: {load_sql['rps'] / load_duck['rps']:.2f}× the requests/s. "
        f"Target ≥ 500 requests/s: {load_sql['rps']:.0f}.",
        "",
        f"Command: `.venv/bin/python -m benchmarks.bench_rest --customers {args.customers} --requests {args.requests} "
        f"--seconds {args.seconds:g} --clients {args.clients} --rounds {args.rounds} --part sql`; "
        f"{date.today().isoformat()}; {machine()}; load average at the end {os.getloadavg()[0]:.1f} (shared machine "
        "when above 2); server: one "
        "uvicorn worker in its own process, tokens on, a non-superuser principal (tag grant + column mask).",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
