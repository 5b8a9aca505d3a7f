"""Parquet ingestion.

When the files' column types fit the table (the usual case), DuckDB copies them straight into data
files. When a column has a type the table cannot take as is (text where the table has numbers, say), the
files are streamed in batches and each value is cast; rows that do not convert are quarantined with
their file and row number.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from mlake.errors import IngestError, SchemaError
from mlake.ingest.casting import LINE_COL, SOURCE_COL, split_batch
from mlake.ingest.context import IngestContext
from mlake.ingest.sources import SourceFile
from mlake.tables.frames import iceberg_type_of
from mlake.tables.types import duckdb_type, normalize_arrow_schema, quote_ident, quote_literal, reconcile


def ingest_parquet(ctx: IngestContext, files: list[SourceFile], types: dict[str, pa.DataType]) -> None:
    con = ctx.con
    paths = "[" + ", ".join(quote_literal(str(f.path)) for f in files) + "]"
    call = f"read_parquet({paths}, union_by_name=true, hive_partitioning=false)"
    located = (
        f"read_parquet({paths}, union_by_name=true, hive_partitioning=false, "
        f"filename={quote_literal(SOURCE_COL)}, file_row_number=true)"
    )
    try:
        data_schema = con.sql(f"SELECT * FROM {call} LIMIT 0").to_arrow_table().schema
    except duckdb.Error as exc:
        names = ", ".join(f.display for f in files[:3])
        raise IngestError(
            f"Cannot read {names} as Parquet: {str(exc).splitlines()[0]}",
            hint="the file may be truncated or not Parquet at all",
        ) from exc
    normalized = normalize_arrow_schema(data_schema)
    if types:
        normalized = pa.schema([pa.field(f.name, types[f.name]) if f.name in types else f for f in normalized])
    ice = ctx.ensure_table(normalized)
    schema = ice.schema()
    by_lower = {f.name.lower(): f for f in schema.fields}
    direct = not types
    for f in normalized:
        target = by_lower.get(f.name.lower())
        if target is None:
            continue
        try:
            if reconcile(f.name, target.field_type, iceberg_type_of(f.type)) == "widen":
                direct = False
        except (SchemaError, ValueError):
            direct = False
    with ctx.lake.progress.task(
        f"ingest {len(files)} Parquet file(s)", total=sum(f.size for f in files), unit="bytes"
    ) as task:
        if direct:
            cols = {c.lower(): c for c in data_schema.names}
            selects = ", ".join(
                f"CAST({quote_ident(cols[f.name.lower()])} AS {duckdb_type(f.field_type)}) AS {quote_ident(f.name)}"
                if f.name.lower() in cols
                else f"NULL::{duckdb_type(f.field_type)} AS {quote_ident(f.name)}"
                for f in schema.fields
            )
            ctx.stage_duckdb(f"SELECT {selects} FROM {call}")
        else:
            display = {str(f.path): f.display for f in files}
            rel = con.sql(f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {LINE_COL} FROM {located}")
            caster = con.cursor()  # the reader keeps `con` busy
            good: list[pa.Table] = []
            rows = 0
            for batch in rel.to_arrow_reader(100_000):
                table = pa.Table.from_batches([batch])
                table = table.set_column(
                    table.schema.get_field_index(SOURCE_COL),
                    SOURCE_COL,
                    pa.array([display.get(p, p) for p in table.column(SOURCE_COL).to_pylist()], pa.string()),
                )
                split = split_batch(caster, table, schema)
                _to_quarantine(ctx, split.bad)
                good.append(split.good)
                rows += split.good.num_rows
                if rows >= 1_000_000:
                    ctx.stage_arrow(pa.concat_tables(good))
                    good, rows = [], 0
            if good:
                ctx.stage_arrow(pa.concat_tables(good))
        task.update(completed=sum(f.size for f in files))


def _to_quarantine(ctx: IngestContext, bad: pa.Table) -> None:
    if bad.num_rows == 0:
        return
    ctx.quarantine.add(
        source=bad.column("source").to_pylist(),
        line=bad.column("line").to_pylist(),
        kind=bad.column("kind").to_pylist(),
        reason=bad.column("reason").to_pylist(),
        raw=bad.column("raw").to_pylist(),
    )
