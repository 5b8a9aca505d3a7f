"""A compiled recipe as partitioned stages, so a partitioned backend (Ray) runs the same SQL.

Steps are grouped into stages: row-local steps run on each partition as it is; a step that needs a
key's rows together (a window per key, a dedupe by key, a group-by) starts a stage partitioned by its
keys; a step that needs every row (a sort) runs, with all steps after it, on the merged rows. Fitted
statistics are computed once, beforehand, over all the data (:meth:`Recipe.fit`); each stage only
applies them.
"""

from __future__ import annotations

from mlake.engines.partitioned import Stage
from mlake.processing.recipe import Compiled, q

INPUT = "__input"


def table_placeholder(name: str) -> str:
    """How a stage's SQL names another table (a join's right side), broadcast to every task."""
    return "__table_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def stages(compiled: Compiled, columns: list[str] | None = None) -> list[Stage]:
    """The compiled chain cut into stages, each a query over ``__input``. ``columns``: the source's
    columns, in order, when the first stage reads data files (whose column order may differ)."""
    groups: list[tuple[tuple[str, ...] | None, bool, list[int]]] = []
    for i, step in enumerate(compiled.steps, 1):
        if step.scope == "global" or (groups and groups[-1][1]):
            if groups and groups[-1][1]:
                groups[-1][2].append(i)
            else:
                groups.append((None, True, [i]))
        elif step.scope == "key":
            groups.append((tuple(step.partition_keys()) or ("*",), False, [i]))
        elif groups:
            groups[-1][2].append(i)
        else:
            groups.append((None, False, [i]))
    out = []
    for n, (keys, is_global, idx) in enumerate(groups):
        prev = compiled.ctes[idx[0] - 1][0]
        select = ", ".join(q(c) for c in columns) if columns and n == 0 else "*"
        ctes = [(prev, f"SELECT {select} FROM {INPUT}")] + [compiled.ctes[i] for i in idx]
        body = ",\n".join(f"{n} AS ({s})" for n, s in ctes)
        out.append(Stage(f"WITH {body}\nSELECT * FROM {ctes[-1][0]}", keys, is_global))
    return out


__all__ = ["INPUT", "stages", "table_placeholder"]
