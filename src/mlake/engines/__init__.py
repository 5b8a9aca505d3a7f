"""Compute engines: what runs SQL over the lake's tables.

An engine is chosen by ``Settings.engine`` from the backend registry (:mod:`mlake.backends`): ``duckdb``
(the default, in process) today; a distributed engine registers the same way ("Ray distributes, DuckDB
computes each partition"). :class:`Engine` is what the lake and its areas ask of one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.expressions import BooleanExpression

    from mlake.results import Result
    from mlake.tables.lineage import LineageInput
    from mlake.tables.names import TableName


@runtime_checkable
class Engine(Protocol):
    """SQL over lake tables, pinned to snapshots, as one actor may run it."""

    def query(self, sql: str, *, as_of: datetime | str | None = None, params: Any = None) -> Result:
        """Run one statement a user wrote (SELECT, CTAS, INSERT ... SELECT) over the lake's tables."""
        ...

    def view_for(
        self,
        name: TableName,
        snapshot_id: int | None = None,
        where: str | BooleanExpression | None = None,
        *,
        added_since: int | None = None,
    ) -> str:
        """A SQL reference to ``name`` at a snapshot (only its files appended after ``added_since``, if
        given), as the actor may read it (its secure view)."""
        ...

    def run_internal(self, sql: str, inputs: list[LineageInput] | None = None) -> Result:
        """Run SQL that mlake built over references from :meth:`view_for`."""
        ...

    def internal_cursor(self, sql: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A cursor to run mlake-built SQL with user-given parts (checked like the user's SQL)."""
        ...

    def check_expression(self, expression: str, what: str, *, order_by: bool = False) -> None:
        """Refuse a user's expression the actor may not run (a no-op for the owner)."""
        ...

    def close(self) -> None: ...


def iter_engines() -> Iterator[str]:
    """Names of the engines this installation can use."""
    from mlake.backends import backends

    yield from sorted(backends("engine"))


__all__ = ["Engine", "iter_engines"]
