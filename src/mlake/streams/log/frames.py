"""The on-disk format of the embedded log: framed records in segment files, a sparse index beside each.

A segment file (``<first sequence, 20 digits>.log``) is a run of frames::

    body length u32 | crc32(body) u32 | body = sequence u64 | timestamp µs i64 | key length u16 | key | data

The CRC makes a torn tail (a writer killed in the middle of a write) detectable: reading stops at the
first frame that is incomplete or does not match its checksum, and the next writer cuts the file back to
there. A frame whose key length is 0xFFFF is a *seal*: the writer that closed the segment put it last,
so every process that had the segment open as its tail learns that a newer segment exists.

The index (``.idx``) holds ``sequence u64 | timestamp µs i64 | offset u64`` for the first record of a
segment and then about every :data:`INDEX_EVERY` bytes. It is only a shortcut: it is not synced, and a
reader checks that the frame an entry points at carries the entry's sequence number before trusting it.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

PREFIX = struct.Struct("<II")  # body length, crc32 of the body
BODY_HEAD = struct.Struct("<QqH")  # sequence, timestamp in µs, key length
INDEX_ENTRY = struct.Struct("<QqQ")  # sequence, timestamp in µs, file offset
SEAL_KEY_LEN = 0xFFFF
INDEX_EVERY = 4096
MAX_BODY = 64 * 1024 * 1024  # sanity bound: a length beyond it is garbage, not a record
_CHUNK = 256 * 1024


class Frame(NamedTuple):
    sequence: int
    timestamp_us: int
    key: bytes | None  # None for a seal
    data: bytes
    offset: int
    end: int


def seal_frame(next_sequence: int, timestamp_us: int) -> bytes:
    head = BODY_HEAD.pack(next_sequence, timestamp_us, SEAL_KEY_LEN)
    return PREFIX.pack(len(head), zlib.crc32(head)) + head


def iter_frames(fd: int, offset: int) -> Iterator[Frame]:
    """Valid frames of a segment from ``offset``, stopping at the end or at the first torn/corrupt frame."""
    buf = os.pread(fd, _CHUNK, offset)
    base = offset  # file offset of buf[0]
    pos = 0
    while True:
        if len(buf) - pos < PREFIX.size:
            more = os.pread(fd, _CHUNK, base + len(buf))
            if not more:
                return
            buf = buf[pos:] + more
            base += pos
            pos = 0
            continue
        body_len, crc = PREFIX.unpack_from(buf, pos)
        if body_len < BODY_HEAD.size or body_len > MAX_BODY:
            return
        end = pos + PREFIX.size + body_len
        if end > len(buf):
            more = os.pread(fd, max(_CHUNK, end - len(buf)), base + len(buf))
            if not more:
                return
            buf = buf[pos:] + more
            base += pos
            pos = 0
            continue
        body = memoryview(buf)[pos + PREFIX.size : end]
        if zlib.crc32(body) != crc:
            return
        sequence, ts, key_len = BODY_HEAD.unpack_from(body)
        if key_len == SEAL_KEY_LEN:
            yield Frame(sequence, ts, None, b"", base + pos, base + end)
        else:
            k0 = BODY_HEAD.size
            yield Frame(
                sequence, ts, bytes(body[k0 : k0 + key_len]), bytes(body[k0 + key_len :]), base + pos, base + end
            )
        pos = end


def segment_name(first_sequence: int) -> str:
    return f"{first_sequence:020d}"


def list_segments(directory: Path) -> list[int]:
    """First sequence numbers of the partition's segments, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(int(n[:-4]) for n in names if n.endswith(".log") and n[:-4].isdigit())


class SegmentIndex(NamedTuple):
    sequences: list[int]
    timestamps: list[int]
    offsets: list[int]


def read_index(path: Path) -> SegmentIndex:
    """A segment's index entries (a torn last entry is ignored)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SegmentIndex([], [], [])
    raw = raw[: len(raw) - len(raw) % INDEX_ENTRY.size]
    seqs: list[int] = []
    tss: list[int] = []
    offs: list[int] = []
    for s, t, o in INDEX_ENTRY.iter_unpack(raw):
        seqs.append(s)
        tss.append(t)
        offs.append(o)
    return SegmentIndex(seqs, tss, offs)
