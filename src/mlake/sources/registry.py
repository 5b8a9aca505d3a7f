"""The source registry: where data came from, under which license and terms, and what it may be used for.

A **source** is registered once (``lake.sources.register("acme-prices", kind="purchased", provider="Acme",
license="proprietary", allowed_uses=["model_training"], expires="2027-12-31")``) and attached to the
tables data enters the lake by — by ``lake.ingest(path, into=..., source="acme-prices")`` or
:meth:`SourceRegistry.attach`. A table derived from others (SQL ``CREATE TABLE AS``, feature groups,
training sets) inherits their sources through the lineage every write records, so
:meth:`SourceRegistry.provenance` of any table — or ``ts.provenance()`` of a training set — lists
every source and license it derives from, however many steps away.

**Uses.** ``allowed_uses`` lists what a source's terms permit (the words are free; mlake suggests
``commercial``, ``redistribution``, ``model_training``, ``research``); ``None`` records no restriction.
:meth:`SourceRegistry.require_use` refuses data derived from a source that does not allow the use, or
whose terms have expired, with :class:`~mlake.errors.UseForbiddenError` — unless an ``override`` reason is
given, which is written to the audit log (for the owner too) with the sources it overrode.

The registry lives in the control-plane database (:mod:`mlake.sources.metastore`). Registering,
changing and removing sources is an administrator's (a superuser's); attaching a source needs
``insert`` on the table; reading provenance needs ``select`` on the table asked about. The walk runs
over the lake's full lineage (a principal's own lineage view hides tables it cannot read, and a
license must not be escaped by not being able to read upstream), but a principal is shown the names of
upstream tables it may not read as ``(a table you may not read)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from mlake.errors import AlreadyExistsError, NotFoundError, UseForbiddenError, ValidationError
from mlake.sources.metastore import sources_table, table_sources_table
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.core import LakeHandle

SourceKind = Literal["public", "purchased", "internal", "generated"]
KINDS: tuple[str, ...] = ("public", "purchased", "internal", "generated")
HIDDEN_TABLE = "(a table you may not read)"


@dataclass
class Source:
    """One registered source of data and its terms."""

    name: str
    kind: str
    provider: str | None = None
    license: str | None = None
    terms_url: str | None = None
    allowed_uses: list[str] | None = None  # None: no restriction recorded
    contact: str | None = None
    acquired: date | None = None
    expires: date | None = None
    personal_data: bool = False
    description: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None

    def allows(self, use: str, today: date | None = None) -> bool:
        return self.refusal(use, today) is None

    def refusal(self, use: str, today: date | None = None) -> str | None:
        """Why this source's terms refuse ``use`` (None: they allow it)."""
        today = today or datetime.now(UTC).date()
        if self.expires is not None and self.expires < today:
            return f"its terms expired on {self.expires.isoformat()}"
        if self.allowed_uses is not None and use not in self.allowed_uses:
            allowed = ", ".join(self.allowed_uses) or "nothing"
            return f"its license ({self.license or 'unnamed'}) allows {allowed}, not {use}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "provider": self.provider,
            "license": self.license,
            "terms_url": self.terms_url,
            "allowed_uses": self.allowed_uses,
            "contact": self.contact,
            "acquired": self.acquired.isoformat() if self.acquired else None,
            "expires": self.expires.isoformat() if self.expires else None,
            "personal_data": self.personal_data,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        """The source back from :meth:`to_dict` (a remote client rebuilds the server's answer)."""
        created = data.get("created_at")
        return cls(
            name=data["name"],
            kind=data["kind"],
            provider=data.get("provider"),
            license=data.get("license"),
            terms_url=data.get("terms_url"),
            contact=data.get("contact"),
            description=data.get("description"),
            allowed_uses=data.get("allowed_uses"),
            acquired=_date(data.get("acquired"), "acquired"),
            expires=_date(data.get("expires"), "expires"),
            personal_data=bool(data.get("personal_data")),
            created_by=data.get("created_by"),
            created_at=datetime.fromisoformat(created) if created else None,
        )


@dataclass
class SourceUse:
    """A source that data derives from, and the tables it entered through."""

    source: Source
    tables: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source.to_dict(), "tables": self.tables}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceUse:
        return cls(Source.from_dict(data["source"]), list(data["tables"]))


@dataclass
class Provenance:
    """Every source (and so every license) that some tables derive from."""

    tables: list[str]
    sources: list[SourceUse] = field(default_factory=list)

    @property
    def licenses(self) -> list[str]:
        return sorted({u.source.license for u in self.sources if u.source.license})

    @property
    def personal_data(self) -> bool:
        return any(u.source.personal_data for u in self.sources)

    def refusals(self, use: str) -> list[tuple[SourceUse, str]]:
        """The sources whose terms refuse ``use``, each with the reason."""
        out = []
        for u in self.sources:
            reason = u.source.refusal(use)
            if reason is not None:
                out.append((u, reason))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "sources": [u.to_dict() for u in self.sources],
            "licenses": self.licenses,
            "personal_data": self.personal_data,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        """The provenance back from :meth:`to_dict` (licenses and personal_data are derived again)."""
        return cls(list(data["tables"]), [SourceUse.from_dict(u) for u in data["sources"]])

    def __repr__(self) -> str:
        names = ", ".join(f"{u.source.name} ({u.source.license or 'no license'})" for u in self.sources)
        return f"<mlake Provenance of {', '.join(self.tables)}: {names or 'no sources recorded'}>"


def _date(value: date | str | None, what: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"Cannot read {what} {value!r} as a date", hint="use ISO 8601, e.g. 2027-12-31") from exc


def _from_row(row: Any) -> Source:
    created = row.created_at
    return Source(
        name=row.name,
        kind=row.kind,
        provider=row.provider,
        license=row.license,
        terms_url=row.terms_url,
        allowed_uses=json.loads(row.allowed_uses) if row.allowed_uses is not None else None,
        contact=row.contact,
        acquired=row.acquired,
        expires=row.expires,
        personal_data=bool(row.personal_data),
        description=row.description,
        created_by=row.created_by,
        created_at=created if created is None or created.tzinfo else created.replace(tzinfo=UTC),
    )


class SourceRegistry:
    """``lake.sources``: register sources, attach them to tables, list a table's provenance."""

    def __init__(self, lake: LakeHandle) -> None:
        self._lake = lake
        self._db = lake._core.metadata_engine

    # --- the registry -------------------------------------------------------------------------------

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
        """Register a source (``replace=True`` updates one registered before)."""
        self._lake.access.require_superuser("register data sources")
        if not name or len(name) > 128 or any(ch.isspace() for ch in name):
            raise ValidationError(f"Cannot use {name!r} as a source name", hint="a short name without spaces")
        if kind not in KINDS:
            raise ValidationError(f"Unknown source kind {kind!r}", hint=f"one of {', '.join(KINDS)}")
        source = Source(
            name,
            kind,
            provider,
            license,
            terms_url,
            list(allowed_uses) if allowed_uses is not None else None,
            contact,
            _date(acquired, "acquired"),
            _date(expires, "expires"),
            personal_data,
            description,
            self._lake.principal.name,
            datetime.now(UTC),
        )
        values = source.to_dict() | {
            "allowed_uses": json.dumps(source.allowed_uses) if source.allowed_uses is not None else None,
            "acquired": source.acquired,
            "expires": source.expires,
            "created_at": source.created_at,
        }
        with self._lake.audited("source.register", [], name), self._db.begin() as conn:
            exists = conn.execute(sa.select(sources_table.c.name).where(sources_table.c.name == name)).first()
            if exists and not replace:
                raise AlreadyExistsError(
                    f"Source {name!r} is already registered", hint="pass replace=True to update it"
                )
            if exists:
                conn.execute(sources_table.update().where(sources_table.c.name == name).values(**values))
            else:
                conn.execute(sources_table.insert().values(**values))
        return source

    def get(self, name: str) -> Source:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(sources_table).where(sources_table.c.name == name)).first()
        if row is None:
            known = ", ".join(s.name for s in self.list()) or "none yet"
            raise NotFoundError(f"Source {name!r} is not registered", hint=f"registered sources: {known}")
        return _from_row(row)

    def list(self) -> list[Source]:
        with self._db.connect() as conn:
            return [_from_row(r) for r in conn.execute(sa.select(sources_table).order_by(sources_table.c.name))]

    def remove(self, name: str) -> None:
        """Forget a source; refused while a table is still attached to it."""
        self._lake.access.require_superuser("remove data sources")
        self.get(name)
        with self._lake.audited("source.remove", [], name), self._db.begin() as conn:
            used = conn.execute(
                sa.select(table_sources_table.c.table_name).where(table_sources_table.c.source_name == name)
            ).first()
            if used is not None:
                raise ValidationError(
                    f"Source {name!r} is attached to table {used.table_name}",
                    hint=f"detach it first: lake.sources.detach({used.table_name!r}, {name!r})",
                )
            conn.execute(sources_table.delete().where(sources_table.c.name == name))

    # --- tables -------------------------------------------------------------------------------------

    def attach(self, table: str | TableName, source: str) -> None:
        """Record that ``table``'s rows (some of them) come from ``source``; needs ``insert`` on it."""
        name = TableName.parse(table)
        self._lake.access.require_visible(name)
        self._lake.access.require("insert", name)
        self.get(source)
        with self._lake.audited("source.attach", [str(name)], source), self._db.begin() as conn:
            key = (table_sources_table.c.table_name == str(name)) & (table_sources_table.c.source_name == source)
            if conn.execute(sa.select(table_sources_table).where(key)).first() is None:
                conn.execute(
                    table_sources_table.insert().values(
                        table_name=str(name),
                        source_name=source,
                        attached_by=self._lake.principal.name,
                        attached_at=datetime.now(UTC),
                    )
                )

    def detach(self, table: str | TableName, source: str) -> None:
        name = TableName.parse(table)
        self._lake.access.require_visible(name)
        self._lake.access.require("alter", name)
        with self._lake.audited("source.detach", [str(name)], source), self._db.begin() as conn:
            conn.execute(
                table_sources_table.delete().where(
                    (table_sources_table.c.table_name == str(name)) & (table_sources_table.c.source_name == source)
                )
            )

    def provenance(self, tables: str | TableName | Iterable[str | TableName]) -> Provenance:
        """Every source that ``tables`` derive from — attached to them or to any table upstream of them in
        lineage — with the tables each entered through."""
        names = (
            [TableName.parse(tables)] if isinstance(tables, str | TableName) else [TableName.parse(t) for t in tables]
        )
        for name in names:
            self._lake.access.require_visible(name)
            self._lake.access.require("select", name)
        reached: set[str] = set()
        for name in names:
            reached.add(str(name))
            graph = self._lake._core.lineage_store.graph(str(name), 50)
            reached |= graph.upstream_tables()
        with self._db.connect() as conn:
            rows = list(
                conn.execute(sa.select(table_sources_table).where(table_sources_table.c.table_name.in_(reached)))
            )
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row.source_name, []).append(self._shown(row.table_name))
        uses = [SourceUse(self.get(s), sorted(set(t))) for s, t in sorted(by_source.items())]
        return Provenance([str(n) for n in names], uses)

    def _shown(self, table: str) -> str:
        if self._lake.access.superuser:
            return table
        try:
            return table if self._lake.access.can("select", TableName.parse(table)) else HIDDEN_TABLE
        except Exception:
            return HIDDEN_TABLE

    def require_use(
        self,
        tables: str | TableName | Iterable[str | TableName],
        use: str,
        *,
        override: str | None = None,
        what: str = "this data",
    ) -> Provenance:
        """Refuse (:class:`UseForbiddenError`) ``use`` of data derived from ``tables`` when a source's terms
        forbid it — unless ``override`` gives a reason, which is recorded in the audit log."""
        provenance = self.provenance(tables)
        refusals = provenance.refusals(use)
        if not refusals:
            return provenance
        reasons = "; ".join(f"source {u.source.name!r}: {why}" for u, why in refusals)
        if override is None or not override.strip():
            raise UseForbiddenError(
                f"{what} may not be used for {use}: {reasons}",
                hint="use data from other sources, or override with a recorded reason (override='why this use is "
                "allowed', e.g. a separate agreement)",
            )
        self._lake._system().governance_service.audit.record(
            principal=self._lake.principal.name,
            action="source.use_override",
            tables=provenance.tables,
            detail=json.dumps({"use": use, "reason": override, "sources": [u.source.name for u, _ in refusals]}),
            outcome="ok",
            message=f"{what} used for {use} despite: {reasons}",
            client=self._lake.access.client,
        )
        return provenance
