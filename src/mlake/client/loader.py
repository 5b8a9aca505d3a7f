"""``remote.loader(...)``: the training-data loader over rows streamed from an mlake server.

A remote loader is the loader of :mod:`mlake.loader` — the same :class:`~mlake.loader.stream.Loader`
with the same options (``batch_size``, ``shuffle``, ``seed``, ``columns``, ``rank``, ``world_size``,
``format``, ``drop_last``, ``shuffle_buffer``, ``prefetch``, ``worker`` ...) — over a plan made from
the server's Arrow IPC stream instead of a local engine: the rows (a table's, a query's or a saved
training set's, read on the server through the caller's grants, masks and row filters) are streamed
once into local Parquet files, regrouped into row groups of 65,536 rows, and sharded, shuffled and
batched from there (see :func:`mlake.loader.plan.spill`).

**How it shards.** A client cannot read a table's data files (the server never hands them out), so a
remote loader always takes the *governed-sql* path of :mod:`mlake.loader.build`: its shards are the
row groups of the streamed rows, in the order the server sends them. Every rank and worker that makes
the same loader over the same snapshot gets the same row groups, so each row is read exactly once per
epoch — but for a table its owner would read by data file locally, the split (and so a shuffled order)
differs from the local loader's; for query results and training sets it is the same.

The spilled files live under ``cache`` (a folder, or a :class:`~mlake.loader.cache.LoaderCache`'s
folder) or, by default, under the system's temporary folder; each remote loader streams its rows afresh
(the client cannot tell whether the caller's grants changed since), and old spills are pruned, least
recently used first, beyond the cache's size.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlake.client.tables import RemoteResult, RemoteTable, open_arrow_stream
from mlake.errors import ValidationError
from mlake.loader.cache import DEFAULT_MAX_BYTES, LoaderCache
from mlake.loader.plan import spill
from mlake.loader.stream import Loader
from mlake.tables.names import TableName, is_query

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlake.client.remote import RemoteLake


def build_remote_loader(
    lake: RemoteLake,
    source: Any,
    *,
    columns: Sequence[str] | None = None,
    snapshot_id: int | None = None,
    cache: bool | str | Path | LoaderCache | None = None,
    **options: Any,
) -> Loader:
    """A :class:`Loader` over ``source`` on the server: a table (name or handle), SQL or a remote result,
    or a saved remote training set; ``options`` are the :class:`Loader`'s."""
    wanted = list(columns) if columns is not None else None
    if isinstance(source, TableName | RemoteTable) or (isinstance(source, str) and not is_query(source)):
        table = source if isinstance(source, RemoteTable) else lake.table(source)
        if snapshot_id is not None:
            table.check_snapshot(snapshot_id)
        body = table.query(wanted, snapshot_id=snapshot_id)._body()
        return stream_loader(lake, "POST", "/sql/export", f"table {table.name}", None, cache, options, json=body)
    if snapshot_id is not None:
        raise ValidationError("snapshot_id applies to tables only", hint="pin a query with AT (VERSION => ...)")
    if isinstance(source, str):
        source = lake.sql(source)
    if isinstance(source, RemoteResult):
        return stream_loader(lake, "POST", "/sql/export", "query result", wanted, cache, options, json=source._body())
    if hasattr(source, "spec") and callable(getattr(source, "loader", None)):  # a remote training set
        return source.loader(columns=columns, cache=cache, **options)  # type: ignore[no-any-return]
    raise ValidationError(
        f"Cannot make a loader over a {type(source).__name__}",
        hint="pass a table (name or handle), a SQL query or result, or a training set",
    )


def stream_loader(
    lake: RemoteLake,
    method: str,
    path: str,
    description: str,
    columns: list[str] | None,
    cache: bool | str | Path | LoaderCache | None,
    options: dict[str, Any],
    **request: Any,
) -> Loader:
    """A :class:`Loader` over the Arrow IPC body of one request, spilled to local Parquet first."""
    with open_arrow_stream(lake, method, path, **request) as reader:
        plan = spill(reader, _root(cache), None, description, DEFAULT_MAX_BYTES)
    return Loader(plan.select(columns), **options)


def _root(cache: bool | str | Path | LoaderCache | None) -> Path:
    if isinstance(cache, LoaderCache):
        return cache.root / "results"
    if isinstance(cache, str | Path):
        return Path(cache) / "results"
    return Path(tempfile.gettempdir()) / "mlake-loader" / "results"
