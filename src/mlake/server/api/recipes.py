"""REST: saved, versioned recipes (:mod:`mlake.processing`) — store, preview, run, transform, export.

Every route is one call on ``lake.recipes`` of the caller's governed lake: a recipe is read through the
caller's SQL engine and secure views (a recipe whose source the caller may not read is "not found", as
locally), and a run writes through the lake's write choke point with lineage to the recipe version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.processing.recipe import Recipe
from mlake.server.api.params import MAX_ID
from mlake.server.api.tables import read_arrow_upload
from mlake.server.downloads import arrow_response
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]
RecipeName = Annotated[str, Path(max_length=200, description="A saved recipe's name.")]
Version = Annotated[int | None, Query(ge=1, le=MAX_ID, description="A version (default: the latest).")]


class RecipeIn(BaseModel):
    recipe: str | dict[str, Any] = Field(description="The recipe as YAML text or a JSON object.")
    validate_on_sample: bool = Field(default=True, alias="validate", description="Try it on 1,000 source rows.")


class PreviewIn(BaseModel):
    name: str | None = Field(default=None, max_length=200, description="A saved recipe (or give yaml).")
    yaml: str | None = Field(default=None, max_length=1_000_000, description="An unsaved recipe as YAML.")
    source: str | None = Field(default=None, max_length=260)
    rows: int = Field(default=20, ge=0, le=10_000)
    sample: int = Field(default=1000, ge=1, le=1_000_000)


class RunIn(BaseModel):
    into: str = Field(max_length=260, description="The table to write.")
    version: int | None = Field(default=None, ge=1, le=MAX_ID)
    source: str | None = Field(default=None, max_length=260, description="Another table than the recipe's.")
    refit: bool = False
    engine: str = Field(default="duckdb", max_length=64)
    mode: str = Field(default="replace", max_length=32)


router = APIRouter(tags=["recipes"])


@router.post("/recipes", status_code=201, summary="Save a recipe as the next version of its name")
def create_recipe(body: RecipeIn, lake: Lk) -> dict[str, Any]:
    return lake.recipes.create(body.recipe, validate=body.validate_on_sample).to_wire()


@router.get("/recipes", summary="The latest version of every recipe the caller may read")
def list_recipes(lake: Lk) -> list[dict[str, Any]]:
    return [r.to_wire() for r in lake.recipes.list()]


@router.post("/recipes/preview", summary="A recipe fitted and applied on a sample of its source (Arrow IPC)")
def preview_recipe(body: PreviewIn, lake: Lk) -> Response:
    recipe: str | Recipe = Recipe.from_yaml(body.yaml) if body.yaml is not None else body.name or ""
    return arrow_response(lake.recipes.preview(recipe, source=body.source, rows=body.rows, sample=body.sample))


@router.get("/recipes/{name}", summary="A saved recipe")
def get_recipe(name: RecipeName, lake: Lk, version: Version = None) -> dict[str, Any]:
    return lake.recipes.get(name, version).to_wire()


@router.get("/recipes/{name}/versions", summary="Every version of a recipe")
def recipe_versions(name: RecipeName, lake: Lk) -> list[dict[str, Any]]:
    return [r.to_wire() for r in lake.recipes.versions(name)]


@router.post("/recipes/{name}/run", summary="Run a saved recipe into a table")
def run_recipe(name: RecipeName, body: RunIn, lake: Lk) -> dict[str, Any]:
    run = lake.recipes.run(
        name,
        body.into,
        version=body.version,
        source=body.source,
        refit=body.refit,
        engine=body.engine,
        mode=body.mode,
    )
    return run.to_dict()


@router.post("/recipes/{name}/transform", summary="Apply a fitted recipe to request rows (Arrow IPC in and out)")
def transform_rows(
    name: RecipeName,
    lake: Lk,
    data: Annotated[UploadFile, File(description="The rows, as an Arrow IPC stream.")],
    version: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    return arrow_response(lake.recipes.transform(name, read_arrow_upload(data), version=version))


@router.get("/recipes/{name}/export", summary="A recipe as SQL, a Python script or YAML")
def export_recipe(
    name: RecipeName,
    lake: Lk,
    fmt: Annotated[str, Query(max_length=16, description="sql, python or yaml.")] = "sql",
    version: Version = None,
) -> PlainTextResponse:
    return PlainTextResponse(lake.recipes.export(name, fmt, version=version))
