"""A suite of 20 checks on 10 million rows, versus one hand-written DuckDB aggregate query computing the
same metrics over the same pinned table view.

    .venv/bin/python -m benchmarks.bench_checks

The suite mixes every row-level check type with table-level ones (unique, row count, freshness,
distribution); two checks fail on purpose, so the run also fetches their samples of failing rows (which
the hand-written query does not). Target: within 1.5× of the hand-written query. Each contender also
reports its CPU seconds (all threads of its process), steadier than wall time on a shared machine.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import machine, report, run_contender

ROWS = 10_000_000

SUITE = """
name: orders
checks:
  - not_null: order_id
  - not_null: customer_id
  - not_null: ordered_at
  - {type: not_null, column: amount, threshold: 0.98}
  - {type: not_null, column: channel, threshold: 0.97}
  - unique: order_id
  - in_set: {column: country, values: [DE, FR, NL, ES, IT, PL, SE, US, GB, AT]}
  - in_set: {column: status, values: [completed, returned, cancelled]}
  - in_set: {column: channel, values: [web, app, store, partner]}
  - in_range: {column: quantity, min: 1, max: 5}
  - in_range: {column: price, min: 0, max: 250}
  - in_range: {column: discount, min: 0, max: 0.5}
  - in_range: {column: age, min: 18, max: 100}
  - in_range: {column: amount, min: 0, max: 10000}
  - regex: {column: email, pattern: '[a-z0-9]+@example\\.com', threshold: 0.99}
  - type: {column: category, as: varchar}
  - row_count: {min: 1000000}
  - freshness: {column: ordered_at, max_age: 3650d}
  - distribution: {column: amount, metric: mean, min: 10, max: 100}
  - distribution: {column: score, metric: std, min: 0.9, max: 1.1}
"""

HAND_WRITTEN = """
SELECT
  count(*),
  count_if(order_id IS NULL), count_if(customer_id IS NULL), count_if(ordered_at IS NULL),
  count_if(amount IS NULL), count_if(channel IS NULL),
  count_if(order_id IS NOT NULL) - count(DISTINCT order_id),
  count_if(country NOT IN ('DE','FR','NL','ES','IT','PL','SE','US','GB','AT')),
  count_if(status NOT IN ('completed','returned','cancelled')),
  count_if(channel NOT IN ('web','app','store','partner')),
  count_if(quantity < 1 OR quantity > 5), count_if(price < 0 OR price > 250),
  count_if(discount < 0 OR discount > 0.5), count_if(age < 18 OR age > 100),
  count_if(amount < 0 OR amount > 10000),
  count_if(NOT regexp_full_match(email, '[a-z0-9]+@example\\.com')),
  count_if(category IS NOT NULL AND TRY_CAST(category AS VARCHAR) IS NULL),
  max(ordered_at), avg(amount), stddev_samp(score)
FROM {view}
"""


def mlake_suite() -> dict[str, Any]:
    from benchmarks.quality_data import ORDERS, lake_for_benchmarks
    from mlake.quality import Suite

    cpu = time.process_time()
    with lake_for_benchmarks() as lake:
        result = lake.quality.check(ORDERS, Suite.load(SUITE), save=False)
        return {
            "checks": len(result.results),
            "failed": len([r for r in result.results if not r.passed]),
            "queries": result.scans,
            "cpu_seconds": round(time.process_time() - cpu, 1),
        }


def hand_written() -> dict[str, Any]:
    from benchmarks.quality_data import ORDERS, lake_for_benchmarks
    from mlake.tables.names import TableName

    cpu = time.process_time()
    with lake_for_benchmarks() as lake:
        view = lake.engine.view_for(TableName.parse(ORDERS))
        row = lake.engine.connection.cursor().sql(HAND_WRITTEN.format(view=view)).fetchall()[0]
        return {"metrics": len(row), "cpu_seconds": round(time.process_time() - cpu, 1)}


def main() -> str:
    from benchmarks.quality_data import ensure_orders

    ensure_orders(ROWS)
    ours = run_contender("benchmarks.bench_checks", "mlake_suite", repeat=2, name="mlake suite of 20 checks")
    base = run_contender("benchmarks.bench_checks", "hand_written", repeat=2, name="hand-written DuckDB query")
    ratio = ours.seconds / base.seconds
    note = (
        f"mlake takes {ratio:.2f}× the hand-written query's time (target ≤ 1.5×: "
        f"{'met' if ratio <= 1.5 else 'NOT met'}); fastest of 2 runs each. {machine()}"
    )
    table = report("20 checks on 10M rows: suite vs one hand-written aggregate query", ours, [base], note, target=1.5)
    return table + "\n\n" + note


if __name__ == "__main__":
    main()
