"""A stream's Studio page and its live JSON over the real app: throughput and lag charts, the tail after a
cursor, and grants on ``stream:NAME`` — a principal without one gets neither the page nor the tail."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.charts_world import CLICKS, STREAM, VAULT, build_streams
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio
HTML = {"Accept": "text/html"}


async def test_page_charts_and_live_tail_for_grantees_only(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    build_streams(governed.lake)
    governed.lake.governance.grant("analyst", "select", f"stream:{STREAM}")

    page = await analyst.get(f"/streams/{STREAM}", headers=HTML)
    assert page.status_code == 200, page.text
    assert page.text.count('<rect class="bar"') == 30  # 30 buckets over 15 minutes
    assert 'data-consumer="group:scorer"' in page.text and 'data-consumer="delivery:' in page.text
    assert page.text.count("<tr><td>20") >= CLICKS  # the tail of the last hour, every record
    cursor = re.search(r'data-cursor="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]

    nothing = (await analyst.get(f"/streams/{STREAM}/live", params={"from": cursor})).json()
    assert nothing["records"] == [] and "throughput_svg" not in nothing
    governed.lake.streams.put_batch(STREAM, [(f"u{i}", {"n": 100 + i}) for i in range(3)])
    live = (await analyst.get(f"/streams/{STREAM}/live", params={"from": nothing["cursor"], "charts": "true"})).json()
    assert sorted(r["value"] for r in live["records"]) == ["{'n': 100}", "{'n': 101}", "{'n': 102}"]
    assert live["throughput_svg"].count('<rect class="bar"') == 30
    assert {c["consumer"] for c in live["lag_svgs"]} >= {"group:scorer"}
    again = (await analyst.get(f"/streams/{STREAM}/live", params={"from": live["cursor"]})).json()
    assert again["records"] == []  # the cursor moved past them: nothing is sent twice

    for client in (analyst, outsider):  # no grant on the vault; alice has no stream grant at all
        assert (await client.get(f"/streams/{VAULT}", headers=HTML)).status_code == 403
        refused = await client.get(f"/streams/{VAULT}/live", params={"from": "0:oldest"})
        assert refused.status_code == 403 and "zebra" not in refused.text
    assert (await outsider.get(f"/streams/{STREAM}/live")).status_code == 403
    assert "zebra" in (await admin.get(f"/streams/{VAULT}/live", params={"from": "0:oldest"})).text
    assert (await analyst.get(f"/streams/{STREAM}/live", params={"from": "9:oldest"})).status_code in (400, 422)
