"""``mlake streams``: create, put, tail, deliver, status, describe, list and delete, in process."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

import mlake
from mlake.cli.context import state
from mlake.cli.main import app

runner = CliRunner()


def invoke(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    try:
        result = runner.invoke(app, ["--home", str(home), "-q", *args], input=stdin)
    finally:
        state.close()
    return result.exit_code, result.output


def test_streams_commands(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    code, out = invoke(home, "streams", "create", "clicks", "--partitions", "2", "--retention", "7d")
    assert code == 0 and "2 partition(s), retention 7 days" in out
    lines = "\n".join(json.dumps({"user": f"u{i % 3}", "n": i}) for i in range(6)) + "\nnot json\n"
    code, out = invoke(home, "streams", "put", "clicks", "--file", "-", "--key-field", "user", stdin=lines)
    assert code == 1 and "put 6 record(s) into clicks, 1 failed" in out and "record 7" in out and "not JSON" in out
    code, out = invoke(home, "streams", "put", "clicks", '{"user": "u0", "n": 6}', "--key", "u0")
    assert code == 0 and "put 1 record(s)" in out

    code, out = invoke(home, "streams", "tail", "clicks", "--limit", "100")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and sorted(r["value"]["n"] for r in rows) == list(range(7))
    u0 = [r["value"]["n"] for r in rows if r["key"] == "u0"]
    assert u0 == [0, 3, 6]  # one key, one partition, in order
    code, out = invoke(home, "streams", "tail", "clicks", "--limit", "2", "--partition", str(rows[0]["partition"]))
    assert len(out.splitlines()) == 2

    code, out = invoke(home, "streams", "deliver", "clicks", "--into", "raw.clicks", "--idle-timeout", "0.2")
    assert code == 0 and "delivered 7 row(s)" in out
    code, out = invoke(home, "streams", "status", "clicks", "--json")
    status = json.loads(out)
    assert code == 0 and status["deliveries"][0]["table"] == "raw.clicks"
    assert status["deliveries"][0]["lag"]["lag_records"] == 0 and status["records_last_minute"] == 7
    code, out = invoke(home, "streams", "status", "clicks")
    assert code == 0 and "raw.clicks" in out and "delivery" in out
    with mlake.connect(home) as lake:
        assert lake.sql("SELECT count(*) AS n FROM raw.clicks").to_arrow().to_pylist() == [{"n": 7}]

    assert json.loads(invoke(home, "streams", "list", "--json")[1]) == ["clicks"]
    assert json.loads(invoke(home, "streams", "describe", "clicks", "--json")[1])["partitions"] == 2
    assert invoke(home, "streams", "delete", "clicks", "--yes")[0] == 0
    code, out = invoke(home, "streams", "describe", "clicks")
    assert code != 0  # the error goes to standard error


def count_views(home: Path, *target: str) -> tuple[int, str]:
    """``mlake streams query`` counting views per user in 10-minute windows of stream views, into ``target``."""
    sql = "SELECT user, count(*) AS views FROM records GROUP BY user"
    window = ("--event-time", "at", "--window", "10m", "--idle-timeout", "0.1", "--drain")
    return invoke(home, "streams", "query", "views", "--sql", sql, *target, *window)


def test_streams_query_command(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    invoke(home, "streams", "create", "views")
    lines = "\n".join(
        json.dumps({"user": u, "at": f"2026-12-01T10:{m:02d}:00+00:00"})
        for m, u in [(0, "a"), (1, "a"), (5, "b"), (12, "a")]
    )
    assert invoke(home, "streams", "put", "views", "--file", "-", "--key-field", "user", stdin=lines)[0] == 0
    invoke(home, "streams", "create", "view-counts")
    code, out = count_views(home, "--into", "live.views", "--to-stream", "view-counts", "--key-field", "user")
    assert code == 0 and "2 window(s), 3 row(s) into live.views" in out, out
    tail = [json.loads(line) for line in invoke(home, "streams", "tail", "view-counts")[1].splitlines()]
    assert sorted((r["key"], r["value"]["views"]) for r in tail) == [("a", 1), ("a", 2), ("b", 1)]
    status = json.loads(invoke(home, "streams", "status", "views", "--json")[1])
    (query,) = status["queries"]
    assert (query["name"], query["table"], query["lag"]["lag_records"]) == ("views-query", "live.views", 0)
    assert "query" in invoke(home, "streams", "status", "views")[1]
    with mlake.connect(home) as lake:
        rows = lake.sql("SELECT strftime(window_start, '%H:%M') AS w, user, views FROM live.views ORDER BY 1, 2")
        assert rows.to_arrow().to_pylist() == [
            {"w": "10:00", "user": "a", "views": 2},
            {"w": "10:00", "user": "b", "views": 1},
            {"w": "10:10", "user": "a", "views": 1},
        ]


def test_deliver_and_query_into_feature_groups(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    with mlake.connect(home) as lake:
        lake.features.create_group("clicks", entities={"user": "string"}, event_time="at", features={"n": "long"})
        lake.features.create_group("views", entities={"user": "string"}, event_time="at", features={"views": "long"})
    invoke(home, "streams", "create", "views")
    lines = "\n".join(
        json.dumps({"user": u, "at": f"2026-12-01T10:{m:02d}:00+00:00", "n": m})
        for m, u in [(5, "a"), (1, "a"), (7, "b")]
    )
    assert invoke(home, "streams", "put", "views", "--file", "-", "--key-field", "user", stdin=lines)[0] == 0
    code, out = invoke(home, "streams", "deliver", "views", "--feature-group", "clicks", "--idle-timeout", "0.1")
    assert code == 0 and "delivered 3 row(s)" in out, out
    code, out = count_views(home, "--feature-group", "views")
    assert code == 0 and "1 window(s), 2 row(s) into features.views" in out, out
    with mlake.connect(home) as lake:
        got = lake.features.get_online_features([{"user": "a"}, {"user": "b"}], ["clicks:n", "views:views"])
        assert got.values == [{"n": 5, "views": 2}, {"n": 7, "views": 1}]  # the newest event of a, not the last put
    code, out = invoke(home, "streams", "deliver", "views", "--into", "raw.x", "--feature-group", "clicks")
    assert code != 0  # refused: one table or one feature group


def test_managed_deliveries_run_under_the_worker(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    assert invoke(home, "streams", "create", "clicks")[0] == 0
    code, out = invoke(home, "streams", "deliver", "clicks", "--into", "raw.clicks", "--managed", "--max-seconds", "0.05")
    assert code == 0 and "`mlake worker` runs it" in out
    code, out = invoke(home, "streams", "managed", "--json")
    (saved,) = json.loads(out)
    assert (saved["stream"], saved["into"], saved["worker"], saved["hints"]["max_seconds"]) == (
        "clicks", "raw.clicks", None, 0.05
    )
    lines = "\n".join(json.dumps({"n": i}) for i in range(5))
    assert invoke(home, "streams", "put", "clicks", "--file", "-", "--key", "k", stdin=lines)[0] == 0
    from mlake.pipelines.service import Worker

    with mlake.connect(home) as lake:
        worker = Worker(lake, "cli-test")
        try:
            worker.run_once()
            assert "cli-test" in invoke(home, "streams", "managed")[1]
            for _ in range(200):
                if lake.table_exists("raw.clicks") and lake.sql("SELECT count(*) FROM raw.clicks").scalar() == 5:
                    break
                time.sleep(0.05)
            assert lake.sql("SELECT sum(n) FROM raw.clicks").scalar() == 10
        finally:
            worker.close()
    assert invoke(home, "streams", "unmanage", "clicks")[0] == 0
    assert json.loads(invoke(home, "streams", "managed", "--json")[1]) == []
