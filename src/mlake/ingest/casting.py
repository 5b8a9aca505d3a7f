"""Typed conversion that splits good rows from bad ones, vectorised in DuckDB.

Records that arrive with loose types (JSON values, database rows, Parquet columns of another type) are
cast to the table's types with ``TRY_CAST``; a row where a non-null value fails to convert gets a
reason naming the column, the value and the type, and goes to quarantine while the rest of its batch
is written.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from itertools import count

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.schema import Schema
from pyiceberg.types import IcebergType, IntegerType, LongType

from mlake.tables.types import duckdb_type, quote_ident, quote_literal

# Columns that travel with each record so a rejected row can be located and shown.
SOURCE_COL = "__mlake_source"
LINE_COL = "__mlake_line"
RAW_COL = "__mlake_raw"
IDX_COL = "__mlake_idx"
AUX = (SOURCE_COL, LINE_COL, RAW_COL, IDX_COL)
_names = count()
_lock = threading.Lock()


@dataclass
class Split:
    good: pa.Table  # in the table's column order and types
    bad: pa.Table  # source, line, kind, reason, raw


def _cast_expr(col: str, source: pa.DataType | None, target: IcebergType) -> str:
    """TRY_CAST, except that a fractional number never silently rounds into an integer column."""
    t = duckdb_type(target)
    fractional = source is not None and (
        pa.types.is_floating(source) or (pa.types.is_decimal(source) and source.scale > 0)
    )
    if fractional and isinstance(target, IntegerType | LongType):
        return f"CASE WHEN {col} = trunc({col}) THEN TRY_CAST({col} AS {t}) END"
    return f"TRY_CAST({col} AS {t})"


def build_cast_sql(
    schema: Schema,
    source_columns: list[str],
    relation: str,
    source_types: dict[str, pa.DataType] | None = None,
) -> str:
    """SELECT casting ``relation``'s columns to ``schema`` (matched case-insensitively), plus reasons."""
    by_lower = {c.lower(): c for c in source_columns if c not in AUX}
    source_types = source_types or {}
    selects, checks = [], []
    for f in schema.fields:
        t = duckdb_type(f.field_type)
        src = by_lower.get(f.name.lower())
        if src is None:
            selects.append(f"NULL::{t} AS {quote_ident(f.name)}")
            continue
        col = quote_ident(src)
        cast = _cast_expr(col, source_types.get(src), f.field_type)
        selects.append(f"{cast} AS {quote_ident(f.name)}")
        checks.append(
            f"CASE WHEN {col} IS NOT NULL AND {cast} IS NULL THEN "
            f"{quote_literal(f.name + ': cannot convert ')} || left(TRY_CAST({col} AS VARCHAR), 80) || "
            f"{quote_literal(' to ' + str(f.field_type))} END"
        )
    reason = f"concat_ws('; ', {', '.join(checks)})" if checks else "''"
    aux = [c for c in AUX if c in source_columns]
    aux_sql = "".join(f", {quote_ident(c)}" for c in aux)
    return f"SELECT {', '.join(selects)}, {reason} AS __mlake_reason{aux_sql} FROM {relation}"


def split_batch(con: duckdb.DuckDBPyConnection, batch: pa.Table, schema: Schema, kind: str = "TYPE") -> Split:
    """Cast one batch; rows with unconvertible values come back in ``bad``."""
    with _lock:
        name = f"__mlake_in_{next(_names)}"
    batch = batch.append_column(IDX_COL, pa.array(range(batch.num_rows), pa.int64()))
    con.register(name, batch)
    try:
        types = {f.name: f.type for f in batch.schema}
        out = con.sql(build_cast_sql(schema, batch.column_names, name, types)).to_arrow_table()
    finally:
        con.unregister(name)
    reason = out.column("__mlake_reason")
    ok = pc.equal(pc.fill_null(reason, ""), "")
    good = out.filter(ok).select([f.name for f in schema.fields])
    bad_rows = out.filter(pc.invert(ok))
    n = bad_rows.num_rows
    if RAW_COL in bad_rows.column_names:
        raw = bad_rows.column(RAW_COL)
    elif n:
        # Show the record as it arrived (before casting): the input row, as JSON.
        originals = batch.take(bad_rows.column(IDX_COL)).drop_columns([c for c in AUX if c in batch.column_names])
        raw = pa.array([json.dumps(r, default=str, ensure_ascii=False) for r in originals.to_pylist()], pa.string())
    else:
        raw = pa.nulls(0, pa.string())
    bad = pa.table(
        {
            "source": bad_rows.column(SOURCE_COL) if SOURCE_COL in bad_rows.column_names else pa.nulls(n, pa.string()),
            "line": bad_rows.column(LINE_COL) if LINE_COL in bad_rows.column_names else pa.nulls(n, pa.int64()),
            "kind": pa.array([kind] * n, pa.string()),
            "reason": bad_rows.column("__mlake_reason"),
            "raw": raw,
        }
    )
    return Split(good, bad)
