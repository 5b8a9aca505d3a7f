"""Which predictions a human review loop sends to people: its activation rules as a pure function.

A row is sent when any rule picks it, and the first rule that does is its ``reason``:

1. ``confidence``: its confidence is below the threshold (one number for every class, or one per
   predicted class — a class without a threshold is never sent for its confidence; a missing confidence
   counts as below any threshold);
2. ``where``: it matches the loop's SQL predicate (the caller evaluates the SQL and passes the matching ids);
3. ``audit``: it falls in the random audit sample of ``audit_percent`` percent.

The audit sample is deterministic and stable: a row is in it when the first 8 bytes of
SHA-256(seed, id), read as a fraction of 2⁶⁴, are below ``audit_percent / 100`` — the same rows for the
same seed on every run and in every process, and a row picked at 5 % is still picked at 10 %.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any


def audit_fraction(seed: int, item_id: str) -> float:
    """The row's place in [0, 1) for the audit sample (see the module doc)."""
    digest = hashlib.sha256(f"{seed}\x00{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_for_review(
    rows: Sequence[Mapping[str, Any]],
    threshold: float | Mapping[str, float],
    matched: set[str],
    audit_percent: float,
    seed: int,
) -> list[dict[str, Any]]:
    """The rows (``item_id``, ``prediction``, ``confidence``) to review, each with its ``reason``."""
    picked: list[dict[str, Any]] = []
    for row in rows:
        item = str(row["item_id"])
        prediction = None if row["prediction"] is None else str(row["prediction"])
        confidence = None if row["confidence"] is None else float(row["confidence"])
        limit = threshold.get(prediction or "") if isinstance(threshold, Mapping) else threshold
        reason = None
        if limit is not None and (confidence is None or confidence < limit):
            reason = "confidence"
        elif item in matched:
            reason = "where"
        elif audit_percent > 0 and audit_fraction(seed, item) < audit_percent / 100:
            reason = "audit"
        if reason is not None:
            picked.append({"item_id": item, "prediction": prediction, "confidence": confidence, "reason": reason})
    return picked
