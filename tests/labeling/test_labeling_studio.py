"""The labeling pages through the real app (httpx's ASGI transport): every page renders for a superuser,
an annotator sees its queue but not others' progress, and a principal without grants gets nothing from
any labeling page — the same refusal whether or not the project exists."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

import mlake
from mlake.lake import Lake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings

pytestmark = pytest.mark.anyio
HTML = {"Accept": "text/html"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def labeled(tmp_path: Path) -> Iterator[tuple[Lake, dict[str, str]]]:
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner")
    lake.create_table("raw.docs", pa.table({"doc": ["d1", "d2", "d3"], "body": ["<b>bold</b> claim", "x", "y"]}))
    lake.labeling.create_project(
        "docs", "raw.docs", "doc", labels=["ok", "spam"], gold={"d3": "ok"}, instructions="Spam or not?"
    )
    lake.labeling.submit("docs", "d1", "spam")
    lake.labeling.consolidate("docs")
    lake.create_table("ml.preds", pa.table({"pid": ["a", "b"], "pred": ["ok", "spam"], "conf": [0.2, 0.9]}))
    lake.labeling.create_review_loop("rev", "ml.preds", "pid", "pred", "conf", threshold=0.5)
    lake.labeling.activate("rev")
    gov = lake.governance
    gov.create_principal("ada", superuser=True)
    gov.create_principal("ann")
    gov.grant("ann", "select", "raw.docs")
    gov.grant("ann", "insert", "labeling.docs__answers")
    gov.create_principal("eve")
    tokens = {who: gov.create_token(who)[1] for who in ("ada", "ann", "eve")}
    try:
        yield lake, tokens
    finally:
        lake.close()


@pytest.fixture
async def clients(labeled: tuple[Lake, dict[str, str]]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    lake, tokens = labeled
    app = create_app(lake, ServerSettings(auth=True))
    out = {
        who: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://studio.test",
            headers={"Authorization": f"Bearer {t}", **HTML},
        )
        for who, t in tokens.items()
    }
    yield out
    for c in out.values():
        await c.aclose()


async def test_every_labeling_page_renders(clients: dict[str, httpx.AsyncClient]) -> None:
    ada = clients["ada"]
    listing = await ada.get("/labeling")
    assert listing.status_code == 200 and 'data-project="docs"' in listing.text and "review loop" in listing.text
    page = await ada.get("/labeling/docs")
    assert page.status_code == 200, page.text[:500]
    assert "Spam or not?" in page.text and 'data-annotator="owner"' in page.text
    assert "dawid_skene" in page.text  # the consolidated labels and their method
    annotate = await ada.get("/labeling/docs/annotate")
    assert annotate.status_code == 200
    data = annotate.text.split('<script id="label-data" type="application/json">')[1].split("</script>")[0]
    carried = json.loads(data)
    assert [i["item_id"] for i in carried["items"]] == ["d2", "d3"]  # d1 has its one answer; d3 is gold
    assert "gold" not in carried["project"]  # gold answers never reach the annotator's page
    assert "<b>bold</b>" not in annotate.text  # the item's text is data, not markup
    review = await ada.get("/labeling/rev/review")
    assert review.status_code == 200 and 'data-item="a"' in review.text and 'data-item="b"' not in review.text
    assert (await ada.get("/labeling/docs/review")).status_code == 303  # a project is not a review loop
    done = await ada.post("/labeling/docs/consolidate")
    assert done.status_code == 303 and done.headers["location"] == "/labeling/docs?consolidated=1"


async def test_an_annotator_sees_its_queue_not_the_others_answers(clients: dict[str, httpx.AsyncClient]) -> None:
    ann = clients["ann"]
    annotate = await ann.get("/labeling/docs/annotate")
    assert annotate.status_code == 200
    page = await ann.get("/labeling/docs")
    assert page.status_code == 200 and "need <code>select</code>" in page.text
    assert 'data-annotator="owner"' not in page.text and "dawid_skene" not in page.text
    assert (await ann.get("/labeling/rev/review")).status_code == 403  # not granted on the loop's items
    # what the page posts when answers queue up: one request, each answer saved or refused on its own
    batch = [{"item_id": "d2", "answer": "ok", "seconds": 2}, {"item_id": "d1", "answer": "maybe"}]
    r = await ann.post("/api/v1/labeling/projects/docs/answers/batch", json=batch)
    assert r.status_code == 200 and [x["status"] for x in r.json()] == ["saved", "refused"]
    assert r.json()[0]["annotator"] == "ann" and r.json()[1]["code"] == "answer_outside_schema"


async def test_no_grants_no_labeling(clients: dict[str, httpx.AsyncClient]) -> None:
    eve = clients["eve"]
    listing = await eve.get("/labeling")
    assert listing.status_code == 200 and "data-project" not in listing.text
    for path in ("/labeling/docs", "/labeling/docs/annotate", "/labeling/rev/review", "/labeling/nope"):
        r = await eve.get(path)
        assert r.status_code == 403 and "may not" in r.text, path
    missing, hidden = await eve.get("/labeling/nope/annotate"), await eve.get("/labeling/docs/annotate")
    assert missing.text.replace("nope", "docs") == hidden.text  # existence is not revealed
    assert (await eve.post("/labeling/docs/consolidate")).status_code == 403
    batch = await eve.post("/api/v1/labeling/projects/docs/answers/batch", json=[{"item_id": "d2", "answer": "ok"}])
    assert batch.status_code == 403
