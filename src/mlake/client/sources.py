"""``remote.sources``: the source registry of :mod:`mlake.sources` against an mlake server.

The same calls and return types as :class:`~mlake.sources.registry.SourceRegistry` (sources and
provenance travel as their ``to_dict()`` and are rebuilt with ``from_dict()``); the server applies the
registry's rules to the caller (see :mod:`mlake.server.api.sources`).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import quote

from mlake.sources.registry import Provenance, Source
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


def _tables(tables: str | TableName | Iterable[str | TableName]) -> builtins.list[str]:
    return [str(tables)] if isinstance(tables, str | TableName) else [str(t) for t in tables]


class RemoteSourceRegistry:
    """``remote.sources``: register sources, attach them to tables, list a table's provenance."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _path(self, name: str) -> str:
        return f"/sources/{quote(name, safe='')}"

    def register(
        self,
        name: str,
        *,
        kind: str,
        provider: str | None = None,
        license: str | None = None,
        terms_url: str | None = None,
        allowed_uses: Sequence[str] | None = None,
        contact: str | None = None,
        acquired: date | str | None = None,
        expires: date | str | None = None,
        personal_data: bool = False,
        description: str | None = None,
        replace: bool = False,
    ) -> Source:
        """Register a source (``replace=True`` updates one registered before); a superuser's."""
        body = {
            "name": name,
            "kind": kind,
            "provider": provider,
            "license": license,
            "terms_url": terms_url,
            "allowed_uses": list(allowed_uses) if allowed_uses is not None else None,
            "contact": contact,
            "acquired": acquired.isoformat() if isinstance(acquired, date) else acquired,
            "expires": expires.isoformat() if isinstance(expires, date) else expires,
            "personal_data": personal_data,
            "description": description,
            "replace": replace,
        }
        return Source.from_dict(self._lake._json("POST", "/sources", json=body))

    def get(self, name: str) -> Source:
        return Source.from_dict(self._lake._json("GET", self._path(name)))

    def list(self) -> builtins.list[Source]:
        return [Source.from_dict(s) for s in self._lake._json("GET", "/sources")]

    def remove(self, name: str) -> None:
        """Forget a source; refused while a table is still attached to it."""
        self._lake._json("DELETE", self._path(name))

    def attach(self, table: str | TableName, source: str) -> None:
        """Record that ``table``'s rows (some of them) come from ``source``; needs ``insert`` on it."""
        self._lake._json("POST", f"{self._path(source)}/attach", json={"table": str(table)})

    def detach(self, table: str | TableName, source: str) -> None:
        self._lake._json("POST", f"{self._path(source)}/detach", json={"table": str(table)})

    def provenance(self, tables: str | TableName | Iterable[str | TableName]) -> Provenance:
        """Every source that ``tables`` derive from, through their lineage (computed on the server)."""
        return Provenance.from_dict(self._lake._json("POST", "/sources/provenance", json={"tables": _tables(tables)}))

    def require_use(
        self,
        tables: str | TableName | Iterable[str | TableName],
        use: str,
        *,
        override: str | None = None,
        what: str = "this data",
    ) -> Provenance:
        """Refused (:class:`~mlake.errors.UseForbiddenError`) when a source's terms forbid ``use`` — unless
        ``override`` gives a reason, which the server records in the audit log."""
        body = {"tables": _tables(tables), "use": use, "override": override, "what": what}
        return Provenance.from_dict(self._lake._json("POST", "/sources/require-use", json=body))
