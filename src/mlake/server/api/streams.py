"""REST: streams — create, list, describe, delete; batch put (the producer endpoint); read; consumer
groups and their checkpoints; status. The remote client (:mod:`mlake.client.streams`) is built on these.

Every route calls ``lake.streams`` of the caller's lake, so a principal's grants on ``stream:NAME``
apply (read needs ``read``/``select``, put needs ``write``/``insert``), refused with the same words
whether or not the stream exists.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.server.state import principal_lake
from mlake.streams import Position, PutRecord, Record, RecordDecodeError, StreamDescription
from mlake.streams.base import DEFAULT_MAX_RECORD_BYTES
from mlake.streams.delivery import BufferHints
from mlake.streams.lake_streams import LAG_CAP

Lk = Annotated[Lake, Depends(principal_lake)]
MAX_BATCH = 500  # records per put, as Kinesis PutRecords
MAX_READ = 1000


class StreamIn(BaseModel):
    name: str = Field(max_length=63, description="Lower-case letters, digits, '_' and '-', starting with a letter.")
    partitions: int = Field(default=1, ge=1, le=1024)
    retention_seconds: float = Field(default=86_400, gt=0, le=10 * 365 * 86_400)


class RecordIn(BaseModel):
    key: str = Field(max_length=256, description="Partition key: records of one key keep their order.")
    value: Any = Field(default=None, description="A JSON value (stored as compact JSON).")
    data_base64: str | None = Field(default=None, description="Raw bytes, base64-encoded, instead of a value.")

    @model_validator(mode="after")
    def one_of(self) -> RecordIn:
        # a JSON null is a value too: what counts is whether the field was given
        if ("value" in self.model_fields_set) == (self.data_base64 is not None):
            raise ValueError("give exactly one of value and data_base64")
        return self


class PutIn(BaseModel):
    records: list[RecordIn] = Field(
        max_length=MAX_BATCH, description="An empty batch stores nothing but is checked like any put."
    )


class GroupIn(BaseModel):
    start: str = Field(default="oldest", max_length=64, description="oldest, latest or an ISO time.")


class HintsIn(BaseModel):
    max_records: int = Field(default=10_000, ge=1)
    max_bytes: int = Field(default=8 * 1024 * 1024, ge=1)
    max_seconds: float = Field(default=1.0, gt=0)


class ManagedIn(BaseModel):
    """A delivery for the server's worker to run (see ``lake.streams.manage``)."""

    stream: str = Field(max_length=63)
    into: str | None = Field(default=None, description="The table (or give feature_group).")
    feature_group: str | None = None
    name: str | None = Field(default=None, max_length=63)
    hints: HintsIn | None = None
    error_table: str | None = None
    changes_of: str | None = None
    transform_sql: str | None = Field(default=None, max_length=100_000)
    time_fields: list[str] = Field(default_factory=list)
    partition_by: list[str] = Field(default_factory=list)
    max_record_bytes: int = Field(default=DEFAULT_MAX_RECORD_BYTES, ge=1)


class CheckpointsIn(BaseModel):
    checkpoints: dict[int, int] = Field(description="Partition -> last sequence number processed.")


class PutResultOut(BaseModel):
    partition: int | None
    sequence: int | None
    error: str | None = None
    error_code: str | None = None
    retryable: bool = False


class PutOut(BaseModel):
    failed_count: int
    records: list[PutResultOut]


class RecordOut(BaseModel):
    partition: int
    sequence: int
    key: str
    timestamp: str
    value: Any = None
    data_base64: str | None = None
    """Set instead of ``value`` when the record is not JSON."""


class ReadOut(BaseModel):
    records: list[RecordOut]
    next_position: str = Field(description="Pass as `from` to read on.")


def _description(d: StreamDescription, groups: list[str] | None = None) -> dict[str, Any]:
    out = d.to_dict()
    if groups is not None:
        out["groups"] = groups
    return out


def _record(r: Record, raw: bool = False) -> RecordOut:
    out = RecordOut(partition=r.partition, sequence=r.sequence, key=r.key, timestamp=r.timestamp.isoformat())
    if not raw:
        try:
            out.value = r.json()
            return out
        except RecordDecodeError:
            pass
    out.data_base64 = base64.b64encode(r.data).decode()
    return out


router = APIRouter(tags=["streams"])


@router.get("/streams", summary="List streams (those the caller holds a grant on)")
def list_streams(lake: Lk) -> list[str]:
    return lake.streams.list_streams()


@router.post("/streams", status_code=201, summary="Create a stream")
def create_stream(body: StreamIn, lake: Lk) -> dict[str, Any]:
    d = lake.streams.create(body.name, partitions=body.partitions, retention=timedelta(seconds=body.retention_seconds))
    return _description(d)


@router.get("/streams/{name}", summary="Describe a stream")
def describe_stream(name: str, lake: Lk) -> dict[str, Any]:
    return _description(lake.streams.describe(name), lake.streams.groups(name))


@router.delete("/streams/{name}", status_code=204, summary="Delete a stream with its records")
def delete_stream(name: str, lake: Lk) -> Response:
    lake.streams.delete(name)
    return Response(status_code=204)


@router.post(
    "/streams/{name}/records",
    summary="Put a batch of records",
    description="One result per record, in order: a sequence number, or an error and whether a retry can help. "
    "A bad record fails alone; put the failed ones again.",
)
def put_records(name: str, body: PutIn, lake: Lk) -> PutOut:
    records: list[PutRecord] = []
    for i, r in enumerate(body.records):
        if r.data_base64 is not None:
            try:
                records.append(PutRecord(r.key, base64.b64decode(r.data_base64, validate=True)))
            except (binascii.Error, ValueError) as exc:
                raise ValidationError(f"Record {i} has data_base64 that is not base64: {exc}") from exc
        else:
            records.append(PutRecord(r.key, r.value))
    result = lake.streams.put_batch(name, records)
    return PutOut(
        failed_count=result.failed_count,
        records=[PutResultOut(**r._asdict()) for r in result.results],
    )


@router.get("/streams/{name}/records", summary="Read records of one partition from a position")
def read_records(
    name: str,
    lake: Lk,
    partition: Annotated[int, Query(ge=0, le=1023)] = 0,
    start: Annotated[
        str, Query(alias="from", max_length=64, description="oldest, latest, SEQ, after:SEQ or an ISO time.")
    ] = "oldest",
    limit: Annotated[int, Query(ge=1, le=MAX_READ)] = 100,
    encoding: Annotated[
        Literal["json", "base64"],
        Query(description="json: a JSON record's value as JSON; base64: every record's exact bytes."),
    ] = "json",
) -> ReadOut:
    batch = lake.streams.read(name, partition, Position.parse(start), limit=limit)
    raw = encoding == "base64"
    return ReadOut(records=[_record(r, raw) for r in batch.records], next_position=batch.next_position.text())


@router.get("/streams/{name}/status", summary="Throughput, lag of consumer groups and deliveries, errors")
def stream_status(name: str, lake: Lk) -> dict[str, Any]:
    return lake.streams.status(name).to_dict()


@router.get("/managed-deliveries", summary="The deliveries the worker runs (of streams the caller may read)")
def managed(lake: Lk) -> list[dict[str, Any]]:
    return [d.to_dict() for d in lake.streams.managed()]


@router.post("/managed-deliveries", status_code=201, summary="Save a delivery for the server's worker to run")
def manage(body: ManagedIn, lake: Lk) -> dict[str, Any]:
    options = body.model_dump(exclude={"stream", "into", "hints"})
    hints = BufferHints(**body.hints.model_dump()) if body.hints is not None else None
    return lake.streams.manage(body.stream, body.into, hints=hints, **options).to_dict()


@router.delete("/managed-deliveries/{stream}", status_code=204, summary="Stop the worker running a delivery")
def unmanage(stream: str, lake: Lk, name: Annotated[str | None, Query(max_length=63)] = None) -> Response:
    lake.streams.unmanage(stream, name)
    return Response(status_code=204)


@router.get("/streams/{name}/throughput", summary="Records per time bucket over a window, read from the stream")
def throughput(
    name: str,
    lake: Lk,
    window_seconds: Annotated[float, Query(gt=0, le=366 * 86_400)] = 900,
    buckets: Annotated[int, Query(ge=1, le=10_000)] = 30,
    end: Annotated[AwareDatetime | None, Query(description="The window's end (default: now).")] = None,
) -> dict[str, Any]:
    window = timedelta(seconds=window_seconds)
    return lake.streams.throughput(name, window=window, buckets=buckets, end=end).to_dict()


@router.get("/streams/{name}/deliveries/{delivery}/lag", summary="A delivery's lag in records after each commit")
def delivery_lag(
    name: str,
    delivery: str,
    lake: Lk,
    window_seconds: Annotated[float, Query(gt=0, le=366 * 86_400)] = 3600,
    cap: Annotated[int, Query(ge=1, le=10_000_000)] = LAG_CAP,
) -> list[tuple[str, int]]:
    lag = lake.streams.delivery_lag(name, delivery, window=timedelta(seconds=window_seconds), cap=cap)
    return [(at.isoformat(), n) for at, n in lag]


@router.get("/stream-limits", summary="The server's limits: largest record, records per put and per read")
def stream_limits(lake: Lk) -> dict[str, int]:
    return {"max_record_bytes": lake.streams.max_record_bytes, "max_batch": MAX_BATCH, "max_read": MAX_READ}


@router.get("/streams/{name}/exists", summary="Whether a stream exists (refused without a read grant on it)")
def stream_exists(name: str, lake: Lk) -> dict[str, bool]:
    return {"exists": lake.streams.exists(name)}


@router.get("/streams/{name}/partition", summary="The partition records of a key go to")
def partition_of(name: str, lake: Lk, key: Annotated[str, Query(max_length=256)]) -> dict[str, int]:
    return {"partition": lake.streams.partition_of(name, key)}


@router.get("/streams/{name}/groups", summary="The stream's consumer groups")
def groups(name: str, lake: Lk) -> list[str]:
    return lake.streams.groups(name)


@router.delete("/streams/{name}/groups/{group}", status_code=204, summary="Forget a consumer group's checkpoints")
def delete_group(name: str, group: str, lake: Lk) -> Response:
    lake.streams.delete_group(name, group)
    return Response(status_code=204)


@router.post("/streams/{name}/groups/{group}/open", summary="Open a consumer group: where each partition resumes")
def open_group(name: str, group: str, body: GroupIn, lake: Lk) -> dict[str, Any]:
    opened = lake.streams.group(name, group, start=Position.parse(body.start))
    return {"partitions": opened.partitions, "cursor": {p: c.text() for p, c in opened.cursor.items()}}


@router.get("/streams/{name}/groups/{group}/checkpoints", summary="A consumer group's durable checkpoints")
def checkpoints(name: str, group: str, lake: Lk) -> dict[int, int]:
    return lake.streams.group(name, group).checkpoints()


@router.post("/streams/{name}/groups/{group}/checkpoints", summary="Checkpoint partitions of a consumer group")
def commit_checkpoints(name: str, group: str, body: CheckpointsIn, lake: Lk) -> dict[int, int]:
    opened = lake.streams.group(name, group)
    for partition, sequence in sorted(body.checkpoints.items()):
        opened.checkpoint(partition, sequence)
    return dict(body.checkpoints)
