"""List the benchmarks; run one with `.venv/bin/python -m benchmarks.bench_<name>`."""

from pathlib import Path

for p in sorted(Path(__file__).parent.glob("bench_*.py")):
    doc = (p.read_text().split('"""')[1].strip().splitlines() or [""])[0]
    print(f"python -m benchmarks.{p.stem:<22} {doc}")
