"""Shared benchmark plumbing: run each contender in its own process, measure time and peak memory.

Each contender is a function in a benchmark module, called in a fresh ``python`` subprocess so that
peak RSS (``ru_maxrss``) belongs to that contender alone and one contender's caches do not help the
next. Results print as a table with the ratio to the baseline measured in the same run, because these
machines are noisy and only ratios compare across runs.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("MLAKE_BENCH_DATA", ROOT / "benchmarks" / ".data"))


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    extra: dict[str, Any]


def run_contender(
    module: str, func: str, *args: Any, repeat: int = 1, python: str | None = None, name: str | None = None
) -> Measurement:
    """Run ``module.func(*args)`` in a subprocess ``repeat`` times; keep the fastest run.

    The function returns a dict of extra figures (rows, bytes ...); its wall time is measured inside
    the child around the call only, so interpreter start-up is not counted. ``python`` runs the child
    with another interpreter (a baseline that needs its own virtualenv); ``name`` labels the result.
    """
    best: Measurement | None = None
    for _ in range(repeat):
        code = (
            "import json, resource, sys, time, importlib\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            f"m = importlib.import_module({module!r})\n"
            f"args = json.loads({json.dumps(json.dumps(list(args)))})\n"
            "t = time.perf_counter()\n"
            f"extra = m.{func}(*args) or {{}}\n"
            "dt = time.perf_counter() - t\n"
            "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            "print('@@RESULT@@' + json.dumps({'seconds': dt, 'peak_mb': peak, 'extra': extra}, default=str))\n"
        )
        proc = subprocess.run([python or sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"{module}.{func} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@"))
        data = json.loads(line[len("@@RESULT@@") :])
        m = Measurement(name or func, data["seconds"], data["peak_mb"], data["extra"])
        if best is None or m.seconds < best.seconds:
            best = m
    assert best is not None
    return best


def report(
    title: str, ours: Measurement, baselines: list[Measurement], note: str = "", target: float | None = None
) -> str:
    """Print and return a markdown table: each contender's time, peak memory, ratio to ours.

    Each call is also recorded in ``benchmarks/results/<bench>.json`` (see :func:`record`): ours against the
    first baseline, met when the time ratio is at most ``target``."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("contender", "seconds", "peak MB", "time ratio (ours / this)", "extra"):
        table.add_column(col)
    rows = [ours, *baselines]
    md = ["| contender | seconds | peak MB | ours ÷ this | extra |", "|---|---|---|---|---|"]
    for m in rows:
        ratio = ours.seconds / m.seconds if m.seconds else float("nan")
        extra = ", ".join(f"{k}={v}" for k, v in m.extra.items())
        table.add_row(m.name, f"{m.seconds:.3f}", f"{m.peak_mb:.0f}", f"{ratio:.2f}", extra)
        md.append(f"| {m.name} | {m.seconds:.3f} | {m.peak_mb:.0f} | {ratio:.2f} | {extra} |")
    Console().print(table)
    if note:
        print(note)
    if baselines:
        limit = baselines[0]
        record(
            [
                Figure(
                    title,
                    ours.seconds,
                    limit.seconds,
                    "s",
                    limit.name,
                    target=f"≤ {target:g}×" if target is not None else None,
                )
            ]
        )
    return "\n".join(md)


RESULTS = ROOT / "benchmarks" / "results"


@dataclass
class Figure:
    """One line of ``python -m benchmarks``: mlake's figure next to the limit measured in the same run.

    ``target`` reads ``"≤ 1.15×"`` (the ratio mlake ÷ limit at most that: times, memory), ``"≥ 0.5×"`` (at
    least that: throughputs), or ``"≤ 0.5 s"`` (mlake's own figure, in its unit); None when the benchmark
    sets no target."""

    name: str
    mlake: float
    limit: float
    unit: str
    limit_name: str
    target: str | None = None

    @property
    def ratio(self) -> float:
        return self.mlake / self.limit if self.limit else float("nan")

    @property
    def met(self) -> bool | None:
        if not self.target:
            return None
        op, number = self.target.split()[:2]
        figure = self.ratio if number.endswith("×") else self.mlake
        value = float(number.rstrip("×"))
        return figure <= value if op == "≤" else figure >= value


def bench_name() -> str:
    """The running benchmark's module (``bench_cli`` for ``python -m benchmarks.bench_cli``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = spec.name if spec is not None else Path(sys.argv[0]).stem
    return name.rsplit(".", 1)[-1]


def record(
    figures: list[Figure], bench: str | None = None, command: str | None = None, directory: Path = RESULTS
) -> Path:
    """Write this run's figures to ``benchmarks/results/<bench>.json`` for the summary of
    ``python -m benchmarks``, replacing those of an earlier run under the same names."""
    import datetime as dt
    from dataclasses import asdict

    bench = bench or bench_name()
    path = directory / f"{bench}.json"
    directory.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    kept = [f for f in old.get("figures", []) if f["name"] not in {g.name for g in figures}]
    data = {
        "bench": bench,
        "command": command or f"python -m benchmarks.{bench} {' '.join(sys.argv[1:])}".strip(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load": os.getloadavg()[0],
        "figures": kept + [asdict(f) | {"ratio": f.ratio, "met": f.met} for f in figures],
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path


def machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
