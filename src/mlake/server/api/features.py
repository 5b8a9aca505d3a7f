"""REST: the feature store — groups, search, online reads, writes, materialization and training sets.

The serving routes (online reads, group list, describe, search) are those of
:mod:`mlake.server.serving`, mounted here with the caller's governed lake; this module adds the rest.
Every call goes through ``lake.features`` of the caller's :class:`~mlake.lake.Lake`,
so the rules of :mod:`mlake.features.store` (grants on ``features.<group>``, masks, row filters,
the audit log) hold on every route.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, model_validator

from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.server import serving
from mlake.server.downloads import stream_result
from mlake.server.rows import json_value, table_json
from mlake.server.state import principal_lake
from mlake.tables.inputs import rows_to_arrow
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.features.training import TrainingSet
    from mlake.results import Result

Lk = Annotated[Lake, Depends(principal_lake)]
GroupName = Annotated[str, Path(max_length=128, description="A feature group's name.")]
TrainingSetId = Annotated[str, Path(max_length=200, description="A training set's id (or its name: the newest).")]
MAX_ROWS_IN = 100_000
MAX_PAGE = 1000


class FeatureIn(BaseModel):
    type: str = Field(max_length=64, description="bool, int, long, float, double, string, date, timestamptz ...")
    description: str | None = Field(default=None, max_length=2000)


class GroupIn(BaseModel):
    name: str = Field(max_length=63, description="Lower-case letters, digits and underscores.")
    entities: dict[str, str] = Field(
        min_length=1, max_length=8, description='Entity key columns and their types, e.g. {"customer_id": "long"}.'
    )
    event_time: str = Field(max_length=128, description="The column holding when a value became true.")
    features: dict[str, FeatureIn] = Field(min_length=1, max_length=1000)
    ttl: str | None = Field(default=None, max_length=32, description="How long a value stays valid: 12h, 30d ...")
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] = Field(default_factory=dict, max_length=100)
    online: bool = True


class RecipeGroupIn(BaseModel):
    name: str = Field(max_length=63, description="Lower-case letters, digits and underscores.")
    entities: list[str] = Field(min_length=1, max_length=8, description="Entity key columns of the recipe's output.")
    event_time: str = Field(max_length=128, description="The column holding when a value became true.")
    recipe: str = Field(max_length=300, description='A saved, fitted recipe: "name" or "name@v3".')
    ttl: str | None = Field(default=None, max_length=32, description="How long a value stays valid: 12h, 30d ...")
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] = Field(default_factory=dict, max_length=100)
    online: bool = True


class GroupPatch(BaseModel):
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] | None = Field(default=None, max_length=100)
    ttl: str | None = Field(default=None, max_length=32, description='"none" removes the TTL.')
    online: bool | None = None


class FeaturesIn(BaseModel):
    features: dict[str, FeatureIn] = Field(min_length=1, max_length=1000)


class RowsSource(BaseModel):
    """Rows from a lake table, a SQL query (both read as the caller), or given inline as JSON."""

    table: str | None = Field(default=None, max_length=260, description="A lake table, e.g. shop.churn_labels.")
    sql: str | None = Field(default=None, max_length=100_000, description="A SELECT over lake tables.")
    rows: list[dict[str, Any]] | None = Field(
        default=None, max_length=MAX_ROWS_IN, description="Rows as JSON objects; times as ISO 8601 text."
    )

    @model_validator(mode="after")
    def one_source(self) -> RowsSource:
        given = [k for k in ("table", "sql", "rows") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of table, sql or rows")
        return self


class WriteIn(RowsSource):
    online: bool | None = Field(default=None, description="Materialize online afterwards (default: the group's).")


class MaterializeIn(BaseModel):
    full: bool = Field(default=False, description="Rebuild from the whole offline table, not only what changed.")


class TrainingSetIn(BaseModel):
    features: list[Annotated[str, Field(max_length=300)]] = Field(
        min_length=1, max_length=1000, examples=[["customer_orders:*", "customer_clicks:views_1d"]]
    )
    entities: RowsSource = Field(description="The entity rows: keys of the groups and a time per row.")
    entity_time: str | None = Field(default=None, max_length=128, description="Found when it is the only time.")
    as_of: datetime | None = Field(default=None, description="Only values written by then (what was known then).")
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    use: str | None = Field(
        default=None,
        max_length=128,
        description="What the rows are for (e.g. model_training): refused when a source's terms forbid it.",
    )
    override: str | None = Field(
        default=None, max_length=2000, description="Why the use is allowed anyway (recorded in the audit log)."
    )
    engine: str = Field(
        default="duckdb",
        max_length=64,
        description="Where the joins run: duckdb (in process) or ray (by entity-key buckets; identical rows).",
    )


def _source(body: RowsSource, time_columns: set[str] | None) -> Any:
    if body.table is not None:
        return TableName.parse(body.table)  # a table name, never SQL
    if body.sql is not None:
        return body.sql
    assert body.rows is not None
    return rows_to_arrow(body.rows, time_columns)


def _count(lake: Lake, result: Result) -> int:
    return result.count()


def training_set_info(lake: Lake, ts: TrainingSet, *, rows: bool = True) -> dict[str, Any]:
    """A training set as JSON: its spec, the snapshots it read, its columns and (``rows``) its size."""
    info: dict[str, Any] = ts.to_dict()
    schema = ts.result.relation.limit(0).to_arrow_table().schema
    info["columns"] = [{"name": f.name, "type": str(f.type)} for f in schema]
    info["rows"] = _count(lake, ts.result) if rows else None
    return info


router = APIRouter(tags=["features"])
router.include_router(serving.router(principal_lake))


@router.post("/features/groups", status_code=201, summary="Create a feature group")
def create_group(body: GroupIn, lake: Lk) -> dict[str, Any]:
    """Define a group and create its offline table (needs ALTER on the `features` namespace); write rows
    with `POST /features/groups/{name}/write`."""
    features = {n: (f.type, f.description) for n, f in body.features.items()}
    return _created(lake, body, entities=body.entities, features=features)


@router.post("/features/groups/from-recipe", status_code=201, summary="Create an on-demand group from a recipe")
def create_group_from_recipe(body: RecipeGroupIn, lake: Lk) -> dict[str, Any]:
    """A group whose rows are a saved, fitted recipe applied to its source table; online reads with
    `request` values compute its features with the same fitted recipe (needs ALTER on `features` and
    SELECT on the recipe's source)."""
    return _created(lake, body, entities=body.entities, recipe=body.recipe)


def _created(lake: Lake, body: GroupIn | RecipeGroupIn, **spec: Any) -> dict[str, Any]:
    """Create the group ``body`` describes (with ``spec``: its entities and features or recipe); its description."""
    lake.features.create_group(
        body.name,
        event_time=body.event_time,
        ttl=body.ttl,
        description=body.description,
        owner=body.owner,
        tags=body.tags,
        online=body.online,
        **spec,
    )
    info: dict[str, Any] = json_value(lake.features.describe(body.name, statistics=False).to_dict())
    return info


@router.patch("/features/groups/{name}", summary="Change a group's description, owner, tags, TTL or online flag")
def update_group(name: GroupName, body: GroupPatch, lake: Lk) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    if values.get("ttl") in ("none", ""):
        values["ttl"] = None
    if not values:
        raise ValidationError("Nothing to change", hint="give description, owner, tags, ttl or online")
    return lake.features.update_group(name, **values).to_dict()


@router.delete("/features/groups/{name}", status_code=204, summary="Drop a group with its offline and online data")
def drop_group(name: GroupName, lake: Lk, purge: bool = True) -> Response:
    lake.features.drop_group(name, purge=purge)
    return Response(status_code=204)


@router.post("/features/groups/{name}/features", summary="Add features to a group (no data rewritten)")
def add_features(name: GroupName, body: FeaturesIn, lake: Lk) -> dict[str, Any]:
    features = {n: (f.type, f.description) for n, f in body.features.items()}
    return lake.features.add_features(name, features).to_dict()


@router.post("/features/groups/{name}/write", summary="Write feature rows (offline, then online)")
def write(name: GroupName, body: WriteIn, lake: Lk) -> dict[str, Any]:
    """Append rows from a table, SQL or JSON rows (needs INSERT on `features.<group>`); a group served
    online is materialized afterwards."""
    group = lake.features.group(name)
    return lake.features.write(name, _source(body, {group.event_time}), online=body.online).to_dict()


@router.post("/features/groups/{name}/materialize", summary="Bring the online store up to the offline table")
def materialize(name: GroupName, lake: Lk, body: MaterializeIn | None = None) -> dict[str, Any]:
    """Incremental unless `full`; needs ALTER on `features.<group>`."""
    return lake.features.materialize(name, full=bool(body and body.full)).to_dict()


@router.post("/features/groups/{name}/sync-online", summary="Catch the online store up after other writers")
def sync_online(name: GroupName, lake: Lk) -> dict[str, Any] | None:
    """After a stream delivery or streaming query appended to the offline table (needs ``insert`` only)."""
    report = lake.features.sync_online(name)
    return report.to_dict() if report is not None else None


@router.post("/features/materialize", summary="Materialize every online group the caller may alter")
def materialize_all(lake: Lk, body: MaterializeIn | None = None) -> list[dict[str, Any]]:
    return [r.to_dict() for r in lake.features.materialize_all(full=bool(body and body.full))]


@router.get("/features/groups/{name}/skew", summary="Compare a sample of online values with the offline table")
def skew(
    name: GroupName,
    lake: Lk,
    sample: Annotated[int, Query(ge=1, le=10_000)] = 100,
    seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    now: Annotated[datetime | None, Query(description="The time TTLs are judged at (default: now).")] = None,
) -> dict[str, Any]:
    """For readers without row filters or masks on the group (they would compare masked values)."""
    report = lake.features.skew(name, sample=sample, seed=seed, now=now)
    out: dict[str, Any] = json_value(report.to_dict())
    return out


@router.get("/features/training-sets", summary="Saved training sets")
def training_sets(
    lake: Lk, group: Annotated[str | None, Query(max_length=128, description="Only those using it.")] = None
) -> list[dict[str, Any]]:
    """The training sets the caller could load (it may read every table they read), newest first."""
    return [t.to_dict() for t in lake.features.training_sets(group)]


@router.post("/features/training-sets", status_code=201, summary="Build a point-in-time correct training set")
def create_training_set(body: TrainingSetIn, lake: Lk, save: bool = True) -> dict[str, Any]:
    """Joins each entity row with the features' values at its time (never later; NULL past a group's TTL).
    Feature tables and entity rows are read through the caller's grants, masks and row filters. Saved
    training sets (the default) can be downloaded and rebuilt identically later."""
    times = {body.entity_time} if body.entity_time else None
    ts = lake.features.training_set(
        _source(body.entities, times),
        body.features,
        as_of=body.as_of,
        entity_time=body.entity_time,
        name=body.name,
        description=body.description,
        save=save,
        use=body.use,
        override=body.override,
        engine=body.engine,
    )
    return training_set_info(lake, ts)


@router.get("/features/training-sets/{training_set}", summary="Describe a training set")
def describe_training_set(training_set: TrainingSetId, lake: Lk) -> dict[str, Any]:
    """Its spec, the snapshot of every table it read, its columns and its number of rows."""
    return training_set_info(lake, lake.features.load_training_set(training_set))


@router.get("/features/training-sets/{training_set}/provenance", summary="The sources a training set derives from")
def training_set_provenance(training_set: TrainingSetId, lake: Lk) -> dict[str, Any]:
    """Every registered source (and license) the set's rows derive from, through the lineage of its tables."""
    return lake.features.load_training_set(training_set).provenance().to_dict()


@router.get("/features/training-sets/{training_set}/rows", summary="A page of a training set's rows")
def training_set_rows(
    training_set: TrainingSetId,
    lake: Lk,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> dict[str, Any]:
    page = lake.features.load_training_set(training_set).result.page(limit + 1, offset)
    body = table_json(page.slice(0, limit))
    body.update(offset=offset, limit=limit, has_more=page.num_rows > limit)
    return body


@router.get("/features/training-sets/{training_set}/export", summary="Download a training set (CSV, Parquet, Arrow)")
def export_training_set(
    training_set: TrainingSetId, lake: Lk, format: Literal["csv", "parquet", "arrow"] = "parquet"
) -> StreamingResponse:
    """Streamed in row order, within the server's download limit."""
    ts = lake.features.load_training_set(training_set)
    filename = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"training_set_{ts.name or ts.id}")[:120]
    return stream_result(ts.result, format, filename)
