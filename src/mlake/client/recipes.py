"""``remote.recipes``: saved, versioned recipes of :mod:`mlake.processing` on an mlake server.

The same calls and return types as :class:`~mlake.processing.api.Recipes`: stored recipes travel with
their YAML and fitted parameters and are rebuilt as :class:`~mlake.processing.api.StoredRecipe`; runs
come back as :class:`~mlake.processing.api.RecipeRun`; previews and transforms as Arrow tables (Arrow
IPC both ways, so types travel exactly). The server reads and writes as the caller.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa

from mlake.client.tables import arrow_part
from mlake.processing.api import RecipeRun, StoredRecipe
from mlake.processing.recipe import Recipe

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


def _arrow(body: bytes) -> pa.Table:
    import pyarrow.ipc as ipc

    return ipc.open_stream(body).read_all()


class RemoteRecipes:
    """Saved recipes on the server: create, get, list, versions, preview, run, transform, export."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _path(self, name: str) -> str:
        return f"/recipes/{quote(name, safe='')}"

    def create(self, recipe: Recipe | str | dict[str, Any], *, validate: bool = True) -> StoredRecipe:
        """Save ``recipe`` (a Recipe, YAML text or a dict) as the next version of its name."""
        text = recipe.to_yaml() if isinstance(recipe, Recipe) else recipe
        body = self._lake._json("POST", "/recipes", json={"recipe": text, "validate": validate})
        return StoredRecipe.from_wire(body)

    def get(self, name: str, version: int | None = None) -> StoredRecipe:
        params = {"version": version} if version is not None else {}
        return StoredRecipe.from_wire(self._lake._json("GET", self._path(name), params=params))

    def list(self) -> builtins.list[StoredRecipe]:
        """The latest version of every recipe whose source the caller may read."""
        return [StoredRecipe.from_wire(r) for r in self._lake._json("GET", "/recipes")]

    def versions(self, name: str) -> builtins.list[StoredRecipe]:
        return [StoredRecipe.from_wire(r) for r in self._lake._json("GET", f"{self._path(name)}/versions")]

    def preview(
        self, recipe: str | Recipe, *, source: str | None = None, rows: int = 20, sample: int = 1000
    ) -> pa.Table:
        """The recipe fitted and applied on a sample of its source, on the server."""
        which = {"yaml": recipe.to_yaml()} if isinstance(recipe, Recipe) else {"name": recipe}
        body = which | {"source": source, "rows": rows, "sample": sample}
        return _arrow(self._lake.request("POST", "/recipes/preview", json=body).content)

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
        """Run a saved recipe over its source into table ``into`` (on the server's engines)."""
        body = {"into": into, "version": version, "source": source, "refit": refit, "engine": engine, "mode": mode}
        return RecipeRun(**self._lake._json("POST", f"{self._path(name)}/run", json=body))

    def transform(self, name: str, data: Any, *, version: int | None = None) -> pa.Table:
        """Apply a saved, fitted recipe to request-time rows (a frame, Arrow table or list of dicts)."""
        from mlake.tables.frames import to_arrow

        table = to_arrow(data if not isinstance(data, builtins.list) else pa.Table.from_pylist(data))
        form = {"version": str(version)} if version is not None else {}
        path = f"{self._path(name)}/transform"
        return _arrow(self._lake.request("POST", path, files=[arrow_part(table)], data=form).content)

    def export(self, name: str, fmt: str = "sql", *, version: int | None = None) -> str:
        """The recipe as readable SQL (fitted parameters inlined once it has run), a Python script or YAML."""
        params: dict[str, Any] = {"fmt": fmt} | ({"version": version} if version is not None else {})
        return self._lake.request("GET", f"{self._path(name)}/export", params=params).text
