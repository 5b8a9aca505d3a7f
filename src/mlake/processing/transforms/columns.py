"""Columns: select, drop, rename, cast, derive by a SQL expression, coalesce, concatenate."""

from __future__ import annotations

from typing import ClassVar

from mlake.processing.base import Frame, Params, Transform, lit, q, with_columns


class Select(Transform):
    """Keep only the given columns, in that order."""

    op: ClassVar[str] = "select"
    group: ClassVar[str] = "columns"
    columns: list[str]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return f"SELECT {', '.join(q(c) for c in self.columns)} FROM {frame.name}"


class Drop(Transform):
    """Remove the given columns."""

    op: ClassVar[str] = "drop"
    group: ClassVar[str] = "columns"
    columns: list[str]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        keep = [q(c) for c in frame.schema if c not in self.columns]
        return f"SELECT {', '.join(keep)} FROM {frame.name}"


class Rename(Transform):
    """Rename columns (``mapping: {old: new}``)."""

    op: ClassVar[str] = "rename"
    group: ClassVar[str] = "columns"
    mapping: dict[str, str]

    def inputs(self) -> list[str]:
        return list(self.mapping)

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        cols = [f"{q(c)} AS {q(self.mapping[c])}" if c in self.mapping else q(c) for c in frame.schema]
        return f"SELECT {', '.join(cols)} FROM {frame.name}"


class Cast(Transform):
    """Change column types (``types: {column: DuckDB type}``); ``strict: false`` gives null for values
    that do not convert instead of failing."""

    op: ClassVar[str] = "cast"
    group: ClassVar[str] = "columns"
    types: dict[str, str]
    strict: bool = True

    def inputs(self) -> list[str]:
        return list(self.types)

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        fn = "CAST" if self.strict else "TRY_CAST"
        return with_columns(frame.name, frame.schema, {c: f"{fn}({q(c)} AS {t})" for c, t in self.types.items()})


class Derive(Transform):
    """A new (or replaced) column from a SQL expression over the row, e.g. ``price * quantity``."""

    op: ClassVar[str] = "derive"
    group: ClassVar[str] = "columns"
    name: str
    expression: str

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(frame.name, frame.schema, {self.name: f"({self.expression})"})


class CoalesceColumns(Transform):
    """The first non-null value of several columns, as a new column."""

    op: ClassVar[str] = "coalesce"
    group: ClassVar[str] = "columns"
    columns: list[str]
    name: str

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(frame.name, frame.schema, {self.name: f"coalesce({', '.join(q(c) for c in self.columns)})"})


class Concat(Transform):
    """Join columns as text with a separator (nulls are skipped), as a new column."""

    op: ClassVar[str] = "concat"
    group: ClassVar[str] = "columns"
    columns: list[str]
    name: str
    separator: str = " "

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        parts = ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in self.columns)
        return with_columns(frame.name, frame.schema, {self.name: f"concat_ws({lit(self.separator)}, {parts})"})
