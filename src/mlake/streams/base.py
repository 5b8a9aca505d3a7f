"""The stream backend protocol: durable, partitioned, replayable logs of records.

A backend stores named streams, each split into a fixed number of partitions. It knows nothing about
keys hashing or JSON: :class:`mlake.streams.Streams` chooses the partition of each record (a stable hash
of its key, the same on every backend and in every process) and encodes values, then hands the backend
records that already carry their partition. What every backend guarantees, and the shared test suite
checks:

- ``append`` returns one result per record, in the order given; a record with a result carrying a
  sequence number is stored durably (the backend's own notion: fsync for the embedded log, the server's
  acknowledgement for NATS JetStream and Redis). A failed record has an error result; it is never
  silently dropped and never reported stored when it is not.
- Records of one partition are stored in the order given, with increasing sequence numbers.
- ``read`` returns records of one partition in sequence order from a position, never a record older
  than the retention period.
- Checkpoints of a consumer group are durable and independent of every other group.

The protocol is shaped so that Kafka fits it without change (not built: no Kafka server runs here):
partitions are Kafka partitions, sequence numbers are offsets, ``append`` is a producer send to an
explicit partition with ``acks=all``, ``read`` is assign + seek (``offsets_for_times`` for timestamps),
checkpoints are the consumer group's committed offsets and the retention period is ``retention.ms``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

import xxhash

from mlake.errors import AlreadyExistsError, MlakeError, NotFoundError, ValidationError
from mlake.streams.models import PartitionedRecord, Position, PutResult, ReadBatch, StreamDescription

MAX_PARTITIONS = 1024
MAX_KEY_CHARS = 256  # as Kinesis: keys are short routing labels, not payload
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024  # 1 MiB, as Kinesis
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class StreamError(MlakeError):
    """A stream backend cannot be reached or failed an operation."""

    code = "stream_unavailable"
    http_status = 503


class StreamNotFoundError(NotFoundError):
    """A stream (or consumer group) that does not exist."""

    code = "stream_not_found"


class StreamExistsError(AlreadyExistsError):
    """Creating a stream whose name is taken."""

    code = "stream_exists"


@runtime_checkable
class StreamBackend(Protocol):
    """What every stream backend implements (one shared test suite runs against each)."""

    @property
    def identity(self) -> str:
        """A stable name for this backend (its URL without secrets)."""
        ...

    @property
    def max_record_bytes(self) -> int:
        """The largest record value this backend stores (a capability, declared rather than discovered)."""
        ...

    def create_stream(self, name: str, partitions: int, retention: timedelta) -> StreamDescription:
        """Create an empty stream; raises :class:`StreamExistsError` if the name is taken."""
        ...

    def describe_stream(self, name: str) -> StreamDescription: ...

    def list_streams(self) -> list[str]:
        """Names of the streams of this backend, sorted."""
        ...

    def delete_stream(self, name: str) -> None:
        """Remove the stream, its records and its consumer groups' checkpoints."""
        ...

    def append(self, name: str, records: Sequence[PartitionedRecord]) -> list[PutResult]:
        """Store records (their partitions already chosen); one result per record, in the order given."""
        ...

    def read(self, name: str, partition: int, position: Position, limit: int) -> ReadBatch:
        """Up to ``limit`` records of one partition from ``position``, in sequence order."""
        ...

    def commit_checkpoint(self, name: str, group: str, partition: int, sequence: int) -> None:
        """Record durably that ``group`` has processed ``partition`` up to and including ``sequence``."""
        ...

    def checkpoints(self, name: str, group: str) -> dict[int, int]:
        """The group's checkpoint per partition (partitions it never checkpointed are absent)."""
        ...

    def list_groups(self, name: str) -> list[str]:
        """Consumer groups with at least one checkpoint on the stream, sorted."""
        ...

    def delete_group(self, name: str, group: str) -> None: ...

    def close(self) -> None: ...


def check_stream_name(name: str, what: str = "stream") -> str:
    """Names become file names, NATS stream names and Redis key parts, so they are kept to a safe alphabet."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValidationError(
            f"Invalid {what} name {name!r}",
            hint="use 1-63 characters: lower-case letters, digits, '_' and '-', starting with a letter",
        )
    return name


def check_partition(name: str, partition: int, partitions: int) -> None:
    if not isinstance(partition, int) or not 0 <= partition < partitions:
        raise ValidationError(
            f"Stream {name!r} has partitions 0..{partitions - 1}; there is no partition {partition!r}",
            hint="describe the stream to see its number of partitions",
        )


def check_limit(limit: int) -> None:
    if not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"A read limit must be a positive integer, not {limit!r}")


def partition_for(key: str, partitions: int) -> int:
    """The partition of a key: a stable 64-bit hash (xxh3) modulo the number of partitions.

    It is the same in every process and on every backend (Python's ``hash`` is salted per process),
    so all producers of a key write to one partition and its records keep their order.
    """
    return xxhash.xxh3_64_intdigest(key.encode("utf-8")) % partitions
