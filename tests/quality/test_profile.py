"""Every profile metric against a straightforward reference computation on random data."""

from __future__ import annotations

import math
import os
import re
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from mlake.errors import NotFoundError, ValidationError
from mlake.quality.profile import MAD_TO_STD, PATTERNS, ROBUST_Z, profile

# MLAKE_HYPOTHESIS_EXAMPLES=300 searches harder (the suite keeps 30 to stay fast).
EXAMPLES = int(os.environ.get("MLAKE_HYPOTHESIS_EXAMPLES", "30"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ints = st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=1, max_size=60)
floats = st.lists(
    st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([math.nan, math.inf, -math.inf, 0.0])),
    min_size=1,
    max_size=60,
)
pattern_values = st.sampled_from(
    [
        "a@b.com",
        "first.last+tag@mail.example.org",
        "not-an-email@",
        "http://x.org/a?b=1",
        "https://example.com",
        "ftp://files.example.com/f.txt",
        "htp://nope",
        "123e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-42661417400",
        "2025-01-31",
        "2025-01-31 10:00:00",
        "2025-01-31T10:00:00.123Z",
        "2025-1-31",
        "42",
        "-3.5",
        " 7 ",
        "1e10",
        ".5",
        "4.",
        "",
        " padded",
        "tail ",
        "plain",
        "ünïcödé",
    ]
)
texts = st.lists(st.one_of(st.none(), pattern_values, st.text(max_size=8)), min_size=1, max_size=60)


def finite(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


@SETTINGS
@given(values=ints)
def test_integer_metrics_match_reference(sql_source, values):
    p = profile(sql_source(pa.table({"x": pa.array(values, pa.int64())})))
    c = p["x"]
    present = [v for v in values if v is not None]
    assert p.rows == len(values)
    assert c.nulls == values.count(None) and c.non_null == len(present)
    if not present:
        assert c.min is None and c.distinct == 0
        return
    assert c.min == min(present) and c.max == max(present)
    assert c.mean == pytest.approx(statistics.fmean(present))
    if len(present) > 1:
        assert c.std == pytest.approx(statistics.stdev(present), rel=1e-9, abs=1e-9)
    assert c.zeros == present.count(0)
    assert c.negatives == sum(v < 0 for v in present)
    assert c.distinct == len(set(present)) and c.distinct_exact
    counts = Counter(present)
    assert dict(c.top_values) == {v: n for v, n in c.top_values if counts[v] == n}
    assert [n for _, n in c.top_values] == sorted(counts.values(), reverse=True)[: len(c.top_values)]
    # Quantiles are exact (linear interpolation) when the data fits in the sample.
    for q, got in c.quantiles.items():
        assert got == pytest.approx(float(np.quantile(present, float(q))), abs=1e-9)
    median = float(np.median(present))
    mad = float(np.median(np.abs(np.array(present) - median)))
    assert c.mad == pytest.approx(mad)
    q1, q3 = np.quantile(present, [0.25, 0.75])
    iqr = q3 - q1
    assert c.outliers_iqr == sum(v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr for v in present)
    if mad:
        assert c.outliers_robust == sum(abs(v - median) > ROBUST_Z * MAD_TO_STD * mad for v in present)
    if len(present) > 2 and c.std:
        assert c.skewness == pytest.approx(stats.skew(present, bias=False), rel=1e-6, abs=1e-9)
    if len(present) > 3 and c.std:
        assert c.kurtosis == pytest.approx(stats.kurtosis(present, bias=False), rel=1e-6, abs=1e-9)
    assert sum(b.count for b in c.histogram) == len(present)


@SETTINGS
@given(values=floats)
def test_float_metrics_ignore_nan_and_infinity(sql_source, values):
    p = profile(sql_source(pa.table({"x": pa.array(values, pa.float64())})))
    c = p["x"]
    present = [v for v in values if v is not None]
    ok = finite(values)
    assert c.nan == sum(math.isnan(v) for v in present)
    assert c.infinite == sum(math.isinf(v) for v in present)
    assert c.zeros == sum(v == 0 for v in present)
    assert c.negatives == sum(v < 0 for v in present)
    if ok:
        assert c.min == min(ok) and c.max == max(ok)
        assert c.mean == pytest.approx(statistics.fmean(ok), rel=1e-9, abs=1e-6)
        assert sum(b.count for b in c.histogram) == len(ok)
        for b in c.histogram:  # each bin holds values within its edges (up to rounding at the edges)
            tol = 1e-9 * max(1.0, abs(b.low), abs(b.high))
            assert b.count <= sum(b.low - tol <= v <= b.high + tol for v in ok)
    else:
        assert c.mean is None


@SETTINGS
@given(values=texts)
def test_string_metrics_match_reference(sql_source, values):
    p = profile(sql_source(pa.table({"s": pa.array(values, pa.string())})))
    c = p["s"]
    present = [v for v in values if v is not None]
    assert c.nulls == values.count(None)
    assert c.empty == present.count("")
    assert c.whitespace == sum(v != v.strip(" ") for v in present)
    if present:
        assert c.length_min == min(map(len, present)) and c.length_max == max(map(len, present))
        assert c.length_mean == pytest.approx(statistics.fmean(map(len, present)))
    for name, (_, regex) in PATTERNS.items():
        assert c.patterns[name] == sum(bool(re.fullmatch(regex, v, re.ASCII)) for v in present), name
    counts = Counter(present)
    assert c.distinct == len(counts)
    for value, n in c.top_values:
        assert counts[value] == n


def test_patterns_are_mutually_exclusive():
    samples = ["a@b.com", "http://a@b.com", "2025-01-01", "12345678-1234-1234-1234-123456789012", "2025", "1e5"]
    for s in samples:
        hits = [n for n, (_, r) in PATTERNS.items() if re.fullmatch(r, s, re.ASCII)]
        assert len(hits) <= 1, (s, hits)


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(st.sampled_from([1, 2, 3, None]), st.sampled_from(["a", "b", None]), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_table_metrics_match_reference(sql_source, rows):
    data = pa.table(
        {
            "k": pa.array([r[0] for r in rows], pa.int64()),
            "s": pa.array([r[1] for r in rows], pa.string()),
            "b": pa.array([r[2] for r in rows], pa.bool_()),
        }
    )
    p = profile(sql_source(data), key=["k"])
    assert p.duplicate_rows == len(rows) - len(set(rows))
    assert p.duplicate_keys == len(rows) - len({r[0] for r in rows})
    assert p["b"].true_count == sum(r[2] for r in rows)
    nulls_k = [r[0] is None for r in rows]
    nulls_s = [r[1] is None for r in rows]
    if p.missing is not None and len(p.missing.columns) == 2:
        assert p.missing.get("k", "s") == sum(a and b for a, b in zip(nulls_k, nulls_s, strict=True))
        assert p.missing.get("k", "k") == sum(nulls_k)
    assert p.missing_cells == sum(nulls_k) + sum(nulls_s)


def test_correlations_match_numpy(sql_source):
    rng = np.random.default_rng(1)
    x = rng.normal(size=500)
    data = pa.table({"x": x, "y": 2 * x + rng.normal(size=500), "z": rng.normal(size=500), "const": np.ones(500)})
    p = profile(sql_source(data))
    assert p.correlations is not None
    assert p.correlations.columns == ["x", "y", "z"]  # the constant column has no correlation
    ref = np.corrcoef([data["x"], data["y"], data["z"]])
    for i, a in enumerate("xyz"):
        for j, b in enumerate("xyz"):
            assert p.correlations.get(a, b) == pytest.approx(ref[i, j], abs=1e-9)


def test_large_columns_use_the_sample_and_exact_counts(sql_source):
    rng = np.random.default_rng(7)
    n = 150_000
    values = rng.normal(10, 2, n)
    ids = np.arange(n)
    data = pa.table({"v": values, "id": ids, "cat": pa.array(rng.choice(["x", "y", "z"], n))})
    p = profile(sql_source(data), sample_size=20_000)
    v = p["v"]
    # Quantiles from the sample: rank error a few tenths of a percent.
    for q in ("0.05", "0.5", "0.95"):
        rank = float((values < v.quantiles[q]).mean())
        assert rank == pytest.approx(float(q), abs=0.01)
    assert p["id"].distinct == n and p["id"].distinct_exact and p["id"].is_unique
    assert dict(p["cat"].top_values) == dict(Counter(data["cat"].to_pylist()))
    assert p.queries == 3  # the sample, the exact aggregates, the grouped distinct counts


def test_a_table_sample_is_uniform_and_the_same_on_every_run(lake):
    """A table's row count is known, so its sample keeps rows by a hash of their values (read on all
    cores): the profile is the same on every run, and the sample is still uniform."""
    rng = np.random.default_rng(11)
    n = 120_000
    values = np.sort(rng.exponential(3.0, n))  # sorted: a sample of blocks of rows would be biased
    cities = rng.choice(["Berlin, DE", "Paris", "Rome"], n, p=[0.6, 0.3, 0.1])
    names = [("Smith, John" if i % 4 == 0 else "O'Brien" if i % 10 == 1 else f"user {i}") for i in range(n)]
    lake.create_table("q.big", pa.table({"v": values, "city": cities, "id": np.arange(n), "name": names}))
    first = lake.quality.profile("q.big", save=False, sample_size=10_000)
    second = lake.quality.profile("q.big", save=False, sample_size=10_000)
    assert first["v"].quantiles == second["v"].quantiles and first["v"].mad == second["v"].mad
    for q in ("0.05", "0.5", "0.95"):
        rank = float((values < first["v"].quantiles[q]).mean())
        assert rank == pytest.approx(float(q), abs=0.02)
    assert dict(first["city"].top_values) == dict(Counter(cities.tolist()))  # exact, values with ", "
    assert first["v"].non_null == n and first["id"].is_unique
    top = dict(first["name"].top_values)  # many distinct names: exact counts of the sample's candidates
    assert top["Smith, John"] == n // 4 and top["O'Brien"] == names.count("O'Brien")


def test_a_sample_of_few_repeated_combinations_falls_back_to_seeded_sampling(lake):
    """Rows with equal values share their hash: a table of a few value combinations would give a sample of a
    few of them only, so the profile sees that and takes DuckDB's seeded Bernoulli sample instead."""
    n = 60_000
    level = [i % 4 for i in range(n)]  # 0, 1, 2, 3 equally often
    colour = ["red" if i % 3 else "blue" for i in range(n)]
    lake.create_table("q.combos", pa.table({"level": level, "colour": colour}))
    p = lake.quality.profile("q.combos", save=False, sample_size=5_000)
    assert p.queries == 4  # the hashed sample, the seeded one instead, the exact pass, duplicate rows
    lv = p["level"]
    assert lv.quantiles["0.25"] == pytest.approx(0.75, abs=0.75) and lv.quantiles["0.5"] in (1.0, 1.5, 2.0)
    assert dict(lv.top_values) == {0: n // 4, 1: n // 4, 2: n // 4, 3: n // 4}
    assert dict(p["colour"].top_values) == {"red": 40_000, "blue": 20_000}
    again = lake.quality.profile("q.combos", save=False, sample_size=5_000)
    assert again["level"].quantiles == lv.quantiles and again["level"].mad == lv.mad  # seeded: the same sample


def test_temporal_columns_and_freshness(sql_source):
    now = datetime.now(UTC)
    stamps = [now - timedelta(days=d) for d in (30, 10, 3, 1)]
    p = profile(sql_source(pa.table({"ts": pa.array(stamps, pa.timestamp("us", tz="UTC")), "n": [1, 2, 3, 4]})))
    c = p["ts"]
    assert c.kind == "temporal" and c.min == stamps[0] and c.max == stamps[-1]
    assert p.freshness is not None and p.freshness.column == "ts"
    assert p.freshness.age_seconds == pytest.approx(86400, abs=120)
    assert sum(b.count for b in c.histogram) == 4


def test_profile_of_table_snapshot_and_query(lake):
    t = lake.create_table("q.items", pa.table({"id": [1, 2, 3], "price": [1.0, None, 3.0]}))
    first = t.history()[-1].snapshot_id
    t.append(pa.table({"id": [4], "price": pa.array([None], pa.float64())}))
    now = lake.quality.profile("q.items", save=False)
    then = lake.quality.profile("q.items", snapshot_id=first, save=False)
    assert now.rows == 4 and then.rows == 3
    assert then.snapshot_id == first and then.table == "q.items"
    assert now["price"].nulls == 2 and then["price"].nulls == 1
    query = lake.quality.profile("select price * 2 as doubled from q.items where id > 1", save=False)
    assert query.rows == 3 and query.table is None and query.source.startswith("query:")
    assert query["doubled"].max == 6.0
    result = lake.quality.profile(lake.sql("select id from q.items"), save=False)
    assert result.rows == 4


def test_wide_table_profile_runs_one_statement_per_group_of_columns(sql_source):
    data = pa.table({f"c{i}": np.arange(200) % (i + 2) for i in range(120)})
    p = profile(sql_source(data))
    # 4 groups of up to 32 columns in each pass, one sample for the correlations across groups, and the
    # grouped distinct counts
    assert len(p.columns) == 120 and p.queries == 4 + 1 + 4 + 1
    assert p.correlations is not None and len(p.correlations.columns) == 40
    assert p["c0"].distinct == 2 and p["c119"].distinct == 121


def test_bad_input_is_reported(lake, sql_source):
    src = sql_source(pa.table({"x": [1]}))
    with pytest.raises(NotFoundError, match="no column 'nope'"):
        profile(src, columns=["nope"])
    with pytest.raises(ValidationError, match="not a date"):
        profile(src, time_column="x")
    with pytest.raises(NotFoundError):
        lake.quality.profile("q.missing")
    with pytest.raises(ValidationError):
        lake.quality.profile("select 1", snapshot_id=3)


def test_empty_table(sql_source):
    p = profile(sql_source(pa.table({"x": pa.array([], pa.int64()), "s": pa.array([], pa.string())})))
    assert p.rows == 0 and p["x"].distinct == 0 and p["x"].null_rate == 0
    assert p.to_dict()["rows"] == 0


def test_a_unique_column_proves_there_are_no_duplicate_rows(sql_source):
    n = 150_000  # above the sample size, so key candidates are counted in their own statement
    with_id = profile(sql_source(pa.table({"id": np.arange(n), "v": np.arange(n) % 7})))
    assert with_id.duplicate_rows == 0 and with_id.queries == 3  # no row hashing needed
    repeated = np.concatenate([np.arange(n - 10), np.arange(10)])
    without = profile(sql_source(pa.table({"a": repeated, "b": repeated % 3})))
    assert without.duplicate_rows == 10 and without.queries == 4


def test_top_values_and_distinct_counts_are_exact_when_the_source_is_read_whole(lake):
    """An airports-like city column: 2,600+ distinct names where approx_top_k's candidates missed the most
    frequent ones, and a near-unique column where one value repeats 12 times."""
    rng = np.random.default_rng(3)
    cities = [f"city{i:04d}" for i in range(2600)] * 2 + ["NA"] * 12 + ["Greenville"] * 11 + ["Columbus"] * 9
    cities = list(rng.permutation(cities))
    codes = [f"code{i:05d}" for i in range(len(cities) - 12)] + ["XXX"] * 12
    lake.create_table("p.airports", pa.table({"city": cities, "code": list(rng.permutation(codes))}))
    p = lake.quality.profile("p.airports", save=False)
    truth = Counter(cities).most_common()
    city = p["city"]
    assert city.top_values_exact and city.distinct_exact and city.distinct == len(set(cities))
    assert city.top_values[:3] == [("NA", 12), ("Greenville", 11), ("Columbus", 9)] == truth[:3]
    assert city.top_values == sorted(truth, key=lambda vc: (-vc[1], vc[0]))[:10]
    code = p["code"]
    assert code.top_values == [("XXX", 12)] and code.distinct == len(set(codes)) and code.distinct_exact
    assert p.queries <= 4


def _statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the SQL every profile statement runs."""
    from mlake.quality.source import Source

    seen: list[str] = []
    fetch = Source.fetch

    def recording(self: Source, sql: str) -> list[tuple[object, ...]]:
        seen.append(sql)
        return fetch(self, sql)

    monkeypatch.setattr(Source, "fetch", recording)
    return seen


def test_values_the_sample_missed_are_still_counted_exactly(sql_source, monkeypatch):
    """A low-cardinality column is counted by the values its sample saw; rare values the sample missed are
    counted by value in one more statement, so its value counts stay exact."""
    n = 150_000
    rare = [f"rare{i}" for i in range(5)]
    cat = ["a" if i % 3 else "b" for i in range(n - len(rare))] + rare
    statements = _statements(monkeypatch)
    p = profile(sql_source(pa.table({"id": np.arange(n), "cat": cat})), sample_size=1_000)
    c = p["cat"]
    assert c.distinct == 7 and c.distinct_exact and c.top_values_exact
    assert dict(c.top_values) == dict(Counter(cat))
    assert c.length_max == 5 and c.length_min == 1
    assert any("list_contains" in s for s in statements)  # the missed values were looked for
    assert p.queries == 4  # the sample, the exact pass, the missed values, the key candidate's distinct count


def test_a_column_with_many_values_the_sample_missed_gets_the_usual_exact_aggregates(sql_source):
    rng = np.random.default_rng(5)
    n = 150_000
    common = rng.integers(0, 100, n - 20_000)
    values = rng.permutation(np.concatenate([common, 1_000 + np.arange(20_000)]))
    p = profile(sql_source(pa.table({"v": values})), sample_size=1_000)
    v = p["v"]
    assert v.min == values.min() and v.max == values.max()
    assert v.mean == pytest.approx(values.mean()) and v.std == pytest.approx(values.std(ddof=1))
    assert v.zeros == int((values == 0).sum()) and v.non_null == n
    assert not v.distinct_exact and v.distinct == pytest.approx(20_100, rel=0.05)
    assert sum(b.count for b in v.histogram) == n


def test_no_statement_materializes_the_source(sql_source, lake, monkeypatch):
    """DuckDB plans ``histogram`` and ``count(DISTINCT ...)`` beside other aggregates as GROUP BYs over a
    materialized copy of the input (a 10 million row profile held 3.5 GB): the statements that read the
    whole source must not use them."""
    rng = np.random.default_rng(9)
    n = 150_000
    data = pa.table(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "level": rng.integers(0, 5, n),
            "name": pa.array([f"user{i % 5000}" for i in range(n)]),
            "when": pa.array([datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=int(m)) for m in range(n)]),
        }
    )
    statements = _statements(monkeypatch)
    profile(sql_source(data), sample_size=10_000)
    full_scans = [s for s in statements if not s.startswith("WITH __sample")]
    assert full_scans
    cur = lake.engine.connection.cursor()
    for sql in full_scans:
        plan = "\n".join(str(row[1]) for row in cur.sql(f"EXPLAIN {sql}").fetchall())
        assert "__aggregate" not in plan, sql[:300]
