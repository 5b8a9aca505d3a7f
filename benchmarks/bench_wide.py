"""Profile time versus column count on a 1 million row table of 300 columns: it must grow no worse than
linearly.

    .venv/bin/python -m benchmarks.bench_wide

The same table is profiled on its first 25, 50, 100, 200 and 300 columns (each in a fresh process).
The report gives seconds per column at each width and the exponent ``k`` of a fit ``time ∝ columns^k``
(``k ≤ 1`` is linear or better); the baseline row is the narrowest profile, so the ratio column shows
how much longer 12× the columns take.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.common import Measurement, machine, report, run_contender

ROWS = 1_000_000
COLUMNS = 300
WIDTHS = (25, 50, 100, 200, 300)


def profile_width(table: str, width: int) -> dict[str, Any]:
    from benchmarks.quality_data import lake_for_benchmarks

    with lake_for_benchmarks() as lake:
        columns = [f"c{i}" for i in range(width)]
        p = lake.quality.profile(table, columns=columns, save=False)
        return {"columns": len(p.columns), "queries": p.queries}


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares exponent k of time = a · columns^k."""
    xs = [math.log(c) for c, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def main() -> str:
    from benchmarks.quality_data import ensure_wide

    table = ensure_wide(ROWS, COLUMNS)
    runs: list[Measurement] = []
    for width in WIDTHS:
        m = run_contender("benchmarks.bench_wide", "profile_width", table, width, name=f"{width} columns")
        m.extra["s_per_column"] = round(m.seconds / width, 4)
        runs.append(m)
    k = slope([(w, m.seconds) for w, m in zip(WIDTHS, runs, strict=True)])
    growth = runs[-1].seconds / runs[0].seconds
    note = (
        f"time ∝ columns^{k:.2f} (k ≤ 1 is linear or better: {'met' if k <= 1.05 else 'NOT met'}); "
        f"{WIDTHS[-1] // WIDTHS[0]}× the columns took {growth:.1f}× the time. {machine()}"
    )
    widest, *rest = runs[::-1]
    text = report(f"Profile of {ROWS:,} rows at growing widths", widest, rest, note)
    return text + "\n\n" + note


if __name__ == "__main__":
    main()
