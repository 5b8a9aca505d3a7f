"""Making a loader for a table, a query result or a training set — and choosing the governed path.

Which path a loader reads through (its :attr:`~mlake.loader.stream.Loader.path`):

- **files** — a *table* read by its owner, or by a principal that may read it *as it is* (a ``select``
  grant on the whole table, no column restriction, row filter or mask): the loader reads the Iceberg
  data files of the pinned snapshot directly (and caches them), the fastest way. The grant is checked
  here, through the lake's choke points (``lake.iceberg_table`` and the actor's ``select`` check), and
  the read is audited as ``table.load``.
- **governed-sql** — everything else: a table the principal sees through a row filter, a column mask or
  a subset of columns; a SQL result; a training set; a table with row-level deletes. The rows come from
  the SQL engine — for a principal its sandboxed engine and secure views, so the loader yields exactly
  what ``table.query()`` / ``lake.sql()`` would — and are written once to local Parquet under the cache
  folder (keyed by the SQL, the snapshots it reads, the principal and its access to those tables), then
  read like data files. A later loader of the same key reuses the files; SQL with parameters or with
  functions whose value changes between runs (``random()``, ``now()`` ...) is written afresh per loader.

A principal without ``select`` on a table gets :class:`~mlake.errors.PermissionDeniedError` when the
loader is made, before any row is read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlake.errors import ValidationError
from mlake.loader.cache import DEFAULT_MAX_BYTES, LoaderCache
from mlake.loader.plan import LoadPlan, plan_iceberg_files, spill, spill_key
from mlake.loader.stream import Format, Loader
from mlake.results import Result
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlake.core import LakeHandle

CacheOption = bool | str | Path | LoaderCache | None
_ENTITY_VIEW = re.compile(r"__mlake_entities_[0-9a-f]{32}")
_VOLATILE = re.compile(r"\b(random|uuid|gen_random_uuid|now|current_\w+|get_current_\w+|setseed)\b", re.IGNORECASE)


def build_loader(
    lake: LakeHandle,
    source: Any,
    *,
    batch_size: int = 1024,
    shuffle: bool = False,
    seed: int = 0,
    columns: Sequence[str] | None = None,
    rank: int = 0,
    world_size: int = 1,
    cache: CacheOption = None,
    format: Format = "numpy",
    drop_last: bool = False,
    shuffle_buffer: int | None = None,
    prefetch: int = 4,
    read_threads: int = 2,
    snapshot_id: int | None = None,
    worker: int | None = None,
    num_workers: int | None = None,
    even: Literal["drop", "pad"] | None = None,
) -> Loader:
    """A :class:`Loader` over ``source``: a table (name or handle), a query result, or a training set.

    ``cache``: None (default) caches data files that live in object storage and not local ones (they
    are local already); True caches every data file under the lake's home; a folder or a
    :class:`LoaderCache` chooses where and how large; False turns caching off. See the module docstring
    for which path is used when. ``worker``/``num_workers`` name this process's worker when workers are
    not PyTorch's (which the loader finds by itself), or simulate them. ``even`` ("drop" or "pad") gives
    every rank and worker the same number of rows, as DistributedDataParallel needs (see
    :mod:`mlake.loader.stream`)."""
    wanted = list(columns) if columns is not None else None
    file_cache = _cache(lake, cache)
    plan = _plan(lake, source, wanted, snapshot_id)
    if file_cache is None and cache is None and plan.path == "files" and any(f.local_path is None for f in plan.files):
        file_cache = LoaderCache(_cache_root(lake) / "files", DEFAULT_MAX_BYTES)
    if plan.path == "governed-sql" and cache is not True and not isinstance(cache, LoaderCache | str | Path):
        file_cache = None  # spilled results are local files already
    return Loader(
        plan,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
        cache=file_cache,
        format=format,
        drop_last=drop_last,
        shuffle_buffer=shuffle_buffer,
        prefetch=prefetch,
        read_threads=read_threads,
        worker=worker,
        num_workers=num_workers,
        even=even,
    )


def _cache_root(lake: LakeHandle) -> Path:
    return Path(lake.settings.home) / "cache" / "loader"


def _cache(lake: LakeHandle, cache: CacheOption) -> LoaderCache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return LoaderCache(_cache_root(lake) / "files", DEFAULT_MAX_BYTES)
    if isinstance(cache, LoaderCache):
        return cache
    return LoaderCache(Path(cache), DEFAULT_MAX_BYTES)


def _plan(lake: LakeHandle, source: Any, columns: list[str] | None, snapshot_id: int | None) -> LoadPlan:
    from mlake.tables.table import Table

    if isinstance(source, Table):
        return _plan_table(lake, source.name, columns, snapshot_id)
    if isinstance(source, TableName) or (isinstance(source, str) and _is_table_name(source)):
        return _plan_table(lake, TableName.parse(source), columns, snapshot_id)
    if snapshot_id is not None:
        raise ValidationError("snapshot_id applies to tables only", hint="pin a query with AT (VERSION => ...)")
    if isinstance(source, str):
        source = lake.engine.query(source)
    if isinstance(source, Result):
        return _spill(lake, source, _result_identity(lake, source), "query result").select(columns)
    result = getattr(source, "result", None)
    if isinstance(result, Result) and hasattr(source, "spec"):  # a training set
        identity = _training_set_identity(lake, source, result)
        name = getattr(source, "name", None) or getattr(source, "id", None) or "(unsaved)"
        return _spill(lake, result, identity, f"training set {name}").select(columns)
    raise ValidationError(
        f"Cannot make a loader over a {type(source).__name__}",
        hint="pass a table (name or handle), a SQL query or result, or a training set",
    )


def _is_table_name(text: str) -> bool:
    """``ns.table`` rather than SQL (a missing or hidden table then gets the table's own error)."""
    from mlake.errors import MlakeError

    stripped = text.strip()
    if not stripped or any(ch.isspace() for ch in stripped) or "(" in stripped:
        return False
    try:
        TableName.parse(stripped)
    except MlakeError:
        return False
    return True


def _plan_table(lake: LakeHandle, name: TableName, columns: list[str] | None, snapshot_id: int | None) -> LoadPlan:
    with lake.audited("table.load", [str(name)]):
        ice = lake.iceberg_table(name)  # a principal with no grant on it stops here
        access = lake.access.require("select", name)
        if snapshot_id is None:
            current = ice.current_snapshot()
            snapshot_id = current.snapshot_id if current is not None else None
        elif ice.snapshot_by_id(snapshot_id) is None:
            lake.table(name).check_snapshot(snapshot_id)
        if not access.restricted and snapshot_id is not None:
            plan = _plan_files(lake, ice, name, snapshot_id)
            if plan is not None:
                return plan.select(columns)
        result = lake.table(name).query(columns, snapshot_id=snapshot_id)
        return _spill(lake, result, _result_identity(lake, result), f"table {name}")


def _plan_files(lake: LakeHandle, ice: Any, name: TableName, snapshot_id: int) -> LoadPlan | None:
    from mlake.tables.types import is_flat

    scan = ice.scan(snapshot_id=snapshot_id)
    schema = scan.projection()
    if not is_flat(schema) or ice.metadata.properties.get("schema.name-mapping.default"):
        return None
    tasks = list(scan.plan_files())
    return plan_iceberg_files(tasks, schema, ice.io, dict(ice.io.properties), f"table {name}@{snapshot_id}")


def _spill(lake: LakeHandle, result: Result, identity: list[Any] | None, description: str) -> LoadPlan:
    key = spill_key(identity) if identity is not None else None
    return spill(result, _cache_root(lake) / "results", key, description, DEFAULT_MAX_BYTES)


def _access_parts(lake: LakeHandle, tables: list[str]) -> list[Any]:
    """Who reads and what it may see of each table: a spilled result is reused by the same actor under the
    same grants, columns, row filters and masks only."""
    parts: list[Any] = [lake.access.name]
    if lake.access.governed:
        for table in sorted(set(tables)):
            access = lake.access.table(TableName.parse(table))
            parts.append([table, sorted(access.privileges), access.columns, access.filters, access.masks])
    return parts


def _result_identity(lake: LakeHandle, result: Result) -> list[Any] | None:
    tables = [i for i in result.lineage_inputs if i.kind == "table"]
    if any(i.snapshot_id is None for i in tables) and "@" not in result.sql:
        return None  # not pinned to snapshots: no identity to reuse it by
    if "__mlake_entities_" in result.sql or "__mlake_fallback" in result.sql:
        return None  # reads data held in memory
    if any(ch in result.sql for ch in "?$") or _VOLATILE.search(result.sql):
        return None  # parameters (not kept with the result) or values that change from run to run
    pins = sorted((i.ref, i.snapshot_id) for i in tables)
    return ["result", result.sql, pins, _access_parts(lake, [i.ref for i in tables])]


def _training_set_identity(lake: LakeHandle, ts: Any, result: Result) -> list[Any] | None:
    if getattr(ts, "id", None) is None:
        return None  # unsaved: its entity rows live in memory only
    tables = [i.ref for i in result.lineage_inputs if i.kind == "table"]
    entity_table = ts.entities.get("table")
    if entity_table:
        tables.append(entity_table)
    sql = _ENTITY_VIEW.sub("__mlake_entities", result.sql)
    return ["training_set", ts.id, ts.spec, ts.entities, ts.snapshots, sql, _access_parts(lake, tables)]
