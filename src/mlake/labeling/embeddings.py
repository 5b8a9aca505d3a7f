"""Feature vectors for auto-labeling items that are objects (images), not rows of numbers.

Auto-labeling trains a model on the human labels, so each item needs a vector. For rows the source's
numeric columns are that vector; for images it is an *embedding*. Two kinds are accepted:

- ``"image_pixels"`` (built in): the image in grey levels, resized to 16 × 16 and scaled to [0, 1] —
  256 numbers. No model, nothing downloaded, deterministic; good enough for images whose classes differ
  in shape at that size (digits, icons, simple scans), and a baseline for the rest.
- any callable ``embed(list_of_object_bytes) -> array (n, d)``: the user's model (a CLIP or ResNet
  feature extractor they have on disk), so mlake never downloads weights at run time.

Why no model ships here: the small image models on PyPI fetch their weights from the internet on first
use, which a local-first tool (and this project's machines) cannot count on.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from mlake.errors import MlakeError, ValidationError

Embedder = Callable[[Sequence[bytes]], NDArray[np.float64]]

PIXELS = 16


def image_pixels(size: int = PIXELS) -> Embedder:
    """The built-in embedding: grey levels of the image resized to ``size`` × ``size``, in [0, 1]."""

    def embed(blobs: Sequence[bytes]) -> NDArray[np.float64]:
        try:
            from PIL import Image, UnidentifiedImageError
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MlakeError("image embeddings need Pillow", hint="pip install 'mlake[objects]'") from exc
        out = np.empty((len(blobs), size * size), dtype=np.float64)
        for i, blob in enumerate(blobs):
            try:
                with Image.open(io.BytesIO(blob)) as image:
                    grey = image.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            except (UnidentifiedImageError, OSError) as exc:
                raise ValidationError(
                    f"object {i + 1} of {len(blobs)} is not an image Pillow can read: {exc}",
                    hint="leave non-images out of the project, or pass embed= a function that handles them",
                ) from exc
            out[i] = np.asarray(grey, dtype=np.float64).reshape(-1) / 255.0
        return out

    return embed


BUILT_IN: dict[str, Callable[[], Embedder]] = {"image_pixels": image_pixels}


def resolve(embed: str | Embedder) -> Embedder:
    """A built-in embedding by name, or the caller's function as it is."""
    if callable(embed):
        return embed
    if embed not in BUILT_IN:
        raise ValidationError(
            f"unknown embedding {embed!r}", hint=f"use one of {sorted(BUILT_IN)} or a function of object bytes"
        )
    return BUILT_IN[embed]()


def embedded(embed: str | Embedder, blobs: Sequence[bytes]) -> NDArray[np.float64]:
    """The (n, d) matrix of ``blobs``; a function that returns another shape is refused clearly."""
    matrix = np.asarray(resolve(embed)(blobs), dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != len(blobs):
        raise ValidationError(
            f"the embedding returned an array of shape {matrix.shape} for {len(blobs)} object(s)",
            hint="return one row of numbers per object: shape (number of objects, dimensions)",
        )
    if not np.all(np.isfinite(matrix)):
        raise ValidationError("the embedding returned NaN or infinite values")
    return matrix
