"""Studio and REST faces of the monitoring charts: the monitor's HTML report (REST and Studio download) and
the bias page with its attributions, for readers only."""

from __future__ import annotations

import httpx
import pytest
from tests.charts_world import ATTRIBUTIONS, MONITOR, build_bias, build_monitor
from tests.governed_lake import Governed

pytestmark = pytest.mark.anyio


async def test_report_over_rest_and_studio_for_readers_only(
    admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    build_monitor(governed.lake)
    r = await admin.get(f"/api/v1/monitors/{MONITOR}/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "m-drift-bars" in r.text and "<script" not in r.text
    download = await admin.get(f"/monitoring/{MONITOR}/report.html", headers={"Accept": "text/html"})
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert (await outsider.get(f"/api/v1/monitors/{MONITOR}/report")).status_code == 404
    assert (await outsider.get(f"/monitoring/{MONITOR}/report.html")).status_code == 404


async def test_bias_page_draws_rates_metrics_and_attributions(
    admin: httpx.AsyncClient, outsider: httpx.AsyncClient, governed: Governed
) -> None:
    build_bias(governed.lake)
    html = {"Accept": "text/html"}
    query = {
        "source": "hr.applicants",
        "facet": "sex",
        "facet_value": "Female",
        "label": "hired",
        "positive": "1",
        "predicted": "score",
        "predicted_threshold": "0.5",
        "attributions": ATTRIBUTIONS,
    }
    page = await admin.get("/bias", params=query, headers=html)
    assert page.status_code == 200
    assert page.text.count('<svg class="chart b-facet-chart"') == 1 and page.text.count("b-metric-chart") >= 1
    assert page.text.count('<svg class="chart b-attributions"') == 1
    only = await admin.get("/bias", params={"attributions": ATTRIBUTIONS}, headers=html)
    assert "b-attributions" in only.text and "b-facet-chart" not in only.text
    refused = await outsider.get("/bias", params=query, headers=html)
    assert "b-attributions" not in refused.text and "Cannot draw the attributions" in refused.text
