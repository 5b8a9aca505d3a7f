"""NATS JetStream as a stream backend (``nats://host:4222?prefix=mlake``), for teams.

An mlake stream ``clicks`` is one JetStream stream ``<prefix>_clicks`` on the subjects
``<prefix>.clicks.<partition>``; records keep their partition key in an ``Mlake-Key`` header and get the
stream's sequence numbers (increasing within a partition, shared across partitions). The retention
period is the stream's ``max_age``. Reads make a short-lived ephemeral consumer filtered to the
partition's subject, starting at the position asked for, and pull what it has without waiting.

Consumer groups keep their checkpoints in a JetStream key-value bucket ``<prefix>_<stream>_groups``
(key ``<group>.<partition>``). JetStream's durable consumers were considered and not used for them:
their state is "acknowledged so far" plus redelivery timers, which cannot be moved to an arbitrary
sequence number, and rewinding one means deleting and re-creating it, losing the checkpoint if the
process dies in between; a key-value entry is one atomic, replicated write.

nats-py is asynchronous; this class keeps one connection and one event loop on a private thread and
offers the synchronous protocol over it, so callers never see asyncio.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlparse

from mlake.streams.base import StreamError, StreamExistsError, StreamNotFoundError, check_partition
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

T = TypeVar("T")
_KEY_HEADER = "Mlake-Key"
_HEADER_ROOM = 8192  # room left in the server's max_payload for headers (the key, percent-encoded)
_TIMEOUT = 30.0


class NatsBackend:
    """Streams on a NATS JetStream server."""

    def __init__(self, url: str) -> None:
        try:
            import nats
        except ImportError as exc:  # pragma: no cover - the nats extra is part of dev and all
            raise StreamError("The NATS stream backend needs nats-py", hint="pip install 'mlake[nats]'") from exc
        parsed = urlparse(url)
        self.prefix = parse_qs(parsed.query).get("prefix", ["mlake"])[0]
        self._server = parsed._replace(query="").geturl()
        host = f"{parsed.hostname}:{parsed.port or 4222}"
        self._identity = f"nats://{host}?prefix={self.prefix}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mlake-nats", daemon=True)
        self._thread.start()
        self._partitions: dict[str, tuple[int, int]] = {}  # name -> (partitions, retention µs)
        self._lock = threading.Lock()
        try:
            self._nc = self._run(
                nats.connect(servers=[self._server], connect_timeout=5, max_reconnect_attempts=5, allow_reconnect=True)
            )
        except Exception as exc:
            self._stop_loop()
            raise StreamError(
                f"Cannot reach the NATS server at {host}: {exc}",
                hint="check MLAKE_STREAM_URL and that nats-server runs with JetStream enabled (-js)",
            ) from exc
        self._js = self._nc.jetstream(timeout=10)
        self._jsm = self._nc.jsm(timeout=10)

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def max_record_bytes(self) -> int:
        return int(self._nc.max_payload) - _HEADER_ROOM

    # -- the private event loop ----------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = _TIMEOUT) -> T:
        """Run a coroutine on the private loop and wait for it, translating NATS errors for users."""
        import nats.errors
        import nats.js.errors

        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError as exc:
            future.cancel()
            raise StreamError(
                f"NATS at {self._identity} did not answer within {timeout:.0f} s", hint="check the server's health"
            ) from exc
        except nats.js.errors.NotFoundError as exc:
            raise StreamNotFoundError(f"Not found on NATS at {self._identity}: {exc.description}") from exc
        except (nats.errors.Error, OSError) as exc:
            raise StreamError(f"NATS at {self._identity} failed: {exc}", hint="check the server's health") from exc

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self._nc.close(), timeout=10)
        except StreamError:
            pass
        self._stop_loop()

    # -- names ---------------------------------------------------------------------------------------

    def _stream(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def _subject(self, name: str, partition: int) -> str:
        return f"{self.prefix}.{name}.{partition}"

    def _bucket(self, name: str) -> str:
        return f"{self.prefix}_{name}_groups"

    # -- streams -------------------------------------------------------------------------------------

    def create_stream(self, name: str, partitions: int, retention: timedelta) -> StreamDescription:
        from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

        created_us = time.time_ns() // 1000
        config = StreamConfig(
            name=self._stream(name),
            subjects=[f"{self.prefix}.{name}.*"],
            # The creation time makes every config unique: creating an existing stream is an error,
            # not JetStream's idempotent no-op for an identical config.
            description=json.dumps({"mlake_partitions": partitions, "created_us": created_us}),
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            max_age=retention.total_seconds(),
            num_replicas=1,
        )
        if self._exists(name):
            raise StreamExistsError(f"Stream {name!r} already exists on NATS at {self._identity}")
        try:
            self._run(self._jsm.add_stream(config))
        except StreamError as exc:
            if "already in use" in str(exc) or "overlap" in str(exc):
                raise StreamExistsError(f"Stream {name!r} already exists on NATS at {self._identity}") from exc
            raise
        return self.describe_stream(name)

    def _exists(self, name: str) -> bool:
        try:
            self._run(self._jsm.stream_info(self._stream(name)))
        except StreamNotFoundError:
            return False
        return True

    def describe_stream(self, name: str) -> StreamDescription:
        try:
            info = self._run(self._jsm.stream_info(self._stream(name)))
        except StreamNotFoundError as exc:
            with self._lock:
                self._partitions.pop(name, None)
            raise StreamNotFoundError(
                f"Stream {name!r} does not exist on NATS at {self._identity}", hint="list streams to see which exist"
            ) from exc
        meta = json.loads(info.config.description or "{}")
        if "mlake_partitions" not in meta:
            raise StreamNotFoundError(f"The JetStream stream {info.config.name!r} is not an mlake stream")
        partitions = int(meta["mlake_partitions"])
        retention = timedelta(seconds=info.config.max_age or 0)
        with self._lock:
            self._partitions[name] = (partitions, retention // timedelta(microseconds=1))
        return StreamDescription(
            name=name,
            partitions=partitions,
            retention=retention,
            created_at=from_us(int(meta["created_us"])),
            backend=self._identity,
        )

    def list_streams(self) -> list[str]:
        names: list[str] = []
        offset = 0
        while True:
            request = json.dumps({"offset": offset, "subject": f"{self.prefix}.>"}).encode()
            reply = self._run(self._nc.request("$JS.API.STREAM.NAMES", request, timeout=10))
            resp = json.loads(reply.data)
            page = resp.get("streams") or []
            names.extend(n[len(self.prefix) + 1 :] for n in page if n.startswith(f"{self.prefix}_"))
            offset += len(page)
            if not page or offset >= resp.get("total", 0):
                return sorted(names)

    def delete_stream(self, name: str) -> None:
        try:
            self._run(self._jsm.delete_stream(self._stream(name)))
        except StreamNotFoundError as exc:
            raise StreamNotFoundError(f"Stream {name!r} does not exist on NATS at {self._identity}") from exc
        finally:
            with self._lock:
                self._partitions.pop(name, None)
        try:
            self._run(self._js.delete_key_value(self._bucket(name)))
        except StreamNotFoundError:
            pass

    def _meta(self, name: str) -> tuple[int, int]:
        with self._lock:
            known = self._partitions.get(name)
        if known is None:
            self.describe_stream(name)
            with self._lock:
                known = self._partitions[name]
        return known

    # -- records -------------------------------------------------------------------------------------

    def append(self, name: str, records: Sequence[PartitionedRecord]) -> list[PutResult]:
        partitions, _ = self._meta(name)
        for r in records:
            check_partition(name, r.partition, partitions)
        outcomes = self._run(self._publish(name, records), timeout=_TIMEOUT + 5)
        results: list[PutResult] = []
        for r, outcome in zip(records, outcomes, strict=True):
            if isinstance(outcome, int):
                results.append(PutResult(r.partition, sequence=outcome))
            elif isinstance(outcome, StreamNotFoundError):
                raise outcome
            else:
                results.append(PutResult(r.partition, error=str(outcome), error_code="write_failed", retryable=True))
        return results

    async def _publish(self, name: str, records: Sequence[PartitionedRecord]) -> list[int | Exception]:
        """Publish in order without waiting for each acknowledgement, then collect them all.

        The messages go out one after another on one connection, so the server stores them in the order
        given; only the acknowledgements are awaited together."""
        stream = self._stream(name)
        futures: list[asyncio.Future[Any]] = []
        for r in records:
            headers = {_KEY_HEADER: quote(r.key, safe="")}
            futures.append(
                await self._js.publish_async(self._subject(name, r.partition), r.data, headers=headers, stream=stream)
            )
        _, pending = await asyncio.wait(futures, timeout=_TIMEOUT)
        outcomes: list[int | Exception] = []
        for future in futures:
            if future in pending:
                future.cancel()
                outcomes.append(
                    StreamError(f"no acknowledgement from NATS within {_TIMEOUT:.0f} s (the record may be stored)")
                )
                continue
            exc = future.exception()
            if exc is None:
                outcomes.append(int(future.result().seq))
            elif _means_no_stream(exc):
                outcomes.append(StreamNotFoundError(f"Stream {name!r} does not exist on NATS at {self._identity}"))
            else:
                outcomes.append(exc if isinstance(exc, Exception) else StreamError(str(exc)))
        return outcomes

    def read(self, name: str, partition: int, position: Position, limit: int) -> ReadBatch:
        partitions, retention_us = self._meta(name)
        check_partition(name, partition, partitions)
        cutoff_us = time.time_ns() // 1000 - retention_us
        if position.kind is PositionKind.LATEST:
            info = self._run(self._jsm.stream_info(self._stream(name)))
            return ReadBatch([], Position.at(int(info.state.last_seq) + 1))
        raw = self._run(self._pull(name, partition, position, limit, cutoff_us))
        records = [
            Record(name, partition, seq, unquote(key), data, ts_us)
            for seq, key, data, ts_us in raw
            if ts_us >= cutoff_us
        ]
        if records:
            return ReadBatch(records, Position.after(records[-1].sequence))
        return ReadBatch([], position)

    async def _pull(
        self, name: str, partition: int, position: Position, limit: int, cutoff_us: int
    ) -> list[tuple[int, str, bytes, int]]:
        """Records from an ephemeral consumer made for this read (removed afterwards)."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(
            filter_subject=self._subject(name, partition),
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,  # the server removes it even if this process dies first
            mem_storage=True,
            num_replicas=1,
        )
        first_seq = position.first_sequence()
        if first_seq is not None:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = max(first_seq, 1)
        else:
            start_us = max(cutoff_us, position.timestamp_us() or 0)
            config.deliver_policy = DeliverPolicy.BY_START_TIME
            config.opt_start_time = from_us(start_us)
        stream = self._stream(name)
        info = await self._jsm.add_consumer(stream, config)
        try:
            wanted = min(limit, int(info.num_pending or 0))
            if wanted == 0:
                return []
            inbox = self._nc.new_inbox()
            sub = await self._nc.subscribe(inbox)
            try:
                request = json.dumps({"batch": wanted, "no_wait": True}).encode()
                await self._nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{info.name}", request, reply=inbox)
                out: list[tuple[int, str, bytes, int]] = []
                while len(out) < wanted:
                    msg = await sub.next_msg(timeout=10)
                    if msg.headers and msg.headers.get("Status"):
                        break  # 404 no messages / 408 request expired: nothing more now
                    tokens = (msg.reply or "").split(".")
                    # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>
                    # (newer servers put a domain and account hash first: count from the end)
                    seq, ts_ns = int(tokens[-4]), int(tokens[-2])
                    key = (msg.headers or {}).get(_KEY_HEADER, "")
                    out.append((seq, key, msg.data, ts_ns // 1000))
                return out
            finally:
                await sub.unsubscribe()
        finally:
            await self._jsm.delete_consumer(stream, info.name)

    # -- consumer groups -----------------------------------------------------------------------------

    async def _kv(self, name: str, *, create: bool) -> Any:
        import nats.js.errors
        from nats.js.api import KeyValueConfig, StorageType

        try:
            return await self._js.key_value(self._bucket(name))
        except nats.js.errors.BucketNotFoundError:
            if not create:
                return None
            return await self._js.create_key_value(
                KeyValueConfig(bucket=self._bucket(name), history=1, storage=StorageType.FILE)
            )

    def commit_checkpoint(self, name: str, group: str, partition: int, sequence: int) -> None:
        partitions, _ = self._meta(name)
        check_partition(name, partition, partitions)

        async def commit() -> None:
            kv = await self._kv(name, create=True)
            await kv.put(f"{group}.{partition}", str(sequence).encode())

        self._run(commit())

    def checkpoints(self, name: str, group: str) -> dict[int, int]:
        partitions, _ = self._meta(name)

        async def load() -> dict[int, int]:
            import nats.js.errors

            kv = await self._kv(name, create=False)
            if kv is None:
                return {}
            out: dict[int, int] = {}
            for p in range(partitions):
                try:
                    entry = await kv.get(f"{group}.{p}")
                except nats.js.errors.KeyNotFoundError:
                    continue
                if entry.value:
                    out[p] = int(entry.value)
            return out

        return self._run(load())

    def list_groups(self, name: str) -> list[str]:
        self._meta(name)

        async def keys() -> list[str]:
            import nats.js.errors

            kv = await self._kv(name, create=False)
            if kv is None:
                return []
            try:
                return list(await kv.keys())
            except nats.js.errors.NoKeysError:
                return []

        return sorted({k.rsplit(".", 1)[0] for k in self._run(keys())})

    def delete_group(self, name: str, group: str) -> None:
        partitions, _ = self._meta(name)
        if group not in self.list_groups(name):
            raise StreamNotFoundError(f"Stream {name!r} has no consumer group {group!r}")

        async def purge() -> None:
            kv = await self._kv(name, create=False)
            for p in range(partitions):
                await kv.purge(f"{group}.{p}")

        self._run(purge())


def _means_no_stream(exc: BaseException) -> bool:
    """A publish no stream took: no responders, or JetStream's 'expected stream does not match' (10060)."""
    import nats.errors
    import nats.js.errors

    if isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.NoStreamResponseError):
        return True
    return isinstance(exc, nats.js.errors.APIError) and exc.err_code == 10060
