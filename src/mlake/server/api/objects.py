"""REST: object tables — add files from the server's allowed folders, list, describe one object, stream
its bytes with its media type, and a cached PNG thumbnail of an image.

Every route calls ``lake.objects`` of the caller's lake: listing and reading need ``select`` on the
object table, adding needs what ingesting needs (an allowed source, ``insert`` on the table).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.objects.service import require_within
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]
router = APIRouter(prefix="/objects", tags=["objects"])


class AddIn(BaseModel):
    pattern: str | list[str] = Field(
        description="Globs, folders or files on the server (within its ingest_allowed folders)."
    )
    into: str = Field(description="The object table, namespace.name (created when missing).")
    copy_files: bool = Field(default=True, alias="copy", description="Copy into the warehouse, or reference.")
    label_from: Literal["folder"] | None = None
    manifest: str | None = Field(default=None, description="A CSV (path,label) or JSON manifest of labels.")


class AddOut(BaseModel):
    table: str
    files_seen: int
    rows_written: int
    bytes_stored: int
    already_present: int
    duplicates: list[list[str]]
    errors: list[list[str]]


@router.post("/add", response_model=AddOut)
def add_objects(body: AddIn, lake: Lk) -> dict[str, Any]:
    require_within(body.pattern, [lake.settings.home / "tmp" / "uploads", *lake.settings.ingest_allowed])
    if body.manifest is not None:
        require_within(body.manifest, [lake.settings.home / "tmp" / "uploads", *lake.settings.ingest_allowed])
    report = lake.objects.add(
        body.pattern, body.into, copy=body.copy_files, label_from=body.label_from, manifest=body.manifest
    )
    return report.to_dict()


@router.get("/{table}")
def list_objects(table: str, lake: Lk, limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict[str, Any]]:
    return lake.objects.list(table, limit=limit).to_pylist()


@router.get("/{table}/{object_id}/info")
def object_info(table: str, object_id: str, lake: Lk) -> dict[str, Any]:
    return lake.objects.get(table, object_id).to_dict()


@router.get("/{table}/{object_id}", response_class=StreamingResponse)
def object_bytes(table: str, object_id: str, lake: Lk) -> StreamingResponse:
    row, chunks = lake.objects.stream(table, object_id)
    headers = {"ETag": f'"{row.sha256}"'}
    if row.copied:  # a referenced file may have changed since it was added: its size is not promised
        headers["Content-Length"] = str(row.size)
    return StreamingResponse(chunks, media_type=row.media_type, headers=headers)


@router.get("/{table}/{object_id}/thumbnail", response_class=Response)
def object_thumbnail(
    table: str, object_id: str, lake: Lk, size: Annotated[int, Query(ge=16, le=1024)] = 256
) -> Response:
    png = lake.objects.thumbnail(table, object_id, size)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
