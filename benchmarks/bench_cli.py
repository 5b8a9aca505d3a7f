"""CLI start-up: read-only catalog commands on the demo lake vs `python -c pass`, with and without cached bytecode.

    .venv/bin/python -m benchmarks.bench_cli [--quick]

Issue 16 asks for at most 0.5 s wall for every read-only catalog command, with or without cached bytecode.
Each command is timed as a whole process (start to exit), alternating with ``python -c pass`` (the
interpreter's own start-up, the limit) so that the pair sees the same machine load; medians are reported.
"Without cached bytecode" is ``PYTHONDONTWRITEBYTECODE=1`` with ``PYTHONPYCACHEPREFIX`` pointing at an empty
folder: no ``.pyc`` is read or written, so every imported module — the standard library's too — is
compiled on every run (the worst case of a machine that never caches bytecode). The Typer app on the same
command (the path every command took before the catalog fast path) is timed beside it.

The demo lake (``mlake demo``; ``--rows 500`` with ``--quick``) is built once under ``benchmarks/.data``.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import DATA, ROOT, Figure, machine, record

PY = sys.executable
TARGET_S = 0.5
TYPER_APP = "import sys; sys.argv = ['mlake', *sys.argv[1:]]; from mlake.cli.app import run; run()"


def demo_lake(rows: int) -> Path:
    """The demo lake, built by the CLI as a user builds it (once; kept under benchmarks/.data)."""
    home = DATA / f"cli-demo-{rows}" / ".mlake-demo"
    built = home.parent / "built"  # written last: an interrupted build is built again
    if not built.exists():
        shutil.rmtree(home.parent, ignore_errors=True)
        home.parent.mkdir(parents=True)
        subprocess.run(
            [PY, "-m", "mlake", "--home", str(home), "-q", "demo", "--rows", str(rows)],
            check=True,
            cwd=home.parent,
            stdout=subprocess.DEVNULL,
        )
        built.touch()
    return home


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def paired(a: list[str], b: list[str], env: dict[str, str], n: int) -> tuple[float, float, float, float]:
    """Median wall and CPU of A and of B, run in turn A B A B ... after one warm-up each."""
    run_once(a, env)
    run_once(b, env)
    wa, ca, wb, cb = [], [], [], []
    for _ in range(n):
        w, c = run_once(a, env)
        wa.append(w)
        ca.append(c)
        w, c = run_once(b, env)
        wb.append(w)
        cb.append(c)
    return statistics.median(wa), statistics.median(ca), statistics.median(wb), statistics.median(cb)


def main() -> None:
    quick = "--quick" in sys.argv
    n = 3 if quick else 7
    home = demo_lake(500 if quick else 5000)
    commands = [["tables", "list"], ["tables", "history", "shop.orders"]]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MLAKE_") and k != "COLUMNS"}
    base_env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    figures: list[Figure] = []
    lines = [
        f"{'command':<40} {'bytecode':<8} {'mlake wall':>10} {'cpu':>6} {'python -c pass':>14} {'ratio':>6} "
        f"{'Typer app wall':>14} {'cpu':>6}"
    ]
    with tempfile.TemporaryDirectory() as empty_cache:
        for cached in (True, False):
            env = dict(base_env)
            if not cached:
                env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=empty_cache)
            for args in commands:
                argv = ["--home", str(home), *args]
                wall, cpu, base_wall, base_cpu = paired([PY, "-m", "mlake", *argv], [PY, "-c", "pass"], env, n)
                full = args == ["tables", "list"]  # the Typer app (tens of seconds under load): on one command
                typer_runs = (
                    [run_once([PY, "-c", TYPER_APP, *argv], env) for _ in range(1 if quick else 3)]
                    if full
                    else [(float("nan"), float("nan"))]
                )
                typer_wall = statistics.median(w for w, _ in typer_runs)
                typer_cpu = statistics.median(c for _, c in typer_runs)
                label = f"mlake {' '.join(args)}"
                mode = "cached" if cached else "no"
                lines.append(
                    f"{label:<40} {mode:<8} {wall:>9.3f}s {cpu:>5.3f}s {base_wall:>13.3f}s "
                    + (
                        f"{wall / base_wall:>5.1f}× {typer_wall:>13.2f}s {typer_cpu:>5.2f}s"
                        if full
                        else f"{wall / base_wall:>5.1f}×"
                    )
                )
                short = " ".join(args[:2])
                figures.append(
                    Figure(f"{short}, {mode} bytecode, wall", wall, base_wall, "s", "-c pass", f"≤ {TARGET_S} s")
                )
                if full:  # CPU (about the wall time on an idle machine) and the full path
                    figures.append(
                        Figure(f"{short}, {mode} bytecode, cpu", cpu, base_cpu, "s", "-c pass", f"≤ {TARGET_S} s")
                    )
                    figures.append(
                        Figure(f"{short}, {mode} bytecode, Typer app, wall", typer_wall, base_wall, "s", "-c pass")
                    )
    print(f"CLI start-up on the demo lake ({machine()}, load {os.getloadavg()[0]:.1f}; medians of {n} runs)")
    print("\n".join(lines))
    print(f"target: every catalog command ≤ {TARGET_S} s wall, with or without cached bytecode")
    path = record(figures, command=f"python -m benchmarks.bench_cli{' --quick' if quick else ''}")
    print(f"recorded in {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
