"""Redis online store: for teams and for serving many readers.

Each entity is a hash ``<prefix>:<group>:<entity key>`` with fields ``et`` (event time), ``wt`` (write
time) and ``v`` (the JSON values). Upserts run a Lua script, so comparing the stored (et, wt) with the
incoming one and replacing it is one atomic step inside Redis: no reader sees half a record and no
out-of-order writer can overwrite a newer value. Reads of many entities are one pipelined round trip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlparse

from mlake.features.online.base import OnlineRecord, OnlineStoreError, StoredValue

# KEYS: hash keys; ARGV: et, wt, payload per key. Returns how many records were applied.
_UPSERT_LUA = """
local applied = 0
for i, key in ipairs(KEYS) do
  local et = tonumber(ARGV[3 * i - 2])
  local wt = tonumber(ARGV[3 * i - 1])
  local cur = redis.call('HMGET', key, 'et', 'wt')
  local cet = tonumber(cur[1])
  local cwt = tonumber(cur[2])
  if (not cet) or et > cet or (et == cet and wt >= cwt) then
    redis.call('HSET', key, 'et', ARGV[3 * i - 2], 'wt', ARGV[3 * i - 1], 'v', ARGV[3 * i])
    applied = applied + 1
  end
end
return applied
"""
# KEYS: hash keys; ARGV[1]: the newest offline write time; then et, wt, payload per key, where an empty
# payload removes the entity. A record written after ARGV[1] is left alone. Returns how many changed.
_RECONCILE_LUA = """
local upto = tonumber(ARGV[1])
local changed = 0
for i, key in ipairs(KEYS) do
  local cwt = tonumber(redis.call('HGET', key, 'wt'))
  if (not cwt) or cwt <= upto then
    local payload = ARGV[3 * i + 1]
    if payload == '' then
      if cwt then
        redis.call('DEL', key)
        changed = changed + 1
      end
    else
      redis.call('HSET', key, 'et', ARGV[3 * i - 1], 'wt', ARGV[3 * i], 'v', payload)
      changed = changed + 1
    end
  end
end
return changed
"""
_BATCH = 500


class RedisOnlineStore:
    """Online features in Redis (``redis://host:port/db?prefix=mlake``)."""

    def __init__(self, url: str, prefix: str | None = None) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the redis extra is part of dev and all
            raise OnlineStoreError(
                "The Redis online store needs the redis package", hint="pip install 'mlake[redis]'"
            ) from exc
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        self.prefix = prefix or query.get("prefix", ["mlake"])[0]
        clean = parsed._replace(query="").geturl()
        self._url = clean
        self._client = redis.Redis.from_url(clean, socket_timeout=10, socket_connect_timeout=5)
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise OnlineStoreError(
                f"Cannot reach the Redis online store at {parsed.hostname}:{parsed.port or 6379}: {exc}",
                hint="check MLAKE_ONLINE_URL and that Redis is running",
            ) from exc
        self._upsert = self._client.register_script(_UPSERT_LUA)
        self._reconcile = self._client.register_script(_RECONCILE_LUA)
        self._error: type[Exception] = redis.RedisError

    @property
    def identity(self) -> str:
        parsed = urlparse(self._url)
        host = f"{parsed.hostname}:{parsed.port or 6379}{parsed.path or '/0'}"
        return f"redis://{host}?prefix={self.prefix}"

    def _key(self, group: str, key: str) -> str:
        return f"{self.prefix}:{group}:{key}"

    def upsert(self, group: str, records: Sequence[OnlineRecord]) -> int:
        applied = 0
        try:
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(records), _BATCH):
                chunk = records[start : start + _BATCH]
                args: list[Any] = []
                for _, et, wt, payload in chunk:
                    args += [et, wt, payload]
                self._upsert(keys=[self._key(group, r[0]) for r in chunk], args=args, client=pipe)
            applied = sum(int(n) for n in pipe.execute())
        except self._error as exc:
            raise OnlineStoreError(f"Writing to the Redis online store failed: {exc}") from exc
        return applied

    def reconcile(
        self, group: str, records: Sequence[OnlineRecord], deleted: Sequence[str], written_up_to_us: int
    ) -> int:
        items: list[tuple[str, int, int, str]] = [(r[0], r[1], r[2], r[3]) for r in records]
        items += [(key, 0, 0, "") for key in deleted]  # an empty payload removes the entity
        try:
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(items), _BATCH):
                chunk = items[start : start + _BATCH]
                args: list[Any] = [written_up_to_us]
                for _, et, wt, payload in chunk:
                    args += [et, wt, payload]
                self._reconcile(keys=[self._key(group, k) for k, *_ in chunk], args=args, client=pipe)
            return sum(int(n) for n in pipe.execute()) if items else 0
        except self._error as exc:
            raise OnlineStoreError(f"Writing to the Redis online store failed: {exc}") from exc

    def read(self, group: str, keys: Sequence[str]) -> list[StoredValue | None]:
        try:
            if len(keys) == 1:
                rows = [self._client.hmget(self._key(group, keys[0]), "et", "wt", "v")]
            else:
                pipe = self._client.pipeline(transaction=False)
                for k in keys:
                    pipe.hmget(self._key(group, k), "et", "wt", "v")
                rows = pipe.execute()
        except self._error as exc:
            raise OnlineStoreError(f"Reading from the Redis online store failed: {exc}") from exc
        return [
            StoredValue(int(et), int(wt), v.decode() if isinstance(v, bytes) else v)
            if et is not None and wt is not None and v is not None
            else None
            for et, wt, v in rows
        ]

    def _keys(self, group: str) -> Any:
        return self._client.scan_iter(match=f"{_glob_escape(self.prefix)}:{_glob_escape(group)}:*", count=1000)

    def keys(self, group: str) -> Iterator[str]:
        start = len(self._key(group, ""))
        try:
            for key in self._keys(group):
                yield (key.decode() if isinstance(key, bytes) else key)[start:]
        except self._error as exc:
            raise OnlineStoreError(f"Reading from the Redis online store failed: {exc}") from exc

    def count(self, group: str) -> int:
        try:
            return sum(1 for _ in self._keys(group))
        except self._error as exc:
            raise OnlineStoreError(f"Reading from the Redis online store failed: {exc}") from exc

    def drop_group(self, group: str) -> None:
        try:
            batch: list[bytes] = []
            for key in self._keys(group):
                batch.append(key)
                if len(batch) >= 1000:
                    self._client.unlink(*batch)
                    batch = []
            if batch:
                self._client.unlink(*batch)
        except self._error as exc:
            raise OnlineStoreError(f"Writing to the Redis online store failed: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
