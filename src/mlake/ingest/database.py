"""Ingesting from company databases (PostgreSQL, MySQL/MariaDB, SQLite) by SQLAlchemy URL.

A table or a query is read in batches (server-side cursors, so memory stays bounded) and written like
any other ingest. With ``incremental_column`` only rows above the stored watermark are read, and the new
watermark (the largest value loaded) is saved in the catalog after the commit — a job bookmark: the next
run continues where this one ended, and a failed run is simply repeated.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from mlake.errors import IngestError, ValidationError
from mlake.ingest.casting import split_batch
from mlake.ingest.context import IngestContext
from mlake.ingest.report import IngestReport
from mlake.metastore import watermarks_table
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName
from mlake.tables.table import parse_type
from mlake.tables.types import normalize_arrow_schema

if TYPE_CHECKING:
    from mlake.lake import Lake

BATCH_ROWS = 100_000
WRITE_ROWS = 1_000_000


def normalize_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValidationError(f"{url!r} is not a database URL", hint="e.g. postgresql://user@host:5432/db")
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if base in ("mysql", "mariadb"):
        return f"mysql+pymysql://{rest}"
    if base == "sqlite":
        return url
    raise ValidationError(
        f"Unsupported database URL scheme {scheme!r}", hint="use postgresql://, mysql:// or sqlite://"
    )


def redact(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _source_sql(engine: sa.Engine, table: str | None, query: str | None) -> str:
    if bool(table) == bool(query):
        raise ValidationError("Give exactly one of table= and query=")
    if query:
        return f"SELECT * FROM ({query.strip().rstrip(';')}) AS mlake_src"
    preparer = engine.dialect.identifier_preparer
    assert table is not None
    parts = table.split(".")
    return "SELECT * FROM " + ".".join(preparer.quote(p) for p in parts)


def _encode(value: Any) -> str:
    if isinstance(value, datetime):
        return json.dumps({"t": "datetime", "v": value.isoformat()})
    if isinstance(value, date):
        return json.dumps({"t": "date", "v": value.isoformat()})
    if isinstance(value, Decimal):
        return json.dumps({"t": "decimal", "v": str(value)})
    return json.dumps({"t": "plain", "v": value})


def _decode(text: str | None) -> Any:
    if text is None:
        return None
    data = json.loads(text)
    kind, v = data["t"], data["v"]
    if kind == "datetime":
        return datetime.fromisoformat(v)
    if kind == "date":
        return date.fromisoformat(v)
    if kind == "decimal":
        return Decimal(v)
    return v


def _python_to_arrow(values: list[Any], decimal: tuple[int, int] | None = None) -> pa.Array:
    """One column of DB values as Arrow; types Arrow cannot take become text."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, Decimal):
        precision, scale = decimal or (
            38,
            max(
                (-v.as_tuple().exponent for v in values if v is not None and isinstance(v.as_tuple().exponent, int)),
                default=0,
            ),
        )
        try:
            return pa.array(values, pa.decimal128(precision, min(scale, precision)))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([None if v is None else str(v) for v in values], pa.string())
    if isinstance(sample, uuid.UUID):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if isinstance(sample, dict | list):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())
    if isinstance(sample, timedelta):
        return pa.array([None if v is None else int(v.total_seconds() * 1_000_000) for v in values], pa.int64())
    if isinstance(sample, memoryview):
        return pa.array([None if v is None else bytes(v) for v in values], pa.binary())
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if pa.types.is_time(arr.type) or isinstance(sample, time):
        return arr.cast(pa.time64("us"))
    return arr


def declared_decimals(description: Any) -> dict[str, tuple[int, int]]:
    """Declared NUMERIC(p, s) of result columns, from the DB-API cursor description."""
    out: dict[str, tuple[int, int]] = {}
    for d in description or ():
        precision = getattr(d, "precision", None) if not isinstance(d, tuple) else d[4]
        scale = getattr(d, "scale", None) if not isinstance(d, tuple) else d[5]
        name = getattr(d, "name", None) if not isinstance(d, tuple) else d[0]
        if (
            name
            and isinstance(precision, int)
            and isinstance(scale, int)
            and 0 < precision <= 38
            and 0 <= scale <= precision
        ):
            out[name] = (precision, scale)
    return out


def rows_to_arrow(columns: list[str], rows: list[Any], decimals: dict[str, tuple[int, int]] | None = None) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = [_python_to_arrow(list(c), (decimals or {}).get(n)) for n, c in zip(columns, cols, strict=True)]
    table = pa.Table.from_arrays(arrays, names=columns)
    return table.cast(normalize_arrow_schema(table.schema)) if table.num_rows else table


def watermark_key(url: str, source: str, column: str, target: TableName) -> str:
    return hashlib.sha256(f"{redact(url)}|{source}|{column}|{target}".encode()).hexdigest()[:40]


def ingest_database(
    lake: Lake,
    url: str,
    into: str,
    *,
    table: str | None = None,
    query: str | None = None,
    incremental_column: str | None = None,
    mode: str = "append",
    types: dict[str, str] | None = None,
    full: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> IngestReport:
    """Load ``table`` or ``query`` from the database at ``url`` into ``into``.

    ``incremental_column``: load only rows whose value is above the last stored watermark (``full=True``
    ignores it once, reloading everything). ``mode="overwrite"`` replaces the table's contents.
    """
    name = TableName.parse(into)
    if mode not in ("append", "overwrite"):
        raise ValidationError(f"Unknown ingest mode {mode!r}", hint="use append or overwrite")
    driver_url = normalize_url(url)
    try:
        engine = sa.create_engine(driver_url)
    except Exception as exc:
        raise IngestError(f"Cannot use database URL {redact(url)}: {exc}") from exc
    base_sql = _source_sql(engine, table, query)
    source_label = table or query or ""
    key = watermark_key(url, source_label, incremental_column or "", name) if incremental_column else None
    previous = None if (full or key is None) else _load_watermark(lake, key)
    sql = base_sql
    params: dict[str, Any] = {}
    if incremental_column:
        col = engine.dialect.identifier_preparer.quote(incremental_column)
        sql = f"SELECT * FROM ({base_sql}) AS mlake_inc"
        if previous is not None:
            sql += f" WHERE {col} > :watermark"
            params["watermark"] = previous
    overrides = {c: parse_type(t) for c, t in (types or {}).items()}
    ctx = IngestContext(lake, name, command=f"ingest {redact(url)} {source_label}", mode=mode)
    detail = source_label if previous is None else f"{source_label} WHERE {incremental_column} > {previous!r}"
    ctx.inputs = [LineageInput("database", redact(url), detail=detail)]
    report = IngestReport(table=str(name), write_id=ctx.write_id)
    newest = previous
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(sa.text(sql), params)
            columns = list(result.keys())
            decimals = declared_decimals(getattr(result.cursor, "description", None))
            if incremental_column and incremental_column not in columns:
                raise IngestError(
                    f"Incremental column {incremental_column!r} is not in the source",
                    hint=f"columns: {', '.join(columns)}",
                )
            pending: list[pa.Table] = []
            pending_rows = 0
            with lake.progress.task(f"ingest {source_label[:40]}", unit="rows") as task:
                for chunk in result.partitions(batch_rows):
                    batch = rows_to_arrow(columns, list(chunk), decimals)
                    if incremental_column:
                        top = pa.compute.max(batch.column(incremental_column)).as_py()
                        if top is not None and (newest is None or top > newest):
                            newest = top
                    if overrides:
                        batch = batch.cast(
                            pa.schema(
                                [pa.field(f.name, pa.string()) if f.name in overrides else f for f in batch.schema]
                            )
                        )
                    wanted = pa.schema([pa.field(f.name, overrides.get(f.name, f.type)) for f in batch.schema])
                    ice = ctx.ensure_table(normalize_arrow_schema(wanted))
                    split = split_batch(ctx.con, batch, ice.schema())
                    if split.bad.num_rows:
                        ctx.quarantine.add(
                            source=[redact(url)] * split.bad.num_rows,
                            line=split.bad.column("line").to_pylist(),
                            kind=split.bad.column("kind").to_pylist(),
                            reason=split.bad.column("reason").to_pylist(),
                            raw=split.bad.column("raw").to_pylist(),
                        )
                    pending.append(split.good)
                    pending_rows += split.good.num_rows
                    task.advance(batch.num_rows)
                    if pending_rows >= WRITE_ROWS:
                        ctx.stage_arrow(pa.concat_tables(pending))
                        pending, pending_rows = [], 0
            if not ctx.lake.table_exists(name):
                # An empty source still defines the table's columns.
                empty = rows_to_arrow(columns, [])
                ctx.ensure_table(pa.schema([pa.field(c, pa.string()) for c in empty.column_names]))
            if pending:
                ctx.stage_arrow(pa.concat_tables(pending))
    except sa.exc.SQLAlchemyError as exc:
        ctx.abort()
        raise IngestError(
            f"Reading {source_label!r} from {redact(url)} failed: "
            f"{str(getattr(exc, 'orig', None) or exc).splitlines()[0]}",
            hint="check the URL, credentials, and the table or query",
        ) from exc
    except BaseException:
        ctx.abort()
        raise
    finally:
        engine.dispose()
    report = ctx.commit(report)
    if key is not None and newest is not None and newest != previous:
        _save_watermark(lake, key, name, incremental_column or "", newest)
    report.watermark = newest
    return report


def _load_watermark(lake: Lake, key: str) -> Any:
    with lake._core.metadata_engine.connect() as conn:
        row = conn.execute(sa.select(watermarks_table.c.value).where(watermarks_table.c.source_key == key)).first()
    return _decode(row[0]) if row else None


def _save_watermark(lake: Lake, key: str, name: TableName, column: str, value: Any) -> None:
    values = {"table_name": str(name), "column_name": column, "value": _encode(value), "updated_at": datetime.now(UTC)}
    with lake._core.metadata_engine.begin() as conn:
        updated = conn.execute(
            watermarks_table.update().where(watermarks_table.c.source_key == key).values(**values)
        ).rowcount
        if not updated:
            conn.execute(watermarks_table.insert().values(source_key=key, **values))


def watermarks(lake: Lake, table: str | None = None) -> list[dict[str, Any]]:
    """Stored watermarks (for ``mlake ingest`` status and Studio)."""
    query = sa.select(watermarks_table)
    if table:
        query = query.where(watermarks_table.c.table_name == str(TableName.parse(table)))
    with lake._core.metadata_engine.connect() as conn:
        return [{**dict(r._mapping), "value": _decode(r.value)} for r in conn.execute(query)]
