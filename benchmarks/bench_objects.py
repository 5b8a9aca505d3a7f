"""Object ingestion: 10,000 small generated PNG images into an object table vs a plain Python loop.

    .venv/bin/python -m benchmarks.bench_objects [--quick]

Data: 10,000 PNG images (1,000 with --quick), 32×32 to 64×64 pixels, in ten class folders, generated once
with Pillow under ``benchmarks/.data``; 2 % of them are byte-identical copies of another image.

- mlake: ``lake.objects.add(folder, into=..., label_from="folder")`` into a fresh local lake: read each file,
  sha256, decode the image header (Pillow ``verify`` + size), copy it into the warehouse, one Iceberg
  commit of the rows (lineage, audit).
- baseline: a plain Python loop doing the minimum of the same work: ``shutil.copyfile`` of each file into a
  folder and ``Image.open(path).size`` for its size — no hashing, no verification, no table.
Figures: objects/s and peak memory (max RSS of each contender's own process). mlake's time includes importing
mlake and opening the lake; ``add_s`` is the time of ``add()`` alone.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, machine, report, run_contender

CLASSES = 10


def ensure_data(count: int) -> Path:
    import random

    from PIL import Image

    root = DATA / f"objects_{count}"
    if (root / "done").exists():
        return root
    rng = random.Random(13)
    previous: Path | None = None
    for i in range(count):
        folder = root / f"class_{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"img_{i:05d}.png"
        if previous is not None and rng.random() < 0.02:
            shutil.copyfile(previous, target)  # an exact duplicate
            continue
        side = rng.randint(32, 64)
        img = Image.new("RGB", (side, side), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        img.putpixel((rng.randrange(side), rng.randrange(side)), (0, 0, 0))
        img.save(target)
        previous = target
    (root / "done").write_text("ok")
    return root


def mlake_add(folder: str) -> dict[str, Any]:
    import time

    import mlake

    with tempfile.TemporaryDirectory() as home:
        lake = mlake.connect(Path(home) / "lake", threads=2)
        started = time.perf_counter()
        report = lake.objects.add(str(Path(folder) / "**" / "*.png"), into="bench.images", label_from="folder")
        add_s = time.perf_counter() - started
        lake.close()
    return {
        "objects": report.rows_written,
        "duplicates": len(report.duplicates),
        "errors": len(report.errors),
        "add_s": round(add_s, 3),
    }


def plain_loop(folder: str) -> dict[str, Any]:
    from PIL import Image

    files = sorted(Path(folder).rglob("*.png"))
    sizes = []
    with tempfile.TemporaryDirectory() as out:
        for i, path in enumerate(files):
            shutil.copyfile(path, Path(out) / f"{i}.png")
            with Image.open(path) as img:
                sizes.append(img.size)
    return {"objects": len(sizes)}


def main() -> str:
    count = 1_000 if "--quick" in sys.argv else 10_000
    folder = str(ensure_data(count))
    ours = run_contender("benchmarks.bench_objects", "mlake_add", folder, name="mlake lake.objects.add")
    base = run_contender("benchmarks.bench_objects", "plain_loop", folder, name="plain loop: copy + Pillow size")
    for m in (ours, base):
        m.extra["objects_per_s"] = round(count / m.seconds)
    add_s = ours.extra["add_s"]
    note = (
        f"{count:,} PNG images: mlake {count / ours.seconds:,.0f} objects/s including import and opening the lake, "
        f"{count / add_s:,.0f} objects/s in add() itself ({add_s / base.seconds:.2f}× the loop) ({ours.peak_mb:.0f} MB peak) vs a "
        f"plain loop {count / base.seconds:,.0f} objects/s ({base.peak_mb:.0f} MB peak); ours takes "
        f"{ours.seconds / base.seconds:.2f}× the loop's time. {machine()}, load average {os.getloadavg()[0]:.1f}"
    )
    table: str = report(f"Object ingestion: {count:,} small PNG images", ours, [base], note)
    return table + "\n\n" + note


if __name__ == "__main__":
    main()
