"""REST: namespaces, tables, schema, history, lineage, metadata edits, rows, exports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from mlake.errors import NotFoundError
from mlake.lake import Lake
from mlake.server.api.params import SnapshotField, SnapshotQuery
from mlake.server.downloads import stream_result
from mlake.server.rows import table_json
from mlake.server.state import principal_lake
from mlake.tables.names import TableName

Lk = Annotated[Lake, Depends(principal_lake)]
MAX_PAGE = 1000


class NamespaceIn(BaseModel):
    name: str = Field(description="Namespace name: lower-case letters, digits, underscores.", max_length=128)
    description: str | None = Field(default=None, max_length=2000)


class MetadataIn(BaseModel):
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] | None = Field(default=None, description='Tags to set, e.g. {"pii": "false"}.')
    remove_tags: list[str] = Field(default_factory=list)
    column_docs: dict[str, str] | None = Field(default=None, description="Column descriptions by column name.")


class RollbackIn(BaseModel):
    snapshot_id: SnapshotField


def _name(name: str) -> TableName:
    return TableName.parse(name)


router = APIRouter(tags=["catalog"])


@router.get("/namespaces", summary="List namespaces")
def namespaces(lake: Lk) -> list[dict[str, Any]]:
    tables = lake.list_tables(include_quarantine=False)
    counts: dict[str, int] = {}
    for t in tables:
        counts[t.namespace] = counts.get(t.namespace, 0) + 1
    spaces = lake.namespaces()
    return [{"name": ns, "tables": counts.get(ns, 0)} for ns in spaces]


@router.post("/namespaces", status_code=201, summary="Create a namespace")
def create_namespace(body: NamespaceIn, lake: Lk) -> dict[str, Any]:
    lake.create_namespace(body.name, body.description, exist_ok=False)
    return {"name": body.name}


@router.delete("/namespaces/{namespace}", status_code=204, summary="Drop an empty namespace")
def drop_namespace(namespace: str, lake: Lk) -> Response:
    if namespace not in lake.namespaces():
        raise NotFoundError(f"Namespace {namespace!r} does not exist")
    lake.drop_namespace(namespace)
    return Response(status_code=204)


@router.get("/tables", summary="List or search tables")
def tables(
    lake: Lk,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words to match in names, descriptions, tags, owners and columns."),
    ] = None,
    namespace: Annotated[str | None, Query(max_length=128)] = None,
    include_quarantine: bool = True,
) -> list[dict[str, Any]]:
    if namespace is not None and namespace not in lake.namespaces():
        raise NotFoundError(f"Namespace {namespace!r} does not exist")
    return [t.to_dict() for t in lake.search(q, namespace, include_quarantine=include_quarantine)]


@router.get("/tables/{name}", summary="Describe a table")
def describe(name: str, lake: Lk) -> dict[str, Any]:
    return lake.table(_name(name)).describe().to_dict()


@router.patch("/tables/{name}", summary="Edit a table's description, owner, tags and column docs")
def edit(name: str, body: MetadataIn, lake: Lk) -> dict[str, Any]:
    table = lake.table(_name(name))
    table.set_metadata(
        description=body.description,
        owner=body.owner,
        tags=body.tags,
        remove_tags=body.remove_tags,
        column_docs=body.column_docs,
    )
    return table.describe().to_dict()


@router.delete("/tables/{name}", status_code=204, summary="Drop a table")
def drop(name: str, lake: Lk, purge: bool = True) -> Response:
    lake.drop_table(_name(name), purge=purge)
    return Response(status_code=204)


@router.get("/tables/{name}/schema", summary="A table's columns")
def schema(name: str, lake: Lk) -> list[dict[str, Any]]:
    return [c.to_dict() for c in lake.table(_name(name)).describe().columns]


@router.get("/tables/{name}/history", summary="A table's snapshots, oldest first")
def history(name: str, lake: Lk) -> list[dict[str, Any]]:
    return [s.to_dict() for s in lake.table(_name(name)).history()]


@router.post("/tables/{name}/rollback", summary="Make an earlier snapshot current")
def rollback(name: str, body: RollbackIn, lake: Lk) -> dict[str, Any]:
    table = lake.table(_name(name))
    table.rollback(body.snapshot_id)
    return table.describe().to_dict()


@router.get("/tables/{name}/lineage", summary="Upstream and downstream of a table")
def lineage(name: str, lake: Lk, max_depth: Annotated[int, Query(ge=1, le=20)] = 5) -> dict[str, Any]:
    return lake.lineage(_name(name), max_depth).to_dict()


@router.get("/tables/{name}/rows", summary="A page of a table's rows (any snapshot), sorted")
def rows(
    name: str,
    lake: Lk,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    order_by: Annotated[str | None, Query(max_length=200, description="A column name.")] = None,
    desc: bool = False,
    snapshot_id: SnapshotQuery = None,
    as_of: Annotated[str | None, Query(max_length=64, description="ISO time: the table as it was then.")] = None,
    where: Annotated[str | None, Query(max_length=2000, description="A SQL filter over the columns.")] = None,
) -> dict[str, Any]:
    page = lake.table(_name(name)).page(
        limit, offset, order_by=order_by, desc=desc, where=where, snapshot_id=snapshot_id, as_of=as_of
    )
    body = table_json(page.rows)
    body.update(
        offset=page.offset,
        limit=page.limit,
        has_more=page.has_more,
        snapshot_id=page.snapshot_id,
        total_rows=page.total_rows,
    )
    return body


@router.get("/tables/{name}/export", summary="Download a table (any snapshot) as CSV, Parquet or Arrow")
def export(
    name: str,
    lake: Lk,
    format: Literal["csv", "parquet", "arrow"] = "csv",
    snapshot_id: SnapshotQuery = None,
) -> StreamingResponse:
    table_name = _name(name)
    result = lake.table(table_name).query(snapshot_id=snapshot_id)
    return stream_result(result, format, str(table_name).replace(".", "_"))
