"""Catalog search: which tables the actor may see match a few words (name, description, tags, columns).

It lives in the core so that the CLI, REST and Studio search the same way, and a principal finds only
what :meth:`mlake.lake.Lake.list_tables` shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlake.errors import MlakeError
from mlake.tables.models import TableSummary

if TYPE_CHECKING:
    from mlake.core import LakeHandle as Lake


def search_tables(
    lake: Lake, query: str | None = None, namespace: str | None = None, *, include_quarantine: bool = True
) -> list[TableSummary]:
    """Summaries of the visible tables matching every word of ``query`` (all of them without one)."""
    words = [w for w in (query or "").lower().split() if w]
    out = []
    for name in lake.list_tables(namespace, include_quarantine=include_quarantine):
        try:
            info = lake.table(name).describe()
        except MlakeError:
            continue  # dropped meanwhile, or only insert/alter granted: not listed as readable
        haystack = " ".join(
            [
                info.name,
                info.description or "",
                info.owner or "",
                " ".join(f"{k}={v}" for k, v in info.tags.items()),
                " ".join(c.name + " " + (c.doc or "") for c in info.columns),
            ]
        ).lower()
        if all(w in haystack for w in words):
            out.append(
                TableSummary(
                    name=info.name,
                    namespace=name.namespace,
                    table=name.name,
                    description=info.description,
                    owner=info.owner,
                    tags=info.tags,
                    rows=info.rows,
                    size_bytes=info.size_bytes,
                    last_updated=info.last_updated,
                    columns=info.column_names,
                    quarantine=name.is_quarantine,
                )
            )
    return out
