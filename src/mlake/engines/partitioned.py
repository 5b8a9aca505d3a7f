"""Partitioned compute: "Ray distributes, DuckDB computes each partition".

A job is a list of :class:`Stage`\\ s, each one SQL query over the relation ``__input`` (and broadcast
tables by name). A stage with no keys is row-local and runs on each input partition as it is (a data
file, a chunk); a stage with keys needs every row of a key together, so its input is first split by a
hash of the keys; a global stage runs once over all rows. A keyed stage may name tables to split the
same way instead of broadcasting them (``split``: a join of two inputs by key, such as a point-in-time
join of entity rows with a feature group's rows): each bucket's task sees the input's rows and each such
table's rows whose keys hash to that bucket. Every backend runs the same SQL with DuckDB,
so results are identical whatever the backend — the engine suite checks it.

:class:`DuckDBCompute` runs a job in process (the reference); :mod:`mlake.engines.ray` runs it on Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import (
    Protocol,
    TypeAlias,
    runtime_checkable,
)

import duckdb
import pyarrow as pa

Partition: TypeAlias = "pa.Table | str"  # an Arrow table, or the path of a Parquet file


@dataclass(frozen=True)
class Stage:
    """One query over ``__input``. ``keys``: None for row-local SQL, the key columns (``("*",)`` for the
    whole row) when rows of one key must be computed together. ``global_``: needs every row at once."""

    sql: str
    keys: tuple[str, ...] | None = None
    global_: bool = False
    # Tables (by name, from the job's ``tables``) split by the same hash as the input instead of broadcast,
    # each with its own key columns (same number and order as ``keys``, of types that hash alike). Only
    # for a keyed stage.
    split: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        if self.split and (self.keys is None or self.keys == ("*",)):
            raise ValueError("a stage splits tables only by named keys")
        for name, keys in self.split:
            if self.keys is not None and len(keys) != len(self.keys):
                raise ValueError(f"table {name!r} is split by {len(keys)} key(s), the input by {len(self.keys)}")


@runtime_checkable
class PartitionedCompute(Protocol):
    """Runs stages over partitions and returns the merged result (row order is not defined)."""

    name: str

    def run(
        self, stages: list[Stage], inputs: list[Partition], tables: dict[str, pa.Table] | None = None
    ) -> pa.Table: ...

    def close(self) -> None: ...


def run_sql(sql: str, data: Partition | list[Partition], tables: dict[str, pa.Table] | None = None) -> pa.Table:
    """Run ``sql`` with DuckDB over ``data`` as ``__input`` (the unit of work of every backend)."""
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")  # one task, one core: the backend runs tasks side by side
        con.execute("SET TimeZone = 'UTC'")  # as every lake session (mlake.duckdb_connection): never the TZ's
        parts = data if isinstance(data, list) else [data]
        files = [p for p in parts if isinstance(p, str)]
        arrows = [p for p in parts if not isinstance(p, str)]
        selects = []
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            selects.append(f"SELECT * FROM read_parquet([{listed}], union_by_name = true)")
        for i, t in enumerate(arrows):
            con.register(f"__part{i}", t)
            selects.append(f"SELECT * FROM __part{i}")
        con.execute(f"CREATE TEMP VIEW __input AS {' UNION ALL BY NAME '.join(selects)}")
        for name, table in (tables or {}).items():
            con.register(name, table)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def split_by_key(data: Partition | list[Partition], keys: tuple[str, ...], buckets: int) -> list[pa.Table]:
    """``data`` split into ``buckets`` tables by a hash of ``keys`` (rows of one key land together)."""
    hashed = ", ".join('"' + k.replace('"', '""') + '"' for k in keys) if keys != ("*",) else "COLUMNS(*)"
    if keys == ("*",):
        table = run_sql("SELECT * FROM __input", data)
        expr = "hash(" + ", ".join('"' + c.replace('"', '""') + '"' for c in table.column_names) + ")"
        data = table
    else:
        expr = f"hash({hashed})"
    tagged = run_sql(f"SELECT *, CAST({expr} % {int(buckets)} AS INTEGER) AS __bucket FROM __input", data)
    bucket = tagged.column("__bucket").to_pylist()
    import pyarrow.compute as pc

    out = []
    for b in range(buckets):
        part = tagged.filter(pc.equal(tagged.column("__bucket"), b)) if bucket else tagged
        out.append(part.drop_columns(["__bucket"]))
    return out


class SerialPartitionedCompute:
    """Ray's plan run serially in process: each partition and each key bucket computed on its own.
    It needs no cluster, so tests check with it (for any partitioning) that the way the data is split
    never changes the rows a job gives."""

    name = "serial"

    def __init__(self, buckets: int = 3) -> None:
        self.buckets = buckets

    def run(self, stages: list[Stage], inputs: list[Partition], tables: dict[str, pa.Table] | None = None) -> pa.Table:
        parts: list[Partition] = list(inputs)
        for stage in stages:
            if stage.global_:
                parts = [run_sql(stage.sql, parts, tables)]
            elif stage.keys is not None:
                pieces = [split_by_key(p, stage.keys, self.buckets) for p in parts]
                split = {name: split_by_key((tables or {})[name], keys, self.buckets) for name, keys in stage.split}
                parts = [
                    run_sql(
                        stage.sql,
                        [piece[b] for piece in pieces],
                        {**(tables or {}), **{name: by_bucket[b] for name, by_bucket in split.items()}},
                    )
                    for b in range(self.buckets)
                ]
            else:
                parts = [run_sql(stage.sql, p, tables) for p in parts]
        return run_sql("SELECT * FROM __input", parts)

    def close(self) -> None:
        pass


class DuckDBCompute:
    """The in-process backend: every stage over all the data at once."""

    name = "duckdb"

    def run(self, stages: list[Stage], inputs: list[Partition], tables: dict[str, pa.Table] | None = None) -> pa.Table:
        data: Partition | list[Partition] = inputs
        for stage in stages:
            data = run_sql(stage.sql, data, tables)
        if isinstance(data, list):
            return run_sql("SELECT * FROM __input", data)
        assert not isinstance(data, str)
        return data

    def close(self) -> None:
        pass


__all__ = [
    "DuckDBCompute",
    "Partition",
    "PartitionedCompute",
    "SerialPartitionedCompute",
    "Stage",
    "run_sql",
    "split_by_key",
]
