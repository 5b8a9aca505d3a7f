"""Suggested checks follow the profile, and the suggested suite passes on the data it came from."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mlake.quality import Suite


def test_suggestions_follow_deequs_rules(lake):
    rng = np.random.default_rng(3)
    n = 400
    channel = rng.choice(["web", "app", "store"], n).astype(object)
    channel[:8] = None
    lake.create_table(
        "s.orders",
        pa.table(
            {
                "order_id": np.arange(n),
                "amount": np.round(rng.gamma(2, 20, n), 2),
                "delta": rng.normal(0, 1, n),
                "channel": list(channel),
                "email": [f"user{i}@example.com" for i in range(n)],
                "zip": [f"{10000 + i % 50}" for i in range(n)],
                "mostly_empty": [None] * (n - 3) + ["a", "b", "c"],
            }
        ),
    )
    suggested = lake.quality.suggest("s.orders")
    by_kind: dict[str, list] = {}
    for check in suggested.suite.checks:
        by_kind.setdefault(check.kind, []).append(check)
    not_null = {c.column: c for c in by_kind["not_null"]}
    assert not_null["order_id"].threshold == 1.0 and not_null["order_id"].severity == "error"  # complete if complete
    assert 0.95 < not_null["channel"].threshold < 0.98 and not_null["channel"].severity == "warn"  # retain completeness
    assert "mostly_empty" not in not_null
    assert [c.column for c in by_kind["unique"]] == ["order_id", "email"]  # unique if unique
    in_set = {c.column: c for c in by_kind["in_set"]}
    assert sorted(in_set["channel"].values) == ["app", "store", "web"]  # categorical range
    ranges = [(c.column, c.min, c.max, c.severity) for c in by_kind["in_range"]]
    assert ("amount", 0, None, "error") in ranges  # non-negative
    assert any(col == "delta" and sev == "warn" and lo < 0 < hi for col, lo, hi, sev in ranges)  # min/max
    assert not any(col == "delta" and lo == 0 for col, lo, _, _ in ranges)
    assert [c.column for c in by_kind["regex"]] == ["email"]  # retain pattern
    assert [(c.column, c.cast_to) for c in by_kind["type"]] == [("zip", "double")]  # retain type
    assert by_kind["schema"][0].columns_expected["order_id"] == "bigint"
    assert len(suggested.reasons) == len(suggested.suite.checks)

    text = suggested.yaml
    assert "# complete if complete: order_id has no nulls" in text
    reloaded = Suite.load(text)
    assert reloaded.to_dict() == suggested.suite.to_dict()
    result = lake.quality.check("s.orders", reloaded, save=False)
    assert result.passed and not result.warnings, result.summary()


def test_suggestions_catch_a_bad_batch(lake):
    good = pa.table({"id": [1, 2, 3, 4, 5, 6, 7, 8], "kind": ["a", "b"] * 4, "qty": [1, 2, 2, 3, 3, 4, 5, 5]})
    lake.create_table("s.t", good)
    suite = lake.quality.suggest("s.t").suite
    lake.table("s.t").append(pa.table({"id": [8], "kind": ["zzz"], "qty": [-1]}))
    result = lake.quality.check("s.t", suite, save=False)
    failed = {r.check for r in result.results if not r.passed}
    assert {"unique(id)", "in_set(kind)", "in_range(qty)"} <= failed


def test_suggest_on_an_empty_table(lake):
    lake.create_table("s.empty", schema=pa.schema([("x", pa.int64())]))
    s = lake.quality.suggest("s.empty")
    assert [c.kind for c in s.suite.checks] == ["schema", "row_count"]
