"""What a bias report is about: the facet (sensitive group), the label and the predicted label.

The definitions follow SageMaker Clarify's ``BiasConfig`` so that a Clarify user finds the same meaning:

- a facet is *d*, the disfavoured (sensitive) group; every other row with the facet column(s) present is
  facet *a*. A condition selects rows by a value set (``values=[...]``) or by a numeric threshold
  (``threshold=t``: values **greater than** ``t`` are in the group, as in Clarify). Several conditions make
  an intersectional facet (all must hold: "women over 40").
- an outcome (label or predicted label) is positive by a value set or, for numbers, when it is greater
  than a threshold (Clarify's ``label_values_or_threshold``).

Rows where a column the report needs is null are left out, and the report says how many; a null is not
evidence for either side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from mlake.errors import SchemaError, ValidationError
from mlake.tables.frames import as_arrow, column_of

Scalar = str | int | float | bool


def _is_numeric(array: pa.ChunkedArray) -> bool:
    return bool(pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type))


def _select(
    column: pa.ChunkedArray, name: str, values: Sequence[Scalar] | None, threshold: float | None, *, role: str
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(member, present) boolean arrays for ``value in values`` or ``value > threshold``."""
    present = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
    if threshold is not None:
        if not _is_numeric(column):
            raise SchemaError(
                f"the {role} column {name!r} has type {column.type}, so a numeric threshold cannot split it",
                hint=f"give values=[...] for {name!r} instead of threshold=",
            )
        if pa.types.is_floating(column.type):
            present &= ~np.asarray(pc.fill_null(pc.is_nan(column), False).to_numpy(zero_copy_only=False), dtype=bool)
        member = pc.fill_null(pc.greater(column, pa.scalar(threshold)), False)
        return np.asarray(member.to_numpy(zero_copy_only=False), dtype=bool), present
    assert values is not None
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    try:
        value_set = pa.array(list(values)).cast(column.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaError(
            f"the {role} values {list(values)!r} do not fit the type of column {name!r} ({column.type})",
            hint="give values of the column's own type",
        ) from exc
    member = pc.fill_null(pc.is_in(column, value_set=value_set), False)
    return np.asarray(member.to_numpy(zero_copy_only=False), dtype=bool), present


@dataclass(frozen=True)
class Condition:
    """One column's share of a facet: ``column in values`` or ``column > threshold``."""

    column: str
    values: tuple[Scalar, ...] | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if (self.values is None) == (self.threshold is None):
            raise ValidationError(
                f"the facet condition on {self.column!r} needs exactly one of values= or threshold=",
                hint="values=['Female'] selects by value; threshold=40 selects values greater than 40",
            )
        if self.values is not None and len(self.values) == 0:
            raise ValidationError(f"the facet condition on {self.column!r} has an empty value set")

    @property
    def label(self) -> str:
        if self.threshold is not None:
            return f"{self.column} > {self.threshold:g}"
        shown = ", ".join(str(v) for v in self.values or ())
        return f"{self.column} in {{{shown}}}"

    def resolve(self, table: pa.Table) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        column = column_of(table, self.column, role="facet")
        return _select(column, self.column, self.values, self.threshold, role="facet")

    @classmethod
    def parse(cls, text: str) -> Condition:
        """A condition written as the CLI takes it: ``sex=Female`` (a value), ``race=Black,Asian`` (a value
        set) or ``age>40`` (values greater than 40). Values stay text; the report casts them to the
        column's type."""
        match = _CONDITION.match(text)
        if match is None:
            raise ValidationError(
                f"the facet {text!r} is not COLUMN=VALUES or COLUMN>THRESHOLD",
                hint="e.g. --facet sex=Female, --facet race=Black,Asian or --facet age>40",
            )
        column, op, rest = match.group(1).strip(), match.group(2), match.group(3).strip()
        if op == ">":
            return cls(column, threshold=_threshold(rest, column))
        return cls(column, values=tuple(v.strip() for v in rest.split(",") if v.strip()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        """``{"column": ..., "values": [...]}`` or ``{"column": ..., "threshold": t}`` (REST's form)."""
        values = data.get("values")
        threshold = data.get("threshold")
        return cls(
            str(data["column"]),
            tuple(values) if values is not None else None,
            float(threshold) if threshold is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "values": list(self.values) if self.values is not None else None,
            "threshold": self.threshold,
        }


_CONDITION = re.compile(r"^\s*([^=>]+?)\s*(=|>)\s*(.*)$")


def _threshold(text: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValidationError(
            f"the facet threshold {text!r} of {column!r} is not a number", hint="e.g. age>40"
        ) from None
    if not math.isfinite(value):
        raise ValidationError(f"the facet threshold of {column!r} must be a finite number, not {text!r}")
    return value


@dataclass(frozen=True)
class Facet:
    """The disfavoured group *d*: rows meeting every condition. All other rows form facet *a*."""

    conditions: tuple[Condition, ...]

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ValidationError("a facet needs at least one condition")

    @classmethod
    def of(cls, column: str, *, values: Sequence[Scalar] | None = None, threshold: float | None = None) -> Facet:
        """A facet on one column: ``Facet.of("sex", values=["Female"])`` or ``Facet.of("age", threshold=40)``."""
        return cls((Condition(column, tuple(values) if values is not None else None, threshold),))

    @classmethod
    def all_of(cls, *conditions: Condition) -> Facet:
        """An intersectional facet: rows meeting every condition (``Facet.all_of(Condition("sex", ("F",)), ...)``)."""
        return cls(tuple(conditions))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.conditions)

    @property
    def label(self) -> str:
        return " and ".join(c.label for c in self.conditions)

    @classmethod
    def from_dicts(cls, conditions: Sequence[dict[str, Any]]) -> Facet:
        """An (intersectional) facet from REST's list of conditions (see :meth:`Condition.from_dict`)."""
        return cls(tuple(Condition.from_dict(c) for c in conditions))

    def to_dicts(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.conditions]

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Facet:
        """A facet from the CLI's ``--facet`` options, one condition each (see :meth:`Condition.parse`)."""
        return cls(tuple(Condition.parse(s) for s in specs))

    def resolve(self, table: pa.Table) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """(in facet d, usable) per row; a row is usable when every facet column is non-null there."""
        member = np.ones(table.num_rows, dtype=bool)
        present = np.ones(table.num_rows, dtype=bool)
        for condition in self.conditions:
            m, p = condition.resolve(table)
            member &= m
            present &= p
        return member & present, present


@dataclass(frozen=True)
class Outcome:
    """A label or predicted label and what counts as its positive (favourable) outcome."""

    column: str
    positive_values: tuple[Scalar, ...] | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if (self.positive_values is None) == (self.threshold is None):
            raise ValidationError(
                f"the outcome {self.column!r} needs exactly one of positive_values= or threshold=",
                hint="positive_values=[1] or positive_values=['>50K']; threshold=0.5 makes values above 0.5 positive",
            )

    @classmethod
    def of(
        cls, column: str, *, positive_values: Sequence[Scalar] | None = None, threshold: float | None = None
    ) -> Outcome:
        return cls(column, tuple(positive_values) if positive_values is not None else None, threshold)

    def resolve(self, table: pa.Table, *, role: str) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        column = column_of(table, self.column, role=role)
        return _select(column, self.column, self.positive_values, self.threshold, role=role)


def group_codes(table: pa.Table, column: str) -> tuple[NDArray[np.int64], list[str], NDArray[np.bool_]]:
    """Integer codes of a group (strata) column for CDD, the group names, and which rows are non-null."""
    array = column_of(table, column, role="group").combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    present = np.asarray(pc.is_valid(array).to_numpy(zero_copy_only=False), dtype=bool)
    encoded = pc.dictionary_encode(array, null_encoding="mask")
    indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    if not names:
        names = ["(none)"]
    return indices, names, present


def facets_for_each_value(table: Any, column: str, *, max_values: int = 50) -> list[Facet]:
    """One facet per distinct value of ``column``, as Clarify does when no facet value is given."""
    arrow = as_arrow(table)
    array = column_of(arrow, column, role="facet")
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    distinct = [v for v in pc.unique(array).to_pylist() if v is not None]
    if len(distinct) > max_values:
        raise ValidationError(
            f"the facet column {column!r} has {len(distinct)} distinct values (more than {max_values})",
            hint="give the sensitive values or a threshold, or raise max_values",
        )
    return [Facet.of(column, values=[v]) for v in sorted(distinct, key=str)]
