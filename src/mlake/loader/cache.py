"""A local on-disk cache of data files for the training-data loader: keyed by content, bounded, LRU.

Why: training reads the same files every epoch. From an object-store warehouse each epoch would pull
every byte over the network again (what FSx for Lustre in front of S3 exists to avoid); with the cache
the first epoch fetches each data file once and later epochs read the local copy.

Keys are content identities, not locations: an Iceberg data file is written once and never changed in
place (a rewrite makes a new file with a new name), so its path together with its size names its bytes
for good — a snapshot-stable identity that needs no hashing of the data. Entries are whole files
written to a temporary name and renamed into place, so a reader never sees a half-written file and
several processes (DataLoader workers, ranks on one machine) may share one cache folder. The cache is
bounded in bytes; when a new entry would exceed the bound, the least recently used entries (by
modification time, refreshed on every hit) are deleted. A file larger than the whole bound is not
cached. An entry deleted by another process while a reader has it open stays readable to that reader
(POSIX semantics); a reader that loses the race to open it reads the source instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_MAX_BYTES = 10 * 2**30
_COPY_CHUNK = 8 * 2**20


def content_key(path: str, size: int) -> str:
    """The cache key of an immutable data file: its location and size (see the module docstring)."""
    return hashlib.sha256(f"v1\0{path}\0{size}".encode()).hexdigest()[:40]


@dataclass
class CacheStats:
    """What one process's loader asked of the cache (DataLoader workers count in their own processes)."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    bytes_fetched: int = 0  # bytes copied into the cache from the source
    bytes_read_locally: int = 0  # bytes of cache hits

    def reset(self) -> None:
        self.hits = self.misses = self.evictions = self.bytes_fetched = self.bytes_read_locally = 0


class LoaderCache:
    """A folder of cached data files, at most ``max_bytes`` large, least recently used evicted first."""

    def __init__(self, root: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            from mlake.errors import ValidationError

            raise ValidationError(f"A loader cache needs a positive size bound, not {max_bytes}")
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.stats = CacheStats()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_locks"], state["_guard"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._locks = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"<mlake LoaderCache {self.root} {self.size_bytes()}/{self.max_bytes} bytes>"

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.bin"

    def entries(self) -> list[Path]:
        if not self.root.exists():
            return []
        return [p for p in self.root.glob("*/*.bin") if p.is_file()]

    def size_bytes(self) -> int:
        """Bytes the cache holds now (all processes' entries)."""
        total = 0
        for p in self.entries():
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def local_copy(self, key: str, size: int, open_source: Callable[[], BinaryIO]) -> Path | None:
        """The cached copy of the file ``key`` (``size`` bytes), fetched with ``open_source`` on a miss;
        None when the file does not fit in the cache at all (the caller reads the source)."""
        entry = self._entry(key)
        if self._hit(entry, size):
            return entry
        if size > self.max_bytes:
            self.stats.misses += 1
            return None
        with self._lock_for(key):
            if self._hit(entry, size):  # another thread of this process fetched it meanwhile
                return entry
            self.stats.misses += 1
            entry.parent.mkdir(parents=True, exist_ok=True)
            self._make_room(size)
            partial = entry.with_name(f".{entry.name}.{uuid.uuid4().hex}.part")
            try:
                with open_source() as source, open(partial, "wb") as out:
                    while chunk := source.read(_COPY_CHUNK):
                        out.write(chunk)
                os.replace(partial, entry)
            finally:
                partial.unlink(missing_ok=True)
            self.stats.bytes_fetched += size
        return entry

    def _hit(self, entry: Path, size: int) -> bool:
        try:
            if entry.stat().st_size != size:
                return False
            os.utime(entry)  # most recently used
        except FileNotFoundError:
            return False
        self.stats.hits += 1
        self.stats.bytes_read_locally += size
        return True

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _make_room(self, incoming: int) -> None:
        """Delete least recently used entries until ``incoming`` more bytes fit under the bound."""
        aged: list[tuple[float, int, Path]] = []
        for p in self.entries():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            aged.append((st.st_mtime, st.st_size, p))
        total = sum(s for _, s, _ in aged)
        for _, size, path in sorted(aged, key=lambda e: e[0]):
            if total + incoming <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            self.stats.evictions += 1
