"""The embedded log: the default stream backend, durable files in a folder, no server to run.

Layout under the root folder::

    <stream>/stream.json            partitions, retention, creation time (written once, atomically)
    <stream>/<partition>/           segment files and their indexes (see frames.py), .lock
    <stream>/groups/<group>.json    a consumer group's checkpoints, replaced atomically

Creating a stream builds it in a temporary folder and renames it into place; deleting renames it away
first. Either is one atomic step, so another process sees a stream whole or not at all. Several
processes may append to and read one stream at once (see partition.py for how writers serialise).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlake.errors import ConfigError
from mlake.streams.base import (
    DEFAULT_MAX_RECORD_BYTES,
    StreamError,
    StreamExistsError,
    StreamNotFoundError,
    check_partition,
)
from mlake.streams.log.partition import PartitionLog, read_partition
from mlake.streams.models import (
    PartitionedRecord,
    Position,
    PutResult,
    ReadBatch,
    StreamDescription,
    from_us,
)

_FORMAT = 1


@dataclass(frozen=True)
class _Meta:
    partitions: int
    retention_us: int
    created_us: int
    inode: int  # of the stream folder: a stream deleted and created again is another stream


class LogBackend:
    """Streams as append-only segment files under ``root`` (``file:///path``)."""

    def __init__(self, root: str | Path, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.root = Path(root).absolute()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StreamError(
                f"Cannot create the stream folder {self.root}: {exc}", hint="check MLAKE_STREAM_URL and permissions"
            ) from exc
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._meta: dict[str, _Meta] = {}
        self._writers: dict[tuple[str, int], PartitionLog] = {}
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def from_url(cls, url: str) -> LogBackend:
        """``file:///absolute/folder``."""
        path = unquote(urlparse(url).path)
        if not path:
            raise ConfigError(f"The stream URL {url!r} names no folder", hint="use file:///absolute/folder")
        return cls(path)

    @property
    def identity(self) -> str:
        return f"file://{self.root}"

    @property
    def max_record_bytes(self) -> int:
        return DEFAULT_MAX_RECORD_BYTES

    # -- streams -----------------------------------------------------------------------------------

    def create_stream(self, name: str, partitions: int, retention: timedelta) -> StreamDescription:
        final = self.root / name
        if final.exists():
            raise StreamExistsError(f"Stream {name!r} already exists in {self.root}")
        tmp = self.root / f".creating-{name}-{uuid.uuid4().hex[:8]}"
        created_us = time.time_ns() // 1000
        meta = {
            "format": _FORMAT,
            "name": name,
            "partitions": partitions,
            "retention_us": retention // timedelta(microseconds=1),
            "created_us": created_us,
        }
        try:
            tmp.mkdir()
            for p in range(partitions):
                (tmp / str(p)).mkdir()
            (tmp / "groups").mkdir()
            _write_durably(tmp / "stream.json", json.dumps(meta).encode())
            try:
                os.rename(tmp, final)  # fails if another process created the stream meanwhile
            except OSError as exc:
                raise StreamExistsError(f"Stream {name!r} already exists in {self.root}") from exc
            _fsync_path(self.root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return self.describe_stream(name)

    def describe_stream(self, name: str) -> StreamDescription:
        meta = self._load_meta(name, fresh=True)
        return StreamDescription(
            name=name,
            partitions=meta.partitions,
            retention=timedelta(microseconds=meta.retention_us),
            created_at=from_us(meta.created_us),
            backend=self.identity,
        )

    def list_streams(self) -> list[str]:
        return sorted(
            p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / "stream.json").exists()
        )

    def delete_stream(self, name: str) -> None:
        self._load_meta(name, fresh=True)
        trash = self.root / f".deleting-{name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(self.root / name, trash)
        except FileNotFoundError as exc:
            raise StreamNotFoundError(f"Stream {name!r} does not exist in {self.root}") from exc
        self._forget(name)
        shutil.rmtree(trash, ignore_errors=True)

    # -- records -----------------------------------------------------------------------------------

    def append(self, name: str, records: Sequence[PartitionedRecord]) -> list[PutResult]:
        meta = self._load_meta(name)
        count = meta.partitions
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
        for partition, key, data in records:
            entries = by_partition.get(partition)
            if entries is None:
                check_partition(name, partition, count)
                entries = by_partition[partition] = []
            entries.append((key.encode(), data))
        now_us = time.time_ns() // 1000
        firsts: dict[int, int | StreamError] = {}

        def write(partition: int) -> None:
            try:
                firsts[partition] = self._writer(name, partition).append(by_partition[partition], now_us)
            except StreamNotFoundError:
                self._forget(name)
                raise
            except (StreamError, OSError) as exc:
                firsts[partition] = exc if isinstance(exc, StreamError) else StreamError(str(exc))

        if len(by_partition) == 1:
            write(next(iter(by_partition)))
        else:
            # fdatasync releases the GIL: partitions are synced in parallel, not one after another.
            for future in [self._executor().submit(write, p) for p in by_partition]:
                future.result()
        results: list[PutResult] = []
        next_seq = dict(firsts)
        for r in records:
            seq = next_seq[r.partition]
            if isinstance(seq, StreamError):
                results.append(PutResult(r.partition, None, str(seq), "write_failed", True))
            else:
                results.append(PutResult(r.partition, seq))
                next_seq[r.partition] = seq + 1
        return results

    def read(self, name: str, partition: int, position: Position, limit: int) -> ReadBatch:
        meta = self._load_meta(name)
        check_partition(name, partition, meta.partitions)
        cutoff = time.time_ns() // 1000 - meta.retention_us
        folder = self.root / name / str(partition)
        records, nxt = read_partition(name, partition, folder, position, limit, cutoff)
        if not records and not folder.exists():  # deleted since its metadata was cached
            self._forget(name)
            raise StreamNotFoundError(f"Stream {name!r} does not exist in {self.root}")
        return ReadBatch(records, nxt)

    # -- consumer groups ---------------------------------------------------------------------------

    def commit_checkpoint(self, name: str, group: str, partition: int, sequence: int) -> None:
        meta = self._load_meta(name)
        check_partition(name, partition, meta.partitions)
        groups = self.root / name / "groups"
        with _locked(groups / ".lock"):
            current = self._read_checkpoints(name, group)
            current[partition] = sequence
            _write_durably(groups / f"{group}.json", json.dumps({str(k): v for k, v in current.items()}).encode())

    def checkpoints(self, name: str, group: str) -> dict[int, int]:
        self._load_meta(name)
        return self._read_checkpoints(name, group)

    def _read_checkpoints(self, name: str, group: str) -> dict[int, int]:
        try:
            raw = (self.root / name / "groups" / f"{group}.json").read_bytes()
        except FileNotFoundError:
            return {}
        return {int(k): int(v) for k, v in json.loads(raw).items()}

    def list_groups(self, name: str) -> list[str]:
        self._load_meta(name)
        return sorted(p.stem for p in (self.root / name / "groups").glob("*.json"))

    def delete_group(self, name: str, group: str) -> None:
        self._load_meta(name)
        try:
            (self.root / name / "groups" / f"{group}.json").unlink()
        except FileNotFoundError as exc:
            raise StreamNotFoundError(f"Stream {name!r} has no consumer group {group!r}") from exc

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    # -- internals ---------------------------------------------------------------------------------

    def _load_meta(self, name: str, *, fresh: bool = False) -> _Meta:
        """A stream's metadata, cached; re-read when asked, so a stream deleted elsewhere is noticed."""
        with self._lock:
            cached = self._meta.get(name)
        if cached is not None and not fresh:
            return cached
        folder = self.root / name
        try:
            raw = json.loads((folder / "stream.json").read_bytes())
            inode = os.stat(folder).st_ino
        except FileNotFoundError as exc:
            self._forget(name)
            raise StreamNotFoundError(
                f"Stream {name!r} does not exist in {self.root}", hint="list streams to see which exist"
            ) from exc
        meta = _Meta(int(raw["partitions"]), int(raw["retention_us"]), int(raw["created_us"]), inode)
        if cached is not None and cached.inode != inode:
            self._forget(name)  # deleted and created again elsewhere: drop writers of the old one
        with self._lock:
            self._meta[name] = meta
        return meta

    def _writer(self, name: str, partition: int) -> PartitionLog:
        with self._lock:
            writer = self._writers.get((name, partition))
            if writer is None:
                meta = self._meta[name]
                writer = PartitionLog(
                    self.root / name / str(partition),
                    segment_bytes=self.segment_bytes,
                    roll_after_us=_roll_after_us(meta.retention_us),
                    retention_us=meta.retention_us,
                )
                self._writers[(name, partition)] = writer
            return writer

    def _forget(self, name: str) -> None:
        with self._lock:
            self._meta.pop(name, None)
            for key in [k for k in self._writers if k[0] == name]:
                self._writers.pop(key).close()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mlake-log")
            return self._pool


def _roll_after_us(retention_us: int) -> int:
    """How old the tail segment may grow: an eighth of the retention (so at most ~1/8 of it is kept beyond
    the period), between 100 ms and an hour (few files for long retentions)."""
    return min(max(retention_us // 8, 100_000), 3_600_000_000)


def _write_durably(path: Path, data: bytes) -> None:
    """Replace a file atomically and durably: write a temporary file, sync it, rename it over, sync the folder."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_path(path.parent)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _locked:
    """An exclusive ``flock`` on a file for the duration of a ``with`` block (across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
