"""Type mapping between Arrow, Iceberg and DuckDB.

Iceberg's type system is the authority for stored data. Data arrives as Arrow (from users, Parquet,
JSON) or as DuckDB relations (from CSV and SQL); both are normalised to Arrow types Iceberg can hold
(no unsigned integers, no nanosecond timestamps, no dictionaries, no large strings), and DuckDB type
names are derived from the Iceberg schema when DuckDB must cast or read data.
"""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from mlake.errors import SchemaError

# Safe widenings Iceberg allows without rewriting data (spec: "Schema Evolution / type promotion").
_PROMOTIONS: dict[type[IcebergType], tuple[type[IcebergType], ...]] = {
    IntegerType: (LongType,),
    FloatType: (DoubleType,),
}


def normalize_arrow_type(dtype: pa.DataType) -> pa.DataType:
    """An Arrow type that Iceberg can store and that round-trips without loss of meaning."""
    if pa.types.is_dictionary(dtype):
        return normalize_arrow_type(dtype.value_type)
    if pa.types.is_null(dtype):
        return pa.string()
    if pa.types.is_boolean(dtype) or pa.types.is_float64(dtype) or pa.types.is_date32(dtype):
        return dtype
    if pa.types.is_int8(dtype) or pa.types.is_int16(dtype) or pa.types.is_uint8(dtype):
        return pa.int32()
    if pa.types.is_uint16(dtype) or pa.types.is_int32(dtype):
        return pa.int32()
    if pa.types.is_uint32(dtype) or pa.types.is_int64(dtype):
        return pa.int64()
    if pa.types.is_uint64(dtype):
        return pa.decimal128(20, 0)
    if pa.types.is_float16(dtype) or pa.types.is_float32(dtype):
        return pa.float32()
    if pa.types.is_decimal(dtype):
        if dtype.precision > 38:
            return pa.float64()
        return pa.decimal128(dtype.precision, dtype.scale)
    if pa.types.is_date64(dtype):
        return pa.date32()
    if pa.types.is_timestamp(dtype):
        return pa.timestamp("us", tz="UTC" if dtype.tz else None)
    if pa.types.is_time(dtype):
        return pa.time64("us")
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.string()
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_binary_view(dtype):
        return pa.binary()
    if pa.types.is_fixed_size_binary(dtype):
        return dtype
    if pa.types.is_duration(dtype) or pa.types.is_interval(dtype):
        return pa.int64()
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return pa.list_(normalize_arrow_type(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, normalize_arrow_type(f.type)) for f in dtype])
    if pa.types.is_map(dtype):
        return pa.map_(normalize_arrow_type(dtype.key_type), normalize_arrow_type(dtype.item_type))
    if getattr(dtype, "extension_name", None) == "arrow.uuid":
        return pa.string()
    raise SchemaError(f"Arrow type {dtype} cannot be stored in a table", hint="cast the column first")


def normalize_arrow_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [pa.field(f.name, normalize_arrow_type(f.type), nullable=True) for f in schema],
        metadata=None,
    )


def normalize_arrow_table(table: pa.Table) -> pa.Table:
    """Cast a table to the normalised schema (cheap when nothing changes)."""
    target = normalize_arrow_schema(table.schema)
    if table.schema.equals(target, check_metadata=False):
        return table
    arrays = []
    for column, field in zip(table.columns, target, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_duration(column.type):
            column = column.cast(pa.int64())
        arrays.append(column.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=target)


def duckdb_type(t: IcebergType) -> str:
    """The DuckDB type name for an Iceberg type."""
    if isinstance(t, BooleanType):
        return "BOOLEAN"
    if isinstance(t, IntegerType):
        return "INTEGER"
    if isinstance(t, LongType):
        return "BIGINT"
    if isinstance(t, FloatType):
        return "FLOAT"
    if isinstance(t, DoubleType):
        return "DOUBLE"
    if isinstance(t, DecimalType):
        return f"DECIMAL({t.precision},{t.scale})"
    if isinstance(t, DateType):
        return "DATE"
    if isinstance(t, TimeType):
        return "TIME"
    if isinstance(t, TimestamptzType):
        return "TIMESTAMPTZ"
    if isinstance(t, TimestampType):
        return "TIMESTAMP"
    if isinstance(t, StringType):
        return "VARCHAR"
    if isinstance(t, UUIDType):
        return "UUID"
    if isinstance(t, BinaryType | FixedType):
        return "BLOB"
    if isinstance(t, ListType):
        return f"{duckdb_type(t.element_type)}[]"
    if isinstance(t, MapType):
        return f"MAP({duckdb_type(t.key_type)}, {duckdb_type(t.value_type)})"
    if isinstance(t, StructType):
        inner = ", ".join(f"{quote_ident(f.name)} {duckdb_type(f.field_type)}" for f in t.fields)
        return f"STRUCT({inner})"
    return "VARCHAR"


def is_flat(schema: Schema) -> bool:
    """True when no column is a list, map or struct (the DuckDB fast paths need that)."""
    return all(f.field_type.is_primitive for f in schema.fields)


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB (and any SQL engine using double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def type_name(t: IcebergType) -> str:
    """The Iceberg type as users read it: long, string, timestamptz, decimal(10, 2), list<string>."""
    return str(t)


def reconcile(column: str, current: IcebergType, new: IcebergType) -> str:
    """How data of type ``new`` goes into a column of type ``current``.

    ``"same"``: nothing to do. ``"cast"``: the column can hold the data exactly (or, for integers into
    a double column, as users expect from pandas), so the data is cast. ``"widen"``: the data needs a
    wider column and Iceberg allows that promotion without rewriting files. Anything else is unsafe
    and raises :class:`SchemaError` naming the column and the way out.
    """
    if current == new:
        return "same"
    if type(current) in _PROMOTIONS.get(type(new), ()):
        return "cast"
    if isinstance(current, DoubleType) and isinstance(new, IntegerType | LongType | FloatType | DecimalType):
        return "cast"  # as SQL engines do on INSERT; a decimal beyond 15 digits loses precision
    if type(new) in _PROMOTIONS.get(type(current), ()):
        return "widen"
    if isinstance(current, DecimalType) and isinstance(new, DecimalType) and new.scale == current.scale:
        return "cast" if new.precision <= current.precision else "widen"
    if isinstance(current, DecimalType) and isinstance(new, IntegerType | LongType):
        return "cast"
    raise SchemaError(
        f"Column {column!r} is {type_name(current)} in the table but {type_name(new)} in the new data",
        hint="only int→long, float→double and wider decimal precision are safe changes; cast the data "
        f"to {type_name(current)}, or write it under a new column name",
    )


def describe_schema(schema: Schema) -> list[dict[str, object]]:
    """Columns as plain dicts for display and JSON: name, type, required, doc, field id."""
    return [
        {
            "name": f.name,
            "type": type_name(f.field_type),
            "required": f.required,
            "doc": f.doc,
            "field_id": f.field_id,
        }
        for f in schema.fields
    ]


__all__ = [
    "NestedField",
    "describe_schema",
    "duckdb_type",
    "is_flat",
    "normalize_arrow_schema",
    "normalize_arrow_table",
    "normalize_arrow_type",
    "quote_ident",
    "quote_literal",
    "reconcile",
]
