"""``lake.recipes``: saved, versioned recipes run over lake tables with lineage.

Reads go through the lake's SQL engine (so a principal reads only what it may, through its secure
views), the output is written through :func:`mlake.sql.save_result` (``lake.catalog_for_write``), and
the write's lineage names the input snapshots and the recipe version (``recipe:<name>@v<version>``).
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from mlake.errors import NotFoundError, ValidationError
from mlake.processing.base import ProcessingError
from mlake.processing.distributed import stages, table_placeholder
from mlake.processing.metastore import recipes_table
from mlake.processing.recipe import Compiled, FittedRecipe, Recipe, python_script
from mlake.results import Result
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    from mlake.core import LakeHandle
    from mlake.tables.table import Table


@dataclass
class StoredRecipe:
    name: str
    version: int
    recipe: Recipe
    fitted: FittedRecipe | None
    created_by: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.recipe.source,
            "steps": len(self.recipe.steps),
            "fitted": self.fitted is not None,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }

    def to_wire(self) -> dict[str, Any]:
        """Everything of the version (its YAML and fitted parameters), for a remote client to rebuild."""
        fitted = self.fitted.to_dict() if self.fitted is not None else None
        return self.to_dict() | {"yaml": self.recipe.to_yaml(), "fitted_params": fitted}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> StoredRecipe:
        fitted = FittedRecipe.from_dict(data["fitted_params"]) if data.get("fitted_params") else None
        at = datetime.fromisoformat(data["created_at"])
        return cls(data["name"], data["version"], Recipe.from_yaml(data["yaml"]), fitted, data["created_by"], at)


@dataclass
class RecipeRun:
    """What a run wrote: the table, its rows and snapshot, the recipe version, the engine."""

    recipe: str
    version: int
    table: str
    rows: int
    snapshot_id: int | None
    engine: str
    fitted: bool
    partitions: int = 1  # on a partitioned engine: the data files (or chunks) the work was split into

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LakeExecutor:
    """The lake's governed SQL engine as a recipe executor, with every table pinned to the snapshot it
    had when the run began (fitting and applying read the same data)."""

    def __init__(self, lake: LakeHandle) -> None:
        self.lake = lake
        self.pinned: dict[str, int | None] = {}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.lake.engine.query(sql).fetchall()

    def schema(self, sql: str) -> dict[str, str]:
        result = self.lake.engine.query(sql)
        return dict(zip(result.columns, result.types, strict=True))

    def table(self, name: str) -> str:
        table_name = TableName.parse(name)
        key = str(table_name)
        if key not in self.pinned:
            if not self.lake.table_exists(table_name):
                raise self.lake.not_found(table_name)
            snap = self.lake.iceberg_table(table_name).current_snapshot()
            self.pinned[key] = snap.snapshot_id if snap else None
        snapshot = self.pinned[key]
        return key if snapshot is None else f"{key} AT (VERSION => {snapshot})"


class Recipes:
    """Saved recipes: create, get, list, versions, preview, run, export."""

    def __init__(self, lake: LakeHandle) -> None:
        self._lake = lake
        self._db = lake._core.metadata_engine

    # --- the store -------------------------------------------------------------------------------

    def create(self, recipe: Recipe | str | dict[str, Any], *, validate: bool = True) -> StoredRecipe:
        """Save ``recipe`` (a Recipe, YAML text or a dict) as the next version of its name; validated
        first against a sample of its source table when it names one."""
        r = _as_recipe(recipe)
        if r.source:
            self._require_read(r.source)
            if validate:
                ex = LakeExecutor(self._lake)
                r.validate_on(ex, f"(SELECT * FROM {ex.table(r.source)} LIMIT 1000)")
        with self._db.begin() as conn:
            latest = conn.execute(
                sa.select(sa.func.max(recipes_table.c.version)).where(recipes_table.c.name == r.name)
            ).scalar()
            version = int(latest or 0) + 1
            now = datetime.now(UTC)
            conn.execute(
                recipes_table.insert().values(
                    name=r.name,
                    version=version,
                    source=r.source,
                    yaml=r.to_yaml(),
                    created_by=self._lake.principal.name,
                    created_at=now,
                )
            )
        return StoredRecipe(r.name, version, r, None, self._lake.principal.name, now)

    def get(self, name: str, version: int | None = None) -> StoredRecipe:
        """A saved recipe (the latest version unless ``version``)."""
        stored = load_recipe(self._db, name, version)
        if stored is None or (stored.recipe.source and not self._may_read(stored.recipe.source)):
            what = f"Recipe {name!r}" + (f" version {version}" if version else "")
            raise NotFoundError(f"{what} does not exist", hint="`mlake recipes list` shows the saved recipes")
        return stored

    def list(self) -> list[StoredRecipe]:
        """The latest version of every recipe whose source the actor may read."""
        with self._db.connect() as conn:
            rows = conn.execute(
                sa.select(recipes_table.c.name, sa.func.max(recipes_table.c.version)).group_by(recipes_table.c.name)
            ).all()
        out = []
        for name, version in sorted(rows):
            try:
                out.append(self.get(name, version))
            except NotFoundError:
                continue
        return out

    def versions(self, name: str) -> builtins.list[StoredRecipe]:
        with self._db.connect() as conn:
            numbers = conn.execute(
                sa.select(recipes_table.c.version).where(recipes_table.c.name == name).order_by(recipes_table.c.version)
            ).scalars()
            found = list(numbers)
        if not found:
            raise NotFoundError(f"Recipe {name!r} does not exist", hint="`mlake recipes list` shows the saved recipes")
        return [self.get(name, v) for v in found]

    # --- preview, run, export ---------------------------------------------------------------------

    def preview(
        self, recipe: str | Recipe, *, source: str | None = None, rows: int = 20, sample: int = 1000
    ) -> pa.Table:
        """The recipe fitted and applied on a sample of its source: the first ``rows`` rows after the
        last step (fast: ``sample`` rows are read)."""
        r = recipe if isinstance(recipe, Recipe) else self.get(recipe).recipe
        table = self._source(r, source)
        ex = LakeExecutor(self._lake)
        src = f"(SELECT * FROM {ex.table(table)} LIMIT {int(sample)})"
        compiled = r.fit(ex, src).compile(ex, src, fitting=True)
        return self._lake.engine.query(f"SELECT * FROM ({compiled.sql()}) LIMIT {int(rows)}").to_arrow()

    def run(
        self,
        name: str,
        into: str,
        *,
        version: int | None = None,
        source: str | None = None,
        refit: bool = False,
        engine: str = "duckdb",
        mode: str = "replace",
    ) -> RecipeRun:
        """Run a saved recipe over its source into table ``into``.

        The first run of a version fits it on the source (and keeps the fitted parameters on the
        version); later runs — on new data, other tables — apply those parameters unless ``refit``.
        ``engine`` is a compute backend (``duckdb`` or ``ray``)."""
        stored = self.get(name, version)
        table = self._source(stored.recipe, source)
        ex = LakeExecutor(self._lake)
        src = ex.table(table)
        fitting = stored.fitted is None or refit
        fitted = stored.recipe.fit(ex, src) if fitting else stored.fitted
        assert fitted is not None
        compiled = fitted.compile(ex, src, fitting=fitting)
        if fitting:
            self._save_fitted(stored, fitted, ex.pinned)
        if str(TableName.parse(into)) in ex.pinned:
            raise ValidationError(
                f"Recipe {stored.name!r} reads {into}; it cannot also replace it",
                hint="write the output to another table",
            )
        inputs = [LineageInput("table", t, snapshot_id=s) for t, s in ex.pinned.items()]
        inputs.append(LineageInput("query", f"recipe:{stored.name}@v{stored.version}", detail=compiled.sql()))
        partitions = 1
        if engine == "duckdb":
            result = self._lake.engine.query(compiled.sql())
            result.lineage_inputs = inputs
        else:
            files = self._data_files(table, ex.pinned.get(str(TableName.parse(table))))
            result, partitions = self._run_partitioned(engine, fitted, ex, src, fitting, compiled, inputs, files)
        from mlake.sql import save_result

        written = save_result(result, into, mode=mode)
        rows, snapshot = _last_write(self._lake, written)
        return RecipeRun(stored.name, stored.version, str(written.name), rows, snapshot, engine, fitting, partitions)

    def transform(self, name: str, data: Any, *, version: int | None = None) -> pa.Table:
        """Apply a saved, fitted recipe to request-time values (a data frame, Arrow table or list of
        dicts) with exactly the parameters its training run learned — the on-demand path, so serving
        and training cannot disagree. Only row-local steps can run on a request's rows."""
        return apply_fitted(self.get(name, version), data)

    def export(self, name: str, fmt: str = "sql", *, version: int | None = None) -> str:
        """The recipe as readable SQL (fitted parameters inlined once it has run) or a Python script."""
        stored = self.get(name, version)
        table = self._source(stored.recipe, None)
        ex = LakeExecutor(self._lake)
        src = ex.table(table)
        fitted = stored.fitted or stored.recipe.fit(ex, src)
        compiled = fitted.compile(ex, src)
        if fmt == "sql":
            return f"-- recipe {stored.name} v{stored.version}\n{compiled.sql()}\n"
        if fmt in ("python", "py"):
            return python_script(compiled)
        if fmt == "yaml":
            return stored.recipe.to_yaml()
        raise ValidationError(f"Unknown export format {fmt!r}", hint="use sql, python or yaml")

    # --- helpers ----------------------------------------------------------------------------------

    def _run_partitioned(
        self,
        engine: str,
        fitted: FittedRecipe,
        ex: LakeExecutor,
        src: str,
        fitting: bool,
        compiled: Compiled,
        inputs: builtins.list[LineageInput],
        files: builtins.list[str] | None,
    ) -> tuple[Result, int]:
        """Run on a partitioned engine: each data file a partition when :meth:`_data_files` allows it,
        else chunks of the rows read through the actor's engine."""
        from mlake.backends import backend_named

        compute = backend_named("compute", engine).load()()
        try:
            text = fitted.compile(ex, src, fitting=fitting, table_ref=table_placeholder)
            joined = {s.table for s in fitted.recipe.steps if hasattr(s, "table") and isinstance(s.table, str)}
            tables = {
                table_placeholder(t): self._lake.engine.query(f"SELECT * FROM {ex.table(t)}").to_arrow() for t in joined
            }
            chunks: builtins.list[Any]
            if files:
                chunks = builtins.list(files)
            else:
                data = self._lake.engine.query(f"SELECT * FROM {src}").to_arrow()
                per = max(1, -(-data.num_rows // 8))
                chunks = [data.slice(i, per) for i in range(0, max(data.num_rows, 1), per)]
            out = compute.run(stages(text, builtins.list(compiled.schemas[0]) if files else None), chunks, tables)
        finally:
            compute.close()
        con = duckdb.connect()
        con.register("__recipe_output", out)
        columns = ", ".join(quote_ident(c) for c in out.column_names)
        result = Result(
            con.sql(f"SELECT {columns} FROM __recipe_output"), compiled.sql(), inputs, keepalive=con, lake=self._lake
        )
        return result, len(chunks)

    def _data_files(self, table: str, snapshot: int | None) -> builtins.list[str] | None:
        """The table's local Parquet files at ``snapshot``, when workers may read them directly: for the
        owner only (a principal's reads go through its secure views), with no delete files, and no
        column ever renamed (files keep the names they were written with)."""
        from mlake.tables.scan import local_path

        if self._lake.access.principal is not None or snapshot is None:
            return None
        ice = self._lake.iceberg_table(table)
        names: dict[int, set[str]] = {}
        for schema in ice.metadata.schemas:
            for f in schema.fields:
                names.setdefault(f.field_id, set()).add(f.name)
        if any(len(n) > 1 for n in names.values()):
            return None
        tasks = builtins.list(ice.scan(snapshot_id=snapshot).plan_files())
        paths = [local_path(t.file.file_path) for t in tasks]
        if not tasks or any(t.delete_files for t in tasks) or any(p is None for p in paths):
            return None
        return [p for p in paths if p is not None]

    def _save_fitted(self, stored: StoredRecipe, fitted: FittedRecipe, pinned: dict[str, int | None]) -> None:
        with self._db.begin() as conn:
            conn.execute(
                recipes_table.update()
                .where((recipes_table.c.name == stored.name) & (recipes_table.c.version == stored.version))
                .values(fitted=fitted.to_json(), fitted_on=json.dumps(pinned))
            )

    def _source(self, recipe: Recipe, source: str | None) -> str:
        table = source or recipe.source
        if not table:
            raise ProcessingError(f"Recipe {recipe.name!r} names no source table", hint="pass source=...")
        self._require_read(table)
        return table

    def _may_read(self, table: str) -> bool:
        try:
            return self._lake.access.can("select", TableName.parse(table))
        except Exception:
            return False

    def _require_read(self, table: str) -> None:
        name = TableName.parse(table)
        self._lake.access.require_visible(name)
        self._lake.access.require("select", name)


def load_recipe(db: sa.Engine, name: str, version: int | None = None) -> StoredRecipe | None:
    """A saved recipe version as stored (the latest unless ``version``), without access checks: callers
    check the actor may see it (its source table for ``lake.recipes``, a feature group's grants for
    on-demand features)."""
    query = sa.select(recipes_table).where(recipes_table.c.name == name)
    if version is not None:
        query = query.where(recipes_table.c.version == version)
    with db.connect() as conn:
        row = conn.execute(query.order_by(recipes_table.c.version.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    fitted = FittedRecipe.from_dict(json.loads(row["fitted"])) if row["fitted"] else None
    created = row["created_at"] if row["created_at"].tzinfo else row["created_at"].replace(tzinfo=UTC)
    return StoredRecipe(row["name"], row["version"], Recipe.from_yaml(row["yaml"]), fitted, row["created_by"], created)


def require_servable(stored: StoredRecipe) -> FittedRecipe:
    """The fitted parameters of a recipe version whose steps can run on a request's rows alone."""
    if stored.fitted is None:
        raise ProcessingError(
            f"Recipe {stored.name!r} version {stored.version} is not fitted yet",
            hint=f"run it once (lake.recipes.run({stored.name!r}, ...)) to fit it on its source",
        )
    for i, step in enumerate(stored.recipe.steps, 1):
        if step.scope != "row" or step.op == "join":
            raise ProcessingError(
                f"Step {i} ({step.op}) of recipe {stored.name!r} needs other rows than the request's",
                hint="serve features computed by such steps from the online store instead",
            )
    return stored.fitted


def apply_fitted(stored: StoredRecipe, data: Any) -> pa.Table:
    """Apply a fitted, row-local recipe version to request-time values (a data frame, Arrow table or list
    of dicts) in a private DuckDB, with exactly the parameters its training run learned."""
    from mlake.processing.recipe import DuckDBExecutor
    from mlake.tables.frames import to_arrow

    fitted = require_servable(stored)
    # Built here (not by to_arrow, which types an all-null column as text): a value missing from every
    # request row stays of DuckDB's NULL type, which every step accepts, as the training rows' NULLs are.
    table = pa.Table.from_pylist(data) if isinstance(data, builtins.list) else data
    table = table if isinstance(table, pa.Table) else to_arrow(table)
    con = duckdb.connect()
    try:
        con.register("__request", table)
        ex = DuckDBExecutor(con)
        return con.sql(fitted.compile(ex, "__request").sql()).to_arrow_table()
    finally:
        con.close()


def _as_recipe(recipe: Recipe | str | dict[str, Any]) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str):
        return Recipe.from_yaml(recipe)
    return Recipe.from_dict(recipe)


def _last_write(lake: LakeHandle, table: Table) -> tuple[int, int | None]:
    writes = lake._core.lineage_store.writes(str(table.name), limit=1)
    return (writes[0].rows_written, writes[0].snapshot_id) if writes else (0, None)


__all__ = ["LakeExecutor", "RecipeRun", "Recipes", "StoredRecipe"]
