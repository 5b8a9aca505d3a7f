"""Data in, data out: whatever frame a user holds becomes Arrow, and Arrow fits the table.

Accepted inputs: pyarrow Tables, RecordBatches and RecordBatchReaders, pandas and polars DataFrames,
mlake query results, lists of dicts, dicts of lists, and anything exposing ``__arrow_c_stream__``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.io.pyarrow import (
    _ConvertToIcebergWithoutIDs,
    _pyarrow_schema_ensure_small_types,
    schema_to_pyarrow,
    visit_pyarrow,
)
from pyiceberg.schema import Schema
from pyiceberg.types import IcebergType

from mlake.errors import NotFoundError, SchemaError, ValidationError
from mlake.tables.types import normalize_arrow_schema, normalize_arrow_table, reconcile


def as_arrow(data: Any) -> pa.Table:
    """Any supported frame as an Arrow table, types untouched.

    The computational cores (bias, monitoring) work on Arrow whatever the caller holds; converting once here
    keeps every face and area reading frames the same way. :func:`to_arrow` adds the storable types a write needs.
    """
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pa.RecordBatchReader):
        table = data.read_all()
    elif hasattr(data, "to_arrow") and callable(data.to_arrow):  # mlake Result, polars
        table = data.to_arrow()
    elif type(data).__module__.startswith("pandas"):
        table = pa.Table.from_pandas(data, preserve_index=False)
    elif isinstance(data, list):
        table = pa.Table.from_pylist(data)
    elif isinstance(data, dict):
        table = pa.Table.from_pydict(data)
    elif hasattr(data, "__arrow_c_stream__"):
        table = pa.table(data)
    else:
        raise ValidationError(
            f"Cannot use a {type(data).__name__} as table data",
            hint="pass a pyarrow Table, a pandas or polars DataFrame, a list of dicts or a dict of lists",
        )
    if isinstance(table, pa.RecordBatchReader):  # polars may hand back a stream
        table = table.read_all()
    return table


def regroup(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """The stream as tables of exactly ``rows`` rows (the last one shorter), whatever sizes its batches
    come in; memory stays bounded by about two groups."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def to_arrow(data: Any) -> pa.Table:
    """Any supported frame as an Arrow table with storable types."""
    return normalize_arrow_table(as_arrow(data))


def column_of(table: pa.Table, name: str, *, role: str) -> pa.ChunkedArray:
    """The named column, or an error that lists the columns there are."""
    if name not in table.column_names:
        shown = ", ".join(table.column_names[:20])
        raise NotFoundError(
            f"the {role} column {name!r} is not in the table",
            hint=f"columns are: {shown}{' ...' if table.num_columns > 20 else ''}",
        )
    return table.column(name)


def iceberg_type_of(dtype: pa.DataType) -> IcebergType:
    """The Iceberg type that an (already normalised) Arrow type is stored as."""
    field_ = pa.field("x", dtype)
    converted = visit_pyarrow(pa.schema([field_]), _ConvertToIcebergWithoutIDs())
    return converted.fields[0].field_type  # type: ignore[union-attr,no-any-return]


@dataclass
class SchemaPlan:
    """How new data relates to a table's schema."""

    add: list[pa.Field] = field(default_factory=list)
    widen: dict[str, IcebergType] = field(default_factory=dict)

    @property
    def changes_schema(self) -> bool:
        return bool(self.add or self.widen)


def _shape(t: IcebergType) -> str:
    """A nested type as names and types only: field ids differ between a table and new data (the data's
    are unassigned), so comparing ``str()`` would refuse the very same structure."""
    from pyiceberg.types import ListType, MapType, StructType

    if isinstance(t, StructType):
        return "struct<" + ", ".join(f"{f.name}: {_shape(f.field_type)}" for f in t.fields) + ">"
    if isinstance(t, ListType):
        return f"list<{_shape(t.element_type)}>"
    if isinstance(t, MapType):
        return f"map<{_shape(t.key_type)}, {_shape(t.value_type)}>"
    return str(t)


def plan_schema(schema: Schema, data_schema: pa.Schema, lenient: bool = False) -> SchemaPlan:
    """Compare data to a table; raise :class:`SchemaError` for unsafe changes.

    ``lenient`` (ingestion) keeps the table's type for an incompatible column instead of raising: its
    values are then cast row by row and the ones that do not convert are quarantined.
    """
    plan = SchemaPlan()
    by_lower = {f.name.lower(): f for f in schema.fields}
    for f in normalize_arrow_schema(data_schema):
        existing = by_lower.get(f.name.lower())
        if existing is None:
            plan.add.append(f)
            continue
        if pa.types.is_null(data_schema.field(f.name).type):
            continue
        new_type = iceberg_type_of(f.type)
        if not existing.field_type.is_primitive or not new_type.is_primitive:
            if _shape(existing.field_type) != _shape(new_type) and not lenient:
                raise SchemaError(
                    f"Column {existing.name!r} is {existing.field_type} in the table but {new_type} in the data",
                    hint="nested columns must keep their structure",
                )
            continue
        try:
            if reconcile(existing.name, existing.field_type, new_type) == "widen":
                plan.widen[existing.name] = new_type
        except SchemaError:
            if not lenient:
                raise
    return plan


def conform(data: pa.Table, schema: Schema) -> pa.Table:
    """Arrange ``data`` as the table's columns, in order, with the table's types.

    Columns the data lacks become nulls (or an error if the column is required); names match
    case-insensitively as in SQL. The schema must already include every column of the data.
    """
    target = _pyarrow_schema_ensure_small_types(schema_to_pyarrow(schema, include_field_ids=False))
    by_lower = {name.lower(): i for i, name in enumerate(data.column_names)}
    arrays = []
    for tf, ice in zip(target, schema.fields, strict=True):
        idx = by_lower.get(tf.name.lower())
        if idx is None:
            if ice.required:
                raise SchemaError(f"Column {tf.name!r} is required but missing from the data")
            arrays.append(pa.nulls(data.num_rows, type=tf.type))
            continue
        column = data.column(idx)
        if not column.type.equals(tf.type):
            try:
                column = pc.cast(column, tf.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaError(
                    f"Column {tf.name!r}: cannot convert {column.type} data to the table's {ice.field_type}: {exc}",
                    hint=f"cast the column to {ice.field_type} first",
                ) from exc
        if ice.required and column.null_count:
            raise SchemaError(f"Column {tf.name!r} is required but has {column.null_count} null value(s)")
        arrays.append(column)
    fields = [
        pa.field(tf.name, tf.type, nullable=not ice.required) for tf, ice in zip(target, schema.fields, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
