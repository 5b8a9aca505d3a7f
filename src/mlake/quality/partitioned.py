"""Profiles and checks on a partitioned engine (Ray): "Ray distributes, DuckDB computes each partition".

A measurement plans the same SQL aggregates whatever the engine (see :mod:`mlake.quality.aggregate`). On a
partitioned engine each aggregate runs as *partial* aggregates, one row per partition (a data file, or a
chunk of rows), computed by DuckDB in a task, and the driver merges the rows:

- ``count``, ``count_if`` and ``sum`` add up; ``min`` and ``max`` take the least and greatest (merged by
  DuckDB, so in DuckDB's order); ``histogram_exact`` maps add up by key. Counts, null counts, minima, maxima
  and sums of integers are therefore **exactly** the DuckDB engine's.
- ``avg`` is a sum and a count; ``stddev_samp`` is (count, mean, sum of squared deviations) per partition,
  merged with Chan's parallel formula. Floating sums are added in another order than DuckDB's threads add
  them (which itself varies with the thread count), so floating means, standard deviations and moments
  agree to about 1e-12 relative — the shared suite asserts 1e-9.
- ``approx_count_distinct`` (HyperLogLog) is the same sketch over each partition's *distinct values*,
  gathered in the driver: a HyperLogLog's registers depend only on the set of values, so the estimate is
  identical to the DuckDB engine's. ``approx_quantile`` (a t-digest, used by the ``median`` and ``quantile``
  distribution checks) runs once over the column's values gathered in the driver; a t-digest depends on the
  order values arrive in, as on DuckDB with several threads, so both engines agree within the sketch's error.
- Exact distinct counts (``unique`` checks, key candidates, duplicate rows and keys) and exact top values
  are a **keyed stage**: each partition's distinct values are split by a hash of the value, so every value
  lands in one bucket, each bucket counts its own, and the counts add up exactly.
- The profile's uniform sample keeps the rows whose hash of values falls below a fraction — a row-local
  filter, so every partition keeps the same rows the DuckDB engine keeps; the driver gathers them (about
  100,000 rows) and computes quantiles, the MAD, correlations and top-value candidates from them with the
  same SQL. Quantiles are thus exactly the DuckDB engine's.

What the data is: the table's snapshot's Parquet files when the owner measures a table whose files workers
can read as they are (local files, no delete files, one schema); otherwise — a principal, whose reads go
through its secure view (grants, column masks, row filters) — Arrow chunks of the rows *read through that
secure view* on the driver. Workers never see a file a principal could not read. Every statement a
partition runs is first checked as the DuckDB engine would check it (:meth:`SqlEngine.internal_cursor`).

Custom SQL checks (any SQL: joins, windows) and failing-row samples of the DuckDB engine's kind run as the
DuckDB engine runs them; a sample is "a few failing rows", which neither engine orders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from mlake.engines.partitioned import Partition, PartitionedCompute, Stage
from mlake.errors import ConfigError, ValidationError
from mlake.quality.source import q
from mlake.results import translate_duckdb_error

if TYPE_CHECKING:
    from mlake.quality.source import Source

CHUNKS = 8  # chunks of rows read through a secure view (when the files cannot be handed to workers)


@dataclass
class Partitioned:
    """A source's data split for a partitioned engine: the partitions and how to read them as the source."""

    compute: PartitionedCompute
    inputs: list[Partition]
    columns: list[tuple[str, str]]  # the source's columns and DuckDB types, as its (secure) view shows them
    rows: int | None = None
    tables: dict[str, pa.Table] = field(default_factory=dict)  # broadcast to every task (referenced keys)
    broadcast_sql: dict[str, str] = field(default_factory=dict)  # what each broadcast table was read with
    statements: int = 0

    @property
    def source_sql(self) -> str:
        """``__input`` (a partition) as the source: its columns, in order, with the view's types."""
        cols = ", ".join(f"CAST({q(c)} AS {t}) AS {q(c)}" for c, t in self.columns)
        return f"SELECT {cols or '*'} FROM __input"

    @property
    def from_clause(self) -> str:
        return f"({self.source_sql}) AS __src"

    def run(self, stages: list[Stage]) -> pa.Table:
        """``stages`` over the partitions (the stage SQL reads ``__input``), merged."""
        self.statements += 1
        try:
            return self.compute.run(stages, list(self.inputs), self.tables)
        except duckdb.Error as exc:  # a Ray task's error is also an instance of its cause
            raise translate_duckdb_error(exc, stages[0].sql) from exc

    def rows_of(self, sql: str) -> pa.Table:
        """A row-local query (over :attr:`from_clause`) on every partition, the rows put together."""
        return self.run([Stage(sql)])


def partitioned_source(source: Source, compute: PartitionedCompute) -> Source:
    """``source`` measured on ``compute``: a copy of it whose measurements run partitioned.

    Only a table (at a snapshot) can be split: a query or a staged batch is refused with a ValidationError
    (measure them with ``engine="duckdb"``)."""
    if source.kind != "table" or source.table is None:
        raise ValidationError(
            f"{source.label} is not a table: only a table's data files can be split for {compute.name}",
            hint='measure a query or a staged batch with engine="duckdb"',
        )
    columns = source.columns
    files = _data_files(source)
    rows = source.rows_hint
    inputs: list[Partition]
    if files:
        inputs = list(files)
    else:
        data = source.fetch_arrow(f"SELECT * FROM {source.from_clause()}")  # through the actor's secure view
        per = max(1, -(-data.num_rows // CHUNKS))
        inputs = [data.slice(i, per) for i in range(0, max(data.num_rows, 1), per)]
        rows = data.num_rows if rows is None else rows
    if rows is None:  # files of a snapshot without a row count in its summary: count them
        rows = sum(_parquet_rows(f) for f in files or [])
    copy = type(source)(
        source.lake,
        source.sql,
        source.label,
        table=source.table,
        snapshot_id=source.snapshot_id,
        kind=source.kind,
        rows_hint=rows,
        _columns=columns,
    )
    copy.partitions = Partitioned(compute, inputs, columns, rows)
    return copy


def _parquet_rows(path: str) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _data_files(source: Source) -> list[str] | None:
    """The snapshot's local Parquet files, when workers may read them as they are: for the owner only (a
    principal reads through its secure view), with no delete files, and one schema in the table's history
    (files then hold exactly the current columns, under their current names)."""
    from mlake.tables.scan import local_path

    lake = source.lake
    if lake.access.principal is not None or source.snapshot_id is None or source.table is None:
        return None
    ice = lake.iceberg_table(source.table)
    if len(ice.metadata.schemas) != 1:
        return None
    tasks = list(ice.scan(snapshot_id=source.snapshot_id).plan_files())
    paths = [local_path(t.file.file_path) for t in tasks]
    if not tasks or any(t.delete_files for t in tasks) or any(p is None for p in paths):
        return None
    return [p for p in paths if p is not None]


def check_statement(source: Source, sql: str) -> None:
    """Refuse what the DuckDB engine would refuse to run for this actor (a principal's filter that reads
    files, say): ``sql`` is the statement the DuckDB engine would run over the source."""
    p = source.partitions
    for name, read in (p.broadcast_sql if p is not None else {}).items():
        sql = sql.replace(f"FROM {name}", f"FROM ({read}) AS {name}")  # checked as the read it stands for
    with source.lake.engine.internal_cursor(sql) as cursor:
        try:
            cursor.sql(sql)  # bound, not run: a wrong column is reported as the DuckDB engine reports it
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, sql) from exc


# --- fused aggregates ---------------------------------------------------------------------------------


def split_call(expr: str) -> tuple[str, str, str] | None:
    """``name(args) FILTER (WHERE ...)`` as (name, args, the filter clause or ""); None when ``expr`` is not
    one aggregate call (a list of them, an expression over them)."""
    text = expr.strip()
    n = 0
    while n < len(text) and (text[n].isalnum() or text[n] == "_"):
        n += 1
    if n == 0 or n >= len(text) or text[n] != "(":
        return None
    end = _closing(text, n)
    if end is None:
        return None
    rest = text[end + 1 :].strip()
    if rest and not rest.upper().startswith("FILTER"):
        return None
    return text[:n].lower(), text[n + 1 : end], (" " + rest if rest else "")


def _closing(text: str, start: int) -> int | None:
    """The index of the parenthesis closing the one at ``start`` (quotes respected)."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _top_level_split(args: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in args:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [a.strip() for a in out]


SCALAR = {"count": "sum", "count_if": "sum", "sum": "sum", "min": "min", "max": "max"}


def aggregate(
    source: Source, keys: Sequence[Hashable], exprs: Sequence[str], derived: dict[str, str]
) -> dict[Hashable, Any]:
    """The fused aggregates ``exprs`` over a partitioned source: partial aggregates per partition, merged
    (see the module docstring for each kind). ``derived``: per-row values the aggregates use by alias."""
    p = source.partitions
    assert p is not None
    frm = p.from_clause
    if derived:
        frm = f"(SELECT *, {', '.join(f'{e} AS {a}' for a, e in derived.items())} FROM {frm}) AS __src"
    partials: list[str] = []
    merges: list[Callable[[dict[str, Any]], Any]] = []
    gathers: list[tuple[str, str, str, str]] = []  # (alias, value expr, filter, final aggregate)

    def partial(sql: str) -> str:
        alias = f"p{len(partials)}"
        partials.append(f"{sql} AS {alias}")
        return alias

    for expr in exprs:
        call = split_call(expr)
        if call is None:
            raise ValidationError(f"The aggregate {expr[:200]!r} cannot run on a partitioned engine")
        name, args, filt = call
        if name in SCALAR:
            merges.append(_merged(partial(expr), SCALAR[name]))
        elif name == "avg":
            s, c = partial(f"sum({args}){filt}"), partial(f"count({args}){filt}")
            merges.append(_merged_avg(s, c))
        elif name == "stddev_samp":
            n, m, v = partial(f"count({args}){filt}"), partial(f"avg({args}){filt}"), partial(f"var_pop({args}){filt}")
            merges.append(_merged_std(n, m, v))
        elif name == "histogram_exact":
            merges.append(_merged_map(partial(expr)))
        elif name in ("approx_count_distinct", "approx_quantile"):
            parts = _top_level_split(args)
            cond = filt.strip()[len("FILTER") :].strip()[1:-1].strip()[len("WHERE") :] if filt else "TRUE"
            alias = f"g{len(gathers)}"
            final = f"approx_count_distinct({alias})" if name == "approx_count_distinct" else ""
            if name == "approx_quantile":
                final = f"approx_quantile({alias}, {parts[1]})"
            gathers.append((alias, parts[0], cond, final))
            merges.append(_gathered(alias))
        else:
            raise ValidationError(f"The aggregate {name}(...) cannot run on a partitioned engine")
    merged: dict[str, Any] = {}
    if partials:
        table = p.rows_of(f"SELECT {', '.join(partials)} FROM {frm}")
        merged.update(_merge_scalars(table, partials))
    if gathers:
        merged.update(_gather(p, frm, gathers))
    return {k: m(merged) for k, m in zip(keys, merges, strict=True)}


def _merge_scalars(table: pa.Table, partials: list[str]) -> dict[str, Any]:
    """The partial rows merged: ``sum_p<i>``, ``min_p<i>``, ``max_p<i>`` by DuckDB (so the types and the
    order of values are DuckDB's), and each partial column as a list ``p<i>`` for merges done in Python."""
    out: dict[str, Any] = {f"p{i}": table.column(f"p{i}").to_pylist() for i in range(len(partials))}
    selects = []
    for i in range(len(partials)):
        t = table.schema.field(f"p{i}").type
        if pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_struct(t):
            continue
        selects.append(f"sum(p{i}) AS sum_p{i}" if _summable(t) else f"NULL AS sum_p{i}")
        selects.append(f"min(p{i}) AS min_p{i}, max(p{i}) AS max_p{i}")
    if selects:
        con = duckdb.connect()
        try:
            con.register("__parts", table)
            row = con.sql(f"SELECT {', '.join(selects)} FROM __parts")
            out.update(dict(zip(row.columns, row.fetchall()[0], strict=True)))
        finally:
            con.close()
    return out


def _summable(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _merged(alias: str, how: str) -> Callable[[dict[str, Any]], Any]:
    def merge(m: dict[str, Any]) -> Any:
        value = m[f"{how}_{alias}"]
        if how == "sum" and hasattr(value, "as_integer_ratio") and not isinstance(value, float | int):
            return int(value) if value == int(value) else value  # a Decimal sum of integers
        return value

    return merge


def _merged_avg(s: str, c: str) -> Callable[[dict[str, Any]], Any]:
    def merge(m: dict[str, Any]) -> Any:
        total, count = m[f"sum_{s}"], int(m[f"sum_{c}"] or 0)
        return None if not count or total is None else float(total) / count

    return merge


def _merged_std(n: str, mean: str, var: str) -> Callable[[dict[str, Any]], Any]:
    """Chan et al.'s pairwise update of (count, mean, M2): exact algebra, no cancellation of large sums."""

    def merge(m: dict[str, Any]) -> Any:
        count, mu, m2 = 0, 0.0, 0.0
        for nb, mb, vb in zip(m[n], m[mean], m[var], strict=True):
            nb = int(nb or 0)
            if not nb:
                continue
            mb, m2b = float(mb), float(vb) * nb
            total = count + nb
            delta = mb - mu
            mu += delta * nb / total
            m2 += m2b + delta * delta * count * nb / total
            count = total
        return math.sqrt(m2 / (count - 1)) if count > 1 else None

    return merge


def _merged_map(alias: str) -> Callable[[dict[str, Any]], Any]:
    def merge(m: dict[str, Any]) -> Any:
        out: dict[Any, int] | None = None
        for part in m[alias]:
            if part is None:
                continue
            out = out if out is not None else {}
            for k, c in part if isinstance(part, list) else part.items():
                out[k] = out.get(k, 0) + int(c)
        return out

    return merge


def _gathered(alias: str) -> Callable[[dict[str, Any]], Any]:
    return lambda m: m[alias]


def _gather(p: Partitioned, frm: str, gathers: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """Sketches over values gathered in the driver: distinct values per partition for HyperLogLog (whose
    estimate depends only on the set of values), every value for a t-digest."""
    parts = []
    for n, (alias, value, cond, final) in enumerate(gathers):
        distinct = "DISTINCT " if final.startswith("approx_count_distinct") else ""
        parts.append(
            f"SELECT {distinct}{n} AS __g, {value} AS {alias} FROM {frm} WHERE ({cond}) AND {value} IS NOT NULL"
        )
    rows = p.rows_of(" UNION ALL BY NAME ".join(parts))
    con = duckdb.connect()
    try:
        con.register("__gathered", rows)
        selects = []
        for n, (alias, _, _, final) in enumerate(gathers):
            selects.append(f"{final} FILTER (WHERE __g = {n}) AS {alias}" if rows.num_rows else f"NULL AS {alias}")
        if not rows.num_rows:
            return {alias: (0 if final.startswith("approx_count") else None) for alias, _, _, final in gathers}
        got = con.sql(f"SELECT {', '.join(selects)} FROM __gathered")
        return dict(zip(got.columns, got.fetchall()[0], strict=True))
    finally:
        con.close()


# --- distinct counts and top values (a keyed stage) ---------------------------------------------------


def distinct_counts(source: Source, counts: dict[Hashable, tuple[str, str]], *, nulls: bool) -> dict[Hashable, int]:
    """The number of distinct values of several ``key -> (expression, filter)`` (``nulls``: a NULL value is
    one more, as in ``GROUP BY``; else left out, as in ``count(DISTINCT ...)``), exactly: each partition's
    distinct values, split by a hash of the value, counted per bucket, the counts added."""
    p = source.partitions
    assert p is not None
    if not counts:
        return {}
    parts = []
    for n, (expr, cond) in enumerate(counts.values()):
        present = "" if nulls else f" AND ({expr}) IS NOT NULL"
        parts.append(f"SELECT DISTINCT {n} AS __g, row({expr}) AS __k{n} FROM {p.from_clause} WHERE ({cond}){present}")
    keys = ("__g", *(f"__k{n}" for n in range(len(counts))))
    counted = p.run(
        [
            Stage(" UNION ALL BY NAME ".join(parts)),
            Stage("SELECT __g, count(*)::BIGINT AS n FROM (SELECT DISTINCT * FROM __input) GROUP BY __g", keys),
        ]
    )
    found: dict[int, int] = {}
    if counted.num_rows:
        for g, n in zip(counted.column("__g").to_pylist(), counted.column("n").to_pylist(), strict=True):
            found[int(g)] = found.get(int(g), 0) + int(n)
    return {key: found.get(n, 0) for n, key in enumerate(counts)}


def top_values(
    source: Source, tops: dict[Hashable, str], top_k: int
) -> dict[Hashable, tuple[int, list[tuple[Any, int]]]]:
    """The exact ``top_k`` most frequent non-null values of text expressions and their distinct counts:
    partial counts per partition, summed per value in a keyed stage (one bucket holds all of a value's
    counts), each bucket's own top ``top_k`` (the overall top ``top_k`` are among them), ranked again in the
    driver with the DuckDB engine's order (count descending, then value)."""
    p = source.partitions
    assert p is not None
    if not tops:
        return {}
    parts = [
        f"SELECT {n} AS __t, ({expr})::VARCHAR AS __v, count(*)::BIGINT AS __c FROM {p.from_clause} "
        f"WHERE ({expr}) IS NOT NULL GROUP BY ALL"
        for n, expr in enumerate(tops.values())
    ]
    ranked = (
        "WITH counted AS (SELECT __t, __v, sum(__c)::BIGINT AS c FROM __input GROUP BY ALL), "
        "ranked AS (SELECT *, count(*) OVER (PARTITION BY __t) AS n, "
        "row_number() OVER (PARTITION BY __t ORDER BY c DESC, __v) AS r FROM counted) "
        f"SELECT __t, CASE WHEN r = 1 THEN n END AS n, __v, c FROM ranked WHERE r <= {int(top_k)}"
    )
    got = p.run([Stage(" UNION ALL ".join(parts)), Stage(ranked, ("__t", "__v"))])
    con = duckdb.connect()
    try:
        con.register("__tops", got)
        rows = (
            con.sql(
                "SELECT __t, sum(n) OVER (PARTITION BY __t) AS n, __v, c, "
                "row_number() OVER (PARTITION BY __t ORDER BY c DESC, __v) AS r FROM __tops"
            ).fetchall()
            if got.num_rows
            else []
        )
    finally:
        con.close()
    out: dict[Hashable, Any] = {}  # key -> (distinct, [(value, count)])
    for n, key in enumerate(tops):
        mine = [(v, int(c), int(total or 0)) for t, total, v, c, r in rows if int(t) == n and r <= top_k]
        values = sorted(((v, c) for v, c, _ in mine), key=lambda vc: (-vc[1], str(vc[0])))
        out[key] = (mine[0][2] if mine else 0, values)
    return out


def value_counts(source: Source, counted: dict[int, tuple[str, str]], limit: int) -> dict[int, list[dict[str, Any]]]:
    """Counts by value of ``expression`` where ``filter`` holds, per ``column -> (expression, filter)``, at
    most ``limit`` values each (more than ``limit`` when, and only when, there are more): partial counts per
    partition (each at most ``limit`` values), summed in the driver."""
    p = source.partitions
    assert p is not None
    parts = [
        f"(SELECT {i} AS __i, {expr} AS __u{i}, count(*)::BIGINT AS __c FROM {p.from_clause} WHERE {cond} "
        f"GROUP BY ALL LIMIT {int(limit)})"
        for i, (expr, cond) in counted.items()
    ]
    got = p.rows_of(" UNION ALL BY NAME ".join(f"SELECT * FROM {s}" for s in parts))
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in counted}
    if not got.num_rows:
        return out
    con = duckdb.connect()
    try:
        con.register("__counted", got)
        for i in counted:
            rows = con.sql(
                f"SELECT __u{i} AS v, sum(__c)::BIGINT AS c FROM __counted WHERE __i = {i} "
                f"GROUP BY 1 LIMIT {int(limit)}"
            ).fetchall()
            out[i] = [{"v": v, "c": int(c)} for v, c in rows]
    finally:
        con.close()
    return out


# --- rows -----------------------------------------------------------------------------------------------


def some_rows(source: Source, where: str, limit: int) -> pa.Table:
    """At most ``limit`` rows where ``where`` holds (any of them, as on the DuckDB engine)."""
    p = source.partitions
    assert p is not None
    rows = p.rows_of(f"SELECT * FROM {p.from_clause} WHERE {where} LIMIT {int(limit)}")
    return rows.slice(0, limit)


def failing_rows(source: Source, conditions: dict[int, str], limit: int) -> dict[int, list[dict[str, Any]]]:
    """At most ``limit`` rows where each condition holds (a few failing rows per check), for every check in
    one pass over the partitions rather than one pass per check."""
    p = source.partitions
    assert p is not None
    if not conditions:
        return {}
    for cond in conditions.values():
        check_statement(source, f"SELECT * FROM {source.from_clause()} WHERE {cond} LIMIT {int(limit)}")
    parts = [
        f"SELECT * FROM (SELECT {n} AS __check, * FROM {p.from_clause} WHERE {cond} LIMIT {int(limit)})"
        for n, cond in conditions.items()
    ]
    rows = p.rows_of(" UNION ALL ".join(parts)).to_pylist()
    out: dict[int, list[dict[str, Any]]] = {n: [] for n in conditions}
    for row in rows:
        mine = out[int(row.pop("__check"))]
        if len(mine) < limit:
            mine.append(row)
    return out


def keyed_rows(source: Source, keys: Sequence[str], sql: Callable[[str], str], order: str, limit: int) -> pa.Table:
    """``sql(from_clause)`` per bucket of rows split by ``keys`` (all rows of a key together), then the first
    ``limit`` rows by ``order``."""
    p = source.partitions
    assert p is not None
    got = p.run([Stage(sql(p.from_clause), tuple(keys))])
    if not got.num_rows:
        return got
    con = duckdb.connect()
    try:
        con.register("__rows", got)
        return con.sql(f"SELECT * FROM __rows ORDER BY {order} LIMIT {int(limit)}").to_arrow_table()
    finally:
        con.close()


def sample_rows(source: Source, sampling: str, columns: str) -> pa.Table:
    """The rows a row-local sampling clause keeps (``WHERE hash(...) < ...``), from every partition."""
    p = source.partitions
    assert p is not None
    return p.rows_of(f"SELECT {columns} FROM {p.from_clause} {sampling}")


def local_source(source: Source, name: str, rows: pa.Table) -> Callable[[str], list[tuple[Any, ...]]]:
    """A function running SQL over ``rows`` registered as ``name`` in a DuckDB of the driver's own."""

    def fetch(sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect()
        try:
            con.register(name, rows)
            return con.sql(sql).fetchall()
        finally:
            con.close()

    return fetch


@contextmanager
def on_engine(source: Source, engine: str) -> Iterator[Source]:
    """``source`` as ``engine`` measures it: itself on ``duckdb``; split over a partitioned compute backend
    (``ray``) otherwise, the backend closed afterwards (a Ray started for it is stopped; one already running
    is left running). ConfigError names the engines for an unknown one."""
    name = engine.strip().lower()
    if name == "duckdb":
        yield source
        return
    from mlake.backends import backend_named, backends

    if name not in backends("compute"):
        known = ", ".join(sorted(backends("compute")))
        raise ConfigError(f"Unknown engine {engine!r} for a profile or a check suite", hint=f"use one of {known}")
    backend = backend_named("compute", name)
    if backend.name == "duckdb":  # pragma: no cover - caught above
        yield source
        return
    compute: PartitionedCompute = backend.load()()
    try:
        yield partitioned_source(source, compute)
    finally:
        compute.close()


__all__ = [
    "Partitioned",
    "aggregate",
    "check_statement",
    "distinct_counts",
    "failing_rows",
    "on_engine",
    "partitioned_source",
    "split_call",
    "top_values",
    "value_counts",
]
