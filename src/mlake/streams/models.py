"""The typed values of the streams API: what a producer puts, what it gets back, what a consumer reads.

They are frozen dataclasses, and NamedTuples for the values made once per record (a put record, its
result, a read record), which cost half as much to build as a frozen dataclass; all are shared by
every backend (and, later, the REST schemas and the remote
client), so no caller ever has to know which broker is underneath.

Sequence numbers are integers that increase within a partition. They are *not* contiguous on every
backend (NATS JetStream numbers messages across the whole stream, Redis derives them from the entry ID),
so compare them only within one partition and never count records by subtracting them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from mlake.errors import MlakeError, ValidationError


class PositionKind(StrEnum):
    OLDEST = "oldest"
    """The oldest record still within the retention period (Kinesis' TRIM_HORIZON)."""
    LATEST = "latest"
    """Just after the newest record: a read returns only records put after it was resolved."""
    AT_SEQUENCE = "at_sequence"
    AFTER_SEQUENCE = "after_sequence"
    AT_TIMESTAMP = "at_timestamp"
    """The first record whose arrival time is at or after the timestamp."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a read of one partition starts; build it with the class methods (``Position.at(42)``)."""

    kind: PositionKind
    sequence: int | None = None
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind in (PositionKind.AT_SEQUENCE, PositionKind.AFTER_SEQUENCE):
            if not isinstance(self.sequence, int) or isinstance(self.sequence, bool) or self.sequence < 0:
                raise ValidationError(
                    f"A {self.kind} position needs a sequence number >= 0, not {self.sequence!r}",
                    hint="use a sequence number returned by a put or a read",
                )
        elif self.kind is PositionKind.AT_TIMESTAMP and (
            not isinstance(self.timestamp, datetime) or self.timestamp.tzinfo is None
        ):
            raise ValidationError(
                f"A timestamp position needs a timezone-aware datetime, not {self.timestamp!r}",
                hint="e.g. datetime.now(UTC) - timedelta(minutes=5)",
            )

    @classmethod
    def oldest(cls) -> Position:
        return cls(PositionKind.OLDEST)

    @classmethod
    def latest(cls) -> Position:
        return cls(PositionKind.LATEST)

    @classmethod
    def at(cls, sequence: int) -> Position:
        return cls(PositionKind.AT_SEQUENCE, sequence=sequence)

    @classmethod
    def after(cls, sequence: int) -> Position:
        return cls(PositionKind.AFTER_SEQUENCE, sequence=sequence)

    @classmethod
    def at_time(cls, timestamp: datetime) -> Position:
        return cls(PositionKind.AT_TIMESTAMP, timestamp=timestamp)

    @classmethod
    def parse(cls, text: str) -> Position:
        """A position as people type it (CLI, REST): ``oldest``, ``latest``, ``42`` (at a sequence
        number), ``after:42``, or an ISO time with a zone (``2026-12-02T08:00:00Z``)."""
        raw = text.strip().lower() if isinstance(text, str) else ""
        if raw in ("oldest", "latest"):
            return cls(PositionKind(raw))
        if raw.isdigit():
            return cls.at(int(raw))
        if raw.startswith("after:") and raw[6:].isdigit():
            return cls.after(int(raw[6:]))
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except (ValueError, AttributeError):
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ValidationError(
                f"Cannot read the stream position {text!r}",
                hint="use oldest, latest, a sequence number (42), after:42, or a time with a zone "
                "(2026-12-02T08:00:00Z)",
            )
        return cls.at_time(moment)

    def text(self) -> str:
        """The position as :meth:`parse` reads it back (for the CLI and REST)."""
        if self.kind is PositionKind.AT_SEQUENCE:
            return str(self.sequence)
        if self.kind is PositionKind.AFTER_SEQUENCE:
            return f"after:{self.sequence}"
        if self.kind is PositionKind.AT_TIMESTAMP:
            assert self.timestamp is not None
            return self.timestamp.isoformat()
        return self.kind.value

    def first_sequence(self) -> int | None:
        """The smallest sequence number this position admits, where it names one."""
        if self.kind is PositionKind.AT_SEQUENCE:
            return self.sequence
        if self.kind is PositionKind.AFTER_SEQUENCE:
            assert self.sequence is not None
            return self.sequence + 1
        return None

    def timestamp_us(self) -> int | None:
        """The timestamp as microseconds since the epoch (for AT_TIMESTAMP positions)."""
        if self.timestamp is None:
            return None
        return to_us(self.timestamp)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PutRecord(NamedTuple):
    """One record to put: a partition key and a value.

    ``value`` may be bytes (stored as they are) or anything JSON can encode (a dict, list, str, number),
    which is stored as compact UTF-8 JSON. Records with the same key go to the same partition, in order.
    """

    key: str
    value: Any


class PartitionedRecord(NamedTuple):
    """A record on its way to a backend: the partition is chosen and the value encoded."""

    partition: int
    key: str
    data: bytes


class PutResult(NamedTuple):
    """What became of one put record: its sequence number, or why it was not stored.

    ``retryable`` says whether putting the same record again may succeed (a broker timeout) or not
    (a record larger than the limit).
    """

    partition: int | None
    sequence: int | None = None
    error: str | None = None
    error_code: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class PutBatchResult:
    """Per-record results of a batch put, in the order the records were given."""

    results: list[PutResult]

    @property
    def failed_count(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    @property
    def failed_indices(self) -> list[int]:
        """Positions (in the batch) of the records that were not stored: retry these."""
        return [i for i, r in enumerate(self.results) if not r.ok]

    @property
    def ok(self) -> bool:
        return self.failed_count == 0

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> PutResult:
        return self.results[index]


class Record(NamedTuple):
    """One stored record as a consumer reads it."""

    stream: str
    partition: int
    sequence: int
    key: str
    data: bytes
    timestamp_us: int
    """Arrival time at the backend, microseconds since the epoch (non-decreasing within a partition)."""

    @property
    def timestamp(self) -> datetime:
        return from_us(self.timestamp_us)

    def json(self) -> Any:
        """The value decoded as JSON; a record that is not JSON raises a :class:`RecordDecodeError`."""
        try:
            return json.loads(self.data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordDecodeError(
                f"Record {self.sequence} of stream {self.stream!r} (partition {self.partition}, key {self.key!r}) "
                f"is not JSON: {exc}",
                hint="read .data for the raw bytes",
            ) from exc


class RecordDecodeError(MlakeError):
    """A record's bytes are not what the reader expected (e.g. not JSON)."""

    code = "record_decode_error"
    http_status = 422


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """Records of one partition and the position to continue from.

    ``next_position`` is after the last record returned; when nothing was returned it is the position
    asked for, except that LATEST is pinned to the partition's end at the time of the read, so that
    reading on from it returns every record put since.
    """

    records: list[Record]
    next_position: Position


@dataclass(frozen=True, slots=True)
class StreamDescription:
    name: str
    partitions: int
    retention: timedelta
    created_at: datetime
    backend: str = field(default="")
    """The backend's identity (its URL without secrets)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of REST (``retention_seconds`` for the retention)."""
        return {
            "name": self.name,
            "partitions": self.partitions,
            "created_at": self.created_at.isoformat(),
            "backend": self.backend,
            "retention_seconds": self.retention.total_seconds(),
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> StreamDescription:
        return cls(
            name=body["name"],
            partitions=int(body["partitions"]),
            retention=timedelta(seconds=float(body["retention_seconds"])),
            created_at=datetime.fromisoformat(body["created_at"]),
            backend=body.get("backend", ""),
        )
