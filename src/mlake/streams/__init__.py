"""Streams: durable, partitioned, replayable logs of records (the Kinesis Data Streams role).

``open_streams(url)`` gives a :class:`Streams` on the backend the URL names:

- ``file:///path/to/folder`` or no URL: the embedded durable log (no server; the default);
- ``nats://host:4222?prefix=mlake``: NATS JetStream;
- ``redis://host:6379/0?prefix=mlake``: Redis Streams.

Every backend implements :class:`StreamBackend` and passes one shared test suite.
"""

from __future__ import annotations

from mlake.streams.base import (
    StreamBackend,
    StreamError,
    StreamExistsError,
    StreamNotFoundError,
    partition_for,
)
from mlake.streams.models import (
    Position,
    PositionKind,
    PutBatchResult,
    PutRecord,
    PutResult,
    ReadBatch,
    Record,
    RecordDecodeError,
    StreamDescription,
)
from mlake.streams.registry import open_stream_backend, open_streams
from mlake.streams.service import ConsumerGroup, PutError, Streams

__all__ = [
    "ConsumerGroup",
    "Position",
    "PositionKind",
    "PutBatchResult",
    "PutError",
    "PutRecord",
    "PutResult",
    "ReadBatch",
    "Record",
    "RecordDecodeError",
    "StreamBackend",
    "StreamDescription",
    "StreamError",
    "StreamExistsError",
    "StreamNotFoundError",
    "Streams",
    "open_stream_backend",
    "open_streams",
    "partition_for",
]
