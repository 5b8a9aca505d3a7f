"""``python -m benchmarks``: the summary reads what each benchmark run recorded, and judges targets right."""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import summary
from benchmarks.common import Figure, record


def test_targets_of_each_kind() -> None:
    assert Figure("t", 1.1, 1.0, "s", "raw", "≤ 1.15×").met is True
    assert Figure("t", 1.2, 1.0, "s", "raw", "≤ 1.15×").met is False
    assert Figure("q", 600, 1000, "req/s", "raw", "≥ 0.5×").met is True
    assert Figure("q", 400, 1000, "req/s", "raw", "≥ 0.5×").met is False
    assert Figure("c", 0.4, 0.02, "s", "pass", "≤ 0.5 s").met is True  # mlake's own figure, not the ratio
    assert Figure("c", 0.6, 0.02, "s", "pass", "≤ 0.5 s").met is False
    assert Figure("r", 2.0, 1.0, "s", "raw").met is None


def test_summary_shows_the_last_recorded_figures(tmp_path: Path) -> None:
    record([Figure("a", 2.0, 1.0, "s", "raw", "≤ 1.5×"), Figure("b", 1.0, 1.0, "s", "raw")], "bench_x", "cmd", tmp_path)
    record([Figure("a", 1.2, 1.0, "s", "raw", "≤ 1.5×")], "bench_x", "cmd", tmp_path)  # a re-run replaces "a" only
    lines = summary(results=tmp_path)
    a = next(line for line in lines if line.startswith("x · a"))
    b = next(line for line in lines if line.startswith("x · b"))
    assert "1.20×" in a and a.endswith("yes")
    assert "1.00×" in b and b.endswith("—")
    assert any("no recorded run" in line for line in lines)  # the repository's benchmarks: none recorded here
