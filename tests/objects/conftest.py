"""Files to add as objects: small real images, texts and WAV audio, generated in the test's folder."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from PIL import Image


def png(width: int, height: int, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """photos/{cat,dog}/*: two identical cat/dog PNGs, a JPEG, a corrupt PNG; docs/ a text; audio/ a WAV."""
    root = tmp_path / "files"
    for sub in ("photos/cat", "photos/dog", "docs", "audio"):
        (root / sub).mkdir(parents=True)
    (root / "photos/cat/a.png").write_bytes(png(40, 30))
    (root / "photos/dog/same-as-a.png").write_bytes(png(40, 30))
    Image.new("RGB", (12, 20), "blue").save(root / "photos/dog/b.jpg")
    (root / "photos/dog/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    (root / "docs/note.txt").write_text("hello\nworld\nthird line")
    (root / "audio/tone.wav").write_bytes(wav(1.5))
    return root
