"""Redis Streams as a stream backend (``redis://host:6379/0?prefix=mlake``), for teams.

Keys of an mlake stream ``clicks`` (``P`` = the prefix)::

    P:streams                    a set of stream names
    P:s:clicks:meta              a hash: partitions, retention in µs, creation time
    P:s:clicks:p:<partition>     one Redis stream per partition; entries {k: key, d: data}
    P:s:clicks:g:<group>         a hash of a consumer group's checkpoints: partition -> sequence number

A sequence number is the entry ID ``<ms>-<n>`` packed into one integer, ``ms << 22 | n``: it increases
as IDs do, and its high part is the arrival time, so a timestamp position is an ID range. (Redis would
have to store over four million entries in one partition within one millisecond to exceed ``n``.)
Retention trims each partition by ID (``XADD ... MINID``) as records are added, and reads never return
entries older than the period, so the two together make retention exact.

Checkpoints are plain hashes rather than Redis consumer groups (``XGROUP``): those track pending,
unacknowledged entries per consumer, which is more than a checkpoint and cannot be moved to an
arbitrary sequence number atomically with a read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from mlake.streams.base import (
    DEFAULT_MAX_RECORD_BYTES,
    StreamError,
    StreamExistsError,
    StreamNotFoundError,
    check_partition,
)
from mlake.streams.models import (
    PartitionedRecord,
    Position,
    PositionKind,
    PutResult,
    ReadBatch,
    Record,
    StreamDescription,
    from_us,
)

_SEQ_BITS = 22
_SEQ_MASK = (1 << _SEQ_BITS) - 1

# KEYS[1]: meta hash, KEYS[2]: the set of streams; ARGV: name, partitions, retention µs, created µs.
_CREATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'partitions', ARGV[2], 'retention_us', ARGV[3], 'created_us', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""


def sequence_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, n = text.split("-")
    return (int(ms) << _SEQ_BITS) | int(n)


def entry_id_of(sequence: int) -> str:
    return f"{sequence >> _SEQ_BITS}-{sequence & _SEQ_MASK}"


class RedisBackend:
    """Streams on a Redis server (one Redis stream per partition)."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the redis extra is part of dev and all
            raise StreamError("The Redis stream backend needs redis-py", hint="pip install 'mlake[redis]'") from exc
        parsed = urlparse(url)
        self.prefix = parse_qs(parsed.query).get("prefix", ["mlake"])[0]
        clean = parsed._replace(query="").geturl()
        db = parsed.path.strip("/") or "0"
        self._identity = f"redis://{parsed.hostname}:{parsed.port or 6379}/{db}?prefix={self.prefix}"
        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(clean, socket_timeout=30, socket_connect_timeout=5)
        self._create = self._client.register_script(_CREATE_LUA)
        self._meta_cache: dict[str, tuple[int, int]] = {}
        try:
            self._client.ping()
        except self._redis_errors as exc:
            raise StreamError(
                f"Cannot reach Redis at {parsed.hostname}:{parsed.port or 6379}: {exc}",
                hint="check MLAKE_STREAM_URL and that Redis is running",
            ) from exc

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def max_record_bytes(self) -> int:
        return DEFAULT_MAX_RECORD_BYTES

    def _key(self, name: str, *parts: object) -> str:
        return ":".join([self.prefix, "s", name, *map(str, parts)])

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._redis_errors as exc:
            raise StreamError(f"Redis at {self._identity} failed: {exc}", hint="check the server's health") from exc

    def _scan(self, pattern: str) -> list[bytes]:
        return list(self._call(lambda: list(self._client.scan_iter(match=pattern, count=500))))

    # -- streams -------------------------------------------------------------------------------------

    def create_stream(self, name: str, partitions: int, retention: timedelta) -> StreamDescription:
        created = self._call(
            self._create,
            keys=[self._key(name, "meta"), f"{self.prefix}:streams"],
            args=[name, partitions, retention // timedelta(microseconds=1), time.time_ns() // 1000],
        )
        if not created:
            raise StreamExistsError(f"Stream {name!r} already exists in Redis at {self._identity}")
        return self.describe_stream(name)

    def describe_stream(self, name: str) -> StreamDescription:
        raw = self._call(self._client.hgetall, self._key(name, "meta"))
        if not raw:
            self._meta_cache.pop(name, None)
            raise StreamNotFoundError(
                f"Stream {name!r} does not exist in Redis at {self._identity}", hint="list streams to see which exist"
            )
        partitions, retention_us = int(raw[b"partitions"]), int(raw[b"retention_us"])
        self._meta_cache[name] = (partitions, retention_us)
        return StreamDescription(
            name=name,
            partitions=partitions,
            retention=timedelta(microseconds=retention_us),
            created_at=from_us(int(raw[b"created_us"])),
            backend=self._identity,
        )

    def list_streams(self) -> list[str]:
        return sorted(m.decode() for m in self._call(self._client.smembers, f"{self.prefix}:streams"))

    def delete_stream(self, name: str) -> None:
        partitions, _ = self._meta(name, fresh=True)
        keys = [self._key(name, "meta"), *(self._key(name, "p", p) for p in range(partitions))]
        keys += [k.decode() for k in self._scan(self._key(name, "g", "*"))]
        pipe = self._client.pipeline(transaction=True)
        pipe.unlink(*keys)
        pipe.srem(f"{self.prefix}:streams", name)
        self._call(pipe.execute)
        self._meta_cache.pop(name, None)

    def _meta(self, name: str, *, fresh: bool = False) -> tuple[int, int]:
        known = None if fresh else self._meta_cache.get(name)
        if known is None:
            self.describe_stream(name)
            known = self._meta_cache[name]
        return known

    # -- records -------------------------------------------------------------------------------------

    def append(self, name: str, records: Sequence[PartitionedRecord]) -> list[PutResult]:
        partitions, retention_us = self._meta(name)
        for r in records:
            check_partition(name, r.partition, partitions)
        if not self._call(self._client.exists, self._key(name, "meta")):
            self._meta_cache.pop(name, None)
            raise StreamNotFoundError(f"Stream {name!r} does not exist in Redis at {self._identity}")
        min_id = max(0, (time.time_ns() // 1000 - retention_us) // 1000)
        pipe = self._client.pipeline(transaction=False)
        for r in records:
            # MINID trims entries older than the retention period as new ones arrive (exact, not '~').
            pipe.xadd(self._key(name, "p", r.partition), {"k": r.key, "d": r.data}, minid=min_id, approximate=False)
        try:
            replies = pipe.execute(raise_on_error=False)
        except self._redis_errors as exc:
            error = f"Redis at {self._identity} failed: {exc} (records may be stored)"
            return [PutResult(r.partition, error=error, error_code="write_failed", retryable=True) for r in records]
        results = []
        for r, reply in zip(records, replies, strict=True):
            if isinstance(reply, BaseException):
                results.append(PutResult(r.partition, error=str(reply), error_code="write_failed", retryable=True))
            else:
                results.append(PutResult(r.partition, sequence=sequence_of(reply)))
        return results

    def read(self, name: str, partition: int, position: Position, limit: int) -> ReadBatch:
        partitions, retention_us = self._meta(name)
        check_partition(name, partition, partitions)
        key = self._key(name, "p", partition)
        cutoff_us = time.time_ns() // 1000 - retention_us
        if position.kind is PositionKind.LATEST:
            newest = self._call(self._client.xrevrange, key, "+", "-", count=1)
            return ReadBatch([], Position.at(sequence_of(newest[0][0]) + 1 if newest else 0))
        first_seq = position.first_sequence()
        start_ms = -(-max(cutoff_us, position.timestamp_us() or 0) // 1000)  # round up: whole ms after the cutoff
        start = f"{start_ms}-0"
        if first_seq is not None and first_seq > sequence_of(start):
            start = entry_id_of(first_seq)
        entries = self._call(self._client.xrange, key, start, "+", count=limit)
        records = []
        for eid, fields in entries:
            seq = sequence_of(eid)
            records.append(Record(name, partition, seq, fields[b"k"].decode(), fields[b"d"], (seq >> _SEQ_BITS) * 1000))
        if records:
            return ReadBatch(records, Position.after(records[-1].sequence))
        if not self._call(self._client.exists, self._key(name, "meta")):
            raise StreamNotFoundError(f"Stream {name!r} does not exist in Redis at {self._identity}")
        return ReadBatch([], position)

    # -- consumer groups -----------------------------------------------------------------------------

    def commit_checkpoint(self, name: str, group: str, partition: int, sequence: int) -> None:
        partitions, _ = self._meta(name)
        check_partition(name, partition, partitions)
        self._call(self._client.hset, self._key(name, "g", group), str(partition), str(sequence))

    def checkpoints(self, name: str, group: str) -> dict[int, int]:
        self._meta(name)
        raw = self._call(self._client.hgetall, self._key(name, "g", group))
        return {int(k): int(v) for k, v in raw.items()}

    def list_groups(self, name: str) -> list[str]:
        self._meta(name)
        prefix = self._key(name, "g", "")
        return sorted(k.decode()[len(prefix) :] for k in self._scan(f"{prefix}*"))

    def delete_group(self, name: str, group: str) -> None:
        self._meta(name)
        if not self._call(self._client.delete, self._key(name, "g", group)):
            raise StreamNotFoundError(f"Stream {name!r} has no consumer group {group!r}")

    def close(self) -> None:
        self._client.close()
