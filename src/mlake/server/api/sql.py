"""REST: run SQL, download its result, save it as a table."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.server.downloads import stream_result
from mlake.server.rows import table_json
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]


class SqlIn(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000, description="One statement, DuckDB dialect.")
    as_of: str | None = Field(default=None, max_length=64, description="Read every table as it was then (ISO).")
    limit: int = Field(default=1000, ge=1, le=100_000, description="Rows to return; the rest is counted as more.")


class ExportIn(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)
    as_of: str | None = Field(default=None, max_length=64)
    format: Literal["csv", "parquet", "arrow"] = "csv"
    params: list[Any] | dict[str, Any] | None = Field(default=None, description="Values for ? or $name placeholders.")


class SaveIn(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)
    table: str = Field(max_length=260, description="namespace.table to write.")
    mode: Literal["create", "replace", "append"] = "create"
    as_of: str | None = Field(default=None, max_length=64)


router = APIRouter(tags=["sql"])


@router.post("/sql", summary="Run a query and return the first rows as JSON")
def run(body: SqlIn, lake: Lk) -> dict[str, Any]:
    started = time.perf_counter()
    result = lake.sql(body.sql, as_of=body.as_of)
    head = result.preview(body.limit + 1)
    out = table_json(head.slice(0, body.limit))
    out.update(
        truncated=head.num_rows > body.limit,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
        tables=[i.to_dict() for i in result.lineage_inputs if i.kind == "table"],
    )
    return out


@router.post("/sql/export", summary="Run a query and download the whole result")
def export(body: ExportIn, lake: Lk) -> StreamingResponse:
    return stream_result(lake.sql(body.sql, as_of=body.as_of, params=body.params), body.format, "result")


class ReadableIn(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)


@router.post("/sql/readable", summary="Whether the caller may read every lake table a query names")
def readable(body: ReadableIn, lake: Lk) -> dict[str, bool]:
    return {"readable": lake.can_read_sql(body.sql)}


@router.post("/sql/save", status_code=201, summary="Save a query's result as a table (with lineage)")
def save(body: SaveIn, lake: Lk) -> dict[str, Any]:
    table = lake.sql(body.sql, as_of=body.as_of).save(body.table, mode=body.mode)
    return lake.table(table.name).describe().to_dict()
