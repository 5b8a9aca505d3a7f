"""Check types: each declares what it needs as aggregates, so that a suite runs in one scan.

A row-level check (not_null, in_set, in_range, regex, type, references) is a *violation predicate*:
SQL that is true for a failing row. The suite counts failing rows of every check with one fused query
(``count_if(violation)`` per check), then fetches a bounded sample of failing rows only for the checks
that have any (including those that pass within their threshold: the rows that fail are worth seeing).
Table-level checks (unique, row_count, freshness, distribution) contribute aggregates to the same query,
except distinct counts (``unique``, ``distribution`` of ``distinct``), which run together in one statement
of their own (see :meth:`Check.distinct_counts`); schema needs no scan; custom SQL runs its own query,
which returns the violating rows.

Every check has a ``severity`` (``error`` fails the suite, ``warn`` only reports) and a ``threshold``:
the share of checked rows that must pass (``0.99`` lets 1% fail).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from dataclasses import KW_ONLY, MISSING, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from types import UnionType
from typing import TYPE_CHECKING, Any, ClassVar, Union, get_args, get_origin, get_type_hints

from mlake.errors import ValidationError
from mlake.quality.source import Source, q
from mlake.tables.names import TableName
from mlake.tables.types import quote_literal

if TYPE_CHECKING:
    from mlake.lake import Lake

SEVERITIES = ("error", "warn")

# Type names people write in suites (Iceberg's, SQL's, Python's) -> DuckDB's.
TYPE_ALIASES = {
    "int": "INTEGER",
    "integer": "INTEGER",
    "int32": "INTEGER",
    "long": "BIGINT",
    "bigint": "BIGINT",
    "int64": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "float": "FLOAT",
    "float32": "FLOAT",
    "real": "FLOAT",
    "double": "DOUBLE",
    "float64": "DOUBLE",
    "number": "DOUBLE",
    "string": "VARCHAR",
    "str": "VARCHAR",
    "text": "VARCHAR",
    "varchar": "VARCHAR",
    "bool": "BOOLEAN",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "datetime": "TIMESTAMP",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "time": "TIME",
    "binary": "BLOB",
    "blob": "BLOB",
    "uuid": "UUID",
}


def duckdb_type_name(name: str) -> str:
    """A DuckDB type for a type name from a suite (``long``, ``string``, ``decimal(10,2)``, ``BIGINT``)."""
    text = " ".join(name.strip().lower().split())
    if text in TYPE_ALIASES:
        return TYPE_ALIASES[text]
    if re.fullmatch(r"decimal\(\s*\d+\s*,\s*\d+\s*\)", text):
        return text.upper().replace(" ", "")
    return text.upper()


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """``"2d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(value).lower())
    if not m:
        raise ValidationError(f"Cannot read the duration {value!r}", hint="write e.g. 30m, 12h, 2d or 1w")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    return timedelta(seconds=float(m.group(1)) * unit)


def literal(value: Any) -> str:
    """A SQL literal for a value from a suite."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return (
            f"TIMESTAMPTZ {quote_literal(value.isoformat())}"
            if value.tzinfo
            else f"TIMESTAMP {quote_literal(value.isoformat())}"
        )
    if isinstance(value, date):
        return f"DATE {quote_literal(value.isoformat())}"
    return quote_literal(str(value))


@dataclass
class Check:
    """A check on one source. Subclasses set ``kind`` and implement what they measure."""

    kind: ClassVar[str] = ""
    row_level: ClassVar[bool] = False
    _: KW_ONLY
    name: str | None = None
    severity: str = "error"
    threshold: float = 1.0
    where: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        _check_argument_types(self)
        if self.severity not in SEVERITIES:
            raise ValidationError(f"{self.label}: severity must be error or warn, not {self.severity!r}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValidationError(
                f"{self.label}: threshold {self.threshold!r} is not a share of rows",
                hint="use a number between 0 and 1, e.g. 0.99 to let 1% of rows fail",
            )

    @property
    def columns(self) -> list[str]:
        """Columns of the checked source this check reads (validated before running)."""
        col = getattr(self, "column", None)
        if col is None:
            return []
        return [col] if isinstance(col, str) else list(col)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        cols = ", ".join(self.columns)
        return f"{self.kind}({cols})" if cols else self.kind

    # --- what a check contributes to the fused query ----------------------------------------------

    def violation(self, lake: Lake) -> str | None:
        """SQL true for a failing row (row-level checks)."""
        return None

    def aggregates(self, lake: Lake) -> dict[str, str]:
        """Named aggregate expressions this check needs (besides the failing-row count)."""
        return {}

    def distinct_counts(self, lake: Lake) -> dict[str, tuple[str, str]]:
        """Named distinct counts this check needs, ``name -> (expression, filter)``: the value of
        ``count(DISTINCT expression) FILTER (WHERE filter)``.

        They are not aggregates of the fused query: DuckDB 2.0 plans a DISTINCT aggregate beside other
        aggregates as a GROUP BY over a materialized copy of the whole input (a 10 million row suite held
        2.3 GB), so the suite counts them apart, each alone in its SELECT
        (:func:`mlake.quality.aggregate.count_distinct`).
        """
        return {}

    def metric(self, values: dict[str, Any], rows: int) -> tuple[str, Any]:
        """The metric a person reads (name, value), from the aggregates."""
        return "failing_rows", values.get("failing")

    def verdict(self, values: dict[str, Any], rows: int) -> tuple[bool, int | None, str]:
        """(passed, failing rows, message) for table-level checks."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The check as it is written in a suite file (defaults left out)."""
        out: dict[str, Any] = {"type": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.default is not MISSING:
                default: Any = f.default
            elif f.default_factory is not MISSING:
                default = f.default_factory()
            else:
                default = MISSING
            if default is not MISSING and value == default:
                continue
            if isinstance(value, timedelta):
                value = _format_duration(value)
            out[f.metadata.get("yaml", f.name)] = value
        return out

    @classmethod
    def yaml_fields(cls) -> dict[str, str]:
        """Names used in suite files -> field names."""
        return {f.metadata.get("yaml", f.name): f.name for f in fields(cls)}


def _check_argument_types(check: Check) -> None:
    """Refuse arguments of the wrong type (a suite from a file or a request may hold anything) before
    they reach SQL or a comparison, naming the argument and the type it takes."""
    hints = get_type_hints(type(check))
    for f in fields(check):
        value = getattr(check, f.name)
        if not _matches(value, hints.get(f.name, Any)):
            name = f.metadata.get("yaml", f.name)
            raise ValidationError(
                f"{check.kind}: {name} must be {f.type}, not {value!r}"[:300],
                hint=f"see the {check.kind} check in the suite documentation (mlake.quality.suite)",
            )


def _matches(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is list:  # a tuple is a fine list in Python
        return isinstance(value, list | tuple) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    if hint is float:  # numbers.Real and Integral take numpy's scalars too
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _format_duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# --- row-level checks --------------------------------------------------------------------------------


@dataclass
class NotNull(Check):
    """The column has a value (and, with ``allow_empty=False``, not an empty string)."""

    kind: ClassVar[str] = "not_null"
    row_level: ClassVar[bool] = True
    column: str
    allow_empty: bool = True

    def violation(self, lake: Lake) -> str:
        x = q(self.column)
        return f"{x} IS NULL" if self.allow_empty else f"({x} IS NULL OR {x}::VARCHAR = '')"


@dataclass
class InSet(Check):
    """Values come from a set (categorical range); nulls pass (use not_null for them).

    A null among the values changes nothing (nulls pass anyway): it is left out of the SQL, where
    ``x NOT IN (..., NULL)`` would be NULL — never true — for every row, and so fail none.
    """

    kind: ClassVar[str] = "in_set"
    row_level: ClassVar[bool] = True
    column: str
    values: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.values:
            raise ValidationError(f"{self.label}: in_set needs a non-empty list of values")

    def violation(self, lake: Lake) -> str:
        x = q(self.column)
        allowed = [literal(v) for v in self.values if v is not None]
        if not allowed:  # only null is allowed
            return f"({x} IS NOT NULL)"
        return f"({x} IS NOT NULL AND {x} NOT IN ({', '.join(allowed)}))"


@dataclass
class InRange(Check):
    """``min <= value <= max`` (either bound may be left out; ``strict`` excludes the bounds).

    Nulls pass (use not_null for them); NaN fails, whichever bounds are given: it is not a number, so
    it lies in no range (DuckDB orders NaN above every number, which alone would pass ``min`` and fail
    ``max``). Infinities are ordered like numbers. See "NaN and infinities" in docs/quality.md.
    """

    kind: ClassVar[str] = "in_range"
    row_level: ClassVar[bool] = True
    column: str
    min: Any = None
    max: Any = None
    strict: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min is None and self.max is None:
            raise ValidationError(f"{self.label}: in_range needs min, max or both")

    def violation(self, lake: Lake) -> str:
        x = q(self.column)
        ok = []
        lo, hi = (">", "<") if self.strict else (">=", "<=")
        if self.min is not None:
            ok.append(f"{x} {lo} {literal(self.min)}")
        if self.max is not None:
            ok.append(f"{x} {hi} {literal(self.max)}")
        if _may_be_nan(self.min) and _may_be_nan(self.max):
            ok.append(f"NOT isnan(TRY_CAST({x} AS DOUBLE))")
        return f"({x} IS NOT NULL AND NOT ({' AND '.join(ok)}))"


def _may_be_nan(bound: Any) -> bool:
    """Whether a column compared with ``bound`` may hold NaN (a number bound; dates and text never do)."""
    return bound is None or (isinstance(bound, numbers.Real) and not isinstance(bound, bool))


@dataclass
class Regex(Check):
    """Values (as text) fully match a regular expression (RE2 syntax)."""

    kind: ClassVar[str] = "regex"
    row_level: ClassVar[bool] = True
    column: str
    pattern: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pattern:
            raise ValidationError(f"{self.label}: regex needs a pattern")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValidationError(
                f"{self.label}: the pattern {self.pattern!r} is not a regular expression: {exc}"
            ) from exc

    def violation(self, lake: Lake) -> str:
        x = q(self.column)
        return f"({x} IS NOT NULL AND NOT regexp_full_match({x}::VARCHAR, {quote_literal(self.pattern)}))"


@dataclass
class TypeCheck(Check):
    """Values can be read as a type (e.g. a text column that should hold integers or dates):
    ``{type: type, column: zip, as: integer}``."""

    kind: ClassVar[str] = "type"
    row_level: ClassVar[bool] = True
    column: str
    cast_to: str = field(default="", metadata={"yaml": "as"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.cast_to:
            raise ValidationError(f"{self.label}: type needs `as`, a type name such as integer, double or date")

    def violation(self, lake: Lake) -> str:
        x = q(self.column)
        return f"({x} IS NOT NULL AND TRY_CAST({x} AS {duckdb_type_name(self.cast_to)}) IS NULL)"


@dataclass
class References(Check):
    """Referential integrity: every non-null value exists in another table's key column(s)."""

    kind: ClassVar[str] = "references"
    row_level: ClassVar[bool] = True
    column: str | list[str]
    table: str = ""
    key: str | list[str] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.table:
            raise ValidationError(f"{self.label}: references needs the referenced table")
        TableName.parse(self.table)
        if len(self.key_columns) != len(self.columns):
            raise ValidationError(
                f"{self.label}: key has {len(self.key_columns)} column(s), column {len(self.columns)}"
            )

    @property
    def key_columns(self) -> list[str]:
        if self.key is None:
            return self.columns
        return [self.key] if isinstance(self.key, str) else list(self.key)

    def violation(self, lake: Lake, broadcast: Callable[[str], str] | None = None) -> str:
        """``broadcast`` (a partitioned engine's): given SQL reading the referenced keys through the lake's
        engine, the name under which its rows reach every partition's task."""
        name = TableName.parse(self.table)
        if not lake.table_exists(name):
            raise ValidationError(f"{self.label}: the referenced table {name} does not exist")
        view = lake.engine.view_for(name)
        ref_cols = lake.table(name).columns
        missing = [k for k in self.key_columns if k not in ref_cols]
        if missing:
            raise ValidationError(f"{self.label}: {name} has no column(s) {', '.join(missing)}")
        mine = ", ".join(q(c) for c in self.columns)
        theirs = ", ".join(q(c) for c in self.key_columns)
        present = " AND ".join(f"{q(c)} IS NOT NULL" for c in self.columns)
        key_present = " AND ".join(f"{q(c)} IS NOT NULL" for c in self.key_columns)
        if broadcast is not None:
            keys = broadcast(f"SELECT DISTINCT ({theirs}) AS __key FROM {view} WHERE {key_present}")
            return f"({present} AND ({mine}) NOT IN (SELECT __key FROM {keys}))"
        return f"({present} AND ({mine}) NOT IN (SELECT ({theirs}) FROM {view} WHERE {key_present}))"


# --- table-level checks -------------------------------------------------------------------------------


@dataclass
class Unique(Check):
    """No two rows share a value of the column(s); rows with a null in them are not compared."""

    kind: ClassVar[str] = "unique"
    column: str | list[str]

    def _keyed(self) -> str:
        """SQL true for the rows whose keys are compared: those matching ``where`` with no null in the key."""
        present = " AND ".join(f"{q(c)} IS NOT NULL" for c in self.columns)
        return f"({self.where}) AND {present}" if self.where else present

    def aggregates(self, lake: Lake) -> dict[str, str]:
        return {"keyed": f"count_if({self._keyed()})"}

    def distinct_counts(self, lake: Lake) -> dict[str, tuple[str, str]]:
        cols = ", ".join(q(c) for c in self.columns)
        return {"distinct": (f"({cols},)", self._keyed())}

    def metric(self, values: dict[str, Any], rows: int) -> tuple[str, Any]:
        return "duplicate_rows", int(values["keyed"] or 0) - int(values["distinct"] or 0)

    def verdict(self, values: dict[str, Any], rows: int) -> tuple[bool, int | None, str]:
        keyed = int(values["keyed"] or 0)
        dups = keyed - int(values["distinct"] or 0)
        ok = _share_ok(keyed, dups, self.threshold)
        return ok, dups, f"{dups:,} row(s) repeat a key already seen" if dups else "all keys distinct"

    def sample_sql(self, from_clause: str, limit: int) -> str:
        cols = ", ".join(q(c) for c in self.columns)
        where = self._keyed()
        return (
            f"WITH __dups AS (SELECT {cols} FROM {from_clause} WHERE {where} GROUP BY ALL HAVING count(*) > 1 "
            f"LIMIT {int(limit)}) SELECT __src.* FROM {from_clause} SEMI JOIN __dups USING ({cols}) "
            f"ORDER BY {cols} LIMIT {int(limit)}"
        )


@dataclass
class RowCount(Check):
    """The number of rows (matching ``where``) lies within bounds."""

    kind: ClassVar[str] = "row_count"
    min: int | None = None
    max: int | None = None

    def aggregates(self, lake: Lake) -> dict[str, str]:
        return {"rows": f"count_if({self.where})" if self.where else "count(*)"}

    def metric(self, values: dict[str, Any], rows: int) -> tuple[str, Any]:
        return "rows", int(values["rows"] or 0)

    def verdict(self, values: dict[str, Any], rows: int) -> tuple[bool, int | None, str]:
        n = int(values["rows"] or 0)
        ok = (self.min is None or n >= self.min) and (self.max is None or n <= self.max)
        bounds = f"[{self.min if self.min is not None else '-∞'}, {self.max if self.max is not None else '∞'}]"
        return ok, None, f"{n:,} row(s), expected {bounds}"


@dataclass
class Freshness(Check):
    """The newest value of a time column is at most ``max_age`` old (e.g. ``2d``)."""

    kind: ClassVar[str] = "freshness"
    column: str
    max_age: str | int | float | timedelta = "1d"

    def aggregates(self, lake: Lake) -> dict[str, str]:
        f = f" FILTER (WHERE {self.where})" if self.where else ""
        return {"newest": f"max({q(self.column)}){f}"}

    def metric(self, values: dict[str, Any], rows: int) -> tuple[str, Any]:
        return "age_seconds", _age(values["newest"])

    def verdict(self, values: dict[str, Any], rows: int) -> tuple[bool, int | None, str]:
        age = _age(values["newest"])
        limit = parse_duration(self.max_age)
        if age is None:
            return False, None, "no values, so no newest time"
        ok = age <= limit.total_seconds()
        when = values["newest"]
        return ok, None, f"newest {when} is {human_duration(age)} old (max {human_duration(limit.total_seconds())})"


def human_duration(seconds: float) -> str:
    """A duration as people say it: ``45 seconds``, ``3 hours``, ``12 days``, ``3,989 days (about 10.9
    years)`` — not ``3989 days, 1:03:25``."""
    s = abs(seconds)
    for limit, size, unit in ((120, 1, "second"), (7200, 60, "minute"), (172_800, 3600, "hour")):
        if s < limit:
            n = round(s / size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    days = s / 86_400
    if days < 365:
        return f"{days:,.0f} days" if days >= 10 else f"{days:.1f} days".replace(".0 days", " days")
    return f"{days:,.0f} days (about {days / 365.25:.1f} years)"


def _age(newest: Any) -> float | None:
    if newest is None:
        return None
    if isinstance(newest, datetime):
        when = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
    elif isinstance(newest, date):
        when = datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
    else:
        raise ValidationError(f"freshness needs a date or timestamp column, got a value {newest!r}")
    return (datetime.now(UTC) - when).total_seconds()


DISTRIBUTION_METRICS = ("mean", "std", "min", "max", "sum", "median", "quantile", "null_rate", "distinct")


@dataclass
class Distribution(Check):
    """A statistic of a column (mean, std, min, max, sum, median, quantile ``q``, null_rate, distinct)
    lies within ``[min, max]``.

    The statistics of values are taken over finite values, as the profile's are: NaN and infinities are
    left out (a NaN would make a mean NaN, and NaN passes or fails no bound), and counted by the profile.
    """

    kind: ClassVar[str] = "distribution"
    column: str
    metric_name: str = field(default="mean", metadata={"yaml": "metric"})
    q: float | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.metric_name not in DISTRIBUTION_METRICS:
            raise ValidationError(
                f"{self.label}: unknown distribution metric {self.metric_name!r}",
                hint=f"use one of {', '.join(DISTRIBUTION_METRICS)}",
            )
        if self.metric_name == "quantile" and (self.q is None or not 0 <= self.q <= 1):
            raise ValidationError(f"{self.label}: quantile needs q between 0 and 1")
        if self.min is None and self.max is None:
            raise ValidationError(f"{self.label}: distribution needs min, max or both")

    def aggregates(self, lake: Lake) -> dict[str, str]:
        if self.metric_name == "distinct":
            return {}  # a distinct count of its own: see distinct_counts
        x = q(self.column)
        v = f"CASE WHEN isfinite({x}::DOUBLE) THEN {x}::DOUBLE END"
        f = f" FILTER (WHERE {self.where})" if self.where else ""
        expr = {
            "mean": f"avg({v})",
            "std": f"stddev_samp({v})",
            "min": f"min({v})",
            "max": f"max({v})",
            "sum": f"sum({v})",
            "median": f"approx_quantile({v}, 0.5)",
            "quantile": f"approx_quantile({v}, {self.q!r})",
            "null_rate": f"avg(({x} IS NULL)::INTEGER)",
        }[self.metric_name]
        return {"value": expr + f}

    def distinct_counts(self, lake: Lake) -> dict[str, tuple[str, str]]:
        if self.metric_name != "distinct":
            return {}
        return {"value": (q(self.column), f"({self.where})" if self.where else "TRUE")}

    def metric(self, values: dict[str, Any], rows: int) -> tuple[str, Any]:
        name = f"quantile({self.q})" if self.metric_name == "quantile" else self.metric_name
        value = values["value"]
        return name, None if value is None else float(value)

    def verdict(self, values: dict[str, Any], rows: int) -> tuple[bool, int | None, str]:
        name, value = self.metric(values, rows)
        if value is None:
            return False, None, f"{name} of {self.column} is undefined (no values)"
        ok = (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        bounds = f"[{self.min if self.min is not None else '-∞'}, {self.max if self.max is not None else '∞'}]"
        return ok, None, f"{name} of {self.column} is {value:.6g}, expected {bounds}"


@dataclass
class SchemaContract(Check):
    """The source has these columns with these types; ``allow_extra`` permits other columns."""

    kind: ClassVar[str] = "schema"
    columns_expected: dict[str, str] = field(default_factory=dict, metadata={"yaml": "columns"})
    allow_extra: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.columns_expected:
            raise ValidationError(f"{self.label}: schema needs the expected columns as a mapping name: type")

    def evaluate(self, source: Source) -> tuple[bool, list[str]]:
        actual = {c.lower(): t for c, t in source.columns}
        problems = []
        for col, want in self.columns_expected.items():
            have = actual.get(col.lower())
            if have is None:
                problems.append(f"missing column {col} ({want})")
            elif duckdb_type_name(want) != have.upper() and not _same_family(duckdb_type_name(want), have):
                problems.append(f"{col} is {have}, expected {duckdb_type_name(want)}")
        if not self.allow_extra:
            extra = sorted(set(actual) - {c.lower() for c in self.columns_expected})
            problems += [f"unexpected column {c}" for c in extra]
        return not problems, problems


def _same_family(want: str, have: str) -> bool:
    """``DECIMAL`` matches any decimal, ``TIMESTAMP`` matches ``TIMESTAMP_US``-style spellings."""
    return want.split("(")[0] == have.upper().split("(")[0] and "(" not in want


@dataclass
class CustomSql(Check):
    """A query returning the violating rows; ``{table}`` in it stands for the checked source."""

    kind: ClassVar[str] = "sql"
    query: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.query.strip():
            raise ValidationError(f"{self.label}: sql needs a query that returns the violating rows")

    def bound_query(self, source: Source) -> str:
        text = self.query.strip().rstrip(";")
        if "{table}" in text:
            text = text.replace("{table}", f"({source.sql})")
        bound, _ = source.lake.engine.bind(text)
        return bound


CHECK_TYPES: dict[str, type[Check]] = {
    c.kind: c
    for c in (
        NotNull,
        Unique,
        InSet,
        InRange,
        Regex,
        TypeCheck,
        RowCount,
        Freshness,
        References,
        SchemaContract,
        Distribution,
        CustomSql,
    )
}


def _share_ok(checked: int, failing: int, threshold: float) -> bool:
    if checked == 0:
        return True
    return (checked - failing) / checked >= threshold - 1e-12
