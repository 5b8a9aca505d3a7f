"""Studio pages: the recipe editor (Data Wrangler's visual flow, over ``lake.recipes``).

``/recipes`` lists the recipes whose source the viewer may read; ``/recipes/new?table=...`` and
``/recipes/{name}`` open the editor. While a recipe is edited the page posts its steps to
``/recipes/preview`` and shows the rows and column statistics after the chosen step, computed on a
sample of the source (fast), or the step that breaks and why. Saving makes a new version; running
writes the output table. Every read goes through the viewer's lake, so its grants apply.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import duckdb
import pyarrow as pa
from fastapi import APIRouter, Body, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError as PydanticError

from mlake.errors import MlakeError
from mlake.lake import Lake
from mlake.processing.base import REGISTRY, RecipeValidationError, Transform, parse_step
from mlake.processing.recipe import Recipe
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

Lk = Annotated[Lake, Depends(principal_lake)]
SAMPLE = 1000  # source rows each preview reads
SHOWN = 50  # rows shown after the chosen step

router = APIRouter(include_in_schema=False)


class StepError(MlakeError):
    """A step of the edited recipe cannot run; ``step`` is its 1-based position."""

    code = "recipe_invalid"

    def __init__(self, step: int, message: str) -> None:
        super().__init__(message)
        self.step = step


@router.get("/recipes", response_class=HTMLResponse)
def recipes_page(request: Request, lake: Lk) -> HTMLResponse:
    return render(request, "recipes/list.html", title="Recipes", recipes=lake.recipes.list(), tables=_tables(lake))


@router.get("/recipes/new", response_class=HTMLResponse)
def new_recipe(request: Request, lake: Lk, table: str | None = None) -> HTMLResponse:
    return _editor(request, lake, {"name": "", "source": table or "", "steps": []}, None)


@router.get("/recipes/{name}", response_class=HTMLResponse)
def recipe_page(request: Request, name: str, lake: Lk, version: int | None = None) -> HTMLResponse:
    stored = lake.recipes.get(name, version)
    data: dict[str, Any] = {"name": stored.name, "source": stored.recipe.source or ""}
    data["description"] = stored.recipe.description
    data["steps"] = [s.to_dict() for s in stored.recipe.steps]
    return _editor(request, lake, data, stored.version, versions=[v.version for v in lake.recipes.versions(name)])


@router.post("/recipes/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    lake: Lk,
    source: Annotated[str, Body()],
    steps: Annotated[list[dict[str, Any]], Body()],
    upto: Annotated[int | None, Body()] = None,
) -> HTMLResponse:
    """The rows and column statistics after step ``upto`` (default: the last) on a sample of ``source``,
    and the first step that breaks, if one does (an HTML fragment for the editor)."""
    upto = len(steps) if upto is None else max(0, min(upto, len(steps)))
    broken: StepError | None = None
    try:
        shown = _sample_after(lake, source, steps, len(steps))
    except StepError as exc:
        broken = exc
    else:
        if upto < len(steps):
            shown = _sample_after(lake, source, steps, upto)
    if broken is not None:
        upto = min(upto, broken.step - 1)
        shown = _sample_after(lake, source, steps, upto)
    return render(
        request,
        "recipes/preview.html",
        upto=upto,
        count=len(steps),
        broken=broken,
        rows=shown.slice(0, SHOWN).to_pylist(),
        columns=shown.column_names,
        sampled=shown.num_rows,
        stats=_stats(shown),
    )


@router.post("/recipes/save")
def save_recipe(
    request: Request,
    lake: Lk,
    name: Annotated[str, Form()],
    source: Annotated[str, Form()],
    steps: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
) -> Any:
    """Save the edited recipe as its next version (validated on a sample first)."""
    data: dict[str, Any] = {"name": name.strip(), "source": source, "description": description, "steps": []}
    try:
        data["steps"] = json.loads(steps)
        stored = lake.recipes.create(_recipe(data, len(data["steps"])))
    except (MlakeError, ValueError) as exc:
        return _editor(request, lake, data, None, error=_message(exc), status=422)
    return RedirectResponse(f"/recipes/{stored.name}?saved={stored.version}", status_code=303)


@router.post("/recipes/{name}/run")
def run_recipe(
    request: Request, name: str, lake: Lk, into: Annotated[str, Form()], refit: Annotated[bool, Form()] = False
) -> Any:
    """Run the latest version into table ``into`` and show what it wrote."""
    try:
        run = lake.recipes.run(name, into.strip(), refit=refit)
    except MlakeError as exc:
        stored = lake.recipes.get(name)
        data = {"name": name, "source": stored.recipe.source or "", "steps": [s.to_dict() for s in stored.recipe.steps]}
        return _editor(request, lake, data, stored.version, error=_message(exc), status=422)
    return RedirectResponse(f"/recipes/{name}?ran={run.table}&rows={run.rows}&v={run.version}", status_code=303)


# --- helpers ---------------------------------------------------------------------------------------


def _editor(
    request: Request,
    lake: Lk,
    recipe: dict[str, Any],
    version: int | None,
    *,
    error: str | None = None,
    status: int = 200,
    versions: list[int] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "recipes/editor.html",
        status=status,
        title=f"Recipe {recipe['name']}" if recipe["name"] else "New recipe",
        recipe=recipe,
        recipe_version=version,
        versions=versions or [],
        tables=_tables(lake),
        transforms=transform_fields(),
        error=error,
        params=request.query_params,
    )


def _tables(lake: Lake) -> list[str]:
    audit = f"{lake.audit_table.namespace}."
    return [str(t) for t in lake.list_tables(include_quarantine=False) if not str(t).startswith(audit)]


def _recipe(data: dict[str, Any], upto: int) -> Recipe:
    """The edited recipe up to step ``upto``; a step whose parameters do not parse is named."""
    steps: list[Transform] = []
    for i, raw in enumerate(data["steps"][:upto], 1):
        try:
            steps.append(parse_step(raw, i))
        except PydanticError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'step'}: {e['msg']}" for e in exc.errors())
            raise StepError(i, f"Step {i} ({raw.get('op')}): {problems}") from exc
        except RecipeValidationError as exc:
            raise StepError(exc.step, str(exc)) from exc
        except MlakeError as exc:
            raise StepError(i, f"Step {i} ({raw.get('op')}): {exc}") from exc
    return Recipe(name=data.get("name") or "draft", source=data.get("source") or None, steps=steps)


def _sample_after(lake: Lake, source: str, steps: list[dict[str, Any]], upto: int) -> pa.Table:
    """The sample of ``source`` after the first ``upto`` steps; StepError names a breaking step (a step
    that fails only when run is found by running the steps one more at a time)."""
    recipe = _recipe({"source": source, "steps": steps}, upto)
    try:
        return lake.recipes.preview(recipe, source=source, rows=SAMPLE, sample=SAMPLE)
    except RecipeValidationError as exc:
        raise StepError(exc.step, str(exc)) from exc
    except (MlakeError, duckdb.Error) as exc:
        if upto == 0:
            raise
        for k in range(1, upto):
            _sample_after(lake, source, steps, k)
        raise StepError(upto, f"Step {upto} ({steps[upto - 1].get('op')}): {_message(exc)}") from exc


def _stats(table: pa.Table) -> list[dict[str, Any]]:
    """Per column: type, nulls, distinct values, min, max, mean (DuckDB's SUMMARIZE over the sample)."""
    if not table.column_names:
        return []
    con = duckdb.connect()
    try:
        con.register("sample", table)
        rel = con.sql("SUMMARIZE sample")
        return [
            {k: "" if v is None else str(v) for k, v in zip(rel.columns, row, strict=True)} for row in rel.fetchall()
        ]
    finally:
        con.close()


def _message(exc: Exception) -> str:
    hint = getattr(exc, "hint", None)
    return f"{exc} ({hint})" if hint else str(exc)


def transform_fields() -> list[dict[str, Any]]:
    """Every registered transform with the editor's form fields (kind: text, number, bool, list, json, value)."""
    out = []
    for op, cls in sorted(REGISTRY.items(), key=lambda kv: (kv[1].group, kv[0])):
        schema = cls.model_json_schema()
        required = set(schema.get("required", []))
        fields = []
        for field, spec in schema.get("properties", {}).items():
            kind, options = _kind(spec)
            default = spec.get("default")
            fields.append(
                {"name": field, "kind": kind, "options": options, "required": field in required, "default": default}
            )
        out.append({"op": op, "group": cls.group, "summary": cls.summary(), "fitted": cls.fitted, "fields": fields})
    return out


def _kind(spec: dict[str, Any]) -> tuple[str, list[Any]]:
    types = [s for s in spec.get("anyOf", [spec]) if s.get("type") != "null"]
    first = types[0] if len(types) == 1 else {}
    kinds = {"string": "text", "integer": "number", "number": "number", "boolean": "bool", "object": "json"}
    if first.get("type") == "array":
        items = first.get("items", {})
        return ("numbers" if items.get("type") in ("integer", "number") else "list"), list(items.get("enum", []))
    if "enum" in first:
        return "text", list(first["enum"])
    return kinds.get(str(first.get("type")), "value"), []
