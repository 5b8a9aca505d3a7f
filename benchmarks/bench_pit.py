"""Point-in-time training sets: 1M entity rows against 10M feature rows (100k keys, 5 features).

Contenders, each in a fresh process, all producing the same rows as an Arrow table / DataFrame:
- ours: ``lake.features.training_set("bench.entities", ["pit0:*"]).to_arrow()`` (Iceberg scan planning,
  ASOF join with the write-time tie-break, TTL rule, entity order restored);
- raw DuckDB: one ``ASOF LEFT JOIN`` over the *same Parquet data files* (no tie-break, no TTL, no order);
- pandas ``merge_asof`` over the same files (which needs both sides sorted by time).
Then scaling: the same entity rows joined with 1, 2 and 4 groups of 10M rows each.

``--issue16`` measures exactly issue 16's comparison instead: the training set (lake already open, timed
from ``training_set(...)`` to the Arrow table) against the raw ASOF JOIN over the same Parquet files, at
1M entity x 10M feature rows and 3M x 30M, both with 2 threads and a 4 GB DuckDB memory limit, each run
in its own process (peak RSS is that process's), alternating for ``--rounds`` rounds (default 3). It
prints wall and CPU seconds, peak RSS, and mlake / limit ratios.

``--engine ray`` measures issue 12's comparison: the same training set (1 group, ``save=False``, lake open)
on DuckDB in process and on a local Ray with 2 CPUs (``engine="ray"``: each group's join split by a
hash of the entity key, the same SQL per bucket), each in its own process; Ray's start-up is timed apart,
and the job is run twice (cold workers, then warm). Both sides' rows are checked equal (a digest of the
whole table). Then per-bucket scaling: Ray with 2 CPUs at 2, 4 and 8 buckets, and with 1 CPU at 2. Peak
RSS is the driver's (Ray's workers and object store are other processes: their peak is printed apart).

    .venv/bin/python -m benchmarks.bench_pit [--quick]
    .venv/bin/python -m benchmarks.bench_pit --issue16 [--rounds 3] [--small]
    .venv/bin/python -m benchmarks.bench_pit --engine ray [--rounds 2] [--small]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

import mlake
from benchmarks.common import DATA, Figure, Measurement, machine, record, report, run_contender

KEYS = 100_000  # at 10M feature rows: 100 rows per key (the density is kept at other sizes)
MODULE = "benchmarks.bench_pit"


def _keys(feature_rows: int) -> int:
    return max(1, feature_rows * KEYS // 10_000_000)


def _home(rows: int) -> Path:
    return DATA / f"pit_lake_{rows}"


def _lake(rows: int, memory_limit: str = "2GB") -> Any:
    return mlake.connect(_home(rows), memory_limit=memory_limit)


def _manifest(rows: int) -> dict[str, list[str]]:
    """The data files of every table, listed once by ``prepare`` so baselines need no lake."""
    return json.loads((_home(rows) / "files.json").read_text())  # type: ignore[no-any-return]


def prepare(feature_rows: int, entity_rows: int, groups: int) -> dict[str, Any]:
    """Build (once) a lake with ``groups`` feature groups of ``feature_rows`` rows and an entity table."""
    lake = _lake(feature_rows)
    fs = lake.features
    keys = _keys(feature_rows)
    con = duckdb.connect()
    for g in range(groups):
        name = f"pit{g}"
        if fs.registry.exists(name):
            continue
        fs.create_group(
            name,
            entities={"k": "long"},
            event_time="et",
            features={f"f{i}": "double" for i in range(1, 6)},
            online=False,  # no TTL: the baselines have none, so all three must return the same rows
        )
        src = DATA / f"pit_features_{feature_rows}_{g}.parquet"
        con.execute(
            f"COPY (SELECT (hash(i * 31 + {g}) % {keys})::BIGINT AS k, TIMESTAMPTZ '2025-01-01 00:00:00+00' + "
            f"to_microseconds((hash(i * 7 + {g}) % 31536000000000)::BIGINT) AS et, "
            f"random() AS f1, random() AS f2, random() AS f3, random() AS f4, random() AS f5 "
            f"FROM range({feature_rows}) t(i)) TO '{src}' (FORMAT parquet)"
        )
        fs.write(name, f"SELECT * FROM read_parquet('{src}')")
        src.unlink()
    if not lake.table_exists("bench.entities"):
        import pyarrow as pa

        ent = con.sql(
            f"SELECT (hash(i + 99) % {keys})::BIGINT AS k, TIMESTAMPTZ '2025-01-01 00:00:00+00' + "
            f"to_microseconds((hash(i * 13) % 31536000000000)::BIGINT) AS ts, (i % 2 = 0) AS label "
            f"FROM range({entity_rows}) t(i)"
        ).to_arrow_table()
        lake.create_table("bench.entities", pa.Table.from_batches(ent.to_batches()))
    tables = ["bench.entities"] + [f"features.pit{g}" for g in range(groups)]
    (_home(feature_rows) / "files.json").write_text(json.dumps({t: _files(lake, t) for t in tables}))
    lake.close()
    return {}


def _files(lake: Any, table: str) -> list[str]:
    return [t.file.file_path.removeprefix("file://") for t in lake.table(table).iceberg.scan().plan_files()]


def ours(feature_rows: int, groups: int) -> dict[str, Any]:
    lake = _lake(feature_rows)
    features = [f"pit{g}:*" for g in range(groups)]
    out = lake.features.training_set("bench.entities", features, entity_time="ts").to_arrow()
    non_null = out.num_rows - out.column(3).null_count
    return {"rows": out.num_rows, "matched": non_null}


def raw_duckdb(feature_rows: int, groups: int) -> dict[str, Any]:
    files = _manifest(feature_rows)
    ent = files["bench.entities"]
    feats = [files[f"features.pit{g}"] for g in range(groups)]
    con = duckdb.connect(config={"threads": 2, "memory_limit": "2GB"})
    sql = f"SELECT * FROM read_parquet({ent!r}) e0"
    prev = "e0"
    for g, files in enumerate(feats):
        cols = ", ".join(f"f{g}.f{i} AS g{g}_f{i}" for i in range(1, 6))
        sql = (
            f"SELECT {prev}.*, {cols} FROM ({sql}) {prev} ASOF LEFT JOIN read_parquet({files!r}) f{g} "
            f"ON {prev}.k = f{g}.k AND {prev}.ts >= f{g}.et"
        )
        prev = f"e{g + 1}"
    out = con.sql(sql).to_arrow_table()
    return {"rows": out.num_rows, "matched": out.num_rows - out.column(3).null_count}


def pandas_merge_asof(feature_rows: int, groups: int) -> dict[str, Any]:
    files = _manifest(feature_rows)
    ent, feats = files["bench.entities"], files["features.pit0"]
    left = pd.read_parquet(ent).sort_values("ts")
    right = pd.read_parquet(feats, columns=["k", "et", "f1", "f2", "f3", "f4", "f5"]).sort_values("et")
    out = pd.merge_asof(left, right, left_on="ts", right_on="et", by="k", direction="backward")
    return {"rows": len(out), "matched": int(out["f1"].notna().sum())}


def _interleaved(feature_rows: int, groups: int, rounds: int) -> tuple[Measurement, Measurement, list[float]]:
    """Ours and raw DuckDB in alternating order, ``rounds`` times: best time of each, and each round's ratio.

    The machine is shared and noisy; pairing the runs keeps load swings from favouring either side.
    """
    ours_runs, raw_runs, ratios = [], [], []
    for r in range(rounds):
        order = ("ours", "raw_duckdb") if r % 2 == 0 else ("raw_duckdb", "ours")
        got = {name: run_contender(MODULE, name, feature_rows, groups) for name in order}
        ours_runs.append(got["ours"])
        raw_runs.append(got["raw_duckdb"])
        ratios.append(got["ours"].seconds / got["raw_duckdb"].seconds)
    best_ours = min(ours_runs, key=lambda m: m.seconds)
    best_raw = min(raw_runs, key=lambda m: m.seconds)
    best_ours.peak_mb = max(m.peak_mb for m in ours_runs)
    best_raw.peak_mb = max(m.peak_mb for m in raw_runs)
    return best_ours, best_raw, ratios


_LIMIT = "4GB"  # both sides of --issue16: mlake's default memory limit


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ours_timed(feature_rows: int) -> dict[str, Any]:
    """The training set of one group, the lake already open: wall and CPU seconds of the call alone."""
    import time

    lake = _lake(feature_rows, _LIMIT)
    lake.features.registry.exists("pit0")  # warm the metastore connection, as in an open session
    cpu, start = _cpu(), time.perf_counter()
    out = lake.features.training_set("bench.entities", ["pit0:*"], entity_time="ts").to_arrow()
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    return {"seconds": seconds, "cpu": cpu, "rows": out.num_rows, "matched": out.num_rows - out.column(3).null_count}


def raw_timed(feature_rows: int) -> dict[str, Any]:
    """The raw ASOF LEFT JOIN of the same Parquet files into an Arrow table (no tie-break, no order)."""
    import time

    files = _manifest(feature_rows)
    ent, feats = files["bench.entities"], files["features.pit0"]
    cpu, start = _cpu(), time.perf_counter()
    con = duckdb.connect(config={"threads": 2, "memory_limit": _LIMIT})
    out = con.sql(
        f"SELECT e.*, f.f1, f.f2, f.f3, f.f4, f.f5 FROM read_parquet({ent!r}) e "
        f"ASOF LEFT JOIN read_parquet({feats!r}) f ON e.k = f.k AND e.ts >= f.et"
    ).to_arrow_table()
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    return {"seconds": seconds, "cpu": cpu, "rows": out.num_rows, "matched": out.num_rows - out.column(3).null_count}


def issue16(rounds: int, sizes: list[tuple[int, int]]) -> None:
    """Issue 16's table: mlake's training set next to the raw ASOF JOIN, same data, same run."""
    import os
    import statistics

    lines = [
        "| entity x feature rows | mlake s (cpu s) | limit s (cpu s) | time ratio (median of rounds) "
        "| mlake peak MB | limit peak MB | memory ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for feature_rows, entity_rows in sizes:
        run_contender(MODULE, "prepare", feature_rows, entity_rows, 1)
        mine, raw, ratios = [], [], []
        for r in range(rounds):
            order = ("ours_timed", "raw_timed") if r % 2 == 0 else ("raw_timed", "ours_timed")
            got = {name: run_contender(MODULE, name, feature_rows) for name in order}
            assert got["ours_timed"].extra["matched"] == got["raw_timed"].extra["matched"], "different rows"
            mine.append(got["ours_timed"])
            raw.append(got["raw_timed"])
            ratios.append(got["ours_timed"].extra["seconds"] / got["raw_timed"].extra["seconds"])
            print(
                f"{entity_rows:,} x {feature_rows:,} round {r + 1}: "
                + ", ".join(
                    f"{n} {m.extra['seconds']:.2f} s (cpu {m.extra['cpu']:.2f}) {m.peak_mb:.0f} MB"
                    for n, m in got.items()
                ),
                flush=True,
            )
        best_m = min(mine, key=lambda m: m.extra["seconds"])
        best_r = min(raw, key=lambda m: m.extra["seconds"])
        peak_m, peak_r = max(m.peak_mb for m in mine), max(m.peak_mb for m in raw)
        lines.append(
            f"| {entity_rows / 1e6:g}M x {feature_rows / 1e6:g}M | {best_m.extra['seconds']:.2f} ({best_m.extra['cpu']:.2f}) "
            f"| {best_r.extra['seconds']:.2f} ({best_r.extra['cpu']:.2f}) "
            f"| {best_m.extra['seconds'] / best_r.extra['seconds']:.2f}x ({statistics.median(ratios):.2f}x) "
            f"| {peak_m:.0f} | {peak_r:.0f} | {peak_m / peak_r:.2f}x |"
        )
    print(f"\nmachine: {machine()}, load average {os.getloadavg()[0]:.1f} at the end; best of {rounds} rounds each")
    print("\n".join(lines))


def _digest(table: Any) -> str:
    """Equal for equal tables whatever their chunking: the types and a hash of every row."""
    import hashlib

    frame = table.to_pandas()
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(str(table.schema).encode() + rows.tobytes()).hexdigest()[:16]


def _worker_peak_mb() -> float:
    """The largest peak RSS (Linux: VmHWM) among this process's descendants — the Ray workers it started
    (other users' Ray processes on a shared machine are not counted)."""
    import os

    parent: dict[int, int] = {}
    peaks: dict[int, float] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid = int(status.parent.name)
        parent[pid] = int(fields.get("PPid", "0").strip())
        if "VmHWM" in fields:
            peaks[pid] = int(fields["VmHWM"].split()[0]) / 1024
    me, peak = os.getpid(), 0.0
    for pid, mb in peaks.items():
        up = parent.get(pid, 0)
        while up not in (0, 1, me):
            up = parent.get(up, 0)
        if up == me and pid != me:
            peak = max(peak, mb)
    return peak


def engine_timed(feature_rows: int, engine: str, buckets: int = 0, cpus: int = 2) -> dict[str, Any]:
    """One group's training set on ``engine`` (``duckdb`` or ``ray``), the lake open: Ray's start-up, then
    the job twice (cold, warm) for Ray; wall and CPU seconds of the driver, a digest of the rows."""
    import time

    from mlake.features.training import compute_rows

    lake = _lake(feature_rows, _LIMIT)
    lake.features.registry.exists("pit0")  # warm the metastore connection, as in an open session
    out: dict[str, Any] = {"engine": engine, "buckets": buckets, "cpus": cpus}
    compute = None
    if engine == "ray":
        import ray

        from mlake.engines.ray import RayCompute

        start = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        compute = RayCompute(buckets=buckets or None)
        out["startup"] = time.perf_counter() - start
    runs = []
    for _ in range(2 if engine == "ray" else 1):
        cpu, start = _cpu(), time.perf_counter()
        ts = lake.features.training_set("bench.entities", ["pit0:*"], entity_time="ts", save=False)
        table = compute_rows(ts, compute).to_arrow()
        runs.append((time.perf_counter() - start, _cpu() - cpu))
    out.update(seconds=runs[-1][0], cpu=runs[-1][1], cold=runs[0][0], rows=table.num_rows, digest=_digest(table))
    if engine == "ray":
        out["worker_peak_mb"] = _worker_peak_mb()
        ray.shutdown()
    return out


def ray_vs_duckdb(rounds: int, feature_rows: int, entity_rows: int) -> None:
    """Issue 12's table: a training set on Ray (2 CPUs) next to DuckDB in process, same run."""
    import os

    run_contender(MODULE, "prepare", feature_rows, entity_rows, 1)
    print(f"{entity_rows:,} entity rows x {feature_rows:,} feature rows, load average {os.getloadavg()[0]:.1f}")
    got: dict[str, list[Measurement]] = {"duckdb": [], "ray": []}
    for r in range(rounds):
        for engine in ("duckdb", "ray") if r % 2 == 0 else ("ray", "duckdb"):
            m = run_contender(MODULE, "engine_timed", feature_rows, engine)
            got[engine].append(m)
            print(f"round {r + 1} {engine}: {m.extra} peak {m.peak_mb:.0f} MB", flush=True)
    digests = {m.extra["digest"] for ms in got.values() for m in ms}
    assert len(digests) == 1, f"the engines gave different rows: {digests}"
    duck = min(got["duckdb"], key=lambda m: m.extra["seconds"])
    ray = min(got["ray"], key=lambda m: m.extra["seconds"])
    lines = [
        "| engine | job s (driver cpu s) | cold job s | start-up s | driver peak MB | worker peak MB |",
        "|---|---|---|---|---|---|",
        f"| DuckDB in process | {duck.extra['seconds']:.2f} ({duck.extra['cpu']:.2f}) | - | - | {duck.peak_mb:.0f} | - |",
        f"| Ray, 2 CPUs, 2 buckets | {ray.extra['seconds']:.2f} ({ray.extra['cpu']:.2f}) | {ray.extra['cold']:.2f} "
        f"| {ray.extra['startup']:.2f} | {ray.peak_mb:.0f} | {ray.extra['worker_peak_mb']:.0f} |",
    ]
    print(f"Ray / DuckDB (warm job, best of {rounds}): {ray.extra['seconds'] / duck.extra['seconds']:.2f}x")
    for cpus, buckets in ((2, 4), (2, 8), (1, 2)):
        m = run_contender(MODULE, "engine_timed", feature_rows, "ray", buckets, cpus)
        assert m.extra["digest"] in digests, f"{buckets} buckets gave different rows"
        print(f"ray {cpus} cpu(s) {buckets} buckets: {m.extra} peak {m.peak_mb:.0f} MB", flush=True)
        lines.append(
            f"| Ray, {cpus} CPU{'s' if cpus > 1 else ''}, {buckets} buckets | {m.extra['seconds']:.2f} "
            f"({m.extra['cpu']:.2f}) | {m.extra['cold']:.2f} | {m.extra['startup']:.2f} | {m.peak_mb:.0f} "
            f"| {m.extra['worker_peak_mb']:.0f} |"
        )
    print(f"\nmachine: {machine()}, load average {os.getloadavg()[0]:.1f} at the end; rows equal (digest {digests})")
    print("\n".join(lines))
    size = f"{entity_rows / 1e6:g}M x {feature_rows / 1e6:g}M"
    record(
        [
            Figure(
                f"training set on Ray, 2 CPUs ({size}), warm",
                ray.extra["seconds"],
                duck.extra["seconds"],
                "s",
                "DuckDB",
            ),
            Figure(
                f"training set on Ray, 2 CPUs ({size}), start-up + cold",
                ray.extra["startup"] + ray.extra["cold"],
                duck.extra["seconds"],
                "s",
                "DuckDB",
            ),
            Figure(f"training set on Ray, driver peak ({size})", ray.peak_mb, duck.peak_mb, "MB", "DuckDB"),
        ],
        command=f"python -m benchmarks.bench_pit --engine ray --rounds {rounds}"
        + (" --small" if entity_rows < 1e6 else ""),
    )


def main() -> None:
    import statistics

    if "--engine" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 2
        small = "--small" in sys.argv
        ray_vs_duckdb(rounds, *((1_000_000, 100_000) if small else (10_000_000, 1_000_000)))
        return
    if "--issue16" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
        sizes = [(10_000_000, 1_000_000)] + ([] if "--small" in sys.argv else [(30_000_000, 3_000_000)])
        issue16(rounds, sizes)
        return

    quick = "--quick" in sys.argv
    feature_rows, entity_rows = (1_000_000, 100_000) if quick else (10_000_000, 1_000_000)
    rounds = 2 if quick else 5
    print(f"preparing {feature_rows:,} feature rows x 4 groups, {entity_rows:,} entity rows (cached in {DATA})")
    run_contender(MODULE, "prepare", feature_rows, entity_rows, 4)
    results = []
    notes = []
    mine, raw, ratios = _interleaved(feature_rows, 1, rounds)
    mine.name = "mlake training_set (1 group)"
    raw.name = "raw DuckDB ASOF JOIN (same files)"
    notes.append(f"1 group: ours/raw per round {[round(r, 2) for r in ratios]}, median {statistics.median(ratios):.2f}")
    pd_m = run_contender(MODULE, "pandas_merge_asof", feature_rows, 1)
    pd_m.name = "pandas merge_asof (same files)"
    title = (
        f"Point-in-time join: {entity_rows:,} entity rows x {feature_rows:,} feature rows, {KEYS:,} keys, 5 features"
    )
    results.append(report(title, mine, [raw, pd_m]))
    scaling: list[Measurement] = []
    for groups in (2, 4):
        m, r, ratios = _interleaved(feature_rows, groups, max(2, rounds - 2))
        m.name = f"mlake training_set ({groups} groups)"
        r.name = f"raw DuckDB ASOF JOIN ({groups} groups)"
        scaling += [m, r]
        notes.append(f"{groups} groups: ours/raw per round {[round(x, 2) for x in ratios]}")
    results.append(report("Scaling with the number of groups (each 10M rows)", mine, scaling))
    print(f"\nmachine: {machine()}")
    print("\n\n".join(results))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
