"""Wide CSV files (a thousand columns and more): integers checked in column groups, so time and memory
grow linearly.

The narrow path (:mod:`mlake.ingest.csv`) casts every column in one ``COPY (SELECT ...)``. DuckDB keeps
intermediate vectors for every node of every expression of a SELECT, and the exact integer check is a
dozen nodes per column, so with thousands of integer columns that one statement needs more than the
1 GB ingest memory limit (10,000 columns: out of memory) and its binding time grows faster than the
width. Here a wide file's integer columns are first checked by one small query per group of
:data:`GROUP_COLUMNS` columns (:func:`integers_are_plain`); when every value is a plain whole number,
the common case, the file is written by one statement whose integer columns are a bare ``TRY_CAST``
(one expression node each). Otherwise (:func:`stage_wide`) the CSV reader's rows (text for integer
columns, as on the narrow path) stream out as Arrow batches of a bounded number of values, and each
batch is cast by small SELECTs, one per group of columns — the same expressions as the narrow path, so
the same values convert and the same rows are quarantined, with the same reasons. Good rows are
written through Arrow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.schema import Schema
from pyiceberg.types import NestedField

from mlake.errors import IngestError
from mlake.ingest.integers import NOT_INTEGER, inexact_reason, integer_cast
from mlake.tables.frames import conform
from mlake.tables.types import duckdb_type, quote_ident

if TYPE_CHECKING:
    from mlake.ingest.context import IngestContext

# Files with at least this many columns take this path.
WIDE_COLUMNS = 1000
# Columns cast by one SELECT: small enough that its expressions' vectors stay a few MB.
GROUP_COLUMNS = 256
# Values (rows × columns) per Arrow batch read from the CSV reader.
BATCH_VALUES = 2_000_000


def integers_are_plain(con: duckdb.DuckDBPyConnection, call: str, integers: dict[str, str], display: str) -> bool:
    """Whether every value of the ``integers`` columns (file column -> DuckDB type) of the CSV reader
    ``call`` (reading them as text) is blank or a whole number without a point or an exponent that fits
    its type — the values a bare ``TRY_CAST`` converts exactly.

    The columns stream out as Arrow batches of a bounded number of values; each batch is checked by one
    query per group of columns, which stops at the first offending value.
    """
    names = list(integers)
    if not names:
        return True
    groups = []
    for i in range(0, len(names), GROUP_COLUMNS):
        group = names[i : i + GROUP_COLUMNS]
        offending = " OR ".join(
            f"regexp_matches({c}, '[.eE]') OR (TRY_CAST({c} AS {integers[n]}) IS NULL AND trim({c}) <> '')"
            for n in group
            if (c := quote_ident(n))
        )
        groups.append((group, f"SELECT 1 FROM __mlake_wide_batch WHERE {offending} LIMIT 1"))
    reading, checking = con.cursor(), con.cursor()
    try:
        columns = ", ".join(quote_ident(n) for n in names)
        reader = reading.sql(f"SELECT {columns} FROM {call}").to_arrow_reader(_batch_rows(len(names)))
        for batch in reader:
            for group, sql in groups:
                checking.register("__mlake_wide_batch", batch.select(group))
                try:
                    if checking.sql(sql).fetchall():
                        return False
                finally:
                    checking.unregister("__mlake_wide_batch")
    except duckdb.Error as exc:
        raise IngestError(
            f"Reading {display} failed: {str(exc).splitlines()[0]}",
            hint="check its format options (delimiter, header, encoding)",
        ) from exc
    finally:
        checking.close()
        reading.close()
    return True


def _batch_rows(columns: int) -> int:
    return max(1, BATCH_VALUES // max(1, columns))


def stage_wide(
    ctx: IngestContext,
    read_sql: str,
    schema: Schema,
    source_of: dict[str, str],
    integers: dict[str, str],
    display: str,
    delimiter: str,
) -> list[dict[str, Any]]:
    """Stage the rows of ``read_sql`` (the CSV reader, integer columns as text) cast to ``schema``.

    ``source_of`` maps a lower-case column name of the table to the file's column. Returns the rows whose
    integer columns do not convert exactly (``reason``, ``raw``), for the caller to quarantine.
    """
    groups = [
        _Group.of(schema.fields[i : i + GROUP_COLUMNS], source_of, integers)
        for i in range(0, len(schema.fields), GROUP_COLUMNS)
    ]
    bad: list[dict[str, Any]] = []
    cursor = ctx.con.cursor()  # the reader streams on ctx.con; the casts run beside it

    def good_batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            if not batch.num_rows:
                continue
            columns: list[pa.ChunkedArray] = []
            reasons: list[pa.ChunkedArray] = []
            for group in groups:
                part = group.cast(cursor, batch, display)
                if "__mlake_reason" in part.column_names:
                    reasons.append(part.column("__mlake_reason"))
                    part = part.drop_columns(["__mlake_reason"])
                columns.extend(part.columns)
            good = pa.Table.from_arrays(columns, names=[f.name for f in schema.fields])
            if reasons:  # some integer column held a point or an exponent: keep the rows that convert exactly
                reason = pc.binary_join_element_wise(*reasons, "")
                ok = pc.equal(reason, "")
                if not pc.all(ok).as_py():
                    bad.extend(_inexact_rows(batch, reason, ok, delimiter))
                    good = good.filter(ok)
            yield from conform(good, schema).to_batches()

    try:
        reader = ctx.con.sql(read_sql).to_arrow_reader(_batch_rows(len(schema.fields)))
        target = conform(pa.table({}), schema).schema  # the table's Arrow types
        ctx.stage_arrow(pa.RecordBatchReader.from_batches(target, good_batches(reader)))
    finally:
        cursor.close()
    return bad


@dataclass(frozen=True)
class _Group:
    """One group of the table's columns: the file's columns it reads and the SELECTs that cast them —
    ``strict`` (small; fails on any integer value with a point or an exponent) and ``exact`` (converts
    ``8.0``, gives NULL and a reason for ``8.5``), the narrow path's two passes."""

    sources: tuple[str, ...]
    strict: str
    exact: str

    @classmethod
    def of(cls, fields: Sequence[NestedField], source_of: dict[str, str], integers: dict[str, str]) -> _Group:
        strict, exact, reasons, sources = [], [], [], []
        for f in fields:
            src = source_of.get(f.name.lower())
            t = duckdb_type(f.field_type)
            name = quote_ident(f.name)
            if src is None:
                strict.append(f"NULL::{t} AS {name}")
                exact.append(strict[-1])
                continue
            sources.append(src)
            if src in integers:
                strict.append(f"{integer_cast(src, t, True)} AS {name}")
                exact.append(f"{integer_cast(src, t, False)} AS {name}")
                reasons.append(inexact_reason(src, t))
            else:
                strict.append(f"CAST({quote_ident(src)} AS {t}) AS {name}")
                exact.append(strict[-1])
        if reasons:
            exact.append(f"{' || '.join(reasons)} AS __mlake_reason")
        return cls(tuple(dict.fromkeys(sources)), ", ".join(strict), ", ".join(exact))

    def cast(self, cursor: duckdb.DuckDBPyConnection, batch: pa.RecordBatch, display: str) -> pa.Table:
        """This group's columns of ``batch``, cast; with ``__mlake_reason`` when the strict cast failed."""
        cursor.register("__mlake_wide_batch", batch.select(list(self.sources)))
        try:
            try:
                return cursor.sql(f"SELECT {self.strict} FROM __mlake_wide_batch").to_arrow_table()
            except duckdb.Error as exc:
                if NOT_INTEGER not in str(exc):
                    raise
            return cursor.sql(f"SELECT {self.exact} FROM __mlake_wide_batch").to_arrow_table()
        except duckdb.Error as exc:
            raise IngestError(
                f"Reading {display} failed: {str(exc).splitlines()[0]}",
                hint="bad rows are normally quarantined; this error stopped the whole file — check its format options",
            ) from exc
        finally:
            cursor.unregister("__mlake_wide_batch")


def _inexact_rows(batch: pa.RecordBatch, reason: pa.Array, ok: pa.Array, delimiter: str) -> list[dict[str, Any]]:
    """The rows of ``batch`` that are not ``ok``: their reasons, and their fields joined again (the
    narrow path's ``raw``, by which the caller finds their lines in the file)."""
    rows = pa.Table.from_batches([batch]).filter(pc.invert(ok))
    texts = [pc.fill_null(pc.cast(c, pa.string()), "") for c in rows.columns]
    raw = pc.binary_join_element_wise(*texts, delimiter) if texts else pa.nulls(rows.num_rows, pa.string())
    reasons = reason.filter(pc.invert(ok))
    return [
        {"reason": str(r).rstrip("; "), "raw": w} for r, w in zip(reasons.to_pylist(), raw.to_pylist(), strict=True)
    ]


__all__ = ["WIDE_COLUMNS", "stage_wide"]
