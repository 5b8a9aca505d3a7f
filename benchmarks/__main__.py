"""``python -m benchmarks``: one screen of every benchmark's figures — mlake, the limit measured in the same
run, their ratio, the target and whether it is met — read from ``benchmarks/results/*.json``, which every
benchmark run writes (:func:`benchmarks.common.record`).

    python -m benchmarks               the summary of the last recorded runs (nothing is re-run)
    python -m benchmarks --run quick   run each benchmark's quick version first (those with --quick)
    python -m benchmarks --list        the benchmarks and how to run each
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, Figure

HERE = Path(__file__).parent


def benches() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def list_benches() -> None:
    for p in benches():
        doc = (p.read_text().split('"""')[1].strip().splitlines() or [""])[0]
        print(f"python -m benchmarks.{p.stem:<22} {doc}")


def run_quick() -> list[str]:
    """Run every benchmark that has a quick version; return those that failed."""
    failed = []
    for p in benches():
        if "--quick" not in p.read_text():
            continue
        print(f"running python -m benchmarks.{p.stem} --quick", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{p.stem}", "--quick"], cwd=ROOT, stdout=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            failed.append(p.stem)
    return failed


def summary(width: int = 60, results: Path = RESULTS) -> list[str]:
    """The table: one line per recorded figure, benchmarks in name order."""
    lines = [f"{'benchmark · figure':<{width}} {'mlake':>10} {'limit':>10} {'ratio':>7}  {'target':<9} met"]
    lines.append("─" * len(lines[0]))
    recorded = {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("*.json"))}
    for bench in sorted({p.stem for p in benches()} | set(recorded)):
        data = recorded.get(bench)
        if data is None:
            lines.append(f"{bench:<{width}} {'(no recorded run)':>10}")
            continue
        for f in data["figures"]:
            fig = Figure(f["name"], f["mlake"], f["limit"], f["unit"], f["limit_name"], f.get("target"))
            met = {True: "yes", False: "NO", None: "—"}[fig.met]
            name = f"{bench.removeprefix('bench_')} · {fig.name}"
            name = name if len(name) <= width else name[: width - 1] + "…"
            lines.append(
                f"{name:<{width}} {_num(fig.mlake, fig.unit):>10} {_num(fig.limit, fig.unit):>10} "
                f"{fig.ratio:>6.2f}×  {fig.target or '—':<9} {met}"
            )
    lines.append("ratio = mlake ÷ limit (the limit measured in the same run); details in benchmarks/results/")
    if recorded:
        runs = [f"{b.removeprefix('bench_')} {d['at'][:16]} load {d.get('load', 0):.0f}" for b, d in recorded.items()]
        lines.append("recorded (UTC, load average): " + "; ".join(runs))
    return lines


def _num(value: float, unit: str) -> str:
    return f"{value:.3g} {unit}" if abs(value) < 1000 else f"{value:,.0f} {unit}"


def main(argv: list[str]) -> int:
    if "--list" in argv:
        list_benches()
        return 0
    failed: list[str] = []
    if "--run" in argv:
        i = argv.index("--run")
        if argv[i + 1 : i + 2] != ["quick"]:
            print("usage: python -m benchmarks [--run quick] [--list]", file=sys.stderr)
            return 2
        failed = run_quick()
    print("\n".join(summary()))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
