"""REST: a table's writes, schema changes and time lookups — the rest of :class:`~mlake.tables.table.Table`
over HTTP, so that :class:`~mlake.client.tables.RemoteTable` offers the same methods.

Data travels as an Arrow IPC stream (``data`` part of a multipart body), so types arrive exactly as
sent. Each route is one call of the core API on the caller's lake: the choke points
(``catalog_for_write``, ``view_for``) govern them as they govern every other path.
"""

from __future__ import annotations

import json
import tempfile
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.server.api.params import SnapshotQuery
from mlake.server.state import principal_lake
from mlake.server.uploads import copy_upload
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName

Lk = Annotated[Lake, Depends(principal_lake)]
MAX_UPLOAD_BYTES = 2 * 1024**3
ARROW_STREAM = "application/vnd.apache.arrow.stream"

router = APIRouter(tags=["catalog"])


def read_arrow_upload(upload: UploadFile) -> pa.Table:
    """The Arrow IPC stream of an upload as a table (spooled to disk past 64 MiB, refused past 2 GiB)."""
    import pyarrow.ipc as ipc

    with tempfile.SpooledTemporaryFile(max_size=64 * 1024**2) as spool:
        copy_upload(upload.file, spool, 0, MAX_UPLOAD_BYTES)
        spool.seek(0)
        try:
            return ipc.open_stream(pa.PythonFile(spool, mode="r")).read_all()
        except (pa.ArrowException, OSError, ValueError) as exc:  # Arrow reports a broken stream as OSError
            raise ValidationError(
                f"The data part is not an Arrow IPC stream: {exc}", hint="send an Arrow IPC stream"
            ) from exc


def _json_form(text: str | None, what: str) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Form field {what!r} is not JSON: {exc}") from exc


def _inputs(text: str | None) -> list[LineageInput] | None:
    items = _json_form(text, "inputs")
    if items is None:
        return None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValidationError("Form field 'inputs' must be a JSON list of {kind, ref, detail, snapshot_id}")
    try:
        return [LineageInput(i["kind"], str(i["ref"]), i.get("detail"), i.get("snapshot_id")) for i in items]
    except KeyError as exc:
        raise ValidationError(f"A lineage input lacks {exc}") from exc


def _string_map(text: str | None, what: str) -> dict[str, str] | None:
    value = _json_form(text, what)
    if value is not None and not isinstance(value, dict):
        raise ValidationError(f"Form field {what!r} must be a JSON object")
    return None if value is None else {str(k): str(v) for k, v in value.items()}


def _string_list(text: str | None, what: str) -> list[str] | None:
    value = _json_form(text, what)
    if value is not None and not isinstance(value, list):
        raise ValidationError(f"Form field {what!r} must be a JSON list")
    return None if value is None else [str(v) for v in value]


DataPart = Annotated[UploadFile, File(description="The rows, as an Arrow IPC stream.")]
RowsPart = Annotated[UploadFile | None, File(description="The rows, as an Arrow IPC stream (or give sql).")]
SqlForm = Annotated[
    str | None, Form(max_length=100_000, description="Or a query whose result is written (lineage to its tables).")
]
AsOfForm = Annotated[str | None, Form(max_length=64, description="The query reads every table as it was then.")]
ParamsForm = Annotated[str | None, Form(max_length=100_000, description="The query's parameters, JSON.")]


def rows_of(lake: Lake, data: UploadFile | None, sql: str | None, as_of: str | None, params: str | None) -> Any:
    """The rows to write: an uploaded Arrow stream, or the result of ``sql`` run as the caller (which
    carries its lineage, as ``table.append(lake.sql(...))`` does in process)."""
    if (data is None) == (sql is None):
        raise ValidationError("Send the rows (an Arrow IPC data part) or sql, not both", hint="one of data or sql")
    if sql is not None:
        return lake.sql(sql, as_of=as_of, params=_json_form(params, "params"))
    assert data is not None
    return read_arrow_upload(data)


CommandForm = Annotated[str | None, Form(max_length=2000, description="What the write was (kept in lineage).")]
InputsForm = Annotated[str | None, Form(max_length=100_000, description="Lineage inputs, a JSON list.")]


@router.post("/tables/{name}/create", status_code=201, summary="Create a table from a schema and optional rows")
def create(
    name: str,
    lake: Lk,
    data: DataPart,
    with_rows: Annotated[bool, Form(description="False: the upload carries only the schema.")] = True,
    partition_by: Annotated[str | None, Form(max_length=10_000, description="JSON list of partition fields.")] = None,
    description: Annotated[str | None, Form(max_length=10_000)] = None,
    owner: Annotated[str | None, Form(max_length=200)] = None,
    tags: Annotated[str | None, Form(max_length=100_000, description="JSON object or list of tags.")] = None,
    exist_ok: Annotated[bool, Form()] = False,
    properties: Annotated[str | None, Form(max_length=100_000, description="JSON object of properties.")] = None,
) -> dict[str, Any]:
    arrow = read_arrow_upload(data)
    tag_value = _json_form(tags, "tags")
    if tag_value is not None and not isinstance(tag_value, dict | list):
        raise ValidationError("Form field 'tags' must be a JSON object or list")
    table = lake.create_table(
        TableName.parse(name),
        arrow if with_rows else None,
        schema=None if with_rows else arrow.schema,
        partition_by=_string_list(partition_by, "partition_by") or (),
        description=description,
        owner=owner,
        tags=tag_value,
        exist_ok=exist_ok,
        properties=_string_map(properties, "properties"),
    )
    return table.describe().to_dict()


@router.post("/tables/{name}/append", summary="Append rows (Arrow IPC); returns the write's record")
def append(
    name: str,
    lake: Lk,
    data: RowsPart = None,
    sql: SqlForm = None,
    as_of: AsOfForm = None,
    params: ParamsForm = None,
    command: CommandForm = None,
    inputs: InputsForm = None,
    properties: Annotated[str | None, Form(max_length=100_000, description="Snapshot properties, JSON.")] = None,
) -> dict[str, Any]:
    table = lake.table(TableName.parse(name))
    write = table.append(
        rows_of(lake, data, sql, as_of, params),
        command=command,
        inputs=_inputs(inputs),
        properties=_string_map(properties, "properties"),
    )
    return write.to_dict()


@router.post("/tables/{name}/overwrite", summary="Replace all rows, or those matching a filter (Arrow IPC)")
def overwrite(
    name: str,
    lake: Lk,
    data: RowsPart = None,
    sql: SqlForm = None,
    as_of: AsOfForm = None,
    params: ParamsForm = None,
    where: Annotated[str | None, Form(max_length=10_000, description="Rows to replace (all when empty).")] = None,
    command: CommandForm = None,
    inputs: InputsForm = None,
) -> dict[str, Any]:
    table = lake.table(TableName.parse(name))
    rows = rows_of(lake, data, sql, as_of, params)
    return table.overwrite(rows, where or None, command=command, inputs=_inputs(inputs)).to_dict()


@router.post("/tables/{name}/upsert", summary="Update rows whose keys match, insert the others (Arrow IPC)")
def upsert(
    name: str,
    lake: Lk,
    on: Annotated[str, Form(max_length=10_000, description="JSON list of key columns.")],
    data: RowsPart = None,
    sql: SqlForm = None,
    as_of: AsOfForm = None,
    params: ParamsForm = None,
    command: CommandForm = None,
    inputs: InputsForm = None,
) -> dict[str, Any]:
    keys = _string_list(on, "on")
    if not keys:
        raise ValidationError("An upsert needs key columns", hint='send on=["id"]')
    table = lake.table(TableName.parse(name))
    return table.upsert(
        rows_of(lake, data, sql, as_of, params), keys, command=command, inputs=_inputs(inputs)
    ).to_dict()


@router.post(
    "/tables/{name}/changes",
    summary="Apply a batch of changes in one commit: delete keys, then add rows (Arrow IPC)",
)
def apply_changes(
    name: str,
    lake: Lk,
    on: Annotated[str, Form(max_length=10_000, description="JSON list of key columns.")],
    data: RowsPart = None,
    sql: SqlForm = None,
    as_of: AsOfForm = None,
    params: ParamsForm = None,
    delete_keys: Annotated[
        str | None, Form(max_length=50_000_000, description="JSON list of keys to delete, each a list of values.")
    ] = None,
    delete_all: Annotated[bool, Form(description="Remove every row before adding the new ones.")] = False,
    command: CommandForm = None,
    properties: Annotated[str | None, Form(max_length=100_000, description="Snapshot properties, JSON.")] = None,
) -> dict[str, Any]:
    keys = _string_list(on, "on")
    if not keys:
        raise ValidationError("A batch of changes needs key columns", hint='send on=["id"]')
    deletes = _json_form(delete_keys, "delete_keys") or []
    if not isinstance(deletes, list) or not all(isinstance(k, list) and len(k) == len(keys) for k in deletes):
        raise ValidationError(
            f"Form field 'delete_keys' must be a JSON list of keys, each a list of {len(keys)} value(s)",
            hint='e.g. delete_keys=[[1], [2]] for on=["id"]',
        )
    table = lake.table(TableName.parse(name))
    write = table.apply_changes(
        rows_of(lake, data, sql, as_of, params),
        keys,
        delete_keys=[tuple(k) for k in deletes],
        delete_all=delete_all,
        command=command,
        properties=_string_map(properties, "properties"),
    )
    return write.to_dict()


class DeleteIn(BaseModel):
    where: str = Field(min_length=1, max_length=10_000, description="The rows to delete, e.g. amount < 0.")
    command: str | None = Field(default=None, max_length=2000)


@router.post("/tables/{name}/delete", summary="Delete the rows matching a filter")
def delete(name: str, body: DeleteIn, lake: Lk) -> dict[str, Any]:
    return lake.table(TableName.parse(name)).delete(body.where, command=body.command).to_dict()


class AddColumnsIn(BaseModel):
    columns: dict[str, str] = Field(description='New columns and their types, e.g. {"score": "double"}.')
    docs: dict[str, str] | None = Field(default=None, description="Column descriptions.")


class ColumnChangeIn(BaseModel):
    to: str = Field(min_length=1, max_length=200, description="The new name, or the wider type.")


@router.post("/tables/{name}/columns", summary="Add nullable columns")
def add_columns(name: str, body: AddColumnsIn, lake: Lk) -> dict[str, Any]:
    table = lake.table(TableName.parse(name))
    table.add_columns(dict(body.columns), body.docs)
    return table.describe().to_dict()


@router.post("/tables/{name}/columns/{column}/rename", summary="Rename a column")
def rename_column(name: str, column: str, body: ColumnChangeIn, lake: Lk) -> dict[str, Any]:
    table = lake.table(TableName.parse(name))
    table.rename_column(column, body.to)
    return table.describe().to_dict()


@router.post("/tables/{name}/columns/{column}/widen", summary="Widen a column's type (int→long, float→double)")
def widen_column(name: str, column: str, body: ColumnChangeIn, lake: Lk) -> dict[str, Any]:
    table = lake.table(TableName.parse(name))
    table.widen_column(column, body.to)
    return table.describe().to_dict()


@router.delete("/tables/{name}/columns/{column}", summary="Drop a column")
def drop_column(name: str, column: str, lake: Lk) -> dict[str, Any]:
    table = lake.table(TableName.parse(name))
    table.drop_column(column)
    return table.describe().to_dict()


@router.get("/tables/{name}/iceberg-schema", summary="A table's Iceberg schema (the columns the caller may see)")
def iceberg_schema(name: str, lake: Lk) -> Response:
    schema = lake.table(TableName.parse(name)).schema
    return Response(schema.model_dump_json(), media_type="application/json")


@router.get("/tables/{name}/snapshot-at", summary="The snapshot that was current at a time")
def snapshot_at(
    name: str, lake: Lk, when: Annotated[str, Query(max_length=64, description="ISO time.")]
) -> dict[str, Any]:
    return {"snapshot_id": lake.table(TableName.parse(name)).snapshot_at(when)}


@router.get("/tables/{name}/page", summary="A page of rows as Arrow IPC; paging facts in X-Mlake-* headers")
def page(
    name: str,
    lake: Lk,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    order_by: Annotated[str | None, Query(max_length=200, description="A column name.")] = None,
    desc: bool = False,
    where: Annotated[str | None, Query(max_length=2000)] = None,
    snapshot_id: SnapshotQuery = None,
    as_of: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    import pyarrow.ipc as ipc

    result = lake.table(TableName.parse(name)).page(
        limit, offset, order_by=order_by, desc=desc, where=where, snapshot_id=snapshot_id, as_of=as_of
    )
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, result.rows.schema) as writer:
        writer.write_table(result.rows)
    facts = {
        "offset": result.offset,
        "limit": result.limit,
        "has_more": result.has_more,
        "snapshot_id": result.snapshot_id,
        "total_rows": result.total_rows,
    }
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM, headers={"X-Mlake-Page": json.dumps(facts)})


@router.get("/tables/{name}/privileges", summary="What the caller may do with a table")
def privileges(name: str, lake: Lk) -> list[str]:
    return lake.privileges(TableName.parse(name))


@router.get("/writes", summary="The newest writes to tables the caller may read")
def recent_writes(lake: Lk, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[dict[str, Any]]:
    return [w.to_dict() for w in lake.recent_writes(limit)]


class MaintainIn(BaseModel):
    table: str | None = Field(
        default=None, max_length=260, description="One table (all the caller may alter if empty)."
    )
    expire_older_than: str | None = Field(default=None, max_length=32, description="e.g. 7d")
    retain_last: int | None = Field(default=None, ge=1, le=10_000)
    compact: bool | None = None
    remove_orphans: bool | None = None
    orphan_grace: str | None = Field(default=None, max_length=32, description="e.g. 1h")
    target_file_bytes: int | None = Field(default=None, ge=1 << 20, le=1 << 34)


@router.post("/maintain", summary="Expire snapshots, compact small files, remove orphans")
def maintain(body: MaintainIn, lake: Lk) -> list[dict[str, object]]:
    options = body.model_dump(exclude_none=True, exclude={"table"})
    return [r.to_dict() for r in lake.maintain(body.table, **options)]


class DatabaseIngestIn(BaseModel):
    url: str = Field(min_length=1, max_length=4000, description="postgresql://... or mysql://...")
    into: str = Field(max_length=260)
    table: str | None = Field(default=None, max_length=500)
    query: str | None = Field(default=None, max_length=100_000)
    incremental_column: str | None = Field(default=None, max_length=200)
    mode: str | None = Field(default=None, max_length=16)
    types: dict[str, str] | None = None
    full: bool | None = None
    batch_rows: int | None = Field(default=None, ge=1, le=10_000_000)
    source: str | None = Field(default=None, max_length=200, description="A registered source (lake.sources).")


@router.post("/ingest/database", status_code=201, summary="Load a table or query from PostgreSQL / MySQL")
def ingest_database(body: DatabaseIngestIn, lake: Lk) -> dict[str, Any]:
    options = body.model_dump(exclude_none=True, exclude={"url", "into"})
    report = lake.ingest_database(body.url, body.into, **options)
    out = report.to_dict()
    out["summary"] = report.summary()
    return out
