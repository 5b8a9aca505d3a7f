"""Auto-labeling images: scikit-learn's digits as PNG objects in the lake, simulated annotators of known
accuracy, and the built-in pixel embedding (or the caller's); the auto-labels meet the target on truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlake.errors import ValidationError
from mlake.labeling.embeddings import embedded, image_pixels
from mlake.lake import Lake

pytest.importorskip("sklearn")
PIL = pytest.importorskip("PIL.Image")
pytestmark = pytest.mark.slow  # scikit-learn, 1,797 images

ANNOTATORS = {"ann": 0.92, "bo": 0.92, "cy": 0.92}  # each right with this probability


def digits_as_objects(lake: Lake, folder: Path) -> dict[str, int]:
    """The 1,797 digits as 32 × 32 PNG files in the object table raw.digits; returns object id -> digit."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir()
    for i, (image, _) in enumerate(zip(digits.images, digits.target, strict=True)):
        pixels = (image / 16.0 * 255).astype(np.uint8)
        PIL.fromarray(pixels, mode="L").resize((32, 32)).save(folder / f"digit_{i:04d}.png")
    lake.objects.add(str(folder), into="raw.digits")
    by_name = {f"digit_{i:04d}.png": int(t) for i, t in enumerate(digits.target)}
    rows = lake.objects.list("raw.digits", limit=None).to_pylist()
    return {r["id"]: by_name[Path(r["path"]).name] for r in rows}


def test_images_reach_the_accuracy_target_with_the_pixel_embedding(lake: Lake, tmp_path: Path) -> None:
    truth = digits_as_objects(lake, tmp_path / "digits")
    assert len(truth) == 1797
    lab = lake.labeling
    lab.create_project("digits", "raw.digits", "id", labels=[str(d) for d in range(10)], annotators_per_item=3)
    rng = np.random.default_rng(0)
    ids = sorted(truth)
    humans = ids[:700]
    rows = []
    for item in humans:
        for person, skill in ANNOTATORS.items():
            answer = truth[item] if rng.random() < skill else int(rng.integers(0, 10))
            rows.append((item, person, json.dumps(str(answer))))
    lake.table("labeling.digits__answers").append(
        pa.table(
            {
                "item_id": [r[0] for r in rows],
                "annotator": [r[1] for r in rows],
                "submitted_at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * len(rows), pa.timestamp("us", tz="UTC")),
                "answer": [r[2] for r in rows],
                "seconds": [2.0] * len(rows),
            }
        )
    )
    result = lab.auto_label("digits", target_accuracy=0.9, min_human=500, embed="image_pixels")
    assert result.status == "threshold_met" and result.threshold is not None
    auto = lake.sql("SELECT item, label FROM labeling.digits__auto").to_pylist()
    assert len(auto) == len(result.auto_items) > 300  # most of the unlabelled 1,097 are labelled by the model
    right = sum(json.loads(r["label"]) == str(truth[r["item"]]) for r in auto)
    accuracy = right / len(auto)
    assert accuracy >= 0.9, accuracy  # on the true digits, not only on the held-out human labels
    print(f"auto-labelled {len(auto)} of {len(ids) - len(humans)} unlabelled images at {accuracy:.3f} true accuracy")


def test_a_callers_embedding_and_bad_ones(lake: Lake, tmp_path: Path) -> None:
    folder = tmp_path / "few"
    folder.mkdir()
    for i in range(3):
        PIL.new("L", (8, 8), color=i * 100).save(folder / f"p{i}.png")
    (folder / "notes.txt").write_text("not an image")
    blobs = [(folder / f"p{i}.png").read_bytes() for i in range(3)]
    pixels = embedded("image_pixels", blobs)
    assert pixels.shape == (3, 256) and np.allclose(pixels[:, 0], [0.0, 100 / 255, 200 / 255])
    assert embedded(lambda b: np.array([[len(x)] for x in b], dtype=float), blobs).shape == (3, 1)
    with pytest.raises(ValidationError, match="shape"):
        embedded(lambda b: np.zeros(len(b)), blobs)
    with pytest.raises(ValidationError, match="NaN"):
        embedded(lambda b: np.full((len(b), 2), np.nan), blobs)
    with pytest.raises(ValidationError, match="not an image"):
        image_pixels()([b"not an image"])
    with pytest.raises(ValidationError, match="unknown embedding"):
        embedded("clip", blobs)
