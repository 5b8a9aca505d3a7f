"""The Ray backend for partitioned compute (``pip install 'mlake[ray]'``).

Each partition (a data file or a chunk) becomes a Ray task that runs a stage's SQL with DuckDB; a keyed
stage first splits every partition into ``buckets`` by a hash of its keys (one task per partition),
then runs one task per bucket over that bucket's pieces (and over the same bucket's pieces of the tables
the stage splits alike, each cut into slices split by tasks of their own); a global stage runs in the
driver over the merged rows. Ray is imported when the backend is built, never when mlake is imported.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from mlake.engines.partitioned import Partition, Stage, run_sql, split_by_key
from mlake.errors import ConfigError


class RayCompute:
    """Runs partitioned jobs on a Ray cluster: a local one started on demand, or one by ``address``."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, buckets: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ConfigError("The Ray engine needs Ray", hint="pip install 'mlake[ray]'") from exc
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
            self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        self.buckets = buckets or max(2, cpus)
        self._run = ray.remote(num_cpus=1)(_run_many)
        self._run_split = ray.remote(num_cpus=1)(_run_with_split)
        self._split = ray.remote(num_cpus=1, num_returns=self.buckets)(_split)

    def run(self, stages: list[Stage], inputs: list[Partition], tables: dict[str, pa.Table] | None = None) -> pa.Table:
        ray = self._ray
        split_names = {name for stage in stages for name, _ in stage.split}
        shared = ray.put({n: t for n, t in (tables or {}).items() if n not in split_names})  # split ones go by bucket
        parts: list[Any] = list(inputs)
        for stage in stages:
            if stage.global_:
                merged = run_sql("SELECT * FROM __input", self._get(parts))
                parts = [run_sql(stage.sql, merged, tables)]
            elif stage.keys is not None:
                pieces: list[Any] = [self._split.remote(p, stage.keys, self.buckets) for p in parts]
                if self.buckets == 1:
                    pieces = [[p] for p in pieces]
                if stage.split:
                    parts = self._run_split_stage(stage, pieces, tables or {}, shared)
                else:
                    parts = [
                        self._run.remote(stage.sql, shared, *[piece[b] for piece in pieces])
                        for b in range(self.buckets)
                    ]
            else:
                parts = [self._run.remote(stage.sql, shared, p) for p in parts]
        results = [r for r in self._get(parts) if not isinstance(r, str) and r.num_rows]
        if not results:
            results = [t for t in self._get(parts) if not isinstance(t, str)][:1]
        return pa.concat_tables(results, promote_options="permissive") if results else pa.table({})

    def _run_split_stage(
        self, stage: Stage, pieces: list[Any], tables: dict[str, pa.Table], broadcast: Any
    ) -> list[Any]:
        """One task per bucket over its pieces of the input and of each table the stage splits; those
        tables are cut into slices (one split task each); ``broadcast``: the other tables, put once."""
        sliced: list[tuple[str, list[Any]]] = []
        for name, keys in stage.split:
            table = tables[name]
            size = max(1, -(-table.num_rows // self.buckets))
            slices = [table.slice(i, size) for i in range(0, max(table.num_rows, 1), size)]
            split = [self._split.remote(s, keys, self.buckets) for s in slices]
            sliced.append((name, [[p] for p in split] if self.buckets == 1 else split))
        counts = (len(pieces), *((name, len(split)) for name, split in sliced))
        return [
            self._run_split.remote(
                stage.sql,
                broadcast,
                counts,
                *[piece[b] for piece in pieces],
                *[split[b] for _, by_slice in sliced for split in by_slice],
            )
            for b in range(self.buckets)
        ]

    def _get(self, parts: list[Any]) -> list[Any]:
        refs = [p for p in parts if isinstance(p, self._ray.ObjectRef)]
        got = iter(self._ray.get(refs))
        return [next(got) if isinstance(p, self._ray.ObjectRef) else p for p in parts]

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def run_function(fn: Any, *args: Any, module_by_value: Any = None) -> Any:
    """``fn(*args)`` as one Ray task (a local Ray started on demand, left running for the next task), its
    result back. ``module_by_value``: a module whose functions are shipped to the workers by value
    (a script's or notebook's module the workers cannot import)."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError("Running a step on Ray needs Ray", hint="pip install 'mlake[ray]'") from exc
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    if module_by_value is not None:
        ray.cloudpickle.register_pickle_by_value(module_by_value)  # type: ignore[no-untyped-call]
    return ray.get(ray.remote(num_cpus=1)(fn).remote(*args))


def _run_many(sql: str, tables: dict[str, pa.Table], *pieces: Partition) -> pa.Table:
    """One task: ``sql`` over its pieces (Ray resolves pieces given as arguments, not inside lists)."""
    return run_sql(sql, list(pieces), tables)


def _run_with_split(sql: str, tables: dict[str, pa.Table], counts: tuple[Any, ...], *pieces: pa.Table) -> pa.Table:
    """One bucket's task of a stage that splits tables: ``counts`` says how many of ``pieces`` are the
    input's (first) and then, per split table, ``(name, how many)``; each table's pieces are joined."""
    n_input, *named = counts
    given = dict(tables)
    at = n_input
    for name, n in named:
        given[name] = pa.concat_tables(pieces[at : at + n])
        at += n
    return run_sql(sql, list(pieces[:n_input]), given)


def _split(data: Partition | list[Partition], keys: tuple[str, ...], buckets: int) -> Any:
    out = split_by_key(data, keys, buckets)
    return out[0] if buckets == 1 else tuple(out)


__all__ = ["RayCompute", "run_function"]
