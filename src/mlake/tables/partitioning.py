"""Partition specs from short text: ``channel``, ``day(ts)``, ``bucket(16, customer_id)``.

Transforms other than identity are computed by pyiceberg-core (Rust) on write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)
from pyiceberg.types import DateType, TimestampType, TimestamptzType

from mlake.errors import ValidationError

_CALL = re.compile(r"^\s*(\w+)\s*\(\s*(?:(\d+)\s*,\s*)?(\w+)\s*\)\s*$")
_TIME = {"year": YearTransform, "month": MonthTransform, "day": DayTransform, "hour": HourTransform}
FIRST_PARTITION_FIELD_ID = 1000


def parse_partition_spec(spec: Sequence[str], schema: Schema) -> PartitionSpec:
    fields = []
    for i, item in enumerate(spec):
        transform: Transform[Any, Any]
        if m := _CALL.match(item):
            fn, arg, column = m.group(1).lower(), m.group(2), m.group(3)
        elif re.fullmatch(r"\s*\w+\s*", item):
            fn, arg, column = "identity", None, item.strip()
        else:
            raise ValidationError(
                f"Cannot read partition {item!r}",
                hint="use a column, day(col), month(col), year(col), hour(col), bucket(n, col) or truncate(n, col)",
            )
        try:
            source = schema.find_field(column)
        except ValueError as exc:
            raise ValidationError(
                f"Partition {item!r} names unknown column {column!r}",
                hint=f"columns: {', '.join(f.name for f in schema.fields)}",
            ) from exc
        if fn in _TIME:
            if not isinstance(source.field_type, DateType | TimestampType | TimestamptzType):
                raise ValidationError(f"Partition {item!r}: {fn}() needs a date or timestamp column")
            if fn == "hour" and isinstance(source.field_type, DateType):
                raise ValidationError(f"Partition {item!r}: hour() needs a timestamp column")
            transform = _TIME[fn]()
            name = f"{column}_{fn}"
        elif fn in ("bucket", "truncate"):
            if arg is None:
                raise ValidationError(f"Partition {item!r}: {fn} needs a width, e.g. {fn}(16, {column})")
            transform = BucketTransform(int(arg)) if fn == "bucket" else TruncateTransform(int(arg))
            name = f"{column}_{fn}"
        elif fn == "identity":
            transform = IdentityTransform()
            name = column
        else:
            raise ValidationError(f"Unknown partition transform {fn!r} in {item!r}")
        fields.append(
            PartitionField(
                source_id=source.field_id, field_id=FIRST_PARTITION_FIELD_ID + i, transform=transform, name=name
            )
        )
    return PartitionSpec(*fields)
