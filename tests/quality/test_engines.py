"""The quality engine suite: the same profiles and check suites on DuckDB (the reference), on partitioned
DuckDB run serially in process (several partitionings) and on a local Ray with 2 CPUs give the same results:
counts, nulls, minima, maxima and sums exactly, floating means and moments within 1e-9 relative."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlake.engines.partitioned import PartitionedCompute, SerialPartitionedCompute
from mlake.errors import ConfigError, MlakeError, PermissionDeniedError, ValidationError
from mlake.lake import Lake
from mlake.quality.partitioned import partitioned_source, split_call
from mlake.quality.profile import Profile, profile
from mlake.quality.source import Source
from mlake.quality.suite import Suite, SuiteResult, run_suite
from tests.governed_lake import Governed, build_governed_lake
from tests.processing.test_engines import ray_compute  # noqa: F401  (the engine suite's Ray: 2 CPUs, 3 buckets)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# t-digest (approx_quantile: the median and quantile distribution checks) depends on the order values arrive
# in, on DuckDB's threads as across partitions: both engines agree within the sketch's error.
SKETCH = 0.02


def _batch(n: int, start: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 12, n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.01] = np.inf
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n), pa.int64()),
            "x": pa.array(x, mask=rng.random(n) < 0.1),
            "k": pa.array(rng.integers(0, max(n // 3, 2), n), pa.int32()),
            "g": pa.array(rng.choice(["red", "green", "blue", "x", ""], n), mask=rng.random(n) < 0.05),
            "email": pa.array(
                [f"user{i}@example.com" if i % 5 else f" user{i} " for i in range(start, start + n)],
                mask=rng.random(n) < 0.2,
            ),
            "zip": pa.array([str(v) if v % 11 else f"z{v}" for v in rng.integers(10000, 99999, n)]),
            "flag": pa.array(rng.random(n) < 0.3, mask=rng.random(n) < 0.1),
            "day": pa.array([date(2025, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 400, n)]),
            "at": pa.array(
                [NOW - timedelta(minutes=int(m)) for m in rng.integers(0, 10**6, n)], pa.timestamp("us", tz="UTC")
            ),
            "price": pa.array([Decimal(int(v)) / 100 for v in rng.integers(0, 10**6, n)], pa.decimal128(10, 2)),
        }
    )


def _table(lake: Lake, name: str, files: list[int], seed: int = 0) -> str:
    """A table written as one data file per entry of ``files`` (its row count)."""
    start = 0
    for n, rows in enumerate(files):
        data = _batch(rows, start, seed + n)
        if n == 0:
            lake.create_table(name, data)
        else:
            lake.table(name).append(data)
        start += rows
    return name


def _empty(lake: Lake, name: str) -> str:
    lake.create_table(name, _batch(3, 0, 0).slice(0, 0))
    return name


SUITE = {
    "name": "twenty",
    "checks": [
        {"not_null": "id"},
        {"not_null": "email"},
        {"type": "not_null", "column": "g", "allow_empty": False, "threshold": 0.8},
        {"unique": "id"},
        {"unique": "k", "severity": "warn"},
        {"type": "unique", "column": ["k", "g"], "name": "k_g"},
        {"type": "in_set", "column": "g", "values": ["red", "green", "blue"]},
        {"type": "in_range", "column": "x", "min": 0, "max": 100},
        {"type": "in_range", "column": "x", "min": 10, "where": "k < 50", "name": "x_small_k"},
        {"type": "regex", "column": "email", "pattern": "[a-z0-9]+@example\\.com"},
        {"type": "type", "column": "zip", "as": "integer"},
        {"type": "references", "column": "k", "table": "ref.keys", "key": "key"},
        {"type": "row_count", "min": 1, "max": 10**7},
        {"type": "freshness", "column": "at", "max_age": "1d"},
        {"type": "distribution", "column": "x", "metric": "mean", "min": 45, "max": 55},
        {"type": "distribution", "column": "x", "metric": "std", "max": 5, "name": "std_too_low"},
        {"type": "distribution", "column": "x", "metric": "sum", "min": 0},
        {"type": "distribution", "column": "x", "metric": "null_rate", "max": 0.05},
        {"type": "distribution", "column": "k", "metric": "distinct", "min": 1},
        {"type": "distribution", "column": "x", "metric": "min", "where": "g = 'red'", "name": "min_red", "min": 0},
        {"type": "distribution", "column": "price", "metric": "max", "max": 10000},
        {"type": "distribution", "column": "x", "metric": "median", "min": 40, "max": 60},
        {"type": "distribution", "column": "x", "metric": "quantile", "q": 0.9, "max": 80},
        {"type": "schema", "columns": {"id": "long", "x": "double", "missing": "int"}},
        {"type": "sql", "name": "negative_price", "query": "SELECT * FROM {table} WHERE price < 0"},
    ],
}


@pytest.fixture
def quality_lake(lake: Lake) -> Lake:
    lake.create_table("ref.keys", pa.table({"key": pa.array(list(range(0, 400, 1)), pa.int32())}))
    return lake


def _close(a: Any, b: Any, rel: float = 1e-9) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def assert_same_profile(got: Profile, want: Profile) -> None:
    g, w = got.to_dict(), want.to_dict()
    for volatile in ("run_id", "computed_at", "seconds", "queries"):
        g.pop(volatile), w.pop(volatile)
    for d in (g, w):
        if d["freshness"]:
            d["freshness"].pop("age_seconds")
    gc, wc = g.pop("columns"), w.pop("columns")
    assert _close(g, w), (g, w)
    assert [c["name"] for c in gc] == [c["name"] for c in wc]
    for a, b in zip(gc, wc, strict=True):
        for key in b:
            assert _close(a[key], b[key]), (b["name"], key, a[key], b[key])


def assert_same_checks(got: SuiteResult, want: SuiteResult) -> None:
    assert (got.rows, got.passed, got.suite) == (want.rows, want.passed, want.suite)
    for a, b in zip(got.results, want.results, strict=True):
        assert (a.check, a.passed, a.metric, a.rows_checked, a.failing_rows) == (
            b.check,
            b.passed,
            b.metric,
            b.rows_checked,
            b.failing_rows,
        ), b.check
        if a.metric in ("median", "quantile(0.9)") and b.value is not None:
            assert a.value == pytest.approx(b.value, rel=SKETCH), b.check
        elif a.metric == "age_seconds" and b.value is not None:
            assert a.value == pytest.approx(b.value, abs=60)
        else:
            assert _close(a.value, b.value), (b.check, a.value, b.value)
            if a.kind != "distribution":
                assert a.message == b.message
        assert len(a.samples) == len(b.samples), b.check  # "a few failing rows": which ones, neither engine says
    by_name = {r.check: r for r in got.results}
    for row in by_name["not_null(email)"].samples if "not_null(email)" in by_name else []:
        assert row["email"] is None


def _on(compute: PartitionedCompute) -> Callable[[Source], Source]:
    return lambda src: partitioned_source(src, compute)


SERIAL = {"serial, 1 bucket": 1, "serial, 3 buckets": 3, "serial, 7 buckets": 7}
DATASETS: dict[str, list[int]] = {
    "four files": [500, 1, 730, 300],
    "one file": [900],
    "sampled (150k rows)": [60_000, 50_000, 40_000],
}


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("serial", sorted(SERIAL))
def test_partitioned_profiles_and_checks_match_duckdb(quality_lake: Lake, data: str, serial: str) -> None:
    if data.startswith("sampled") and serial != "serial, 3 buckets":
        pytest.skip("one partitioning is enough for the big table")
    lake = quality_lake
    _table(lake, "s.t", DATASETS[data])
    src = lake.quality.source("s.t")
    on = _on(SerialPartitionedCompute(SERIAL[serial]))
    assert_same_profile(profile(on(src), key=["k"]), profile(src, key=["k"]))
    assert_same_profile(profile(on(src), exact_distinct=True, top_k=3), profile(src, exact_distinct=True, top_k=3))
    suite = Suite.load(SUITE)
    assert_same_checks(run_suite(on(src), suite), run_suite(src, suite))


def test_the_file_partitions_are_the_snapshots_files(quality_lake: Lake) -> None:
    _table(quality_lake, "s.t", [10, 20, 30])
    src = partitioned_source(quality_lake.quality.source("s.t"), SerialPartitionedCompute())
    assert src.partitions is not None
    assert len(src.partitions.inputs) == 3 and all(isinstance(p, str) for p in src.partitions.inputs)
    assert src.rows_hint == 60


def test_an_empty_table_and_a_single_row(quality_lake: Lake) -> None:
    lake = quality_lake
    for name in (_empty(lake, "s.empty"), _table(lake, "s.one", [1])):
        src = lake.quality.source(name)
        on = _on(SerialPartitionedCompute(2))
        assert_same_profile(profile(on(src), key=["id"]), profile(src, key=["id"]))
        assert_same_checks(run_suite(on(src), Suite.load(SUITE)), run_suite(src, Suite.load(SUITE)))


def test_bad_input_is_refused_alike(quality_lake: Lake) -> None:
    lake = quality_lake
    _table(lake, "s.t", [50, 50])
    src = lake.quality.source("s.t")
    on = _on(SerialPartitionedCompute(2))
    for bad in ({"checks": [{"not_null": "nope"}]}, {"checks": [{"type": "in_set", "column": "g", "values": []}]}):
        errors = []
        for s in (src, on(src)):
            with pytest.raises(MlakeError) as exc:
                run_suite(s, Suite.load(bad))
            errors.append(exc.value.message)
        assert errors[0] == errors[1]
    with pytest.raises(ValidationError, match="not a table"):
        partitioned_source(lake.quality.source("SELECT * FROM s.t"), SerialPartitionedCompute())
    # a filter DuckDB cannot run fails on both engines, with DuckDB's message
    bad_where = Suite.load({"checks": [{"type": "not_null", "column": "g", "where": "no_such_column > 1"}]})
    for s in (src, on(src)):
        with pytest.raises(MlakeError):
            run_suite(s, bad_where)


def test_a_text_column_checked_as_numbers(quality_lake: Lake) -> None:
    lake = quality_lake
    lake.create_table("s.text", pa.table({"v": ["1", "2.5", "x", None, "", " 7 ", "1e400"] * 30}))
    suite = Suite.load(
        {
            "checks": [
                {"type": "type", "column": "v", "as": "double"},
                {"type": "type", "column": "v", "as": "integer"},
                {"type": "type", "column": "v", "as": "date"},
                {"type": "in_set", "column": "v", "values": ["1", None]},
            ]
        }
    )
    src = lake.quality.source("s.text")
    on = _on(SerialPartitionedCompute(3))
    assert_same_checks(run_suite(on(src), suite), run_suite(src, suite))
    assert_same_profile(profile(on(src)), profile(src))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-5, 5)),
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32)),
            st.one_of(st.none(), st.sampled_from(["a", "b", " c", "", "d@e.fr"])),
        ),
        max_size=60,
    ),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    buckets=st.integers(1, 4),
)
def test_how_the_rows_are_split_never_changes_a_measurement(
    sql_source: Callable[[pa.Table], Source], rows: list[tuple[Any, ...]], cuts: list[int], buckets: int
) -> None:
    data = pa.table(
        {
            "i": pa.array([r[0] for r in rows], pa.int64()),
            "f": pa.array([r[1] for r in rows], pa.float64()),
            "s": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    src = sql_source(data)
    edges = sorted({0, data.num_rows, *(c for c in cuts if c <= data.num_rows)})
    chunks = [data.slice(a, b - a) for a, b in itertools.pairwise(edges)] or [data]
    from mlake.quality.partitioned import Partitioned

    split = Source(src.lake, src.sql, src.label, table="t.t", kind="table", rows_hint=data.num_rows)
    split.partitions = Partitioned(SerialPartitionedCompute(buckets), list(chunks), src.columns, data.num_rows)
    whole = Source(src.lake, src.sql, src.label, table="t.t", kind="table", rows_hint=data.num_rows)
    assert_same_profile(profile(split, key=["i"]), profile(whole, key=["i"]))
    suite = Suite.load(
        {
            "checks": [
                {"not_null": "i"},
                {"unique": "s"},
                {"type": "in_range", "column": "f", "min": -1, "max": 1},
                {"type": "distribution", "column": "f", "metric": "std", "max": 10},
                {"type": "distribution", "column": "f", "metric": "mean", "max": 10},
                {"type": "distribution", "column": "s", "metric": "distinct", "min": 2},
                {"type": "regex", "column": "s", "pattern": "[a-z]"},
            ]
        }
    )
    assert_same_checks(run_suite(split, suite), run_suite(whole, suite))


def test_aggregates_are_read_as_calls() -> None:
    assert split_call("count_if((a) AND b)") == ("count_if", "(a) AND b", "")
    assert split_call("max(\"x)\") FILTER (WHERE g = ')')") == ("max", '"x)"', " FILTER (WHERE g = ')')")
    assert split_call("[count(*), count(DISTINCT x)]") is None
    assert split_call("sum(x) + 1") is None


# --- access -----------------------------------------------------------------------------------------


@pytest.fixture
def governed(tmp_path: Path) -> Iterator[Governed]:
    g = build_governed_lake(tmp_path / "lake")
    yield g
    g.lake.close()


def test_a_principal_measures_its_secure_view_on_every_engine(governed: Governed) -> None:
    bob = governed.lake.as_principal("bob")
    src = bob.quality.source("shop.customers")
    split = partitioned_source(src, SerialPartitionedCompute(2))
    assert split.partitions is not None
    assert all(isinstance(p, pa.Table) for p in split.partitions.inputs)  # rows read through the secure view
    got, want = profile(split), profile(src)
    assert_same_profile(got, want)
    assert got.rows < governed.lake.quality.profile("shop.customers", save=False).rows  # the row filter
    suite = Suite.load({"checks": [{"not_null": "email"}, {"unique": "email"}, {"type": "row_count", "min": 1}]})
    assert_same_checks(run_suite(split, suite), run_suite(src, suite))
    reads_a_file = Suite.load(
        {"checks": [{"type": "not_null", "column": "email", "where": "(SELECT 1 FROM read_csv('/etc/passwd')) = 1"}]}
    )
    with pytest.raises(MlakeError):
        run_suite(split, reads_a_file)  # refused as the DuckDB engine refuses it, before any task runs


def test_a_principal_without_grants_gets_nothing(governed: Governed) -> None:
    alice = governed.lake.as_principal("alice")
    for engine in ("duckdb", "ray"):  # refused before an engine is chosen, so before any task could run
        with pytest.raises(PermissionDeniedError):
            alice.quality.profile("vault.secrets", engine=engine, save=False)
        with pytest.raises(PermissionDeniedError):
            alice.quality.check("vault.secrets", {"checks": [{"not_null": "k"}]}, engine=engine, save=False)


def test_an_unknown_engine_is_named(quality_lake: Lake) -> None:
    _table(quality_lake, "s.t", [10])
    with pytest.raises(MlakeError, match="ray"):
        quality_lake.quality.profile("s.t", engine="spark", save=False)


# --- Ray ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ray_profiles_and_checks_match_duckdb(quality_lake: Lake, ray_compute: PartitionedCompute) -> None:  # noqa: F811
    lake = quality_lake
    _table(lake, "s.t", [700, 1, 900, 400])
    for options in ({"key": ["k"]}, {"exact_distinct": True, "top_k": 4}):
        got = lake.quality.profile("s.t", engine="ray", save=False, **options)
        assert_same_profile(got, lake.quality.profile("s.t", save=False, **options))
    got_checks = lake.quality.check("s.t", SUITE, engine="ray", save=False)
    assert_same_checks(got_checks, lake.quality.check("s.t", SUITE, save=False))
    assert not got_checks.passed


@pytest.mark.slow
def test_ray_on_a_sampled_table_and_an_empty_one(quality_lake: Lake, ray_compute: PartitionedCompute) -> None:  # noqa: F811
    lake = quality_lake
    _table(lake, "s.big", [70_000, 60_000])
    _empty(lake, "s.empty")
    for name in ("s.big", "s.empty"):
        assert_same_profile(
            lake.quality.profile(name, engine="ray", save=False), lake.quality.profile(name, save=False)
        )
        assert_same_checks(
            lake.quality.check(name, SUITE, engine="ray", save=False), lake.quality.check(name, SUITE, save=False)
        )


@pytest.mark.slow
def test_ray_for_a_principal(governed: Governed, ray_compute: PartitionedCompute) -> None:  # noqa: F811
    bob = governed.lake.as_principal("bob")
    assert_same_profile(
        bob.quality.profile("shop.customers", engine="ray", save=False),
        bob.quality.profile("shop.customers", save=False),
    )
    with pytest.raises(PermissionDeniedError):
        bob.quality.profile("vault.secrets", engine="ray", save=False)


@pytest.mark.slow
def test_a_pipeline_check_step_on_ray(quality_lake: Lake, ray_compute: PartitionedCompute) -> None:  # noqa: F811
    """A ``check`` step with ``engine: ray`` runs its suite on Ray; a failing check stops its dependants."""
    from mlake.pipelines.service import Pipelines

    _table(quality_lake, "s.t", [200, 300])
    pipelines = Pipelines(quality_lake)
    pipelines.save(
        "name: gate\nsteps:\n"
        "  - {name: ok, kind: check, table: s.t, engine: ray, suite: {checks: [{not_null: id}, {unique: id}]}}\n"
        "  - {name: bad, kind: check, table: s.t, engine: ray, suite: {checks: [{unique: k}]}, depends_on: [ok]}\n"
        "  - {name: after, kind: sql, sql: 'SELECT 1', depends_on: [bad]}\n"
    )
    run = pipelines.run("gate")
    status = {s.step: s.status for s in run.steps}
    assert status["ok"] == "succeeded" and status["bad"] == "failed" and status["after"] != "succeeded"
    assert "1 check(s) failed on s.t" in (next(s for s in run.steps if s.step == "bad").error or "")


def test_the_cli_takes_an_engine(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    import mlake
    from mlake.cli.main import app

    home = tmp_path / "lake"
    with mlake.connect(home, threads=2) as lake:
        _table(lake, "s.t", [40, 60])
    suite = tmp_path / "suite.yaml"
    suite.write_text("checks:\n  - not_null: id\n")

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--home", str(home), "--quiet", *args], catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run("profile", "s.t", "--engine", "duckdb", "--no-save", "--json")
    assert code == 0 and json.loads(out)["rows"] == 100
    with pytest.raises(ConfigError, match="spark") as refused:
        run("check", "s.t", "--suite", str(suite), "--engine", "spark", "--no-save")
    assert "duckdb, ray" in (refused.value.hint or "")
