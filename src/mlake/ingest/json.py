"""JSON and JSON Lines ingestion, record by record where it must be, in bulk where it can.

JSON Lines files are read in chunks of lines. A chunk is first parsed whole by Arrow's JSON reader (the
fast path for clean data); only if that fails is it parsed line by line, so a malformed line, a line that
is not an object, or invalid UTF-8 is quarantined with its line number while its neighbours go in.
JSON documents holding an array of objects are streamed by DuckDB one object at a time. Values are then
cast to the table's types in bulk (see :mod:`mlake.ingest.casting`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.json as pajson

from mlake.duckdb_connection import connect_duckdb
from mlake.errors import IngestError
from mlake.ingest.casting import LINE_COL, RAW_COL, SOURCE_COL, split_batch
from mlake.ingest.context import IngestContext
from mlake.ingest.sources import SourceFile
from mlake.tables.types import normalize_arrow_schema, quote_literal

CHUNK_LINES = 50_000
WRITE_ROWS = 500_000  # good rows are written in files of about this many rows


def ingest_json(ctx: IngestContext, files: list[SourceFile], types: dict[str, pa.DataType]) -> None:
    pending: list[pa.Table] = []
    pending_rows = 0
    total = sum(f.size for f in files)
    with ctx.lake.progress.task("ingest JSON", total=total, unit="bytes") as task:
        for f in files:
            for chunk, rejected, consumed in _records(f):
                task.advance(consumed)
                ctx.quarantine.add_table(_quarantine_rows(rejected, ctx.write_id))
                if chunk.num_rows == 0:
                    continue
                chunk = deep_values_as_text(chunk)
                data_cols = [c for c in chunk.column_names if c not in (SOURCE_COL, LINE_COL, RAW_COL)]
                if data_cols:
                    inferred = infer_temporal(ctx.con, chunk.select(data_cols))
                    hints = _hints(chunk)
                    wanted = pa.schema(
                        [pa.field(f.name, types.get(f.name, hints.get(f.name, f.type))) for f in inferred]
                    )
                    ice = ctx.ensure_table(wanted)
                else:
                    ice = ctx.table.iceberg
                split = split_batch(ctx.con, chunk, ice.schema())
                ctx.quarantine.add_table(_quarantine_rows(split.bad, ctx.write_id))
                if split.good.num_rows:
                    pending.append(split.good)
                    pending_rows += split.good.num_rows
                if pending_rows >= WRITE_ROWS:
                    _flush(ctx, pending)
                    pending, pending_rows = [], 0
        _flush(ctx, pending)


# Struct and list levels a column may have; deeper values are kept as JSON text. Iceberg metadata holds
# the schema as JSON, about three JSON levels per type level, and readers refuse JSON nested beyond ~200
# levels (pydantic): one record nested 80 deep would make the table unreadable for everyone.
MAX_NESTING = 16


def nesting(t: pa.DataType) -> int:
    """How many struct/list/map levels ``t`` has (0 for a primitive type)."""
    if pa.types.is_struct(t):
        return 1 + max((nesting(t.field(i).type) for i in range(t.num_fields)), default=0)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return 1 + nesting(t.value_type)
    if pa.types.is_map(t):
        return 1 + max(nesting(t.key_type), nesting(t.item_type))
    return 0


def deep_values_as_text(chunk: pa.Table) -> pa.Table:
    """Columns nested deeper than :data:`MAX_NESTING` as JSON text (the whole value of each row)."""
    for i, field in enumerate(chunk.schema):
        if field.name in (SOURCE_COL, LINE_COL, RAW_COL) or nesting(field.type) <= MAX_NESTING:
            continue
        text = [None if v is None else json.dumps(v, default=str) for v in chunk.column(i).to_pylist()]
        chunk = chunk.set_column(i, field.name, pa.array(text, pa.string()))
    return chunk


_HINT_TYPES = {"double": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}


def _hints(chunk: pa.Table) -> dict[str, pa.DataType]:
    meta = (chunk.schema.metadata or {}).get(b"mlake.hints")
    if not meta:
        return {}
    return {k: _HINT_TYPES[v] for k, v in json.loads(meta).items() if v in _HINT_TYPES}


def _flush(ctx: IngestContext, pending: list[pa.Table]) -> None:
    if not pending:
        return
    schema = ctx.table.schema
    from mlake.tables.frames import conform

    ctx.stage_arrow(pa.concat_tables([conform(t, schema) for t in pending]))


def _quarantine_rows(bad: pa.Table, ingest_id: str) -> pa.Table:
    from datetime import UTC, datetime

    from mlake.ingest.quarantine import QUARANTINE_SCHEMA, clip_raw

    n = bad.num_rows
    return pa.table(
        {
            "source": bad.column("source"),
            "line": bad.column("line"),
            "kind": bad.column("kind"),
            "reason": bad.column("reason"),
            "raw": pa.array([clip_raw(r) for r in bad.column("raw").to_pylist()], pa.string()),
            "ingest_id": pa.array([ingest_id] * n, pa.string()),
            "at": pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _is_array_document(path: Any) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    return head.startswith(b"[")


Parsed = tuple[pa.Table, pa.Table, int]


SINGLE_DOCUMENT_MAX = 256 * 1024 * 1024


def _records(f: SourceFile) -> Iterator[Parsed]:
    """Chunks of records (plus source/line/raw columns), rejected lines, and the bytes consumed."""
    if f.format == "json" and _is_array_document(f.path):
        yield from _array_records(f)
    elif f.format == "json" and f.size <= SINGLE_DOCUMENT_MAX and (doc := _single_object(f)) is not None:
        yield doc, _NO_REJECTS, f.size
    else:
        yield from _line_records(f)


def _single_object(f: SourceFile) -> pa.Table | None:
    """A ``.json`` file holding one (possibly pretty-printed) object is one record."""
    try:
        text = f.path.read_bytes().decode("utf-8-sig")
        value = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # maybe JSON Lines after all: read line by line
    if not isinstance(value, dict):
        return None
    data, _hints = records_to_arrow([value])
    return _with_aux(data, f.display, [1], [text.strip()[:1_000_000]])


def _line_records(f: SourceFile) -> Iterator[Parsed]:
    import gzip

    opener = gzip.open if str(f.path).endswith(".gz") else open
    line_no = 0
    with opener(f.path, "rb") as fh:
        while True:
            lines = fh.readlines(8 * 1024 * 1024)
            if not lines:
                break
            for start in range(0, len(lines), CHUNK_LINES):
                part = lines[start : start + CHUNK_LINES]
                consumed = sum(len(x) for x in part)
                good, bad = _parse_lines(f.display, part, line_no + start + 1)
                yield good, bad, consumed
            line_no += len(lines)


_NO_REJECTS = pa.table(
    {k: pa.array([], pa.int64() if k == "line" else pa.string()) for k in ("source", "line", "kind", "reason", "raw")}
)


def _parse_lines(source: str, lines: list[bytes], first_line: int) -> tuple[pa.Table, pa.Table]:
    numbered = [(first_line + i, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        return pa.table({}), _NO_REJECTS
    blob = b"".join(ln if ln.endswith(b"\n") else ln + b"\n" for _, ln in numbered)
    try:
        read = pajson.ReadOptions(block_size=max(len(blob), 1 << 20))
        table = pajson.read_json(io.BytesIO(blob), read_options=read)
        if any(pa.types.is_timestamp(f.type) for f in table.schema):
            # Arrow reads ISO text as timestamps, "1970-01-01" too: keep it text, so that infer_temporal
            # types a date as a date (and a time as a timestamp) as for every other source.
            as_text = pa.schema(
                [pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f for f in table.schema]
            )
            parse = pajson.ParseOptions(explicit_schema=as_text)
            table = pajson.read_json(io.BytesIO(blob), read_options=read, parse_options=parse)
        if table.num_rows == len(numbered):
            raws = [ln.decode("utf-8", "replace").rstrip("\r\n") for _, ln in numbered]
            return _with_aux(table, source, [n for n, _ in numbered], raws), _NO_REJECTS
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    records: list[dict[str, Any]] = []
    good_lines: list[int] = []
    good_raws: list[str | None] = []
    bad: list[tuple[int, str, str, str]] = []
    for n, raw in numbered:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(
                (
                    n,
                    "INVALID ENCODING",
                    f"invalid UTF-8 at byte {exc.start}",
                    raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace"),
                )
            )
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            bad.append((n, "INVALID JSON", f"{exc.msg} at column {exc.colno}", text.rstrip("\r\n")))
            continue
        if not isinstance(value, dict):
            bad.append((n, "NOT AN OBJECT", f"expected a JSON object, got {type(value).__name__}", text.rstrip("\r\n")))
            continue
        records.append(value)
        good_lines.append(n)
        good_raws.append(text.rstrip("\r\n"))
    data, hints = records_to_arrow(records)
    table = _with_aux(data, source, good_lines, good_raws)
    if hints:
        table = table.replace_schema_metadata({"mlake.hints": json.dumps({k: str(t) for k, t in hints.items()})})
    rejected = pa.table(
        {
            "source": pa.array([source] * len(bad), pa.string()),
            "line": pa.array([b[0] for b in bad], pa.int64()),
            "kind": pa.array([b[1] for b in bad], pa.string()),
            "reason": pa.array([b[2] for b in bad], pa.string()),
            "raw": pa.array([b[3] for b in bad], pa.string()),
        }
    )
    return table, rejected


_ISO_DATE = r"^\s*\d{4}-\d{2}-\d{2}"


def infer_temporal(con: duckdb.DuckDBPyConnection, data: pa.Table) -> pa.Schema:
    """The data's schema, with text columns that hold ISO dates or timestamps typed as such.

    JSON has no date type, so exports write times as text. A column counts as temporal when nearly all
    (99%) of a sample of its values parse; the rest will be quarantined by the cast stage.
    """
    schema = normalize_arrow_schema(data.schema)
    fields = []
    for f in schema:
        if pa.types.is_string(f.type):
            sample = data.column(f.name).drop_null().slice(0, 1000)
            if len(sample):
                con.register("__mlake_sample", pa.table({"v": sample}))
                try:
                    ok, timed, n = con.sql(
                        f"SELECT count(*) FILTER (WHERE regexp_matches(v, '{_ISO_DATE}') "
                        "AND TRY_CAST(v AS TIMESTAMPTZ) IS NOT NULL), "
                        "count(*) FILTER (WHERE regexp_matches(v, '\\d{2}:\\d{2}')), count(*) FROM __mlake_sample"
                    ).fetchall()[0]
                finally:
                    con.unregister("__mlake_sample")
                if n and ok / n >= 0.99:
                    f = pa.field(f.name, pa.timestamp("us", tz="UTC") if timed else pa.date32())
        fields.append(f)
    return pa.schema(fields)


def records_to_arrow(records: list[dict[str, Any]]) -> tuple[pa.Table, dict[str, pa.DataType]]:
    """Arrow columns from dicts, and the type each mixed column should have.

    When a column's values disagree in type (numbers and text, say), the column is kept as text and its
    *intended* type is the type of the large majority (95%) of its values; the cast stage then converts
    the values that fit and quarantines the others. With no clear majority the column is text.
    """
    if not records:
        return pa.table({}), {}
    keys: dict[str, None] = {}
    for r in records:
        for k in r:
            keys.setdefault(k, None)
    columns = {}
    hints: dict[str, pa.DataType] = {}
    for k in keys:
        values = [r.get(k) for r in records]
        try:
            columns[k] = pa.array(values)
            continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        columns[k] = pa.array(
            [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values], pa.string()
        )
        kinds: dict[str, int] = {}
        for v in values:
            if v is None:
                continue
            kind = (
                "bool"
                if isinstance(v, bool)
                else "int"
                if isinstance(v, int)
                else ("float" if isinstance(v, float) else "other")
            )
            kinds[kind] = kinds.get(kind, 0) + 1
        total = sum(kinds.values())
        numeric = kinds.get("int", 0) + kinds.get("float", 0)
        if total and numeric / total >= 0.95:
            hints[k] = pa.float64() if kinds.get("float") else pa.int64()
        elif total and kinds.get("bool", 0) / total >= 0.95:
            hints[k] = pa.bool_()
    return pa.table(columns), hints


def _with_aux(table: pa.Table, source: str, lines: list[int], raws: Sequence[str | None]) -> pa.Table:
    n = table.num_rows
    return (
        table.append_column(SOURCE_COL, pa.array([source] * n, pa.string()))
        .append_column(LINE_COL, pa.array(lines, pa.int64()))
        .append_column(RAW_COL, pa.array(raws, pa.string()))
    )


def _array_records(f: SourceFile) -> Iterator[Parsed]:
    con = connect_duckdb()
    try:
        rel = con.sql(f"SELECT json::VARCHAR AS j FROM read_json_objects({quote_literal(str(f.path))}, format='array')")
        reader = rel.to_arrow_reader(CHUNK_LINES)
        index = 0
        per_record = max(f.size // 1000, 1)
        for batch in reader:
            texts = batch.column(0).to_pylist()
            lines = [i.encode() for i in texts]
            good, bad = _parse_lines(f.display, lines, index + 1)
            index += len(texts)
            yield good, bad, min(per_record * len(texts), f.size)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise IngestError(
            f"Cannot read {f.display} as a JSON array: {str(exc).splitlines()[0]}",
            hint="a JSON file must hold one array of objects, or one object per line (JSON Lines)",
        ) from exc
    finally:
        con.close()
