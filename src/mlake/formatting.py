"""Values as people read them in tables (the CLI, Studio, notebooks).

Apart from :mod:`mlake.results` (which imports DuckDB and pyarrow) so that a face can format a value
without loading the engine — the CLI's catalog commands print their tables in a few hundred ms.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def format_value(value: Any) -> str:
    """A value as a person reads it in a table: integers and decimals in full, floats to 10 significant
    digits and in positional notation (``2524201.37``, not ``2.5242e+06``) unless very large or small."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, datetime | date | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value[:32].hex() + ("…" if len(value) > 32 else "")
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def format_float(value: float, digits: int = 10) -> str:
    """A float to ``digits`` significant digits, positional from 1e-4 to 1e15 (money, measurements), with
    no thousands separators (a year or an id stored as a float reads as itself)."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"
    if 1e-4 <= abs(value) < 1e15:
        rounded = float(f"{value:.{digits}g}")
        text = repr(rounded)
        if "e" in text:  # repr switches to exponents from 1e16 or below 1e-4 only; be safe anyway
            text = f"{rounded:.{digits}f}".rstrip("0").rstrip(".")
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.6g}"
