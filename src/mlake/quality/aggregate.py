"""Fusing many aggregates into one SELECT, so that one scan computes them all.

Profiles and check suites both describe what they need as keyed aggregate expressions; an
:class:`AggregatePlan` puts them into one ``SELECT expr AS a0, expr AS a1, ... FROM source`` and hands
back the values by key. DuckDB evaluates every aggregate in one pass over the data, so the cost of a
profile grows with the number of rows times the number of expressions — linearly in the column count —
and not with the number of queries.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from mlake.quality.source import Source


class AggregatePlan:
    """Keyed aggregate expressions over one source, run as one query."""

    def __init__(self, prefix: str = "a") -> None:
        self.prefix = prefix
        self._keys: list[Hashable] = []
        self._exprs: list[str] = []
        self._index: dict[Hashable, int] = {}
        self._derived: dict[str, str] = {}

    def add(self, key: Hashable, expr: str) -> None:
        if key in self._index:
            raise KeyError(f"aggregate {key!r} added twice")
        self._index[key] = len(self._exprs)
        self._keys.append(key)
        self._exprs.append(expr)

    def derive(self, alias: str, expr: str) -> str:
        """A per-row value computed once and used by several aggregates (``length(x)`` for min, max, mean)."""
        self._derived.setdefault(alias, expr)
        return alias

    def __len__(self) -> int:
        return len(self._exprs)

    def sql(self, from_clause: str) -> str:
        cols = ",\n  ".join(f"{e} AS {self.prefix}{i}" for i, e in enumerate(self._exprs))
        if self._derived:
            derived = ", ".join(f"{e} AS {a}" for a, e in self._derived.items())
            from_clause = f"(SELECT *, {derived} FROM {from_clause}) AS __src"
        return f"SELECT\n  {cols}\nFROM {from_clause}"

    @property
    def keys(self) -> list[Hashable]:
        return list(self._keys)

    def run(self, source: Source) -> dict[Hashable, Any]:
        """Run the plan (one scan of ``source``); an empty plan reads nothing."""
        if not self._exprs:
            return {}
        if source.partitions is not None:
            from mlake.quality.partitioned import aggregate, check_statement

            check_statement(source, self.sql(source.from_clause()))
            return aggregate(source, self._keys, self._exprs, self._derived)
        rows = source.fetch(self.sql(source.from_clause()))
        values = rows[0] if rows else (None,) * len(self._exprs)
        return dict(zip(self._keys, values, strict=True))


def run_together(
    source: Source,
    plans: list[tuple[AggregatePlan, str]],
    with_clause: str = "",
    fetch: Callable[[str], list[tuple[Any, ...]]] | None = None,
) -> dict[Hashable, Any]:
    """Run several plans, each over its own FROM clause, as one statement (one result row).

    DuckDB executes the parts in one query, so, for example, the main aggregates and those over a
    sample of the same source are computed together. ``fetch`` runs the statement instead of the source
    (a partitioned engine's sample, gathered in the driver).
    """
    parts = [(p, f) for p, f in plans if len(p)]
    if not parts:
        return {}
    if len({p.prefix for p, _ in parts}) != len(parts):
        raise ValueError("plans run together need distinct prefixes")
    selects = ", ".join(f"({p.sql(f)}) AS __{p.prefix}" for p, f in parts)
    sql = f"{with_clause} SELECT * FROM {selects}"
    rows = (fetch or source.fetch)(sql)
    keys = [k for p, _ in parts for k in p.keys]
    values = rows[0] if rows else (None,) * len(keys)
    return dict(zip(keys, values, strict=True))


def count_groups(
    source: Source,
    groups: dict[Hashable, tuple[str, str]],
    tops: dict[Hashable, str] | None = None,
    top_k: int = 10,
) -> dict[Hashable, Any]:
    """The number of distinct values of several expressions (``key -> (expression, filter)``), as one
    statement of grouped counts: ``SELECT count(*) FROM (SELECT expr FROM src WHERE filter GROUP BY ALL)``
    for each, joined by UNION ALL.

    ``tops`` (``key -> text expression``) adds, in the same statement, the exact ``top_k`` most frequent
    non-null values of each expression and its exact distinct count: ``key -> (distinct, [(value, count)])``
    (most frequent first, ties by value)."""
    keys, top_keys = list(groups), list(tops or {})
    if source.partitions is not None:
        from mlake.quality.partitioned import check_statement, distinct_counts, top_values

        for expr, cond in groups.values():
            check_statement(source, f"SELECT {expr} FROM {source.from_clause()} WHERE {cond} GROUP BY ALL")
        merged: dict[Hashable, Any] = dict(distinct_counts(source, groups, nulls=True))
        merged.update(top_values(source, tops or {}, top_k))
        return merged
    parts = [
        f"SELECT {n} AS k, count(*) AS n, NULL::VARCHAR AS v, NULL::BIGINT AS c "
        f"FROM (SELECT {expr} FROM {source.from_clause()} WHERE {cond} GROUP BY ALL)"
        for n, (expr, cond) in enumerate(groups.values())
    ]
    for n, expr in enumerate((tops or {}).values(), start=len(keys)):
        counted = f"SELECT {expr} AS v, count(*) AS c FROM {source.from_clause()} WHERE {expr} IS NOT NULL GROUP BY 1"
        ranked = f"SELECT v, c, count(*) OVER () AS n, row_number() OVER (ORDER BY c DESC, v) AS r FROM ({counted})"
        parts.append(f"SELECT {n} AS k, n, v, c FROM ({ranked}) WHERE r <= {int(top_k)}")
    rows = source.fetch(" UNION ALL ".join(parts))
    found: dict[int, int] = {}
    ranked_values: dict[int, list[tuple[Any, int]]] = {}
    for k, n, v, c in rows:
        found[int(k)] = int(n)
        if c is not None:
            ranked_values.setdefault(int(k), []).append((v, int(c)))
    out: dict[Hashable, Any] = {key: found.get(n, 0) for n, key in enumerate(keys)}
    for n, key in enumerate(top_keys, start=len(keys)):
        values = sorted(ranked_values.get(n, []), key=lambda vc: (-vc[1], str(vc[0])))
        out[key] = (found.get(n, 0), values)
    return out


def count_distinct(source: Source, counts: dict[Hashable, tuple[str, str]]) -> dict[Hashable, int]:
    """``count(DISTINCT expression)`` over the rows where ``filter`` holds, for several
    ``key -> (expression, filter)``, as one statement: one ungrouped aggregate of a single DISTINCT count
    per key, joined by UNION ALL.

    Why not beside the other aggregates of a fused query: DuckDB 2.0 plans a DISTINCT aggregate (like
    ``histogram``, ``mode`` or ``entropy``) that shares its SELECT with other aggregates as a GROUP BY of its
    own over a materialized copy of the whole input — gigabytes at 10 million rows. Alone in its SELECT it
    is one hash table of the distinct values, and each key here reads only its own columns. The expression
    and the filter are those of ``count(DISTINCT expression) FILTER (WHERE filter)``, so the counts are the
    same."""
    if not counts:
        return {}
    if source.partitions is not None:
        from mlake.quality.partitioned import check_statement, distinct_counts

        for expr, cond in counts.values():
            check_statement(source, f"SELECT count(DISTINCT {expr}) FROM {source.from_clause()} WHERE {cond}")
        return distinct_counts(source, counts, nulls=False)
    parts = [
        f"SELECT {n} AS k, count(DISTINCT {expr}) AS n FROM {source.from_clause()} WHERE {cond}"
        for n, (expr, cond) in enumerate(counts.values())
    ]
    found = {int(k): int(n or 0) for k, n in source.fetch(" UNION ALL ".join(parts))}
    return {key: found.get(n, 0) for n, key in enumerate(counts)}
