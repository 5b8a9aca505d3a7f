"""Hostile SQL, in process and over every REST route that takes SQL: nothing outside the granted views.

Each attack must be refused (an ``MlakeError`` in process, a 4xx problem over REST) and no answer may
contain a marker of data the principal may not read (:data:`tests.security.hostile.MARKERS`).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mlake.errors import MlakeError
from tests.governed_lake import Governed
from tests.security.attempts import ATTEMPTS
from tests.security.hostile import CTE_ESCAPES, OTHER_FORMS, leaked, render

ALL_FORMS = CTE_ESCAPES + OTHER_FORMS


def _paths(g: Governed) -> tuple[Path, Path]:
    warehouse = g.lake.settings.local_warehouse_path()
    assert warehouse is not None
    return warehouse, g.lake.settings.home


def test_the_suite_has_its_forms() -> None:
    assert len(CTE_ESCAPES) >= 15
    assert len(OTHER_FORMS) >= 40  # at least 20 beyond the forms tests/governance/test_sandbox.py already tries


@pytest.mark.parametrize("principal", ["alice", "bob"])
@pytest.mark.parametrize("template", ALL_FORMS)
def test_in_process(shared: Governed, principal: str, template: str) -> None:
    sql = render(template, *_paths(shared))
    lake = shared.lake.as_principal(principal)
    answer = ""
    refused = False
    try:
        answer = json.dumps(lake.sql(sql).to_pylist(), default=str)
    except MlakeError as exc:
        refused = True
        answer = f"{exc.message} {exc.hint or ''}"
    ATTEMPTS.record("in process", refused and not leaked(answer))
    assert not leaked(answer), f"{sql} leaked {leaked(answer)}"
    assert refused, f"{sql} ran for {principal}: {answer[:300]}"
    assert "Traceback" not in answer


def test_paths_relative_to_the_working_directory(shared: Governed, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse, _ = _paths(shared)
    monkeypatch.chdir(warehouse)
    alice = shared.lake.as_principal("alice")
    for rel in ("vault/secrets/data/**/*.parquet", "./vault/secrets/data/*.parquet", "../tmp/uploads/leftover.csv"):
        for sql in (f'WITH "{rel}" AS (SELECT * FROM "{rel}") SELECT * FROM "{rel}"', f"SELECT * FROM '{rel}'"):
            with pytest.raises(MlakeError) as info:
                alice.sql(sql).to_arrow()
            ATTEMPTS.record("in process (relative)", not leaked(info.value.message))
            assert not leaked(info.value.message)


def test_legitimate_ctes_still_run(shared: Governed) -> None:
    bob = shared.lake.as_principal("bob")
    assert bob.sql("WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT y FROM b").scalar() == 2
    recursive = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) SELECT sum(n) FROM r"
    assert bob.sql(recursive).scalar() == 10
    nested = "WITH a AS (SELECT 2 AS x) SELECT * FROM (WITH b AS (SELECT x * 3 AS y FROM a) SELECT y FROM b)"
    assert bob.sql(nested).scalar() == 6
    assert bob.sql("WITH o AS (SELECT * FROM shop.orders) SELECT count(*) FROM o").scalar() == 4
    assert bob.sql("WITH Big AS (SELECT 1 AS x) SELECT x FROM big").scalar() == 1  # names are case-insensitive


def _held(response: httpx.Response) -> bool:
    return 400 <= response.status_code < 500 and not leaked(response.text)


@pytest.mark.anyio
@pytest.mark.parametrize("template", ALL_FORMS)
async def test_over_rest(shared: Governed, outsider: httpx.AsyncClient, analyst: httpx.AsyncClient, template: str) -> None:
    sql = render(template, *_paths(shared))
    attempts: list[tuple[str, httpx.Response]] = []
    for who, client in (("outsider", outsider), ("analyst", analyst)):
        attempts.append((f"{who} /sql", await client.post("/api/v1/sql", json={"sql": sql})))
        attempts.append((f"{who} /sql/export", await client.post("/api/v1/sql/export", json={"sql": sql})))
    attempts.append(("/sql/save", await analyst.post("/api/v1/sql/save", json={"sql": sql, "table": "shop.leak"})))
    attempts.append(("/quality/profile", await analyst.post("/api/v1/quality/profile", json={"sql": sql})))
    check = {"checks": [{"sql": {"name": "leak", "query": sql}}], "sample_rows": 5, "save": False}
    attempts.append(("custom check", await analyst.post("/api/v1/tables/shop.orders/quality/checks", json=check)))
    training = {"features": ["order_stats:orders"], "entities": {"sql": sql}}
    attempts.append(("training set", await analyst.post("/api/v1/features/training-sets", json=training)))
    for route, response in attempts:
        ATTEMPTS.record(f"REST {route.split()[-1]}", _held(response))
    for route, response in attempts:
        assert not leaked(response.text), f"{route}: {sql} leaked {leaked(response.text)}"
        assert 400 <= response.status_code < 500, f"{route}: {sql} -> {response.status_code} {response.text[:300]}"
