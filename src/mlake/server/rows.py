"""Arrow data as JSON: values a browser and a chart can use, without losing what matters."""

from __future__ import annotations

import base64
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pyarrow as pa


def json_value(value: Any) -> Any:
    """One value as JSON: times as ISO text, decimals as numbers, bytes as base64, NaN/inf as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


def kind_of(dtype: pa.DataType) -> str:
    """A column's kind for a front end: number, time, bool or text."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "number"
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return "time"
    if pa.types.is_boolean(dtype):
        return "bool"
    return "text"


def table_json(table: pa.Table) -> dict[str, Any]:
    """``{columns: [{name, type, kind}], rows: [[...], ...]}`` for grids and charts."""
    columns = [{"name": f.name, "type": str(f.type), "kind": kind_of(f.type)} for f in table.schema]
    data = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [[json_value(col[r]) for col in data] for r in range(table.num_rows)]
    return {"columns": columns, "rows": rows}
