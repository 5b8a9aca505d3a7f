"""CSV and TSV ingestion on DuckDB's parallel, streaming CSV reader.

DuckDB sniffs the dialect and types, parses on all cores, and with ``store_rejects`` records every bad
line — wrong number of fields, a value that does not parse as its column's type, invalid UTF-8 — with
its line number and text instead of stopping. Good rows stream straight into Parquet data files; the
rejects become quarantine rows. Memory stays bounded by the ingest memory limit whatever the file size.

For a table that exists, its column types are imposed on the reader, so a value that does not fit the
table is quarantined rather than silently changing the table's type.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
from pyiceberg.types import IntegerType, LongType, StringType

from mlake.errors import IngestError, ValidationError
from mlake.ingest.context import IngestContext
from mlake.ingest.csv_wide import WIDE_COLUMNS, integers_are_plain, stage_wide
from mlake.ingest.integers import NOT_INTEGER, inexact_reason, integer_cast, integer_ok
from mlake.ingest.sources import SourceFile
from mlake.tables.frames import iceberg_type_of
from mlake.tables.types import duckdb_type, quote_ident, quote_literal

_OPTION_NAMES = {
    "delimiter": "delim",
    "delim": "delim",
    "sep": "delim",
    "header": "header",
    "quote": "quote",
    "escape": "escape",
    "null_values": "nullstr",
    "nullstr": "nullstr",
    "date_format": "dateformat",
    "timestamp_format": "timestampformat",
    "encoding": "encoding",
    "skip": "skip",
    "sample_size": "sample_size",
    "decimal_separator": "decimal_separator",
    "comment": "comment",
    "names": "names",
    "max_line_size": "max_line_size",
    "buffer_size": "buffer_size",
}


# Text read as NULL unless ``null_values`` is given (which replaces the list): what pandas and R write for
# missing values, and what public data sets use. A table of country codes where "NA" is Namibia passes
# ``null_values=[""]``.
DEFAULT_NULL_VALUES = ("", "NA", "N/A", "n/a", "null", "NULL", "NaN", "nan")


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return quote_literal(str(value))


def reader_options(fmt: str, options: dict[str, Any]) -> str:
    opts: dict[str, Any] = {"nullstr": list(DEFAULT_NULL_VALUES)}
    if fmt == "tsv":
        opts["delim"] = "\t"
    for key, value in options.items():
        if value is None:
            continue
        name = _OPTION_NAMES.get(key)
        if name is None:
            raise ValidationError(
                f"Unknown CSV option {key!r}", hint=f"known options: {', '.join(sorted(set(_OPTION_NAMES)))}"
            )
        opts[name] = list(value) if name == "nullstr" and isinstance(value, list | tuple) else value
    return ", ".join(f"{k}={_literal(v)}" for k, v in opts.items())


def _read_call(paths: Sequence[str], opts: str, types: dict[str, str] | None, rejects: tuple[str, str] | None) -> str:
    parts = ["[" + ", ".join(quote_literal(p) for p in paths) + "]"]
    if opts:
        parts.append(opts)
    if types:
        parts.append("types={" + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in types.items()) + "}")
    if rejects is None:
        parts.append("ignore_errors=true")  # describing only: bad lines must not stop the sniffer
    else:
        parts.append(
            f"store_rejects=true, rejects_table={quote_literal(rejects[0])}, rejects_scan={quote_literal(rejects[1])}"
        )
    return f"read_csv({', '.join(parts)})"


_LINE_TOO_LONG = re.compile(r"Maximum line size of \d+ bytes exceeded\. Actual Size:\s*(\d+)")
MAX_LINE_BYTES = 512 * 1024 * 1024


def _describe(con: duckdb.DuckDBPyConnection, call: str, files: list[SourceFile]) -> pa.Schema:
    try:
        return con.sql(f"SELECT * FROM {call} LIMIT 0").to_arrow_table().schema
    except duckdb.Error as exc:
        if _LINE_TOO_LONG.search(str(exc)):
            raise

        names = ", ".join(f.display for f in files[:3]) + (" ..." if len(files) > 3 else "")
        raise IngestError(
            f"Cannot read {names} as CSV: {str(exc).splitlines()[0]}",
            hint="check the file is text in the given format; set delimiter/header/encoding if the sniffer "
            "guessed wrong",
        ) from exc


def ingest_csv(ctx: IngestContext, files: list[SourceFile], options: dict[str, Any], types: dict[str, str]) -> None:
    """Ingest CSV files one by one (each sniffed on its own), all into the same pending commit.

    DuckDB cannot keep rejects while unifying several files by column name, and files from different
    exports often differ in their columns anyway.
    """
    for f in files:
        opts = _check_text(f, dict(options))
        while True:
            try:
                _ingest_one(ctx, [f], opts, types)
                break
            except duckdb.Error as exc:
                # A line longer than DuckDB's default limit (2 MB): raise the limit to fit and retry.
                m = _LINE_TOO_LONG.search(str(exc))
                needed = int(m.group(1)) + 1024 if m else 0
                if not m or needed > MAX_LINE_BYTES or needed <= int(opts.get("max_line_size", 0)):
                    raise IngestError(
                        f"Cannot read {f.display}: a line is {m.group(1) if m else '?'} bytes long",
                        hint=f"lines up to {MAX_LINE_BYTES // 2**20} MB are read; split the file",
                    ) from exc
                opts["max_line_size"] = needed
                opts["buffer_size"] = max(32 * 2**20, 4 * needed)


_BLANK = b" \t\r\n\x00"
_COMPRESSED = (".gz", ".zst", ".bz2")


def _check_text(f: SourceFile, options: dict[str, Any]) -> dict[str, Any]:
    """Read a UTF-16 file (little-endian, with its byte-order mark) as such, refuse encodings DuckDB cannot
    read, and refuse a file of only blank lines — DuckDB would invent a ``column0`` table of NULLs."""
    if f.size == 0 or str(f.path).lower().endswith(_COMPRESSED):
        return options
    with open(f.path, "rb") as fh:
        head = fh.read(4)
        if head.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
            raise IngestError(
                f"Cannot read {f.display}: it is UTF-32 text",
                hint="save it as UTF-8 (e.g. iconv -f UTF-32 -t UTF-8)",
            )
        if head.startswith(b"\xfe\xff"):
            raise IngestError(
                f"Cannot read {f.display}: it is UTF-16 big-endian text",
                hint="save it as UTF-8 (e.g. iconv -f UTF-16BE -t UTF-8) or UTF-16 little-endian",
            )
        if head.startswith(b"\xff\xfe") and "encoding" not in options:
            options["encoding"] = "utf-16"
        fh.seek(0)
        first = True
        while chunk := fh.read(1 << 20):
            if first and chunk.startswith((b"\xff\xfe", b"\xef\xbb\xbf")):
                chunk = chunk[2:] if chunk.startswith(b"\xff\xfe") else chunk[3:]
            first = False
            if chunk.translate(None, _BLANK):
                return options
    raise IngestError(
        f"{f.display} holds no data: it has only blank lines",
        hint="check the export; a file needs at least a header or one row to make a table",
    )


def _ingest_one(ctx: IngestContext, files: list[SourceFile], options: dict[str, Any], types: dict[str, str]) -> None:
    con = ctx.con
    fmt = files[0].format
    opts = reader_options(fmt, options)
    paths = [str(f.path) for f in files]
    # 1. What columns does the data have? (no types imposed)
    sniffed = _describe(con, _read_call(paths, opts, types or None, None), files)
    if not any(k in options for k in ("date_format", "dateformat")):
        found = _date_format(con, _read_call(paths, opts, None, None), sniffed, types, ctx)
        if found is not None:  # dates such as "Jan 1 2000": read them as dates with their format
            options = {**options, "date_format": found}
            opts = reader_options(fmt, options)
            sniffed = _describe(con, _read_call(paths, opts, types or None, None), files)
    # 2. Impose the table's types on columns it already has, and the user's overrides on the rest.
    existing = ctx.existing_schema()
    if existing is not None and ctx.mode == "overwrite":
        _refuse_narrower_overwrite(ctx, existing, sniffed, types, files)
    imposed = dict(types)
    if existing is not None:
        by_lower = {f.name.lower(): f for f in existing.fields}
        for col in sniffed.names:
            f = by_lower.get(col.lower())
            if f is not None and col not in imposed:
                imposed[col] = duckdb_type(f.field_type)
    call_types = imposed or None
    data_schema = _describe(con, _read_call(paths, opts, call_types, None), files) if imposed != types else sniffed
    ice = ctx.ensure_table(data_schema)
    by_lower_data = {c.lower(): c for c in data_schema.names}
    # Integer columns are read as text and cast here: DuckDB's CSV parser would round 8.5 into 9.
    integers: dict[str, str] = {}
    for f in ice.schema().fields:
        src = by_lower_data.get(f.name.lower())
        if src is not None and isinstance(f.field_type, IntegerType | LongType):
            integers[src] = duckdb_type(f.field_type)
    read_types = {**(call_types or {}), **dict.fromkeys(integers, "VARCHAR")} or None

    def selects(strict: bool, plain: bool = False) -> str:
        """The table's columns from the file's; ``plain``: integers known to hold no point, exponent or
        unparsable value (a wide file's checked columns) are a bare TRY_CAST."""
        out = []
        for f in ice.schema().fields:
            src = by_lower_data.get(f.name.lower())
            t = duckdb_type(f.field_type)
            if src is None:
                out.append(f"NULL::{t} AS {quote_ident(f.name)}")
            elif src in integers and plain:
                out.append(f"TRY_CAST({quote_ident(src)} AS {t}) AS {quote_ident(f.name)}")
            elif src in integers:
                out.append(f"{integer_cast(src, t, strict)} AS {quote_ident(f.name)}")
            else:
                out.append(f"CAST({quote_ident(src)} AS {t}) AS {quote_ident(f.name)}")
        return ", ".join(out)

    rejects = (f"__rej_{ctx.write_id}", f"__scan_{ctx.write_id}")
    total = sum(f.size for f in files)
    display = files[0].display if len(files) == 1 else f"{len(files)} files"
    if len(data_schema.names) >= WIDE_COLUMNS:
        # A wide file's integer columns are checked in column groups first, so that the statement that
        # writes it holds no big expressions (see mlake.ingest.csv_wide).
        with ctx.lake.progress.task(f"ingest {display}", total=total, unit="bytes") as task:
            read = _read_call(paths, opts, read_types, rejects)
            if integers_are_plain(con, _read_call(paths, opts, read_types, None), integers, display):
                ctx.stage_duckdb(f"SELECT {selects(True, plain=True)} FROM {read}")
            else:
                fields = ice.schema().fields
                source_of = {f.name.lower(): src for f in fields if (src := by_lower_data.get(f.name.lower()))}
                delim = _delimiter(ctx, paths, files, options)
                bad = stage_wide(ctx, f"FROM {read}", ice.schema(), source_of, integers, display, delim)
                _add_located(ctx, files[0].display, paths[0], bad)
            task.update(completed=total)
        _quarantine_rejects(ctx, rejects, files)
        return
    with ctx.lake.progress.task(f"ingest {display}", total=total, unit="bytes") as task:
        try:
            with _poll_progress(con, task, total):
                ctx.stage_duckdb(f"SELECT {selects(True)} FROM {_read_call(paths, opts, read_types, rejects)}")
        except duckdb.Error as exc:
            if NOT_INTEGER not in str(exc):
                raise IngestError(
                    f"Reading {display} failed: {str(exc).splitlines()[0]}",
                    hint="bad rows are normally quarantined; this error stopped the whole file — check its "
                    "format options",
                ) from exc
            # Some integer column holds a fraction or an out-of-range number: read again, keeping the
            # rows where every integer converts exactly and quarantining the others.
            _drop_rejects(con, rejects)
            with _poll_progress(con, task, total):
                ok = " AND ".join(integer_ok(src, t) for src, t in integers.items())
                ctx.stage_duckdb(
                    f"SELECT {selects(False)} FROM {_read_call(paths, opts, read_types, rejects)} WHERE {ok}"
                )
            _quarantine_inexact(ctx, paths, opts, read_types, integers, files, data_schema.names, options)
        task.update(completed=total)
    _quarantine_rejects(ctx, rejects, files)


# Date layouts DuckDB's sniffer does not try (it knows ISO and numeric day/month orders): month names, which
# are unambiguous, as US exports (stock prices, "Jan 1 2000") and European ones ("1 Jan 2000") write them.
DATE_FORMATS = ("%b %d %Y", "%B %d %Y", "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y")
_DATE_SAMPLE = 1000


def _date_format(
    con: duckdb.DuckDBPyConnection, call: str, sniffed: pa.Schema, types: dict[str, str], ctx: IngestContext
) -> str | None:
    """The format of the text columns whose sampled values are all dates in one of :data:`DATE_FORMATS`
    (sniffed as text, or given the type date by the user), or None. A user's date column whose values read
    in none of them gets a note naming the ``date_format`` option instead."""
    from datetime import datetime

    wanted = [
        f.name
        for f in sniffed
        if (pa.types.is_string(f.type) and f.name not in types)
        or types.get(f.name, "").upper() in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")
    ]
    if not wanted:
        return None
    cols = ", ".join(f"{quote_ident(c)}::VARCHAR" for c in wanted)
    try:
        rows = con.sql(f"SELECT {cols} FROM {call} LIMIT {_DATE_SAMPLE}").fetchall()
    except duckdb.Error:
        return None
    for j, name in enumerate(wanted):
        values = [r[j].strip() for r in rows if r[j] is not None and r[j].strip()]
        if not values or (not values[0][:1].isalpha() and not values[0][:1].isdigit()):
            continue
        for fmt in DATE_FORMATS:
            try:
                for v in values:
                    datetime.strptime(v, fmt)
            except ValueError:
                continue
            return fmt
        if name in types and not any(v[:4].isdigit() and v[4:5] == "-" for v in values[:20]):
            ctx.notes.append(
                f"{name}: values such as {values[0]!r} are not ISO dates; give their format with date_format= "
                "(CLI: --date-format, e.g. '%d/%m/%Y')"
            )
    return None


def _refuse_narrower_overwrite(
    ctx: IngestContext, existing: Any, sniffed: pa.Schema, types: dict[str, str], files: list[SourceFile]
) -> None:
    """An overwrite whose data now read as typed values where the table holds text (say numbers once
    read as text because of "NA") would keep the text type silently: refuse, saying how to retype."""
    by_lower = {f.name.lower(): f for f in existing.fields}
    changed = []
    for field in sniffed:
        f = by_lower.get(field.name.lower())
        if f is None or field.name in types or not isinstance(f.field_type, StringType):
            continue
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            changed.append(f"{f.name} (string, now read as {iceberg_type_of(field.type)})")
    if changed:
        raise IngestError(
            f"{files[0].display} reads as other types than {ctx.name} has: {', '.join(changed)}; an overwrite "
            "keeps the table's column types",
            hint=f"to retype the table, drop it and ingest again (mlake tables drop {ctx.name}); to keep text, "
            f"pass --type {changed[0].split(' ')[0]}=string",
        )


def _drop_rejects(con: duckdb.DuckDBPyConnection, rejects: tuple[str, str]) -> None:
    for name in rejects:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")


def _quarantine_inexact(
    ctx: IngestContext,
    paths: list[str],
    opts: str,
    read_types: dict[str, str] | None,
    integers: dict[str, str],
    files: list[SourceFile],
    columns: list[str],
    options: dict[str, Any],
) -> None:
    """Quarantine the rows whose integer columns do not convert exactly (kind ``CAST``).

    DuckDB's CSV reader gives no line numbers for rows it parsed, so the raw text is the record's fields
    joined again, and the file is scanned once for the lines that read exactly so (up to
    ``_LOCATE_ROWS`` rows; a quoted field, or more rows than that, leaves the line empty)."""
    reasons = " || ".join(inexact_reason(src, t) for src, t in integers.items())
    bad = " OR ".join(f"NOT {integer_ok(src, t)}" for src, t in integers.items())
    delim = _delimiter(ctx, paths, files, options)
    call = _read_call(paths, opts, read_types, None)
    fields = ", ".join(f"coalesce(CAST({quote_ident(c)} AS VARCHAR), '')" for c in columns)
    raw = f"concat_ws({quote_literal(delim)}, {fields})"
    sql = f"SELECT rtrim({reasons}, '; ') AS reason, {raw} AS raw FROM {call} WHERE {bad}"
    first: list[dict[str, Any]] = []  # held back until their lines are found (at most _LOCATE_ROWS)
    for batch in ctx.con.sql(sql).to_arrow_reader(50_000):
        rows = batch.to_pylist()
        if len(first) + len(rows) <= _LOCATE_ROWS:
            first.extend(rows)
            continue
        _add_inexact(ctx, files[0].display, rows, [None] * len(rows))
    _add_located(ctx, files[0].display, paths[0], first)


def _delimiter(ctx: IngestContext, paths: list[str], files: list[SourceFile], options: dict[str, Any]) -> str:
    """The delimiter given, or the one DuckDB's sniffer chose (to join a record's fields again)."""
    delim = next((str(options[k]) for k in ("delimiter", "delim", "sep") if options.get(k) is not None), None)
    if delim is not None:
        return delim
    if files[0].format == "tsv":
        return "\t"
    try:
        found = ctx.con.execute(f"SELECT Delimiter FROM sniff_csv({quote_literal(paths[0])})").fetchall()
    except duckdb.Error:  # e.g. lines past the sniffer's size limit: the common delimiter then
        found = []
    return str(found[0][0]) if found else ","


def _add_located(ctx: IngestContext, source: str, path: str, rows: list[dict[str, Any]]) -> None:
    """Quarantine inexact rows, the first :data:`_LOCATE_ROWS` with their line numbers found in the file."""
    located = rows[:_LOCATE_ROWS]
    if located:
        _add_inexact(ctx, source, located, _locate_lines(path, [r["raw"] for r in located]))
    if rows[_LOCATE_ROWS:]:
        _add_inexact(ctx, source, rows[_LOCATE_ROWS:], [None] * (len(rows) - _LOCATE_ROWS))


_LOCATE_ROWS = 10_000


def _add_inexact(ctx: IngestContext, source: str, rows: list[dict[str, Any]], lines: list[int | None]) -> None:
    ctx.quarantine.add(
        source=[source] * len(rows),
        line=lines,
        kind=["CAST"] * len(rows),
        reason=[r["reason"] for r in rows],
        raw=[r["raw"] for r in rows],
    )


def _locate_lines(path: str, raws: list[str]) -> list[int | None]:
    """The line number (1-based, counting the header) of each raw record, in file order for repeats."""
    if path.endswith((".gz", ".zst", ".bz2")):
        return [None] * len(raws)
    wanted: dict[str, list[int]] = {}
    for i, raw in enumerate(raws):
        wanted.setdefault(raw, []).append(i)
    found: list[int | None] = [None] * len(raws)
    left = len(raws)
    try:
        with open(path, "rb") as f:
            for number, line in enumerate(f, start=1):
                waiting = wanted.get(line.rstrip(b"\r\n").decode("utf-8", errors="replace"))
                if waiting:
                    found[waiting.pop(0)] = number
                    left -= 1
                    if not left:
                        break
    except OSError:
        pass
    return found


@contextmanager
def _poll_progress(con: duckdb.DuckDBPyConnection, task: Any, total: int) -> Iterator[None]:
    """Report DuckDB's own query progress while a long statement runs."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.25):
            try:
                pct = con.query_progress()
            except Exception:
                return
            if pct and pct > 0:
                task.update(completed=total * min(pct, 100.0) / 100.0)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _quarantine_rejects(ctx: IngestContext, rejects: tuple[str, str], files: list[SourceFile]) -> None:
    errors, scans = rejects
    display = {str(f.path): f.display for f in files}
    try:
        rel = ctx.con.sql(
            f"""SELECT s.file_path AS file, e.line, min(e.line_byte_position) AS pos,
                       string_agg(DISTINCT e.error_type, ', ') AS kind,
                       string_agg(coalesce(e.column_name || ': ', '') || e.error_message, '; ') AS reason,
                       any_value(e.csv_line) AS raw
                FROM {errors} e JOIN {scans} s USING (scan_id, file_id)
                GROUP BY ALL ORDER BY file, line"""
        )
        reader = rel.to_arrow_reader(50_000)
    except duckdb.CatalogException:
        return  # no reject table: nothing was rejected
    for batch in reader:
        rows = batch.to_pylist()
        raws = []
        for r in rows:
            raw = r["raw"]
            if "INVALID ENCODING" in (r["kind"] or "") and r["pos"] is not None:
                raw = _raw_line(r["file"], int(r["pos"])) or raw
            raws.append(raw)
        ctx.quarantine.add(
            source=[display.get(r["file"], r["file"]) for r in rows],
            line=[r["line"] for r in rows],
            kind=[r["kind"] for r in rows],
            reason=[r["reason"] for r in rows],
            raw=raws,
        )


def _raw_line(path: str, offset: int, limit: int = 1 << 20) -> str | None:
    """The original bytes of a line (DuckDB shows invalid UTF-8 as '?'), with bad bytes escaped.

    DuckDB's reported position lands on or just after the line's start, so the start is found by
    scanning back to the previous newline.
    """
    if path.endswith((".gz", ".zst", ".bz2")):
        return None  # positions are in the decompressed stream
    try:
        with open(path, "rb") as f:
            back = min(offset, 4096)
            f.seek(offset - back)
            before = f.read(back)
            data = f.read(limit)
    except OSError:
        return None
    nl = before.rfind(b"\n")
    head = before[nl + 1 :] if nl >= 0 else (before if offset - back == 0 else b"")
    line = (head + data).split(b"\n", 1)[0].rstrip(b"\r")
    return line.decode("utf-8", errors="backslashreplace")
