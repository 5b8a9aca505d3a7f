"""The value types a feature or entity key can have, by name, and how each maps to Arrow and DuckDB.

Feature types are named the way the rest of mlake names column types (``long``, ``double``,
``timestamptz`` ...), so a group's definition reads the same in Python, the CLI and JSON.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from mlake.errors import ValidationError
from mlake.tables.table import parse_type
from mlake.tables.types import normalize_arrow_type

# Entity keys must print the same way in DuckDB and in Python, so the online key of a row written by
# materialization equals the key a caller asks for.
KEY_TYPES = {"int", "long", "string", "date", "bool"}


def type_name(dtype: pa.DataType) -> str:
    """The canonical name of a (normalised) Arrow type."""
    dtype = normalize_arrow_type(dtype)
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_int32(dtype):
        return "int"
    if pa.types.is_int64(dtype):
        return "long"
    if pa.types.is_float32(dtype):
        return "float"
    if pa.types.is_float64(dtype):
        return "double"
    if pa.types.is_string(dtype):
        return "string"
    if pa.types.is_binary(dtype):
        return "binary"
    if pa.types.is_date32(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamptz" if dtype.tz else "timestamp"
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    raise ValidationError(
        f"Features of type {dtype} are not supported",
        hint="use bool, int, long, float, double, string, binary, date, timestamp, timestamptz or decimal(p,s)",
    )


def canonical_type(dtype: pa.DataType | str) -> str:
    """A user's type (an Arrow type or a name such as ``bigint``) as its canonical name."""
    return type_name(parse_type(dtype) if isinstance(dtype, str) else dtype)


def arrow_type(name: str) -> pa.DataType:
    return parse_type(name)


def decode_value(value: Any, dtype: str) -> Any:
    """A value read back from the online store's JSON payload, as the Python type offline reads give."""
    if value is None:
        return None
    if dtype == "timestamptz" or dtype == "timestamp":
        parsed = datetime.fromisoformat(value)
        return parsed if dtype == "timestamptz" else parsed.replace(tzinfo=None)
    if dtype == "date":
        return date.fromisoformat(value)
    if dtype.startswith("decimal"):
        return Decimal(str(value))
    if dtype == "binary":
        return value.encode("latin-1") if isinstance(value, str) else value
    if dtype in ("float", "double") and isinstance(value, int):
        return float(value)
    return value


def parse_ttl(ttl: timedelta | str | float | int | None) -> timedelta | None:
    """A TTL from a timedelta, seconds, or text such as ``90s``, ``15m``, ``12h``, ``30d``, ``2w``."""
    if ttl is None or isinstance(ttl, timedelta):
        if isinstance(ttl, timedelta) and ttl <= timedelta(0):
            raise ValidationError(f"A TTL must be positive, got {ttl}")
        return ttl
    if isinstance(ttl, int | float):
        return parse_ttl(timedelta(seconds=ttl))
    text = ttl.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        if text[-1] in units:
            return parse_ttl(timedelta(seconds=float(text[:-1]) * units[text[-1]]))
        return parse_ttl(timedelta(seconds=float(text)))
    except (ValueError, IndexError) as exc:
        raise ValidationError(
            f"Cannot read the TTL {ttl!r}", hint="write it as seconds or with a unit: 90s, 15m, 12h, 30d, 2w"
        ) from exc


def format_ttl(ttl: timedelta | None) -> str:
    if ttl is None:
        return "none"
    seconds = ttl.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
