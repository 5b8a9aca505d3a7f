"""Recipes: an ordered list of transforms, validated, fitted, and compiled to one SQL query.

A :class:`Recipe` is what a user writes (YAML or Python). :meth:`Recipe.fit` runs each fitted step's
statistics over the data *as the previous steps leave it* and returns a :class:`FittedRecipe`, whose
parameters are plain JSON; :meth:`FittedRecipe.compile` turns it into one ``WITH`` chain of CTEs (one
per step) that any DuckDB — in process, inside a Ray task, in an exported script — runs unchanged.

Where the SQL runs is an :class:`Executor`: a DuckDB connection here (:class:`DuckDBExecutor`), the
lake's governed SQL engine for lake runs (:mod:`mlake.processing.lake_run`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, field_validator

import mlake.processing.transforms  # noqa: F401  (registers the built-in transforms)
from mlake.errors import MlakeError
from mlake.processing.base import (
    Frame,
    Params,
    ProcessingError,
    RecipeValidationError,
    Schema,
    Transform,
    is_numeric,
    is_temporal,
    is_text,
    parse_step,
    q,
)


class Executor(Protocol):
    """Where a recipe's SQL runs: rows of a query, the columns of a query, references to tables."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def schema(self, sql: str) -> Schema: ...

    def table(self, name: str) -> str: ...


class DuckDBExecutor:
    """A DuckDB connection as an executor; tables are relations known to it by name."""

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None, tables: dict[str, str] | None = None) -> None:
        self.con = con or duckdb.connect()
        self.tables = tables or {}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.sql(sql).fetchall()

    def schema(self, sql: str) -> Schema:
        rel = self.con.sql(sql)
        return {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}

    def table(self, name: str) -> str:
        return self.tables.get(name, name)

    def arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()


class Recipe(BaseModel):
    """An ordered list of transforms over a source table."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "recipe"
    source: str | None = None
    description: str = ""
    steps: list[Transform]

    @field_validator("steps", mode="before")
    @classmethod
    def _parse_steps(cls, value: Any) -> list[Transform]:
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ProcessingError("A recipe's steps must be a list")
        return [parse_step(s, i) for i, s in enumerate(value, 1)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.source:
            out["source"] = self.source
        if self.description:
            out["description"] = self.description
        out["steps"] = [s.to_dict() for s in self.steps]
        return out

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))

    @classmethod
    def from_yaml(cls, text: str) -> Recipe:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ProcessingError(f"The recipe is not valid YAML: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """A recipe from its mapping form; a malformed one is a :class:`ProcessingError` (what, and where to look)."""
        from pydantic import ValidationError as PydanticError

        if not isinstance(data, dict) or "steps" not in data:
            raise ProcessingError("A recipe is a mapping with a 'steps' list", hint="see docs/processing.md")
        try:
            return cls.model_validate(data)
        except PydanticError as exc:
            raise ProcessingError(f"Invalid recipe: {exc}", hint="see docs/processing.md") from exc

    def fit(self, executor: Executor, source: str) -> FittedRecipe:
        """Learn every fitted step's parameters from ``source`` (a SQL relation in ``executor``)."""
        return _build(self, None, executor, source, fitting=True).fitted

    def validate_on(self, executor: Executor, source: str) -> list[Schema]:
        """Check every step against the data it will read (fitting on ``source``, a sample is enough);
        the schema after each step. RecipeValidationError names the first step that fails."""
        return _build(self, None, executor, source, fitting=True).schemas


@dataclass
class FittedRecipe:
    """A recipe with the parameters its fitted steps learned (None for stateless steps)."""

    recipe: Recipe
    params: list[Params | None]

    def to_dict(self) -> dict[str, Any]:
        return {**self.recipe.to_dict(), "params": self.params}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedRecipe:
        body = dict(data)
        params = body.pop("params", None)
        recipe = Recipe.model_validate(body)
        if params is None or len(params) != len(recipe.steps):
            raise ProcessingError("A fitted recipe needs one parameter entry per step")
        return cls(recipe, list(params))

    def compile(
        self,
        executor: Executor,
        source: str,
        *,
        fitting: bool = False,
        table_ref: Callable[[str], str] | None = None,
    ) -> Compiled:
        """The recipe as one SQL chain over ``source`` with these parameters. ``fitting`` says that
        ``source`` is the data it was fitted on (out-of-fold encoders then exclude each row's fold)."""
        return _build(self.recipe, self, executor, source, fitting=fitting, table_ref=table_ref)


@dataclass
class Compiled:
    """One compiled recipe: the CTE per step, the schema after each step, the fitted recipe."""

    ctes: list[tuple[str, str]]
    schemas: list[Schema]
    fitted: FittedRecipe
    steps: list[Transform] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.ctes[-1][0]

    def sql(self, upto: int | None = None) -> str:
        """The whole chain as one query (``upto``: stop after that many steps)."""
        ctes = self.ctes if upto is None else self.ctes[: upto + 1]
        body = ",\n".join(f"{name} AS (\n  {sql}\n)" for name, sql in ctes)
        return f"WITH {body}\nSELECT * FROM {ctes[-1][0]}"


def cte_name(index: int, step: Transform | None) -> str:
    return "source" if step is None else f"s{index}_{step.op}"


def _with(ctes: list[tuple[str, str]]) -> str:
    return "WITH " + ", ".join(f"{n} AS ({s})" for n, s in ctes) + " "


def _check_columns(index: int, step: Transform, schema: Schema) -> None:
    for col in step.inputs():
        if col and col != "*" and col not in schema:
            close = difflib.get_close_matches(col, list(schema), n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else f"the columns are: {', '.join(schema)}"
            raise RecipeValidationError(f"unknown column {col!r}", step=index, op=step.op, hint=hint)
    kind = step.needs
    check = {"numeric": is_numeric, "text": is_text, "temporal": is_temporal}.get(kind)
    if check is None:
        return
    for col in step.typed_inputs():
        if (
            col in schema and schema[col].strip('"') != "NULL" and not check(schema[col])
        ):  # NULL: a request's missing value
            raise RecipeValidationError(
                f"column {col!r} is {schema[col]}, {step.op} needs a {kind} column",
                step=index,
                op=step.op,
                hint=f"convert it first (a cast or parse_date step), or drop it from {step.op}",
            )


def _build(
    recipe: Recipe,
    fitted: FittedRecipe | None,
    executor: Executor,
    source: str,
    *,
    fitting: bool,
    table_ref: Callable[[str], str] | None = None,
) -> Compiled:
    ctes: list[tuple[str, str]] = [(cte_name(0, None), f"SELECT * FROM {source}")]
    try:
        schema = executor.schema(f"SELECT * FROM {source}")
    except (MlakeError, duckdb.Error) as exc:
        raise ProcessingError(f"Cannot read the recipe's source {source}: {exc}") from exc
    schemas = [schema]
    texts = list(ctes)
    params: list[Params | None] = []
    for i, step in enumerate(recipe.steps, 1):
        _check_columns(i, step, schema)
        prefix = _with(ctes)

        def fetch(sql: str, prefix: str = prefix) -> list[tuple[Any, ...]]:
            return executor.rows(prefix + sql)

        describe = _described(executor)
        try:
            p = (
                fitted.params[i - 1]
                if fitted is not None
                else step.fit(Frame(ctes[-1][0], schema, fetch, executor.table, describe))
            )
            sql = step.sql(Frame(ctes[-1][0], schema, fetch, executor.table, describe), p, fitting=fitting)
            ctes.append((cte_name(i, step), sql))
            # the SQL text the runner gets names other tables as it will know them (``table_ref``)
            text = (
                sql
                if table_ref is None
                else step.sql(Frame(ctes[-2][0], schema, fetch, table_ref, describe), p, fitting=fitting)
            )
            texts.append((cte_name(i, step), text))
            schema = executor.schema(_with(ctes) + f"SELECT * FROM {ctes[-1][0]} LIMIT 0")
        except RecipeValidationError:
            raise
        except (MlakeError, duckdb.Error, ValueError) as exc:
            message = getattr(exc, "message", None) or str(exc).splitlines()[0]
            raise RecipeValidationError(message, step=i, op=step.op, hint=getattr(exc, "hint", None)) from exc
        params.append(p)
        schemas.append(schema)
    fitted = fitted or FittedRecipe(recipe, params)
    return Compiled(texts, schemas, fitted, list(recipe.steps))


def _described(executor: Executor) -> Callable[[str], Schema]:
    return lambda name: executor.schema(f"SELECT * FROM {executor.table(name)} LIMIT 0")


def transform_catalog() -> list[dict[str, Any]]:
    """Every registered transform: name, group, summary, parameters (for docs, the CLI and Studio)."""
    from mlake.processing.base import REGISTRY

    out = []
    for op, cls in sorted(REGISTRY.items(), key=lambda kv: (kv[1].group, kv[0])):
        fields = {
            name: (str(f.annotation).replace("typing.", ""), None if f.is_required() else f.default)
            for name, f in cls.model_fields.items()
        }
        out.append(
            {
                "op": op,
                "group": cls.group,
                "summary": cls.summary(),
                "fitted": cls.fitted,
                "scope": cls.scope,
                "parameters": fields,
            }
        )
    return out


def transforms_markdown() -> str:
    """The transforms as Markdown tables by group (docs/processing.md embeds this; a test compares)."""
    rows = transform_catalog()
    out = [f"{len(rows)} transforms in {len({r['group'] for r in rows})} groups.", ""]
    group = None
    for r in rows:
        if r["group"] != group:
            group = r["group"]
            out += ["", f"### {group}", "", "| transform | what it does | fitted | parameters |", "|---|---|---|---|"]
        params = ", ".join(f"`{k}`" for k in r["parameters"])
        out.append(f"| `{r['op']}` | {r['summary']} | {'yes' if r['fitted'] else ''} | {params} |")
    return "\n".join(out).strip() + "\n"


def python_script(compiled: Compiled, source_name: str = "source_table") -> str:
    """The fitted recipe as a standalone Python script: DuckDB runs the same SQL over a Parquet file."""
    sql = compiled.sql().replace(compiled.ctes[0][1], "SELECT * FROM read_parquet($input)", 1)
    return f'''"""Recipe {compiled.fitted.recipe.name!r}, exported by mlake: the fitted steps as DuckDB SQL.

Usage: python {compiled.fitted.recipe.name}.py input.parquet output.parquet
"""

import sys

import duckdb

SQL = """
{sql}
"""


def transform(input_path: str, output_path: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE __out AS " + SQL, {{"input": input_path}})
    con.execute("COPY __out TO " + "'" + output_path.replace("'", "''") + "'" + " (FORMAT parquet)")


if __name__ == "__main__":
    transform(sys.argv[1], sys.argv[2])
'''


__all__ = [
    "Compiled",
    "DuckDBExecutor",
    "Executor",
    "FittedRecipe",
    "Recipe",
    "cte_name",
    "python_script",
    "q",
    "transform_catalog",
    "transforms_markdown",
]
