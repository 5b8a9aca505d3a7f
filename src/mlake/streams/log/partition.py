"""One partition of the embedded log: appending durably, reading from a position, enforcing retention.

Writers (in this process or others) serialise on an ``flock`` of the partition's ``.lock`` file plus a
thread lock, so several processes may append to one stream safely. Under the lock a writer first catches
up with what others wrote since it last held the lock (the tail segment grew, or was sealed and a newer
one started), cuts back a torn tail left by a writer that died mid-write, and only then appends. A batch
is acknowledged after ``fdatasync``: an acknowledged record survives a crash of the process and of the
machine. Readers take no lock; they stop at the first incomplete frame, so they never see half a record.

Retention is exact for readers (records older than the retention period are skipped) and reclaims disk
space a segment at a time: a writer rolls the tail segment when it is full or old, and deletes the oldest
segments whose records are all past the retention period.
"""

from __future__ import annotations

import bisect
import fcntl
import itertools
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

from mlake.streams.base import StreamError, StreamNotFoundError
from mlake.streams.log.frames import (
    BODY_HEAD,
    INDEX_ENTRY,
    INDEX_EVERY,
    PREFIX,
    Frame,
    iter_frames,
    list_segments,
    read_index,
    seal_frame,
    segment_name,
)
from mlake.streams.models import Position, PositionKind, Record


class PartitionLog:
    """The writer side of one partition; one instance per process and partition, shared by threads."""

    def __init__(self, directory: Path, *, segment_bytes: int, roll_after_us: int, retention_us: int) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.roll_after_us = roll_after_us
        self.retention_us = retention_us
        self._thread_lock = threading.Lock()
        try:
            self._lock_fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError as exc:
            raise StreamNotFoundError(f"The stream folder {directory.parent} no longer exists") from exc
        self._lock_ino = os.fstat(self._lock_fd).st_ino
        self._fd: int | None = None  # the tail segment
        self._idx_fd: int | None = None
        self._segment_first = 0
        self._segment_first_ts: int | None = None
        self._size = 0  # end of the last valid frame of the tail segment
        self._next_seq = 0
        self._last_ts = 0
        self._last_index_at = -INDEX_EVERY  # offset of the last index entry written

    # -- appending ---------------------------------------------------------------------------------

    def append(self, entries: Sequence[tuple[bytes, bytes]], now_us: int) -> int:
        """Write (key, data) records durably in order; returns the first one's sequence number."""
        with self._thread_lock:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._check_not_deleted()
                self._catch_up()
                if self._should_roll(now_us):
                    self._roll(now_us)
                return self._write(entries, max(now_us, self._last_ts))
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _write(self, entries: Sequence[tuple[bytes, bytes]], ts: int) -> int:
        assert self._fd is not None and self._idx_fd is not None
        first = self._next_seq
        parts: list[bytes] = []
        index: list[bytes] = []
        offset = self._size
        last_index_at = self._last_index_at
        seq = first
        pack_prefix, pack_head, crc32, head_size = PREFIX.pack, BODY_HEAD.pack, zlib.crc32, BODY_HEAD.size
        for key, data in entries:  # frames as frames.py describes them; the hot loop
            if offset - last_index_at >= INDEX_EVERY:
                index.append(INDEX_ENTRY.pack(seq, ts, offset))
                last_index_at = offset
            head = pack_head(seq, ts, len(key))
            body_len = head_size + len(key) + len(data)
            parts += (pack_prefix(body_len, crc32(data, crc32(key, crc32(head)))), head, key, data)
            offset += PREFIX.size + body_len
            seq += 1
        try:
            _write_at(self._fd, b"".join(parts), self._size)
            os.fdatasync(self._fd)
        except OSError as exc:
            # Nothing of the batch may stay visible when it is not acknowledged: a retry would duplicate it.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            raise StreamError(
                f"Cannot write to the stream log {self.directory}: {exc}", hint="check free disk space and permissions"
            ) from exc
        if index:
            os.write(self._idx_fd, b"".join(index))  # O_APPEND; a hint only: not synced, checked when used
        if self._segment_first_ts is None:
            self._segment_first_ts = ts
        self._size = offset
        self._next_seq = seq
        self._last_ts = ts
        self._last_index_at = last_index_at
        return first

    def _check_not_deleted(self) -> None:
        try:
            ino = os.stat(self.directory / ".lock").st_ino
        except FileNotFoundError:
            ino = -1
        if ino != self._lock_ino:
            raise StreamNotFoundError(f"The stream of {self.directory} was deleted")

    def _catch_up(self) -> None:
        """Bring the in-memory tail up to date with the files (first use, or other writers since)."""
        if self._fd is None:
            self._open_tail()
            return
        if os.fstat(self._fd).st_size != self._size:
            self._scan_tail()

    def _open_tail(self) -> None:
        segments = list_segments(self.directory)
        if not segments:
            self._open_segment(0, create=True)
            return
        self._open_segment(segments[-1], create=False)
        self._scan_tail()
        if self._size == 0 and len(segments) > 1:
            # An empty tail: keep timestamps non-decreasing across the roll (the seal carries the last one).
            prev_fd = os.open(self.directory / f"{segment_name(segments[-2])}.log", os.O_RDONLY)
            try:
                for frame in iter_frames(prev_fd, _last_index_offset(self.directory, segments[-2])):
                    self._last_ts = max(self._last_ts, frame.timestamp_us)
            finally:
                os.close(prev_fd)

    def _open_segment(self, first: int, *, create: bool) -> None:
        self._close_files()
        base = self.directory / segment_name(first)
        flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if create else 0)
        self._fd = os.open(f"{base}.log", flags, 0o644)
        self._idx_fd = os.open(f"{base}.idx", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if create:
            _fsync_dir(self.directory)
        self._segment_first = first
        self._segment_first_ts = None
        self._size = 0
        self._next_seq = first
        self._last_index_at = -INDEX_EVERY

    def _scan_tail(self) -> None:
        """Read the tail segment on from the last known good frame: learn what other writers appended,
        follow a seal to the newer segment, and cut off a torn frame of a writer that died mid-write.

        A freshly opened tail is scanned from its start rather than from an index entry: the index is not
        synced, and only a full scan proves that no frame before the end is damaged."""
        assert self._fd is not None
        seal: Frame | None = None
        for frame in iter_frames(self._fd, self._size):
            if frame.key is None:
                seal = frame
                break
            self._accept(frame)
        if seal is not None:
            segments = list_segments(self.directory)
            if segments and segments[-1] > self._segment_first:
                self._open_segment(segments[-1], create=False)
            else:  # the writer that sealed it died before starting the next segment
                self._open_segment(seal.sequence, create=True)
            self._last_ts = max(self._last_ts, seal.timestamp_us)
            self._scan_tail()
            return
        if os.fstat(self._fd).st_size > self._size:
            os.ftruncate(self._fd, self._size)
            os.fdatasync(self._fd)
        self._repair_index()

    def _repair_index(self) -> None:
        """Drop index entries past the valid end (a torn tail was cut) and learn the last entry's offset."""
        assert self._idx_fd is not None
        size = os.fstat(self._idx_fd).st_size
        n = size // INDEX_ENTRY.size
        last_at = -INDEX_EVERY
        while n > 0:
            _, _, offset = INDEX_ENTRY.unpack(os.pread(self._idx_fd, INDEX_ENTRY.size, (n - 1) * INDEX_ENTRY.size))
            if offset < self._size:
                last_at = offset
                break
            n -= 1
        if n * INDEX_ENTRY.size != size:
            os.ftruncate(self._idx_fd, n * INDEX_ENTRY.size)
        self._last_index_at = last_at

    def _accept(self, frame: Frame) -> None:
        if self._segment_first_ts is None:
            self._segment_first_ts = frame.timestamp_us
        self._size = frame.end
        self._next_seq = frame.sequence + 1
        self._last_ts = max(self._last_ts, frame.timestamp_us)

    def _should_roll(self, now_us: int) -> bool:
        if self._size == 0:
            return False
        if self._size >= self.segment_bytes:
            return True
        return self._segment_first_ts is not None and now_us - self._segment_first_ts >= self.roll_after_us

    def _roll(self, now_us: int) -> None:
        assert self._fd is not None and self._idx_fd is not None
        _write_at(self._fd, seal_frame(self._next_seq, self._last_ts), self._size)
        os.fdatasync(self._fd)
        # The seal's index entry carries the segment's last timestamp, which retention goes by.
        os.write(self._idx_fd, INDEX_ENTRY.pack(self._next_seq, self._last_ts, self._size))
        last_ts = self._last_ts
        self._open_segment(self._next_seq, create=True)
        self._last_ts = last_ts
        self._delete_expired(now_us)

    def _delete_expired(self, now_us: int) -> None:
        """Delete the oldest segments whose every record is past retention (the tail one always stays)."""
        cutoff = now_us - self.retention_us
        segments = list_segments(self.directory)
        for older, newer in itertools.pairwise(segments):
            last_ts = _sealed_last_timestamp(self.directory, older, newer)
            if last_ts is None or last_ts >= cutoff:
                break
            for suffix in (".log", ".idx"):
                try:
                    os.unlink(self.directory / f"{segment_name(older)}{suffix}")
                except FileNotFoundError:
                    pass

    def _close_files(self) -> None:
        for fd in (self._fd, self._idx_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._idx_fd = None

    def close(self) -> None:
        with self._thread_lock:
            self._close_files()
            os.close(self._lock_fd)


# -- reading --------------------------------------------------------------------------------------


def read_partition(
    stream: str, partition: int, directory: Path, position: Position, limit: int, cutoff_us: int
) -> tuple[list[Record], Position]:
    """Up to ``limit`` records from ``position``, skipping records older than ``cutoff_us``."""
    segments = list_segments(directory)
    if position.kind is PositionKind.LATEST:
        return [], Position.at(_tail_sequence(directory, segments))
    if not segments:
        return [], position
    min_seq = position.first_sequence()
    min_ts = cutoff_us
    if position.kind is PositionKind.AT_TIMESTAMP:
        min_ts = max(min_ts, position.timestamp_us() or 0)
    if min_seq is not None:
        i = max(0, bisect.bisect_right(segments, min_seq) - 1)
    else:
        i = _segment_for_timestamp(directory, segments, min_ts)
    records: list[Record] = []
    while i < len(segments) and len(records) < limit:
        first = segments[i]
        try:
            fd = os.open(directory / f"{segment_name(first)}.log", os.O_RDONLY)
        except FileNotFoundError:  # deleted by retention meanwhile: its records are expired anyway
            i += 1
            continue
        try:
            start = _start_offset(directory, first, fd, min_seq, min_ts)
            for frame in iter_frames(fd, start):
                if frame.key is None:
                    break
                if (min_seq is not None and frame.sequence < min_seq) or frame.timestamp_us < min_ts:
                    continue
                records.append(
                    Record(stream, partition, frame.sequence, frame.key.decode(), frame.data, frame.timestamp_us)
                )
                if len(records) >= limit:
                    break
        finally:
            os.close(fd)
        i += 1
    if records:
        return records, Position.after(records[-1].sequence)
    return [], position


def _segment_for_timestamp(directory: Path, segments: list[int], ts: int) -> int:
    """The last segment whose first record is older than ``ts`` (the first one holding ts may be the next)."""
    chosen = 0
    for i, first in enumerate(segments):
        first_ts = _first_timestamp(directory, first)
        if first_ts is None or first_ts >= ts:
            break
        chosen = i
    return chosen


def _start_offset(directory: Path, first: int, fd: int, min_seq: int | None, min_ts: int) -> int:
    """Where to start scanning a segment: the last index entry before the target, if it checks out."""
    index = read_index(directory / f"{segment_name(first)}.idx")
    if not index.offsets:
        return 0
    if min_seq is not None:
        j = bisect.bisect_right(index.sequences, min_seq) - 1
    else:
        j = bisect.bisect_left(index.timestamps, min_ts) - 1
    if j < 0:
        return 0
    frame = next(iter_frames(fd, index.offsets[j]), None)
    if frame is None or frame.sequence != index.sequences[j]:
        return 0  # an index entry that does not match the log (after a machine crash): scan instead
    return index.offsets[j]


def _first_timestamp(directory: Path, first: int) -> int | None:
    """The first record's timestamp, from the segment's first index entry (written with that record)."""
    try:
        with open(directory / f"{segment_name(first)}.idx", "rb") as f:
            raw = f.read(INDEX_ENTRY.size)
    except FileNotFoundError:
        return None
    if len(raw) < INDEX_ENTRY.size:
        return None
    return int(INDEX_ENTRY.unpack(raw)[1])


def _sealed_last_timestamp(directory: Path, first: int, next_first: int) -> int | None:
    """The newest record time of a sealed segment: from the seal's index entry, or, where that entry was
    lost (the index is not synced), the next segment's first record time, which is never older."""
    path = directory / f"{segment_name(first)}.idx"
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(size - size % INDEX_ENTRY.size - INDEX_ENTRY.size)
            seq, ts, _ = INDEX_ENTRY.unpack(f.read(INDEX_ENTRY.size))
        if seq == next_first:
            return int(ts)
    except (OSError, struct.error):
        pass
    return _first_timestamp(directory, next_first)


def _last_index_offset(directory: Path, first: int) -> int:
    index = read_index(directory / f"{segment_name(first)}.idx")
    return index.offsets[-1] if index.offsets else 0


def _tail_sequence(directory: Path, segments: list[int]) -> int:
    """The sequence number the next record of the partition will get."""
    if not segments:
        return 0
    last = segments[-1]
    try:
        fd = os.open(directory / f"{segment_name(last)}.log", os.O_RDONLY)
    except FileNotFoundError:
        return last
    try:
        next_seq = last
        for frame in iter_frames(fd, _last_index_offset(directory, last)):
            next_seq = frame.sequence if frame.key is None else frame.sequence + 1
        return next_seq
    finally:
        os.close(fd)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    """Write at an explicit offset (the end of the last valid frame), never at the descriptor's position:
    after a torn tail was cut or another process appended, the position means nothing."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
