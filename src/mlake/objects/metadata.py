"""What an object's bytes say about it: media type, and image, text or audio properties.

Extraction never raises for a bad file: a file that claims to be an image but cannot be decoded gets
an ``error`` reason instead (quarantine semantics: the batch goes on, the row says what was wrong).
"""

from __future__ import annotations

import io
import mimetypes
import wave
from dataclasses import dataclass, field
from typing import Any

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml")


@dataclass
class ObjectMetadata:
    """Properties read from an object's content; unknown ones stay None."""

    media_type: str
    width: int | None = None
    height: int | None = None
    format: str | None = None
    text_length: int | None = None
    line_count: int | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def media_type_of(path: str) -> str:
    """The media type guessed from the file name (``application/octet-stream`` when unknown)."""
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def is_text(media_type: str) -> bool:
    return media_type.startswith(TEXT_TYPES)


def extract(path: str, data: bytes) -> ObjectMetadata:
    """The metadata of one object, from its name and bytes."""
    meta = ObjectMetadata(media_type=media_type_of(path))
    kind = meta.media_type.split("/", 1)[0]
    if kind == "image":
        _image(data, meta)
    elif is_text(meta.media_type):
        _text(data, meta)
    elif meta.media_type in ("audio/x-wav", "audio/wav", "audio/vnd.wave"):
        _wave(data, meta)
    return meta


def _image(data: bytes, meta: ObjectMetadata) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()  # decodes the structure: a truncated or garbled file fails here
        with Image.open(io.BytesIO(data)) as img:
            meta.width, meta.height = img.size
            meta.format = img.format
    except UnidentifiedImageError:
        meta.error = "unreadable image: not in a format Pillow recognises"
    except (OSError, SyntaxError, ValueError) as exc:
        meta.error = f"unreadable image: {exc}"


def _text(data: bytes, meta: ObjectMetadata) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        meta.error = f"text is not UTF-8 (byte {exc.start})"
        return
    meta.text_length = len(text)
    meta.line_count = text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _wave(data: bytes, meta: ObjectMetadata) -> None:
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            meta.sample_rate = w.getframerate()
            meta.duration_s = w.getnframes() / meta.sample_rate if meta.sample_rate else None
            meta.format = "WAV"
    except (wave.Error, EOFError) as exc:
        meta.error = f"unreadable WAV audio: {exc}"


def thumbnail(data: bytes, size: int = 256) -> bytes:
    """A PNG thumbnail of an image, at most ``size`` pixels on its longer side."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as source:
        source.thumbnail((size, size))
        img: Image.Image = source if source.mode in ("RGB", "RGBA", "L", "LA") else source.convert("RGBA")
        out = io.BytesIO()
        img.save(out, format="PNG")
    return out.getvalue()
