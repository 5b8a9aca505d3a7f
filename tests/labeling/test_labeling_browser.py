"""The labeling pages in Chromium (Playwright, a live server): an annotator who is a governed principal
labels items with the keyboard — classification (1–9 + Enter, s to skip, ← to look back), text spans
(select + 1–9) and image bounding boxes (drag on the image served by the objects route) — and the answers
land in the answers tables under that principal's name. The project page shows progress and annotators,
the review loop page the items awaiting review. Screenshots under test-artifacts/labeling/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image

import mlake
from mlake.lake import Lake
from mlake.server.app import create_app
from mlake.server.settings import ServerSettings
from tests.live_server import chromium, free_port, live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "labeling"
playwright_api = pytest.importorskip("playwright.sync_api")
TEXTS = ["the cat sat", "a dog barked", "birds sing", "the cat again", "dogs run fast", "a quiet cat"]


class Studio:
    def __init__(self, lake: Lake, url: str, tokens: dict[str, str]) -> None:
        self.lake, self.url, self.tokens = lake, url, tokens


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    root = tmp_path_factory.mktemp("labeling")
    lake = mlake.connect(root / "lake", threads=2, user="owner")
    lake.create_table("raw.notes", pa.table({"note_id": list(range(len(TEXTS))), "text": TEXTS}))
    photos = root / "photos"
    photos.mkdir()
    for i, color in enumerate(["red", "green", "blue"]):
        Image.new("RGB", (200, 100), color).save(photos / f"p{i}.png")
    lake.objects.add(str(photos / "*.png"), into="raw.photos")
    lab = lake.labeling
    lab.create_project(
        "notes", "raw.notes", "note_id", labels=["cat", "dog", "other"], instructions="What is the note about?"
    )
    lab.create_project("ner", "raw.notes", "note_id", "spans", labels=["ANIMAL", "VERB"])
    lab.create_project("photo_boxes", "raw.photos", "id", "boxes", labels=["thing", "sky"])
    lake.create_table(
        "ml.preds",
        pa.table({"pid": ["a", "b", "c", "d"], "pred": ["cat", "dog", "cat", "dog"], "conf": [0.3, 0.9, 0.45, 0.2]}),
    )
    lab.create_review_loop("pred_review", "ml.preds", "pid", "pred", "conf", threshold=0.5, labels=["cat", "dog"])
    lab.activate("pred_review")
    gov = lake.governance
    gov.create_principal("ann")
    for table in ("raw.notes", "raw.photos", "labeling.pred_review__items"):
        gov.grant("ann", "select", table)
    for project in ("notes", "ner", "photo_boxes", "pred_review"):
        gov.grant("ann", "insert", f"labeling.{project}__answers")
    gov.create_principal("eve")  # no grants at all
    gov.create_principal("ada", superuser=True)
    tokens = {who: gov.create_token(who)[1] for who in ("ann", "eve", "ada")}
    port = free_port()
    try:
        with live_server(create_app(lake, ServerSettings(port=port)), port) as url:
            yield Studio(lake, url, tokens)
    finally:
        lake.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _page(browser: Any, studio: Studio, who: str) -> Any:
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(studio.url + "/login")
    page.fill("input[name=token]", studio.tokens[who])
    page.click("button:has-text('Log in')")
    page.wait_for_url(studio.url + "/")
    return page


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert not page.errors, page.errors


def _answers(lake: Lake, project: str, expected: int) -> list[dict[str, Any]]:
    """The stored answers, once the page's background posts have all landed."""
    import time

    deadline = time.time() + 20
    while True:
        rows = lake.labeling.answers(project).to_pylist()
        if len(rows) >= expected or time.time() > deadline:
            return rows
        time.sleep(0.1)


def _shown(page: Any) -> str:
    return str(page.evaluate("document.body.dataset.item"))


def test_classification_with_the_keyboard(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ann")
    page.goto(studio.url + "/labeling")
    assert page.locator("tr[data-project=notes]").count() == 1
    page.click("tr[data-project=notes] a:text-is('Label')")
    page.wait_for_url("**/labeling/notes/annotate")
    assert _shown(page) == "0"
    assert "the cat sat" in page.locator("#label-item").inner_text()
    page.keyboard.press("Enter")  # nothing picked: nothing is sent
    assert _shown(page) == "0" and "Pick an answer" in page.locator("#label-status").inner_text()
    page.keyboard.press("1")
    assert page.locator(".option.on").inner_text().endswith("cat")
    _shot(page, "01-classification")
    page.keyboard.press("Enter")
    assert _shown(page) == "1"  # the next item at once, from the prefetched queue
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.keyboard.press("s")  # skip item 2
    assert _shown(page) == "3"
    page.keyboard.press("ArrowLeft")  # look back at item 1: answered dog
    assert _shown(page) == "1" and page.locator(".option.on").inner_text().endswith("dog")
    page.keyboard.press("3")  # read-only while looking back
    page.keyboard.press("ArrowRight")
    assert _shown(page) == "3"
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    rows = _answers(studio.lake, "notes", 3)
    got = {r["item_id"]: (r["annotator"], json.loads(r["answer"])) for r in rows}
    assert got == {"0": ("ann", "cat"), "1": ("ann", "dog"), "3": ("ann", "cat")}
    assert all(r["seconds"] is not None and r["seconds"] >= 0 for r in rows)
    page.goto(studio.url + "/labeling/notes")  # the annotator may not read others' answers: no progress
    assert "need" in page.locator(".alert").inner_text() and page.locator("#stat-answers").count() == 0
    page = _page(browser, studio, "ada")
    page.goto(studio.url + "/labeling/notes")
    assert page.locator("#stat-answers").inner_text() == "3"
    assert page.locator("tr[data-annotator=ann]").count() == 1
    assert "What is the note about?" in page.locator(".instructions").first.inner_text()
    _shot(page, "02-project")


def test_text_spans_by_selection_and_keys(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ann")
    page.goto(studio.url + "/labeling/ner/annotate")
    assert _shown(page) == "0"
    page.evaluate(  # select "cat" in "the cat sat", as a mouse drag would
        """() => { const t = document.querySelector('#span-text').firstChild; const r = document.createRange();
        r.setStart(t, 4); r.setEnd(t, 7); const s = getSelection(); s.removeAllRanges(); s.addRange(r); }"""
    )
    page.keyboard.press("1")
    assert page.locator("#span-text mark").inner_text().startswith("cat")
    where = page.evaluate(  # where "sat" is on screen, to select it with a real double-click
        """() => { const host = document.querySelector('#span-text'); const t = host.lastChild;
        const i = t.textContent.indexOf('sat'); const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 3);
        const b = r.getBoundingClientRect(); return {x: b.x + b.width / 2, y: b.y + b.height / 2}; }"""
    )
    page.mouse.dblclick(where["x"], where["y"])
    page.keyboard.press("2")
    assert page.locator("#span-text mark").count() == 2
    _shot(page, "03-spans")
    page.keyboard.press("Enter")
    assert _shown(page) == "1"
    rows = _answers(studio.lake, "ner", 1)
    spans = sorted(json.loads(rows[0]["answer"]), key=lambda s: s["start"])
    assert rows[0]["annotator"] == "ann"
    assert spans[0] == {"start": 4, "end": 7, "label": "ANIMAL"}
    assert spans[1]["label"] == "VERB" and TEXTS[0][spans[1]["start"] : spans[1]["end"]] == "sat"


def test_bounding_boxes_drawn_on_the_image(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ann")
    page.goto(studio.url + "/labeling/photo_boxes/annotate")
    first = _shown(page)
    page.wait_for_function(
        "() => { const i = document.querySelector('#box-stage img'); return i && i.complete && i.naturalWidth === 200; }"
    )
    box = page.locator("#box-stage img").bounding_box()
    scale = box["width"] / 200
    page.keyboard.press("2")  # class "sky"
    page.mouse.move(box["x"] + 20 * scale, box["y"] + 10 * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + 80 * scale, box["y"] + 40 * scale, steps=4)
    page.mouse.up()
    page.keyboard.press("1")  # class "thing"
    page.mouse.move(box["x"] + 100 * scale, box["y"] + 50 * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + 300 * scale, box["y"] + 300 * scale, steps=4)  # dragged past the image: clamped
    page.mouse.up()
    assert page.locator("#box-stage .box").count() == 2
    _shot(page, "04-boxes")
    page.keyboard.press("Enter")
    assert _shown(page) != first
    rows = _answers(studio.lake, "photo_boxes", 1)
    assert (rows[0]["item_id"], rows[0]["annotator"]) == (first, "ann")
    boxes = json.loads(rows[0]["answer"])
    assert [b["label"] for b in boxes] == ["sky", "thing"]
    sky, thing = boxes
    assert sky["x_min"] == pytest.approx(20, abs=1.5) and sky["y_max"] == pytest.approx(40, abs=1.5)
    assert thing["x_max"] == pytest.approx(200, abs=0.01) and thing["y_max"] == pytest.approx(100, abs=0.01)


def test_review_loop_page_and_review_with_keys(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "ann")
    page.goto(studio.url + "/labeling/pred_review/review")
    items = page.locator("table.review-items tbody tr")
    assert [items.nth(i).get_attribute("data-item") for i in range(items.count())] == ["d", "a", "c"]
    assert "0.20" in items.first.inner_text() and "cat" in page.locator("table.review-items").inner_text()
    _shot(page, "05-review-queue")
    page.click("#start-review")
    page.wait_for_url("**/labeling/pred_review/annotate")
    assert "prediction" in page.locator("#label-item").inner_text()  # the model's guess is shown
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    rows = _answers(studio.lake, "pred_review", 1)
    assert rows[0]["annotator"] == "ann" and json.loads(rows[0]["answer"]) == "dog"


def test_a_principal_without_grants_sees_no_project(browser: Any, studio: Studio) -> None:
    page = _page(browser, studio, "eve")
    page.goto(studio.url + "/labeling")
    assert page.locator("table.projects").count() == 0
    response = page.goto(studio.url + "/labeling/notes/annotate")
    assert response is not None and response.status == 403
    assert "may not" in page.locator("main").inner_text()
