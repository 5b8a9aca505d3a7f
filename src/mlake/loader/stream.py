"""The loader: sharded, shuffled, prefetched batches over a :class:`~mlake.loader.plan.LoadPlan`.

One epoch, for one shard:

1. **Shard.** The plan's pieces (Parquet row groups) are ordered — shuffled by a generator seeded with
   ``(seed, epoch)`` when ``shuffle``, else in plan order — and shard ``s`` of ``n`` takes pieces
   ``s, s + n, s + 2n, ...``. Shards are ``rank × DataLoader workers``: ``n = world_size × num_workers``
   and ``s = rank × num_workers + worker``. Every process computes the same order from the same seed,
   so the shards partition the rows: each row is read exactly once per epoch across all of them.
   Shards can differ in rows by up to one row group. DistributedDataParallel needs every rank to take
   the same number of steps (a rank that stops early leaves the others waiting in an all-reduce), so
   ``even="drop"`` cuts every shard to the smallest shard's row count (those rows are not read this
   epoch; another epoch's shuffle cuts others) and ``even="pad"`` tops every shard up to the largest's
   by reading rows again from the epoch's first pieces — as PyTorch's ``DistributedSampler`` does with
   ``drop_last`` True / False. Either way every shard yields the same rows and batches.
2. **Read** the shard's pieces in that order, ``read_threads`` at a time in background threads, from
   the cache when the file is in it (see :mod:`mlake.loader.cache`).
3. **Shuffle rows** (when ``shuffle``) through a buffer of ``shuffle_buffer`` rows: when full, it is
   permuted and emitted but for half a buffer, which stays to mix with what comes next. Seeded with
   ``(seed, epoch, shard)``: the same seed gives the same order, another epoch another one.
4. **Batch** into exactly ``batch_size`` rows (the last batch of a shard may be smaller unless
   ``drop_last``), as a dict of numpy arrays (``format="numpy"``) or an Arrow record batch
   (``format="arrow"``), handed over through a bounded queue of ``prefetch`` batches.

The epoch is set with :meth:`Loader.set_epoch` (as with PyTorch's ``DistributedSampler``): every rank
and worker must use the same epoch number, so it is never advanced behind the caller's back.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlake.errors import ValidationError
from mlake.loader.plan import DataFile, LoadPlan, Piece, open_file

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

    from mlake.loader.cache import LoaderCache

Format = Literal["numpy", "arrow"]
Batch: TypeAlias = "dict[str, np.ndarray[Any, Any]] | pa.RecordBatch"
_DONE = object()


@dataclass(frozen=True)
class Shard:
    index: int
    count: int


class Loader:
    """Batches of a table, query result or training set for training loops; see the module docstring.

    Iterate it for one epoch (``for batch in loader``); call :meth:`set_epoch` before each epoch when
    shuffling. It is picklable (it holds a plan of files, not a lake), which is how PyTorch hands it to
    DataLoader workers — see :class:`mlake.loader.torch.IterableDataset`."""

    def __init__(
        self,
        plan: LoadPlan,
        *,
        batch_size: int = 1024,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        cache: LoaderCache | None = None,
        format: Format = "numpy",
        drop_last: bool = False,
        shuffle_buffer: int | None = None,
        prefetch: int = 4,
        read_threads: int = 2,
        worker: int | None = None,
        num_workers: int | None = None,
        even: Literal["drop", "pad"] | None = None,
    ) -> None:
        if even not in (None, "drop", "pad"):
            raise ValidationError(f"even must be 'drop', 'pad' or None, not {even!r}")
        if batch_size < 1:
            raise ValidationError(f"batch_size must be at least 1, not {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValidationError(
                f"rank {rank} is not one of world_size {world_size}", hint="0 <= rank < world_size, world_size >= 1"
            )
        if (worker is None) != (num_workers is None) or (
            num_workers is not None and worker is not None and not 0 <= worker < num_workers
        ):
            raise ValidationError("Pass worker and num_workers together, with 0 <= worker < num_workers")
        if format not in ("numpy", "arrow"):
            raise ValidationError(f"Unknown batch format {format!r}", hint="use 'numpy' or 'arrow'")
        self.plan = plan
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.cache = cache
        self.format: Format = format
        self.drop_last = drop_last
        self.shuffle_buffer = shuffle_buffer if shuffle_buffer is not None else max(16 * batch_size, 65_536)
        self.prefetch = max(1, prefetch)
        self.read_threads = max(1, read_threads)
        self.worker = worker
        self.num_workers = num_workers
        self.even = even
        self.epoch = 0
        self._io: FileIO | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_io"] = None
        return state

    def __repr__(self) -> str:
        return (
            f"<mlake Loader {self.plan.description}: {self.num_rows} rows, {len(self.plan.pieces)} pieces, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, path={self.path}>"
        )

    # --- what it reads ------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """``files`` (the table's data files, read directly) or ``governed-sql`` (a spilled query result)."""
        return self.plan.path

    @property
    def schema(self) -> pa.Schema:
        return self.plan.schema

    @property
    def columns(self) -> list[str]:
        return list(self.plan.schema.names)

    @property
    def num_rows(self) -> int:
        """Rows per epoch across all shards."""
        return self.plan.num_rows

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration reads (it seeds the shuffles); the same on every rank and worker."""
        self.epoch = int(epoch)

    # --- sharding -----------------------------------------------------------------------------------

    def shard(self) -> Shard:
        """This process's shard: its rank, and its DataLoader worker when run inside one."""
        worker, workers = self._worker()
        return Shard(self.rank * workers + worker, self.world_size * workers)

    def _worker(self) -> tuple[int, int]:
        if self.worker is not None and self.num_workers is not None:
            return self.worker, self.num_workers
        data = sys.modules.get("torch.utils.data")  # only when torch is in use; never imported here
        info = data.get_worker_info() if data is not None else None
        if info is not None:
            return int(info.id), int(info.num_workers)
        return 0, 1

    def pieces(self, shard: Shard | None = None) -> list[Piece]:
        """The pieces ``shard`` (default: this process's) reads this epoch, in reading order."""
        shard = shard or self.shard()
        return [self.plan.pieces[i] for i in self._order()[shard.index :: shard.count]]

    def _order(self) -> np.ndarray[Any, Any]:
        """This epoch's order of the plan's pieces (the same in every process)."""
        if self.shuffle:
            return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.plan.pieces))
        return np.arange(len(self.plan.pieces))

    def shard_rows(self, shard: Shard | None = None) -> int:
        """The rows ``shard`` yields this epoch (after ``even``)."""
        shard = shard or self.shard()
        counts = [sum(p.rows for p in self.pieces(Shard(i, shard.count))) for i in range(shard.count)]
        if self.even == "drop":
            return min(counts)
        if self.even == "pad":
            return max(counts)
        return counts[shard.index]

    # --- iteration ----------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Batch]:
        shard = self.shard()
        pieces = self.pieces(shard)
        if self.even == "pad":  # after its own pieces, the epoch's first pieces again, as many as needed
            pieces = pieces + [self.plan.pieces[i] for i in self._order()]
        handoff: queue.Queue[Any] = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce, args=(pieces, shard, handoff, stop), name="mlake-loader", daemon=True
        )
        producer.start()
        try:
            while True:
                item = handoff.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    handoff.get(timeout=0.05)
                except queue.Empty:
                    pass
            producer.join()

    def _produce(self, pieces: list[Piece], shard: Shard, handoff: queue.Queue[Any], stop: threading.Event) -> None:
        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            for batch in self._batches(self._tables(pieces, stop), shard):
                if not put(self._convert(batch)):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    def _tables(self, pieces: list[Piece], stop: threading.Event) -> Iterator[pa.Table]:
        """The pieces' rows in order, read ahead by ``read_threads`` threads."""
        with ThreadPoolExecutor(self.read_threads, thread_name_prefix="mlake-read") as pool:
            window: list[Future[pa.Table]] = []
            upcoming = iter(pieces)
            for piece in upcoming:
                window.append(pool.submit(self.read_piece, piece))
                if len(window) > self.read_threads:
                    break
            while window and not stop.is_set():
                table = window.pop(0).result()
                nxt = next(upcoming, None)
                if nxt is not None:
                    window.append(pool.submit(self.read_piece, nxt))
                yield table
            for f in window:
                f.cancel()

    def _batches(self, tables: Iterator[pa.Table], shard: Shard) -> Iterator[pa.Table]:
        if self.even is not None:
            tables = _first_rows(tables, self.shard_rows(shard))
        if self.shuffle:
            tables = self._shuffled(tables, np.random.default_rng([self.seed, self.epoch, shard.index, 1]))
        pending: list[pa.Table] = []
        held = 0
        for table in tables:
            pending.append(table)
            held += table.num_rows
            if held < self.batch_size:
                continue
            joined = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
            full = held - held % self.batch_size
            for start in range(0, full, self.batch_size):
                yield joined.slice(start, self.batch_size)
            pending = [joined.slice(full)] if held > full else []
            held -= full
        if held and not self.drop_last:
            yield pa.concat_tables(pending)

    def _shuffled(self, tables: Iterator[pa.Table], rng: np.random.Generator) -> Iterator[pa.Table]:
        """Rows through the shuffle buffer: once it holds ``shuffle_buffer`` rows it is permuted and all
        but half a buffer is emitted; the rest mixes with the rows of the next pieces."""
        buffer: list[pa.Table] = []
        held = 0
        keep = self.shuffle_buffer // 2
        for table in tables:
            buffer.append(table)
            held += table.num_rows
            if held >= self.shuffle_buffer:
                joined = pa.concat_tables(buffer).combine_chunks()  # a gather over one chunk is fast
                order = rng.permutation(held)
                yield joined.take(order[keep:])
                buffer, held = [joined.take(order[:keep])], keep
        if held:
            joined = pa.concat_tables(buffer).combine_chunks()
            yield joined.take(rng.permutation(held))

    def _convert(self, table: pa.Table) -> Batch:
        if self.format == "arrow":
            if not table.num_rows:
                return pa.RecordBatch.from_pylist([], table.schema)
            batch: pa.RecordBatch = table.combine_chunks().to_batches()[0]
            return batch
        return {name: _numpy(column) for name, column in zip(table.column_names, table.columns, strict=True)}

    # --- reading one piece --------------------------------------------------------------------------

    def read_piece(self, piece: Piece) -> pa.Table:
        """One row group with the loader's columns and types (through the cache when there is one)."""
        data_file = self.plan.files[piece.file]
        wanted = [c for c in data_file.source_columns if c is not None]
        with self._open(data_file) as stream:
            raw = pq.ParquetFile(stream).read_row_group(piece.row_group, columns=wanted)
        columns = []
        for name, field in zip(data_file.source_columns, self.plan.schema, strict=True):
            if name is None:
                columns.append(pa.nulls(raw.num_rows, field.type))
                continue
            column = raw.column(name)
            columns.append(column if column.type.equals(field.type) else column.cast(field.type))
        return pa.Table.from_arrays(columns, schema=self.plan.schema)

    def _open(self, data_file: DataFile) -> Any:
        if self.cache is not None:
            local = self.cache.local_copy(data_file.key, data_file.size, lambda: open_file(data_file, self._file_io()))
            if local is not None:
                try:
                    return open(local, "rb")
                except FileNotFoundError:  # evicted by another process just now
                    pass
        return open_file(data_file, self._file_io() if data_file.local_path is None else None)

    def _file_io(self) -> FileIO | None:
        if self._io is None and self.plan.io_properties is not None:
            from pyiceberg.io import load_file_io

            self._io = load_file_io(self.plan.io_properties)
        return self._io


def _first_rows(tables: Iterator[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The first ``rows`` rows of ``tables``, then stop (no further piece is read)."""
    left = rows
    for table in tables:
        if left <= 0:
            return
        yield table if table.num_rows <= left else table.slice(0, left)
        left -= table.num_rows


def _numpy(column: pa.ChunkedArray) -> np.ndarray[Any, Any]:
    """A column as numpy, without a copy when Arrow allows it (one chunk, no nulls, a numeric type)."""
    values: np.ndarray[Any, Any]
    if column.num_chunks == 1 and column.null_count == 0:
        try:
            values = column.chunk(0).to_numpy(zero_copy_only=True)
            return values
        except pa.ArrowInvalid:
            pass
    values = column.to_numpy()
    return values
