"""Serving over HTTP (the real ASGI app through httpx), search, describe, skew, and the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mlake.cli.main import app as cli_app
from mlake.features.models import GroupDescription
from mlake.lake import Lake
from mlake.server.serving import create_app

NOW = datetime.now(UTC)


@pytest.fixture
def shop(lake: Lake) -> Lake:
    lake.create_table(
        "shop.stats",
        {"customer_id": [1, 2, 3], "ts": [NOW - timedelta(hours=1)] * 3, "spend_7d": [10.0, 0.0, 4.5]},
    )
    lake.features.create_group(
        "customer_spend",
        entities=["customer_id"],
        event_time="ts",
        data="shop.stats",
        ttl="1d",
        description="How much a customer spent lately",
        owner="ml-team",
        tags={"domain": "sales", "tier": "gold"},
    )
    lake.features.create_group(
        "device",
        entities={"device_id": "string"},
        event_time="ts",
        features={"os": ("string", "Operating system")},
        owner="web-team",
    )
    return lake


def _post(lake: Lake, path: str, body: Any = None, method: str = "POST") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(lake))
        async with httpx.AsyncClient(transport=transport, base_url="http://mlake") as client:
            return await client.request(method, path, json=body)

    return asyncio.run(go())


def test_http_online_features(shop: Lake) -> None:
    r = _post(
        shop,
        "/api/v1/features/online",
        {"features": ["customer_spend:spend_7d"], "entities": [{"customer_id": 1}, {"customer_id": 9}]},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["features"] == ["spend_7d"]
    assert [x["values"]["spend_7d"] for x in body["results"]] == [10.0, None]
    assert [x["statuses"]["spend_7d"] for x in body["results"]] == ["present", "missing"]
    bad = _post(shop, "/api/v1/features/online", {"features": ["nope:x"], "entities": [{"customer_id": 1}]})
    assert bad.status_code == 404 and bad.json()["code"] == "not_found"
    missing_key = _post(shop, "/api/v1/features/online", {"features": ["customer_spend:*"], "entities": [{"id": 1}]})
    assert missing_key.status_code == 400 and "customer_id" in missing_key.json()["message"]
    assert _post(shop, "/api/v1/features/online", {"features": [], "entities": []}).status_code == 422
    groups = _post(shop, "/api/v1/features/groups", method="GET").json()
    assert [g["name"] for g in groups] == ["customer_spend", "device"]
    one = _post(shop, "/api/v1/features/groups/customer_spend?statistics=true", method="GET").json()
    assert one["statistics"]["rows"] == 3
    assert _post(shop, "/api/v1/features/search?q=operating", method="GET").json()[0]["feature"] == "os"
    assert _post(shop, "/api/v1/health", method="GET").json() == {"status": "ok"}


def test_search_by_name_description_tag_and_owner(shop: Lake) -> None:
    fs = shop.features
    assert [(h.group, h.feature, h.matched) for h in fs.search("spend")] == [
        ("customer_spend", None, "name"),
        ("customer_spend", "spend_7d", "feature"),
    ]
    assert [h.group for h in fs.search("spent lately")] == ["customer_spend"]
    assert [h.group for h in fs.search(tag="tier=gold")] == ["customer_spend"]
    assert [h.group for h in fs.search(tag="tier=silver")] == []
    assert [h.group for h in fs.search(owner="WEB-team")] == ["device"]
    assert [(h.group, h.feature) for h in fs.search("operating")] == [("device", "os")]
    assert fs.search("nothing like this") == []


def test_describe_shows_schema_stats_lineage_and_training_sets(shop: Lake) -> None:
    ts = shop.features.training_set({"customer_id": [1], "t": [NOW]}, ["customer_spend:spend_7d"], name="ts1")
    info = shop.features.describe("customer_spend")
    assert [f.name for f in info.group.features] == ["spend_7d"]
    assert info.statistics is not None
    assert info.statistics["rows"] == 3 and info.statistics["entities"] == 3
    assert info.statistics["features"]["spend_7d"]["max"] == 10.0
    assert info.lineage.upstream_tables == ["shop.stats"]
    assert [t.id for t in info.training_sets] == [ts.id]
    assert info.online.stores[0].up_to_date is True
    assert GroupDescription.from_dict(info.to_dict()) == info  # the JSON form REST serves carries it all


def test_skew_finds_a_value_changed_behind_the_store(shop: Lake) -> None:
    assert shop.features.skew("customer_spend").mismatches == []
    from mlake.features.online import OnlineRecord

    et = int((NOW - timedelta(hours=1)).timestamp() * 1_000_000)
    shop.features.online_store.upsert("customer_spend", [OnlineRecord("2", et, 2**62, '{"spend_7d": 1.5}')])
    report = shop.features.skew("customer_spend", sample=10)
    assert report.entities == 3 and report.values_compared == 3
    assert [(m["entity"], m["online_value"], m["offline_value"]) for m in report.mismatches] == [
        ({"customer_id": 2}, 1.5, 0.0)
    ]
    shop.features.write("customer_spend", {"customer_id": [4], "ts": [NOW], "spend_7d": [1.0]}, online=False)
    assert shop.features.skew("customer_spend").lagging


def test_cli_round_trip(lake: Lake, tmp_path: Any) -> None:
    runner = CliRunner()
    home = str(lake.settings.home)
    lake.create_table("shop.stats", {"customer_id": [1, 2], "ts": [NOW, NOW], "spend": [1.0, 2.0]})
    lake.close()

    def run(*args: str) -> str:
        result = runner.invoke(cli_app, ["--home", home, "-q", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "created" in run(
        "features",
        "create",
        "spend",
        "--entity",
        "customer_id",
        "--event-time",
        "ts",
        "--from",
        "shop.stats",
        "--ttl",
        "7d",
        "--tag",
        "domain=sales",
        "--description",
        "Spend per customer",
    )
    run("features", "add", "spend", "--feature", "refunds:long:Refunded orders")
    assert "wrote 1 row(s)" in run(
        "features", "write", "spend", "SELECT 3 AS customer_id, now() AS ts, 9.5 AS spend, 1 AS refunds"
    )
    assert "spend" in run("features", "list")
    assert "Refunded orders" in run("features", "show", "spend")
    assert "refunds" in run("features", "search", "refund")
    out = json.loads(run("features", "get", "spend:spend", "spend:refunds", "--entity", "customer_id=3", "--json"))
    assert out["results"][0]["values"] == {"spend": 9.5, "refunds": 1}
    run("features", "materialize")
    target = tmp_path / "ts.parquet"
    out = run(
        "features",
        "training-set",
        "--entities",
        "shop.stats",
        "--feature",
        "spend:*",
        "--name",
        "cli-ts",
        "-o",
        str(target),
        "-f",
        "parquet",
    )
    assert "wrote 2 row(s)" in out and "cli-ts v1" in out
    assert "cli-ts" in run("features", "training-sets")
    # a second save under the name is its version 2; unnamed runs are not saved, so they do not pile up
    again = run("features", "training-set", "--entities", "shop.stats", "--feature", "spend:*", "--name", "cli-ts")
    assert "cli-ts v2" in again
    run("features", "training-set", "--entities", "shop.stats", "--feature", "spend:*", "-f", "csv")
    listed = json.loads(run("features", "training-sets", "--json"))
    assert sorted((t["name"], t["version"]) for t in listed) == [("cli-ts", 1), ("cli-ts", 2)]
    assert "0 mismatch" in run("features", "skew", "spend")
    run("features", "export", "cli-ts", "-f", "csv", "-o", str(tmp_path / "ts.csv"))
    assert (tmp_path / "ts.csv").read_text().splitlines()[0] == '"customer_id","ts","spend","spend__spend","refunds"'
    bad = runner.invoke(cli_app, ["--home", home, "features", "show", "nope"])
    assert bad.exit_code != 0
