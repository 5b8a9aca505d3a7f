"""Every check type passing and failing; suites from YAML and Python; one fused scan; bad suites."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from mlake.errors import ValidationError
from mlake.quality import (
    CustomSql,
    Distribution,
    Freshness,
    InRange,
    InSet,
    NotNull,
    References,
    Regex,
    RowCount,
    SchemaContract,
    Suite,
    TypeCheck,
    Unique,
)
from mlake.quality.checks import parse_duration


@pytest.fixture
def orders(lake):
    now = datetime.now(UTC)
    lake.create_table("c.customers", pa.table({"id": [1, 2, 3, 9]}))
    return lake.create_table(
        "c.orders",
        pa.table(
            {
                "order_id": [10, 11, 12, 13, 13],
                "customer_id": pa.array([1, 2, 3, 9, None], pa.int64()),
                "amount": [5.0, 7.5, -1.0, 1000.0, 12.0],
                "channel": ["web", "app", "web", "fax", None],
                "email": ["a@b.com", "c@d.org", "bad", "e@f.net", "g@h.io"],
                "zip": ["12345", "54321", "1A345", "00000", None],
                "at": pa.array([now - timedelta(hours=h) for h in (50, 40, 30, 20, 10)], pa.timestamp("us", tz="UTC")),
            }
        ),
    )


CASES = [
    # (check that passes, check that fails, failing rows of the failing one)
    (NotNull("order_id"), NotNull("customer_id"), 1),
    (Unique("customer_id"), Unique("order_id"), 1),
    (Unique(["order_id", "amount"]), Unique(["order_id"]), 1),
    (InSet("channel", values=["web", "app", "fax"]), InSet("channel", values=["web", "app"]), 1),
    (InRange("amount", min=-5, max=2000), InRange("amount", min=0, max=100), 2),
    (Regex("order_id", pattern=r"1\d"), Regex("email", pattern=r"[^@]+@[^@]+\.[a-z]+"), 1),
    (TypeCheck("order_id", cast_to="integer"), TypeCheck("zip", cast_to="integer"), 1),
    (
        References("customer_id", table="c.customers", key="id"),
        References("order_id", table="c.customers", key="id"),
        5,
    ),
    (RowCount(min=5, max=5), RowCount(min=6), None),
    (Freshness("at", max_age="1d"), Freshness("at", max_age="5h"), None),
    (Distribution("amount", metric_name="max", max=1000), Distribution("amount", metric_name="mean", max=100), None),
    (
        Distribution("amount", metric_name="quantile", q=0.5, min=5, max=13),
        Distribution("channel", metric_name="null_rate", max=0.1),
        None,
    ),
    (
        SchemaContract(columns_expected={"order_id": "long", "amount": "double", "at": "timestamptz"}),
        SchemaContract(columns_expected={"order_id": "string", "missing": "int"}),
        None,
    ),
    (
        CustomSql(query="select * from {table} where amount > 5000"),
        CustomSql(query="select * from {table} where amount < 0"),
        1,
    ),
]


@pytest.mark.parametrize(("good", "bad", "failing"), CASES, ids=[c[0].kind + str(i) for i, c in enumerate(CASES)])
def test_each_check_type_passes_and_fails(lake, orders, good, bad, failing):
    result = lake.quality.check("c.orders", Suite([good, bad]), save=False)
    ok, ko = result.results
    assert ok.passed, ok.message
    assert not ko.passed and ko.status == "fail", ko.message
    assert not result.passed and result.failures == [ko]
    if failing is not None:
        assert ko.failing_rows == failing
        assert 0 < len(ko.samples) <= 5
        assert ok.failing_rows in (0, None)


def test_row_level_checks_run_in_one_scan_and_samples_are_bounded(lake):
    lake.create_table("c.big", pa.table({"x": list(range(1000)), "y": [None] * 1000}))
    suite = Suite([NotNull("x"), NotNull("y"), InRange("x", min=0, max=10), Regex("x", pattern=r"\d")])
    result = lake.quality.check("c.big", suite, save=False, sample_rows=3)
    # one fused aggregate query, plus one LIMIT-ed sample query per failing check
    assert result.scans == 1 + 3
    assert result["not_null(y)"].failing_rows == 1000 and len(result["not_null(y)"].samples) == 3
    assert result["in_range(x)"].failing_rows == 989
    clean = lake.quality.check("c.big", Suite([NotNull("x"), InRange("x", min=0)]), save=False)
    assert clean.passed and clean.scans == 1


def test_threshold_severity_and_where(lake, orders):
    suite = Suite(
        [
            NotNull("customer_id", threshold=0.8, name="mostly_complete"),
            InRange("amount", min=0, severity="warn"),
            InSet("channel", values=["web"], where="amount < 100", threshold=0.5),
        ]
    )
    r = lake.quality.check("c.orders", suite, save=False)
    assert r["mostly_complete"].passed and r["mostly_complete"].failing_rows == 1
    assert not r["in_range(amount)"].passed and r["in_range(amount)"].status == "warn"
    in_set = r["in_set(channel)"]
    assert in_set.rows_checked == 4 and in_set.failing_rows == 1 and in_set.passed
    assert r.passed  # only a warning failed
    assert r.warnings and not r.failures


YAML = """
name: orders
table: c.orders
checks:
  - not_null: order_id
  - unique: [order_id]
  - type: in_set
    column: channel
    values: [web, app]
    threshold: 0.5
  - in_range: {column: amount, min: 0, severity: warn}
  - type: {column: zip, as: integer}
  - freshness: {column: at, max_age: 3d}
  - distribution: {column: amount, metric: mean, min: 0, max: 1000}
  - sql:
      name: no_huge_orders
      query: select * from {table} where amount > 500
"""


def test_yaml_suite_round_trip(lake, orders, tmp_path: Path):
    suite = Suite.load(YAML)
    assert [c.kind for c in suite.checks] == [
        "not_null",
        "unique",
        "in_set",
        "in_range",
        "type",
        "freshness",
        "distribution",
        "sql",
    ]
    path = tmp_path / "orders.yaml"
    path.write_text(suite.to_yaml())
    again = Suite.load(path)
    assert again.to_dict() == suite.to_dict()
    result = lake.quality.check("c.orders", str(path), save=False)
    assert [r.status for r in result.results] == ["pass", "fail", "pass", "warn", "fail", "pass", "pass", "fail"]
    assert result["no_huge_orders"].failing_rows == 1
    assert result.to_dict()["results"][1]["samples"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checks: [{type: nonsense, column: x}]", "unknown check type 'nonsense'"),
        ("checks: [{not_null: x, colour: red}]", "has no option"),
        ("checks: [{type: in_set, column: x}]", "non-empty list of values"),
        ("checks: [{type: in_range, column: x}]", "needs min, max or both"),
        ("checks: [{type: regex, column: x, pattern: '('}]", "not a regular expression"),
        ("checks: [{type: not_null, column: x, severity: fatal}]", "severity must be error or warn"),
        ("checks: [{type: not_null, column: x, threshold: 2}]", "not a share of rows"),
        ("checks: [{type: distribution, column: x, metric: mode, max: 1}]", "unknown distribution metric"),
        ("checks: {a: 1}", "list of checks"),
        ("checks: [\n  - a: [\n", "not valid YAML at line"),
        ("checks: [{type: references, column: x}]", "referenced table"),
    ],
)
def test_bad_suites_say_what_and_where(text, message):
    with pytest.raises(ValidationError, match=message) as info:
        Suite.load(text)
    assert "suite" in str(info.value)


def test_missing_columns_and_tables_are_named(lake, orders):
    with pytest.raises(ValidationError, match=r"Check 1 \(not_null\(nope\)\).*no column\(s\) nope"):
        lake.quality.check("c.orders", Suite([NotNull("nope")]), save=False)
    with pytest.raises(ValidationError, match="does not exist"):
        lake.quality.check("c.orders", Suite([References("customer_id", table="c.ghosts", key="id")]), save=False)
    with pytest.raises(ValidationError, match=r"is for c\.other"):
        lake.quality.check("c.orders", Suite([NotNull("order_id")], table="c.other"), save=False)
    with pytest.raises(ValidationError, match="does not exist"):
        Suite.load("missing-suite.yaml")


def test_checks_on_a_query_and_a_snapshot(lake, orders):
    first = orders.history()[-1].snapshot_id
    orders.append(pa.table({"order_id": [99], "amount": [-50.0]}))
    suite = Suite([InRange("amount", min=-10)])
    assert lake.quality.check("c.orders", suite, snapshot_id=first, save=False).passed
    assert not lake.quality.check("c.orders", suite, save=False).passed
    q = lake.quality.check("select * from c.orders where order_id < 50", suite, save=False)
    assert q.passed and q.rows == 5


def test_parse_duration():
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(30) == timedelta(seconds=30)
    with pytest.raises(ValidationError):
        parse_duration("soon")


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"not_null": "a", "threshold": "most"}, "threshold must be float"),
        ({"not_null": {"column": ["a", {"b": 1}]}}, "column must be str"),
        ({"type": "in_set", "column": "a", "values": "abc"}, "values must be list"),
        ({"schema": {"columns": {"a": 5}}}, "columns must be dict[str, str]"),
        ({"row_count": {"min": "many"}}, "min must be int | None"),
        ({"unique": {"column": [1, 2]}}, "column must be str | list[str]"),
        ({"type": 5}, "column must be str"),
    ],
)
def test_check_arguments_of_the_wrong_type_are_refused(item: dict[str, object], words: str) -> None:
    """A suite from a file or a request may hold anything: a wrong type is a clear error, never a crash."""
    with pytest.raises(ValidationError, match=re.escape(words)):
        Suite.from_dict({"checks": [item]})


def test_check_arguments_accept_python_and_numpy_values() -> None:
    import numpy as np

    checks = [RowCount(min=np.int64(1)), InSet("c", values=("a", "b")), Distribution("x", min=np.float32(0.5))]
    assert [c.kind for c in checks] == ["row_count", "in_set", "distribution"]


def test_in_set_with_null_among_the_values_still_fails_other_values(lake):
    lake.create_table("c.people", pa.table({"sex": ["male", "female", None, "unknown", "female"]}))
    suite = Suite.from_yaml("checks:\n  - in_set: {column: sex, values: [male, female, null]}\n")
    r = lake.quality.check("c.people", suite, save=False)["in_set(sex)"]
    assert r.failing_rows == 1 and not r.passed  # 'unknown'; the null passes
    only_null = lake.quality.check("c.people", Suite([InSet("sex", values=[None])]), save=False)
    assert only_null["in_set(sex)"].failing_rows == 4


@pytest.mark.parametrize(
    ("bounds", "failing"),
    # NaN fails every range; +inf is ordered like a number: it fails a max and passes a min; null passes
    [({"min": 0}, 1), ({"max": 10}, 2), ({"min": 0, "max": 10}, 2), ({"min": 0, "strict": True}, 1)],
)
def test_nan_fails_in_range_whichever_bounds(lake, bounds, failing):
    values = pa.array([1.0, float("nan"), None, 5.0, float("inf")], pa.float64())
    lake.create_table("c.nan", pa.table({"x": values}))
    r = lake.quality.check("c.nan", Suite([InRange("x", **bounds)]), save=False)["in_range(x)"]
    assert r.failing_rows == failing
    assert any(s["x"] != s["x"] for s in r.samples)  # the NaN row is among the failing rows shown


def test_distribution_statistics_leave_out_nan_like_the_profile(lake):
    lake.create_table("c.nan", pa.table({"x": pa.array([1.0, float("nan"), 3.0, None, float("inf")], pa.float64())}))
    profile = lake.quality.profile("c.nan", save=False)["x"]
    checks = lake.quality.check(
        "c.nan",
        Suite([Distribution("x", metric_name=m, min=-1e9, max=1e9, name=m) for m in ("mean", "max", "min")]),
        save=False,
    )
    assert checks["mean"].value == profile.mean == 2.0
    assert checks["max"].value == profile.max == 3.0 and checks["min"].value == profile.min == 1.0
    assert profile.nan == 1 and profile.infinite == 1


def test_no_check_statement_materializes_the_source(lake, sql_source, statements, materializing):
    """DuckDB plans ``count(DISTINCT ...)`` beside other aggregates as a GROUP BY over a materialized copy of
    the input (a 10 million row suite held 2.3 GB): no statement of a suite may do that, and the distinct
    counts, run apart, stay those pandas finds."""
    import numpy as np
    import pandas as pd

    from mlake.quality.suite import run_suite

    rng = np.random.default_rng(3)
    n = 20_000
    k = rng.integers(0, 3000, n).astype("float64")
    k[rng.uniform(size=n) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "id": np.concatenate([np.arange(n - 50), np.arange(50)]),  # 50 repeated ids
            "k": pd.array(k, dtype="Int64"),
            "g": rng.integers(0, 4, n),
            "x": rng.normal(size=n),
            "s": pd.array([None if i % 97 == 0 else f"s{i % 1234}" for i in range(n)], dtype=object),
        }
    )
    suite = Suite(
        [
            Unique("id"),
            Unique(["k", "g"], where="x > 0", threshold=0.0, name="pairs"),
            Distribution("s", metric_name="distinct", min=0, name="distinct_s"),
            Distribution("k", metric_name="distinct", where="g < 2", min=0, name="distinct_k"),
            Distribution("x", metric_name="median", min=-1, max=1),
            Distribution("x", metric_name="std", min=0),
            NotNull("k", threshold=0.9),
            InRange("g", min=0, max=2),
            RowCount(min=1),
        ]
    )
    result = run_suite(sql_source(pa.Table.from_pandas(frame, preserve_index=False)), suite)
    assert len(statements) >= 2
    assert materializing(statements) == []

    ids = frame["id"]
    assert result["unique(id)"].failing_rows == len(ids) - ids.nunique() == 50
    pairs = frame[frame["x"] > 0].dropna(subset=["k"])
    assert result["pairs"].rows_checked == len(pairs)
    assert result["pairs"].failing_rows == len(pairs) - len(pairs.drop_duplicates(["k", "g"])) > 0
    assert result["distinct_s"].value == frame["s"].nunique() == 1234
    assert result["distinct_k"].value == frame.loc[frame["g"] < 2, "k"].nunique()
    assert result["not_null(k)"].failing_rows == int(frame["k"].isna().sum())
    # one fused aggregate query, one statement of distinct counts, samples for 4 checks with failing rows
    assert result.scans == 2 + 4


def test_distinct_counts_are_those_of_count_distinct(lake, sql_source):
    """Zeros of both signs, NaN, infinities and nulls: the distinct counts a suite reads apart are the values
    ``count(DISTINCT ...) FILTER (WHERE ...)`` gives in one query."""
    from mlake.quality.suite import run_suite

    nan, inf = float("nan"), float("inf")
    data = pa.table(
        {
            "d": pa.array([0.0, -0.0, nan, nan, inf, -inf, None, 1.5, 1.5, 0.0], pa.float64()),
            "s": ["a", "a", "b", None, "b", "b", "c", "a", "A", "a"],
        }
    )
    source = sql_source(data)
    suite = Suite(
        [
            Unique("d", name="d", threshold=0.0),
            Unique(["d", "s"], name="ds", threshold=0.0),
            Unique("s", where="d > 0", name="s_where", threshold=0.0),
            Distribution("d", metric_name="distinct", min=0, name="distinct_d"),
            Distribution("s", metric_name="distinct", where="d <= 0", min=0, name="distinct_s"),
        ]
    )
    result = run_suite(source, suite)
    expected = lake.engine.connection.sql(
        "SELECT count(DISTINCT (d,)) FILTER (WHERE d IS NOT NULL), count_if(d IS NOT NULL), "
        "count(DISTINCT (d, s)) FILTER (WHERE d IS NOT NULL AND s IS NOT NULL), "
        "count_if(d IS NOT NULL AND s IS NOT NULL), "
        "count(DISTINCT (s,)) FILTER (WHERE (d > 0) AND s IS NOT NULL), count_if((d > 0) AND s IS NOT NULL), "
        f"count(DISTINCT d), count(DISTINCT s) FILTER (WHERE d <= 0) FROM ({source.sql})"
    ).fetchall()[0]
    d, d_keyed, ds, ds_keyed, sw, sw_keyed, distinct_d, distinct_s = expected
    assert (result["d"].rows_checked, result["d"].failing_rows) == (d_keyed, d_keyed - d) == (9, 4)
    assert (result["ds"].rows_checked, result["ds"].failing_rows) == (ds_keyed, ds_keyed - ds)
    assert (result["s_where"].rows_checked, result["s_where"].failing_rows) == (sw_keyed, sw_keyed - sw)
    assert result["distinct_d"].value == distinct_d == 5
    assert result["distinct_s"].value == distinct_s
