"""Profiles: what every column of a table, snapshot or query holds, in three or four statements.

A profile never loads the data into Python (only the value counts of low-cardinality columns). It
builds fused aggregate queries (see :mod:`mlake.quality.aggregate`) whose cost grows linearly with the
column count:

1. **Sample** — a uniform sample of about 100,000 rows (for a table, whose row count is known, the
   rows whose hash of values falls below the fraction: the same rows on every run, read on all cores;
   otherwise a seeded reservoir), read once: quantiles and the median absolute
   deviation (MAD) of numbers, Pearson correlations, histogram ranges, top-value candidates and
   patterns (email, URL, UUID, date/time, number-as-string) of text, and, to plan the next statement,
   each column's distinct count and whether it has nulls.
2. **Exact aggregates** — one scan for every column at once: non-null counts, approximate distinct
   counts (HyperLogLog), min/max, mean, standard deviation, skewness and kurtosis (from power sums of
   deviations from the sample's mean, so without cancellation), zeros, negatives, NaN and infinities,
   string lengths, empty and space-padded strings, exact counts of the patterns the sample showed and of
   the top-value candidates, histograms, outliers by IQR and beyond median ± 5 robust standard deviations
   (1.4826 × MAD), and missing-value co-occurrence. A column with few distinct values (at most 1,000 in
   the sample) gets its exact value counts instead, from which all of its metrics are computed: the
   sample's values counted by 64-bit hash (``histogram_exact``), then, only if the sample missed some,
   those by value in one more statement.

   No full scan uses ``histogram`` or ``count(DISTINCT ...)`` beside other aggregates: DuckDB 2.0 plans
   them as GROUP BYs over a materialized copy of the input, which held 3.5 GB for 10M rows × 20 columns.
3. **Distinct counts** — grouped counts for duplicate keys and key candidates (columns unique in the
   sample), which DuckDB computes several times faster as GROUP BYs of their own than as DISTINCT
   aggregates beside the others; then, unless a column already proved every row distinct, duplicate
   rows (distinct 64-bit row hashes).

Up to 32 columns share one statement; wider tables run one statement per group of 32 columns in the
first two steps (each reading only its columns), because DuckDB plans very wide SELECTs of histogram
aggregates in more than linear time. ``Profile.queries`` counts the statements.

Quantiles, the MAD and correlations are exact on the sample (for sources up to 100,000 rows, exact);
above that, the rank error of a quantile is about ±0.3% at the median and a correlation's standard error
about (1 − r²)/√n. Counts are exact; distinct counts say whether they are (``distinct_exact``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from mlake.errors import ValidationError
from mlake.quality.aggregate import AggregatePlan, count_groups, run_together
from mlake.quality.profile_result import ColumnProfile, Freshness, HistogramBin, Matrix, Profile
from mlake.quality.source import BINARY, BOOLEAN, NUMERIC, OTHER, STRING, TEMPORAL, Source, column_kind, is_float, q
from mlake.tables.types import quote_literal

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
LOW_CARDINALITY = 1000  # columns with at most this many (approximate) distinct values get exact value counts
NEAR_UNIQUE = 0.9  # approximate distinct / non-null above this: count distinct exactly (key candidates)
ROBUST_Z = 5.0  # robust outliers: |x - median| > ROBUST_Z * 1.4826 * MAD
MAD_TO_STD = 1.4826  # MAD of a normal distribution times this is its standard deviation

UNSEEN_VALUES = 10_000  # values of a low-cardinality column the sample missed that are still counted one by one
SAMPLE_SIZE = 100_000  # quantiles, MAD and top-value candidates come from a uniform sample of this many rows
SAMPLE_SEED = 42
CHUNK_COLUMNS = 32  # columns per statement (see profile())
# Numeric histograms span the sample's 0.5% to 99.5% quantiles, with a bin below and one above for the
# tails; when the sample is the whole source, and for dates and times, its minimum and maximum.
HISTOGRAM_RANGE = (0.005, 0.995)

# Patterns recognised in strings: name -> (cheap necessary condition, RE2 regular expression for a full
# match). Written without \d and \s, whose meaning differs between regex engines, so that Python's re
# agrees with DuckDB. No value can match two of them, so one CASE per row classifies it.
PATTERNS: dict[str, tuple[str, str]] = {
    "email": ("contains({x}, '@')", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"),
    "url": ("(starts_with({x}, 'http') OR starts_with({x}, 'ftp'))", r"(https?|ftp)://[^ \t\n\f\r/$.?#][^ \t\n\f\r]*"),
    "uuid": (
        "strlen({x}) = 36",
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    ),
    "date": (
        "(strlen({x}) >= 10 AND substr({x}, 5, 1) = '-')",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+\-][0-9]{2}(:?[0-9]{2})?)?)?",
    ),
    "number": (
        "(ascii({x}) BETWEEN 48 AND 57 OR ascii({x}) IN (9, 10, 12, 13, 32, 43, 45, 46))",
        r"[ \t\n\f\r]*[+\-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+\-]?[0-9]+)?[ \t\n\f\r]*",
    ),
}
PATTERN_NAMES = list(PATTERNS)


def pattern_case(x: str) -> str:
    """SQL giving each string the number of the pattern it matches (1-based; 0 for none; NULL for NULL)."""
    whens = " ".join(
        f"WHEN {cheap.format(x=x)} AND regexp_full_match({x}, {quote_literal(regex)}) THEN {n}"
        for n, (cheap, regex) in enumerate(PATTERNS.values(), start=1)
    )
    return f"CASE WHEN {x} IS NULL THEN NULL {whens} ELSE 0 END"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _int(value: Any) -> int:
    return int(value or 0)


def profile(
    source: Source,
    *,
    columns: Sequence[str] | None = None,
    key: Sequence[str] = (),
    time_column: str | None = None,
    bins: int = 20,
    top_k: int = 10,
    exact_distinct: bool = False,
    correlations: bool = True,
    max_correlation_columns: int = 40,
    max_missing_columns: int = 30,
    sample_size: int = SAMPLE_SIZE,
) -> Profile:
    """Profile ``source`` (see the module docstring for what is computed, and in how many passes).

    ``key`` names the column(s) that should identify a row (duplicate keys are counted);
    ``time_column`` the event time for freshness (default: the temporal column with the newest value);
    ``exact_distinct`` counts distinct values exactly for every column (costlier; by default only
    low-cardinality and near-unique columns are counted exactly). Correlations and missing-value
    co-occurrence cover at most ``max_correlation_columns`` / ``max_missing_columns`` columns, since
    they grow with the square of the column count.
    """
    started = time.perf_counter()
    if bins < 1 or top_k < 1:
        raise ValidationError("bins and top_k must be at least 1")
    all_cols = source.columns
    if columns:
        for c in columns:
            source.column_type(c)  # raises NotFoundError naming the columns there are
        cols = [(c, t) for c, t in all_cols if c in set(columns)]
    else:
        cols = list(all_cols)
    for k in key:
        source.column_type(k)
    if time_column is not None and column_kind(source.column_type(time_column)) != TEMPORAL:
        raise ValidationError(
            f"time_column {time_column!r} is not a date or timestamp column",
            hint=f"its type is {source.column_type(time_column)}",
        )
    kinds = [column_kind(t) for _, t in cols]

    # Columns go in groups of CHUNK_COLUMNS per statement: DuckDB plans a SELECT of thousands of map-valued
    # aggregates (histograms) in more than linear time, while a group reads only its own columns, so the
    # total work stays linear in the column count. A table of up to CHUNK_COLUMNS columns is one group.
    chunks = [list(range(s, min(s + CHUNK_COLUMNS, len(cols)))) for s in range(0, len(cols), CHUNK_COLUMNS)] or [[]]
    correlated = [i for i, kind in enumerate(kinds) if kind == NUMERIC][
        : max_correlation_columns if correlations else 0
    ]
    queries = 0

    # How to sample: when the row count is known in advance (a table's snapshot summary, a staged batch),
    # Bernoulli sampling of the right fraction, which costs less per row than a reservoir; otherwise a
    # reservoir of sample_size rows. A source no larger than the sample is read whole.
    known = source.rows_hint
    seeded = ""
    if known is not None and known <= sample_size:
        sampling, whole = "", True
    elif known is not None:
        # Each row is kept when a hash of its values falls below the fraction: every row is kept with the
        # same probability, the same rows on every run (as with a seeded sample), but read on all cores
        # (DuckDB runs seeded sampling on one thread). Rows with equal values are kept or left together,
        # so when the sampled columns repeat few combinations of values (a handful of categories) the
        # sample would hold a few of them only: then the seeded Bernoulli sample is taken instead.
        threshold = int(sample_size / known * 2**64)
        sampling, whole = f"WHERE hash({{columns}}, {SAMPLE_SEED}) < {threshold}::UBIGINT", False
        seeded = f"USING SAMPLE {100.0 * sample_size / known!r}% (bernoulli, {SAMPLE_SEED})"
    else:
        sampling, whole = f"USING SAMPLE reservoir({int(sample_size)} ROWS) REPEATABLE ({SAMPLE_SEED})", None

    def sample(plan: AggregatePlan, with_sample: str, columns: list[int]) -> dict[Any, Any]:
        nonlocal queries
        if seeded:
            tuples = ", ".join(f"__sample.c{i}" for i in columns)
            plan.add(("s", "spread", columns[0]), f"[count(*), count(DISTINCT hash({tuples}))]")
        got = _run_sample(source, plan, with_sample, _hashed(sampling, cols, columns))
        queries += 1
        if seeded:
            rows, distinct = got.pop(("s", "spread", columns[0])) or (0, 0)
            if not rows or distinct < 0.5 * rows:
                got = _run_sample(source, plan, with_sample, seeded)
                got.pop(("s", "spread", columns[0]), None)
                queries += 1
        return got

    # --- 1. a uniform sample ------------------------------------------------------------------------
    rs: dict[Any, Any] = {}
    for chunk in chunks:
        sampled = [i for i in chunk if kinds[i] != OTHER]
        pairs = correlated if set(correlated) <= set(chunk) else []
        ps, with_sample = _sample_plan(cols, kinds, sampled, pairs, top_k)
        if len(ps):
            rs.update(sample(ps, with_sample, sampled))
    if len(correlated) >= 2 and not set(correlated) <= set(chunks[0]):
        pc, with_sample = _sample_plan(cols, kinds, correlated, correlated, top_k, stats=False)
        rs.update(sample(pc, with_sample, correlated))
    hints = [_SampleHints.read(rs, i, kinds[i], cols[i][1], sample_size, whole) for i in range(len(cols))]

    # --- 2. everything else, exactly, in one statement per group of columns ------------------------
    r: dict[Any, Any] = {}
    with_nulls = [i for i, h in enumerate(hints) if h.has_nulls][:max_missing_columns]
    for n, chunk in enumerate(chunks):
        plan = AggregatePlan()
        if n == 0:
            plan.add("rows", "count(*)")
            for a in range(len(with_nulls)):
                for b in range(a + 1, len(with_nulls)):
                    ia, ib = with_nulls[a], with_nulls[b]
                    x, y = q(cols[ia][0]), q(cols[ib][0])
                    plan.add(("joint_null", ia, ib), f"count_if({x} IS NULL AND {y} IS NULL)")
        for i in chunk:
            _exact(plan, i, q(cols[i][0]), cols[i][1], kinds[i], hints[i], bins, exact_distinct)
        r.update(plan.run(source))
        queries += 1
    queries += _complete_values(source, r, cols, kinds, hints, bins, exact_distinct)
    # Distinct counts (duplicate rows and keys, key candidates) group by value in their own statement:
    # DuckDB counts groups several times faster than it runs DISTINCT aggregates beside others.
    groups: dict[Any, tuple[str, str]] = {}
    if key:
        groups["distinct_keys"] = (", ".join(q(k) for k in key), "TRUE")
    # Text columns with many values of a source read whole: their top values and distinct count exactly,
    # by grouped counts in the same statement (approx_top_k's candidates can miss the most frequent ones).
    tops: dict[Any, str] = {
        (i, "top_exact"): q(name) for i, (name, _) in enumerate(cols) if _exact_top(kinds[i], hints[i])
    }
    for i, (name, dtype) in enumerate(cols):
        if _wants_distinct(kinds[i], dtype, hints[i], exact_distinct) and (i, "top_exact") not in tops:
            x = q(name)
            groups[(i, "distinct")] = (x if exact_distinct else f"hash({x})", f"{x} IS NOT NULL")
    if groups or tops:
        r.update(count_groups(source, groups, tops, top_k))
        queries += 1
    # A duplicate row repeats every column's value, so a column without nulls whose values are all
    # distinct proves there are none; only without such a column are whole rows hashed and counted.
    total = _int(r["rows"])
    unique_column = any(
        _int(r.get((i, "distinct"), -1)) == total == _int(r.get((i, "non_null"), -1)) for i in range(len(cols))
    )
    if cols and unique_column:
        r["distinct_rows"] = total
    elif cols:
        r.update(count_groups(source, {"distinct_rows": (f"hash({', '.join(q(c) for c, _ in cols)})", "TRUE")}))
        queries += 1
    rows = _int(r["rows"])
    profiles = [
        _column(r, rs, i, name, dtype, kinds[i], hints[i], rows, bins, top_k) for i, (name, dtype) in enumerate(cols)
    ]
    with_nulls = [i for i in with_nulls if profiles[i].nulls]

    names = [c for c, _ in cols]
    corr = None
    idx = [i for i in correlated if (profiles[i].std or 0) > 0]
    if len(idx) >= 2:
        corr = Matrix(
            [names[i] for i in idx],
            [[1.0 if a == b else _num(rs.get(("s", "corr", min(a, b), max(a, b)))) for b in idx] for a in idx],
        )
    missing = None
    if with_nulls:
        missing = Matrix(
            [names[i] for i in with_nulls],
            [
                [
                    float(profiles[a].nulls) if a == b else float(_int(r.get(("joint_null", min(a, b), max(a, b)))))
                    for b in with_nulls
                ]
                for a in with_nulls
            ],
        )
    distinct_rows = _int(r.get("distinct_rows"))
    duplicate_keys = None
    if key:
        duplicate_keys = rows - _int(r["distinct_keys"])
    return Profile(
        source=source.label,
        table=source.table,
        snapshot_id=source.snapshot_id,
        rows=rows,
        columns=profiles,
        duplicate_rows=rows - distinct_rows if cols else 0,
        key=list(key),
        duplicate_keys=duplicate_keys,
        freshness=_freshness(profiles, time_column),
        correlations=corr,
        missing=missing,
        queries=queries,
        seconds=time.perf_counter() - started,
    )


def _run_sample(source: Source, plan: AggregatePlan, with_sample: str, sampling: str) -> dict[Any, Any]:
    """The sample plan over the rows ``sampling`` keeps. On a partitioned engine, each partition keeps its
    rows with the same row-local clause (the hash filter keeps the very rows the DuckDB engine keeps), and the
    driver computes the plan over them, with the same SQL."""
    if source.partitions is None:
        return run_together(
            source, [(plan, "__sample, __medians")], with_sample.format(src=source.from_clause(), sampling=sampling)
        )
    from mlake.quality.partitioned import check_statement, local_source, sample_rows

    statement = with_sample.format(src=source.from_clause(), sampling=sampling)
    check_statement(source, f"{statement} {plan.sql('__sample, __medians')}")
    rows = sample_rows(source, sampling, "*")
    local = with_sample.format(src="__sampled AS __src", sampling="")
    return run_together(source, [(plan, "__sample, __medians")], local, local_source(source, "__sampled", rows))


def _as_double(x: str) -> str:
    return f"{x}::DOUBLE"


def _finite(x: str, dtype: str, value: str | None = None) -> str:
    """``value`` (default ``x``) where ``x`` is finite, else NULL: NaN and infinities leave the statistics.

    A CASE expression rather than an aggregate FILTER clause, which DuckDB evaluates several times slower.
    """
    value = value or x
    return f"CASE WHEN isfinite({x}) THEN {value} END" if is_float(dtype) else value


@dataclass
class _SampleHints:
    """What the sample says about a column, to plan the exact pass."""

    rows: int = 0
    non_null: int = 0
    distinct: int = 0
    mean: float | None = None
    quantiles: list[float | None] = field(default_factory=list)
    mad: float | None = None
    low: float | None = None  # histogram range
    high: float | None = None
    candidates: dict[int, Any] = field(default_factory=dict)  # top-value candidates by hash
    values: dict[int, Any] | None = None  # a low-cardinality column's values in the sample, by hash
    patterns: dict[int, int] = field(default_factory=dict)
    whole: bool = False  # the sample is the whole source

    @property
    def quartiles(self) -> tuple[float, float, float] | None:
        """(q1, median, q3) from the sample, when known."""
        q = [v for v in self.quantiles if v is not None]
        if len(self.quantiles) != len(QUANTILES) or len(q) != len(QUANTILES):
            return None
        return float(q[2]), float(q[3]), float(q[4])

    @property
    def has_nulls(self) -> bool:
        return self.non_null < self.rows

    @property
    def low_cardinality(self) -> bool:
        """At most LOW_CARDINALITY distinct values in the sample (whose values are then known)."""
        return self.values is not None

    @property
    def near_unique(self) -> bool:
        return self.non_null > 0 and self.distinct >= NEAR_UNIQUE * self.non_null

    @classmethod
    def read(cls, rs: dict[Any, Any], i: int, kind: str, dtype: str, size: int, whole: bool | None) -> _SampleHints:
        if ("s", i, "rows") not in rs:
            return cls(whole=False)
        h = cls(rows=_int(rs[("s", i, "rows")]), non_null=_int(rs[("s", i, "non_null")]))
        h.distinct = _int(rs[("s", i, "distinct")])
        h.whole = h.rows < size if whole is None else whole
        listed = rs.get(("s", i, "values"))
        # Few values (and, for a sample, not all distinct, as in a small sample of a key): counted by value.
        if listed is not None and (h.whole or len(listed) < NEAR_UNIQUE * h.non_null):
            h.values = {int(e["h"]): e["v"] for e in listed}
            h.distinct = len(h.values)
        if kind in (NUMERIC, TEMPORAL):
            # the central range of a sample; all of it when the sample is the whole source
            edges = rs.get(("s", i, "range")) if kind == NUMERIC and not h.whole else rs[("s", i, "minmax")]
            edges = edges or [None, None]
            h.low, h.high = _num(edges[0]), _num(edges[1])
        if kind == NUMERIC:
            h.mean = _num(rs[("s", i, "mean")])
            h.quantiles = list(rs[("s", i, "quantiles")] or [])
            h.mad = _num(rs[("s", i, "mad")])
        elif kind == STRING:
            h.candidates = {int(e["h"]): e["v"] for e in (rs[("s", i, "top_candidates")] or []) if e["v"] is not None}
            h.patterns = {int(k): int(v) for k, v in (rs[("s", i, "patterns")] or {}).items() if k}
        return h


def _sample_plan(
    cols: list[tuple[str, str]],
    kinds: list[str],
    sampled: list[int],
    correlated: list[int],
    top_k: int,
    stats: bool = True,
) -> tuple[AggregatePlan, str]:
    """Aggregates over a uniform reservoir sample (a materialized CTE, read for the medians, then for the
    deviations from them): counts that plan the exact pass, quantiles and MAD of numbers, histogram
    ranges, top-value candidates and patterns of text, and Pearson correlations (standard error about
    (1 − r²)/√n: 0.003 at n = 100,000). ``{src}`` and ``{size}`` are filled in by the caller."""
    plan = AggregatePlan("s")
    if not sampled:
        return plan, ""
    names = ", ".join(f"{q(cols[i][0])} AS c{i}" for i in sampled)
    medians = []
    qs = ", ".join(repr(v) for v in QUANTILES)
    for i in sampled if stats else []:
        x, dtype = f"__sample.c{i}", cols[i][1]
        plan.add(("s", i, "rows"), "count(*)")
        plan.add(("s", i, "non_null"), f"count({x})")
        plan.add(("s", i, "distinct"), f"approx_count_distinct({x})")  # ±2% is plenty to plan with
        if kinds[i] in (NUMERIC, STRING, TEMPORAL):
            # The sample's values with their hashes when there are few: the exact pass counts them by hash.
            values = f"list_distinct(list({x}))"
            plan.add(
                ("s", i, "values"),
                f"CASE WHEN len({values}) <= {LOW_CARDINALITY} THEN {_with_hashes(values)} END",
            )
        if kinds[i] == NUMERIC:
            v = _finite(x, dtype, _as_double(x))
            medians.append(f"median({v}) AS m{i}")
            plan.add(("s", i, "mean"), f"avg({v})")
            plan.add(("s", i, "quantiles"), f"quantile_cont({v}, [{qs}])")
            plan.add(("s", i, "mad"), f"median(abs({v} - __medians.m{i}))")
            plan.add(("s", i, "range"), f"quantile_cont({v}, [{HISTOGRAM_RANGE[0]}, {HISTOGRAM_RANGE[1]}])")
            plan.add(("s", i, "minmax"), f"[min({v}), max({v})]")
        elif kinds[i] == TEMPORAL:
            plan.add(("s", i, "minmax"), f"[min(epoch({x})), max(epoch({x}))]")
        elif kinds[i] == STRING:
            plan.add(("s", i, "top_candidates"), _with_hashes(_top_of_sample(x, top_k)))
            plan.add(("s", i, "patterns"), f"histogram({pattern_case(x)})")
    for a, ia in enumerate(correlated):
        for ib in correlated[a + 1 :]:
            xa = _finite(f"__sample.c{ia}", cols[ia][1], _as_double(f"__sample.c{ia}"))
            xb = _finite(f"__sample.c{ib}", cols[ib][1], _as_double(f"__sample.c{ib}"))
            plan.add(("s", "corr", ia, ib), f"corr({xa}, {xb})")
    medians_cte = (
        f"__medians AS (SELECT {', '.join(medians)} FROM __sample)" if medians else "__medians AS (SELECT 1 AS m)"
    )
    with_clause = f"WITH __sample AS MATERIALIZED (SELECT {names} FROM {{src}} {{sampling}}), {medians_cte}"
    return plan, with_clause


def _top_of_sample(x: str, top_k: int) -> str:
    """The ``top_k`` most frequent values of the sample, exactly, ties by value: the same candidates
    whatever order the sample's rows arrive in (``approx_top_k`` depends on it, so DuckDB's threads and a
    partitioned engine would each pick other candidates for a column with many values seen a few times)."""
    ranked = (
        f"list_sort(list_transform(map_entries(histogram({x})), lambda e: {{'c': -(e.value::BIGINT), 'v': e.key}}))"
    )
    return f"list_transform(list_slice({ranked}, 1, {int(top_k)}), lambda e: e.v)"


def _hashed(sampling: str, cols: list[tuple[str, str]], sampled: list[int]) -> str:
    """The sampling clause with the columns whose values choose a row filled in."""
    return sampling.replace("{columns}", ", ".join(q(cols[i][0]) for i in sampled))


def _complete_values(
    source: Source,
    r: dict[Any, Any],
    cols: list[tuple[str, str]],
    kinds: list[str],
    hints: list[_SampleHints],
    bins: int,
    exact_distinct: bool,
) -> int:
    """Turn the exact pass's counts by hash of low-cardinality columns into value counts; return the number of
    statements this took (none unless the sample missed values).

    A value the sample did not see shows as non-null values left over. Those are counted by value in one
    statement (a GROUP BY per such column). A column with more than UNSEEN_VALUES of them was not of low
    cardinality after all: it gets the usual exact aggregates instead, in one more statement.
    """
    short: list[int] = []
    for i, h in enumerate(hints):
        if (i, "value_counts") not in r or h.values is None:
            continue
        known = h.values
        counted = r.pop((i, "value_counts")) or {}
        values = {known[k]: int(c) for k, c in counted.items() if k in known and c}
        r[(i, "values")] = values
        if sum(values.values()) < _int(r[(i, "non_null")]):
            short.append(i)
    if not short:
        return 0
    parts = []
    for i in short:
        x, known = q(cols[i][0]), hints[i].values or {}
        missed = f"{x} IS NOT NULL AND NOT list_contains({_hash_list(known)}, hash({x}))"
        grouped = f"SELECT {x} AS v, count(*) AS c FROM {source.from_clause()} WHERE {missed} GROUP BY 1"
        parts.append(f"(SELECT list({{'v': v, 'c': c}}) FROM ({grouped} LIMIT {UNSEEN_VALUES + 1})) AS u{i}")
    if source.partitions is not None:
        from mlake.quality.partitioned import check_statement, value_counts

        check_statement(source, f"SELECT {', '.join(parts)}")
        counted = {
            i: (
                q(cols[i][0]),
                f"{q(cols[i][0])} IS NOT NULL AND NOT list_contains({_hash_list(hints[i].values or {})}, "
                f"hash({q(cols[i][0])}))",
            )
            for i in short
        }
        by_column = value_counts(source, counted, UNSEEN_VALUES + 1)
        rows = [tuple(by_column[i] for i in short)]
    else:
        rows = source.fetch(f"SELECT {', '.join(parts)}")
    statements = 1
    again = AggregatePlan()
    for i, found in zip(short, rows[0], strict=True):
        found = found or []
        if len(found) <= UNSEEN_VALUES:
            for e in found:
                r[(i, "values")][e["v"]] = int(e["c"])
            continue
        hints[i].values = None  # many values the sample missed: not of low cardinality after all
        del r[(i, "values")], r[(i, "non_null")]
        _exact(again, i, q(cols[i][0]), cols[i][1], kinds[i], hints[i], bins, exact_distinct)
    if len(again):
        r.update(again.run(source))
        statements += 1
    return statements


def _with_hashes(values: str) -> str:
    """A list of values as a list of ``{v: value, h: hash(value)}``, so that the exact pass can count them by
    hash and the counts be read back as values."""
    return f"list_transform({values}, lambda v: {{'v': v, 'h': hash(v)}})"


def _hash_list(by_hash: dict[int, Any]) -> str:
    return f"[{', '.join(str(k) for k in by_hash)}]::UBIGINT[]"


def _bins(bin_expr: str, bins: int) -> str:
    """Counts of each bin (-1 .. bins). ``histogram_exact`` with the bins listed, not ``histogram``: DuckDB
    plans ``histogram`` beside other aggregates as a GROUP BY of its own over a materialized copy of the input,
    which holds the whole scan in memory (3.5 GB for 10 million rows of 20 columns)."""
    return f"histogram_exact({bin_expr}, [{', '.join(str(b) for b in range(-1, bins + 1))}])"


def _bin_expr(v: str, guard: str, low: float, high: float, bins: int) -> str:
    """The bin of each value: -1 below ``low``, ``bins`` above ``high``, else 0 .. bins-1 (last bin closed)."""
    width = (high - low) / bins
    inner = f"least(floor(({v} - {low!r}) / {width!r}), {bins - 1})::INTEGER"
    # least() skips NULLs, so a NULL or NaN must never reach it: the guard comes first.
    placed = f"CASE WHEN {v} < {low!r} THEN -1 WHEN {v} > {high!r} THEN {bins} ELSE {inner} END"
    return f"CASE WHEN {guard} THEN {placed} END"


def _exact_top(kind: str, h: _SampleHints) -> bool:
    """Whether a column's top values are counted exactly by grouping (a text column of a source read
    whole, with more values than get exact value counts)."""
    return kind == STRING and h.whole and h.non_null > 0 and not h.low_cardinality


def _wants_distinct(kind: str, dtype: str, h: _SampleHints, exact_distinct: bool) -> bool:
    """Count distinct values exactly: all columns when asked, else key candidates.

    Key candidates are integer and text columns that look unique in the sample. Their distinct 64-bit
    hashes are counted, which is exact unless two values collide (probability about n²/2⁶⁵: 3·10⁻⁶ at
    ten million rows) and holds far less memory than the values. Low-cardinality columns get exact
    counts from their value counts anyway.
    """
    if kind in (BOOLEAN,) or (h.non_null and h.low_cardinality and kind in (NUMERIC, STRING, TEMPORAL)):
        return False
    if exact_distinct:
        return True
    return h.near_unique and kind in (NUMERIC, STRING) and not is_float(dtype)


def _exact(
    p: AggregatePlan, i: int, x: str, dtype: str, kind: str, h: _SampleHints, bins: int, exact_distinct: bool
) -> None:
    """The exact aggregates of one column, planned with what the sample showed."""
    if kind in (NUMERIC, STRING, TEMPORAL) and h.non_null and h.low_cardinality and h.values is not None:
        # Exact value counts: for a column with few values they hold everything else (non-null and distinct
        # counts, top values, min/max, moments, histogram, lengths, patterns), computed from them in Python.
        # Counted by hash against the values the sample saw; values it missed are what the non-null count
        # leaves over, counted by value afterwards (see _complete_values).
        p.add((i, "non_null"), f"count({x})")
        p.add((i, "value_counts"), f"histogram_exact(hash({x}), {_hash_list(h.values)})")
        return
    p.add((i, "non_null"), f"count({x})")
    if kind == BOOLEAN:
        p.add((i, "true_count"), f"count_if({x})")
        return
    if not _wants_distinct(kind, dtype, h, exact_distinct):  # an exact count comes from the grouped counts
        p.add((i, "approx_distinct"), f"approx_count_distinct({x})")
    if kind == NUMERIC:
        v = _as_double(x)
        if is_float(dtype):
            p.add((i, "nan"), f"count_if(isnan({x}))")
            p.add((i, "infinite"), f"count_if(isinf({x}))")
        raw = _finite(x, dtype)
        p.add((i, "min"), f"min({raw})")
        p.add((i, "max"), f"max({raw})")
        p.add((i, "zeros"), f"count_if({x} = 0)")
        p.add((i, "negatives"), f"count_if({x} < 0)")
        # Power sums of deviations from the sample's mean: the exact mean and central moments follow
        # without cancellation, since that shift is close to the mean.
        shift = h.mean if h.mean is not None else 0.0
        d = p.derive(f"__d{i}", _finite(x, dtype, f"({v} - {shift!r})"))
        p.add((i, "s1"), f"sum({d})")
        p.add((i, "s2"), f"sum({d} * {d})")
        p.add((i, "s3"), f"sum({d} * {d} * {d})")
        p.add((i, "s4"), f"sum(({d} * {d}) * ({d} * {d}))")
        if h.low is not None and h.high is not None and h.high > h.low:
            guard = f"isfinite({x})" if is_float(dtype) else f"{x} IS NOT NULL"
            p.add((i, "bins"), _bins(_bin_expr(v, guard, h.low, h.high, bins), bins))
        quartiles = h.quartiles
        if quartiles is not None:
            q1, median, q3 = quartiles
            iqr = q3 - q1
            p.add((i, "iqr"), f"count_if({v} < {q1 - 1.5 * iqr!r} OR {v} > {q3 + 1.5 * iqr!r})")
            if h.mad:
                p.add((i, "robust"), f"count_if(abs({v} - {median!r}) > {ROBUST_Z * MAD_TO_STD * h.mad!r})")
    elif kind == STRING:
        n = p.derive(f"__len{i}", f"length({x})")
        p.add((i, "empty"), f"count_if({n} = 0)")
        p.add((i, "whitespace"), f"count_if(starts_with({x}, ' ') OR ends_with({x}, ' '))")
        p.add((i, "length_min"), f"min({n})")
        p.add((i, "length_max"), f"max({n})")
        p.add((i, "length_mean"), f"avg({n})")
        if not h.low_cardinality and not h.near_unique and h.candidates and not _exact_top(kind, h):
            # Counted by 64-bit hash: cheaper than comparing strings, and exact unless a value's hash collides
            # with a candidate's (probability about rows × candidates / 2⁶⁴).
            p.add((i, "top"), f"histogram_exact(hash({x}), {_hash_list(h.candidates)})")
        if not h.whole:
            for code, (cheap, regex) in enumerate(PATTERNS.values(), start=1):
                if h.patterns.get(code):  # seen in the sample: count exactly
                    cond = f"{cheap.format(x=x)} AND regexp_full_match({x}, {quote_literal(regex)})"
                    p.add((i, "pattern", code), f"count_if({cond})")
    elif kind == TEMPORAL:
        p.add((i, "min"), f"min({x})")
        p.add((i, "max"), f"max({x})")
        if h.low is not None and h.high is not None and h.high > h.low:
            p.add((i, "bins"), _bins(_bin_expr(f"epoch({x})", f"{x} IS NOT NULL", h.low, h.high, bins), bins))
    elif kind == BINARY:
        n = p.derive(f"__len{i}", f"octet_length({x})")
        p.add((i, "length_min"), f"min({n})")
        p.add((i, "length_max"), f"max({n})")
        p.add((i, "length_mean"), f"avg({n})")


def moments(n: int, m2: float, m3: float, m4: float) -> tuple[float | None, float | None, float | None]:
    """Sample standard deviation, skewness and excess kurtosis (bias-corrected, as DuckDB, Excel and
    ``scipy.stats`` with ``bias=False`` give them) from central moment sums."""
    std = math.sqrt(m2 / (n - 1)) if n > 1 else None
    if n < 3 or (m2 / n) ** 2 == 0:  # no spread, or one so small that its powers underflow
        return std, None, None
    g1 = (m3 / n) / (m2 / n) ** 1.5
    skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    if n < 4:
        return std, skew, None
    g2 = (m4 / n) / (m2 / n) ** 2 - 3
    kurt = ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
    return std, skew, kurt


def _epoch(value: datetime | date) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()


def _column(
    r: dict[Any, Any],
    rs: dict[Any, Any],
    i: int,
    name: str,
    dtype: str,
    kind: str,
    h: _SampleHints,
    rows: int,
    bins: int,
    top_k: int,
) -> ColumnProfile:
    """A column's profile from the exact pass ``r`` and the sample's hints."""
    if (i, "values") in r:
        r[(i, "non_null")] = sum(int(c) for c in (r[(i, "values")] or {}).values())
    non_null = _int(r[(i, "non_null")])
    cp = ColumnProfile(name=name, type=dtype, kind=kind, rows=rows, non_null=non_null, nulls=rows - non_null)
    if kind == BOOLEAN:
        trues = _int(r[(i, "true_count")])
        cp.true_count = trues
        counts = [(v, c) for v, c in ((True, trues), (False, non_null - trues)) if c]
        cp.top_values, cp.top_values_exact = sorted(counts, key=lambda vc: -vc[1]), True
        cp.distinct, cp.distinct_exact = len(counts), True
        return cp
    if (i, "values") in r:
        _from_values(cp, r[(i, "values")] or {}, h, bins, top_k)
        return cp
    cp.distinct = min(_int(r.get((i, "approx_distinct"))), non_null)
    if (i, "distinct") in r:
        cp.distinct, cp.distinct_exact = _int(r[(i, "distinct")]), True
    if non_null == 0:
        cp.distinct, cp.distinct_exact = 0, True
    if (i, "top") in r:
        counted = {h.candidates[k]: int(c) for k, c in (r[(i, "top")] or {}).items() if k in h.candidates and c}
        ranked = sorted(counted.items(), key=lambda kv: (-kv[1], str(kv[0])))
        cp.top_values = [(v, int(c)) for v, c in ranked[:top_k]]
    if (i, "top_exact") in r:
        cp.distinct, top = r[(i, "top_exact")]
        cp.distinct_exact = cp.top_values_exact = True
        # values seen once are no "top" when there are more of them than places (a near-unique column)
        cp.top_values = top if cp.distinct <= top_k else [(v, c) for v, c in top if c > 1]
    if kind == NUMERIC:
        cp.min, cp.max = r[(i, "min")], r[(i, "max")]
        if isinstance(cp.min, Decimal) or isinstance(cp.max, Decimal):
            cp.min = None if cp.min is None else float(cp.min)
            cp.max = None if cp.max is None else float(cp.max)
        if cp.kind == NUMERIC and "nan" in {k[1] for k in r if isinstance(k, tuple) and k[0] == i}:
            cp.nan, cp.infinite = _int(r[(i, "nan")]), _int(r[(i, "infinite")])
        cp.zeros, cp.negatives = _int(r[(i, "zeros")]), _int(r[(i, "negatives")])
        finite = non_null - (cp.nan or 0) - (cp.infinite or 0)
        if finite:
            shift = h.mean if h.mean is not None else 0.0
            s1, s2, s3, s4 = (float(r[(i, k)] or 0.0) for k in ("s1", "s2", "s3", "s4"))
            delta = s1 / finite
            cp.mean = shift + delta
            m2 = max(s2 - finite * delta**2, 0.0)
            m3 = s3 - 3 * delta * s2 + 3 * delta**2 * s1 - finite * delta**3
            m4 = s4 - 4 * delta * s3 + 6 * delta**2 * s2 - 4 * delta**3 * s1 + finite * delta**4
            cp.std, cp.skewness, cp.kurtosis = moments(finite, m2, m3, m4)
        cp.quantiles = {str(k): _num(v) for k, v in zip(QUANTILES, h.quantiles or [None] * len(QUANTILES), strict=True)}
        cp.mad = h.mad
        if finite:
            cp.outliers_iqr = _int(r.get((i, "iqr")))
            cp.outliers_robust = _int(r[(i, "robust")]) if (i, "robust") in r else (0 if h.mad is not None else None)
        _histogram(
            cp,
            r,
            i,
            h,
            bins,
            float(cp.min) if cp.min is not None else None,
            float(cp.max) if cp.max is not None else None,
            finite,
        )
    elif kind == STRING:
        cp.empty, cp.whitespace = _int(r[(i, "empty")]), _int(r[(i, "whitespace")])
        cp.length_min, cp.length_max = r[(i, "length_min")], r[(i, "length_max")]
        cp.length_mean = _num(r[(i, "length_mean")])
        cp.patterns = {
            pname: _int(r[(i, "pattern", code)])
            if (i, "pattern", code) in r
            else (h.patterns.get(code, 0) if h.whole else 0)
            for code, pname in enumerate(PATTERN_NAMES, start=1)
        }
    elif kind == TEMPORAL:
        cp.min, cp.max = r[(i, "min")], r[(i, "max")]
        if cp.min is not None and cp.max is not None:
            _histogram(cp, r, i, h, bins, _epoch(cp.min), _epoch(cp.max), non_null)
    elif kind == BINARY:
        cp.length_min, cp.length_max = r[(i, "length_min")], r[(i, "length_max")]
        cp.length_mean = _num(r[(i, "length_mean")])
    return cp


def _from_values(cp: ColumnProfile, counts: dict[Any, int], h: _SampleHints, bins: int, top_k: int) -> None:
    """Every metric of a low-cardinality column from its exact value counts (same definitions as SQL)."""
    items = [(k, int(c)) for k, c in counts.items()]
    cp.distinct, cp.distinct_exact = len(items), True
    ranked = sorted(items, key=lambda kv: (-kv[1], str(kv[0])))
    cp.top_values, cp.top_values_exact = ranked[:top_k], True
    if cp.kind == NUMERIC:
        nums = [(float(k), c) for k, c in items]
        if is_float(cp.type):
            cp.nan = sum(c for v, c in nums if math.isnan(v))
            cp.infinite = sum(c for v, c in nums if math.isinf(v))
        finite = [(v, c) for v, c in nums if math.isfinite(v)]
        keys = [k for k, _ in items if math.isfinite(float(k))]
        cp.zeros = sum(c for v, c in nums if v == 0)
        cp.negatives = sum(c for v, c in nums if v < 0)
        n = sum(c for _, c in finite)
        if not n:
            return
        cp.min, cp.max = min(keys), max(keys)
        if isinstance(cp.min, Decimal) or isinstance(cp.max, Decimal):
            cp.min, cp.max = float(cp.min), float(cp.max)
        cp.mean = math.fsum(v * c for v, c in finite) / n
        m2, m3, m4 = (math.fsum(c * (v - cp.mean) ** k for v, c in finite) for k in (2, 3, 4))
        cp.std, cp.skewness, cp.kurtosis = moments(n, m2, m3, m4)
        cp.quantiles = {str(k): _num(v) for k, v in zip(QUANTILES, h.quantiles or [None] * len(QUANTILES), strict=True)}
        cp.mad = h.mad
        quartiles = h.quartiles
        if quartiles is not None:
            q1, median, q3 = quartiles
            iqr = q3 - q1
            cp.outliers_iqr = sum(c for v, c in finite if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr)
            if h.mad:
                cp.outliers_robust = sum(c for v, c in finite if abs(v - median) > ROBUST_Z * MAD_TO_STD * h.mad)
            elif h.mad is not None:
                cp.outliers_robust = 0
        placed: dict[int, int] = {}
        if h.low is not None and h.high is not None and h.high > h.low:
            width = (h.high - h.low) / bins
            for v, c in finite:
                b = -1 if v < h.low else bins if v > h.high else min(math.floor((v - h.low) / width), bins - 1)
                placed[b] = placed.get(b, 0) + c
        _histogram(cp, {(0, "bins"): placed} if placed else {}, 0, h, bins, float(cp.min), float(cp.max), n)
    elif cp.kind == STRING:
        texts = [(str(k), c) for k, c in items]
        cp.empty = sum(c for t, c in texts if t == "")
        cp.whitespace = sum(c for t, c in texts if t.startswith(" ") or t.endswith(" "))
        if texts:
            cp.length_min = min(len(t) for t, _ in texts)
            cp.length_max = max(len(t) for t, _ in texts)
            cp.length_mean = math.fsum(len(t) * c for t, c in texts) / sum(c for _, c in texts)
        cp.patterns = {
            name: sum(c for t, c in texts if re.fullmatch(regex, t, re.ASCII)) for name, (_, regex) in PATTERNS.items()
        }
    elif cp.kind == TEMPORAL and items:
        keys = [k for k, _ in items]
        cp.min, cp.max = min(keys), max(keys)
        placed = {}
        if h.low is not None and h.high is not None and h.high > h.low:
            width = (h.high - h.low) / bins
            for k, c in items:
                v = _epoch(k)
                b = -1 if v < h.low else bins if v > h.high else min(math.floor((v - h.low) / width), bins - 1)
                placed[b] = placed.get(b, 0) + c
        total = sum(c for _, c in items)
        _histogram(cp, {(0, "bins"): placed} if placed else {}, 0, h, bins, _epoch(cp.min), _epoch(cp.max), total)


def _histogram(
    cp: ColumnProfile, r: dict[Any, Any], i: int, h: _SampleHints, bins: int, lo: float | None, hi: float | None, n: int
) -> None:
    """Bins over the sample's central range, plus a bin below and one above it when values fall there
    (so that a few outliers do not squeeze the rest of the data into one bar)."""
    if lo is None or hi is None or not n:
        return
    if (i, "bins") not in r or h.low is None or h.high is None:
        cp.histogram = [HistogramBin(lo, hi, n)]
        return
    counts = r[(i, "bins")] or {}
    width = (h.high - h.low) / bins
    out = []
    if counts.get(-1):
        out.append(HistogramBin(lo, h.low, int(counts[-1])))
    out += [HistogramBin(h.low + b * width, h.low + (b + 1) * width, int(counts.get(b, 0))) for b in range(bins)]
    if counts.get(bins):
        out.append(HistogramBin(h.high, hi, int(counts[bins])))
    cp.histogram = out


def _freshness(profiles: list[ColumnProfile], time_column: str | None) -> Freshness | None:
    temporal = [c for c in profiles if c.kind == TEMPORAL and c.max is not None]
    if time_column is not None:
        temporal = [c for c in temporal if c.name == time_column]
        if not temporal:
            return Freshness(time_column, None, None)
    if not temporal:
        return None
    newest = max(temporal, key=lambda c: _epoch(c.max))
    age = datetime.now(UTC).timestamp() - _epoch(newest.max)
    return Freshness(newest.name, newest.max, age)


__all__ = [
    "BINARY",
    "BOOLEAN",
    "NUMERIC",
    "OTHER",
    "PATTERNS",
    "QUANTILES",
    "STRING",
    "TEMPORAL",
    "ColumnProfile",
    "Freshness",
    "HistogramBin",
    "Matrix",
    "Profile",
    "moments",
    "pattern_case",
    "profile",
]
