"""The ground every view of one lake stands on, and what the rest of mlake may ask of a lake.

:class:`LakeCore` holds what the owner's lake and every principal's view of it share: settings, the
Iceberg catalog, the control-plane database, the metadata cache. :class:`LakeHandle` is the lake as the
ground (tables, SQL, governance) and the areas see it — a protocol, so that none of them imports the
:class:`~mlake.lake.Lake` that composes them, not even for type hints.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.table import Table as IcebergTable

from mlake.backends import Backend, backend_for_url, backend_named
from mlake.errors import BrokenTableError, ConfigError, MlakeError, NotFoundError
from mlake.events import EventBus, Progress, SilentProgress
from mlake.metastore import migrate
from mlake.settings import Settings
from mlake.tables.lineage import LineageGraph, LineageStore
from mlake.tables.names import TableName
from mlake.tables.types import duckdb_type

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pyarrow as pa
    from pyiceberg.catalog import Catalog

    from mlake.governance.access import Access
    from mlake.governance.model import Principal, Privilege
    from mlake.governance.policy import TableFacts
    from mlake.governance.service import Governance
    from mlake.sql import SqlEngine
    from mlake.tables.table import Table

CATALOG_NAME = "mlake"


class LakeHandle(Protocol):
    """What tables, SQL, governance and the areas ask of a lake (see :class:`mlake.lake.Lake`)."""

    settings: Settings
    access: Access
    engine: SqlEngine
    _core: LakeCore

    @property
    def events(self) -> EventBus: ...
    @property
    def progress(self) -> Progress: ...
    @property
    def principal(self) -> Principal: ...
    @property
    def audit_table(self) -> TableName: ...
    @property
    def governance_service(self) -> Governance: ...
    def table(self, name: str | TableName) -> Table: ...
    def table_exists(self, name: str | TableName) -> bool: ...
    def list_tables(self, namespace: str | None = None, *, include_quarantine: bool = True) -> list[TableName]: ...
    def iceberg_table(self, name: str | TableName, location: str | None = None) -> IcebergTable: ...
    def catalog_for_write(self, name: str | TableName, privilege: Privilege) -> Catalog: ...
    def not_found(self, name: str | TableName) -> MlakeError: ...
    def privileges(self, name: str | TableName) -> list[str]: ...
    def lineage(self, name: str | TableName, max_depth: int = 10) -> LineageGraph: ...
    def audited(self, action: str, tables: Sequence[str], detail: str | None = None) -> AbstractContextManager[Any]: ...
    def as_principal(self, principal: Principal | str, client: str | None = None) -> LakeHandle: ...
    def create_table(
        self,
        name: str | TableName,
        data: Any = None,
        *,
        schema: pa.Schema | Any = None,
        partition_by: Sequence[str] = (),
        description: str | None = None,
        owner: str | None = None,
        tags: dict[str, str] | Sequence[str] | None = None,
        exist_ok: bool = False,
        properties: dict[str, str] | None = None,
    ) -> Table: ...
    def drop_table(self, name: str | TableName, *, purge: bool = True, missing_ok: bool = False) -> None: ...
    def _system(self) -> LakeHandle: ...
    def loader(self, source: Any, **options: Any) -> Any: ...
    @property
    def sources(self) -> Any: ...
    @property
    def storage(self) -> Any: ...


class LakeCore:
    """What every view of one lake shares: settings, the catalog, the metadata database, the owner's SQL
    engine, the event bus and the metadata cache.

    It is mlake's own plumbing — areas reach it as ``lake._core`` to keep their records — and never part of
    the API: a principal's lake refuses the public properties that would hand it out (``catalog``,
    ``metadata_engine``, ``lineage_store``).
    """

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress: Progress = progress or SilentProgress()
        self.events = EventBus()
        settings.home.mkdir(parents=True, exist_ok=True)
        local = settings.local_warehouse_path()
        if local is not None:
            local.mkdir(parents=True, exist_ok=True)
        self.catalog_url = settings.resolved_catalog_url()
        self.engine_backend = check_backends(settings)
        try:
            self.metadata_engine = sa.create_engine(self.catalog_url, pool_pre_ping=True)
            if self.metadata_engine.dialect.name == "sqlite":
                sa.event.listen(self.metadata_engine, "connect", _sqlite_wal)
            migrate(self.metadata_engine)
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(
                f"Cannot open the catalog database {settings.redacted()['catalog_url'] or self.catalog_url}: "
                f"{str(exc).splitlines()[0]}",
                hint="check MLAKE_CATALOG_URL and that the database server is running",
            ) from exc
        self.lineage_store = LineageStore(self.metadata_engine)
        # Loaded table metadata by name, with the metadata file it came from: metadata files are
        # immutable, so a cached table is valid exactly while the catalog still points at its file.
        self._loaded: dict[tuple[str, str], tuple[str, IcebergTable]] = {}
        self._owner: LakeHandle | None = None

    @cached_property
    def catalog(self) -> SqlCatalog:
        try:
            return SqlCatalog(
                CATALOG_NAME,
                uri=self.catalog_url,
                warehouse=self.settings.resolved_warehouse(),
                **self.settings.s3_options(),
            )
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"Cannot open the Iceberg catalog: {str(exc).splitlines()[0]}") from exc

    def bind(self, access: Access) -> LakeHandle:
        """The lake over this core as ``access`` acts on it (a principal's view of the owner's lake)."""
        return type(self.owner)(self, access=access)  # type: ignore[call-arg]

    @property
    def owner(self) -> LakeHandle:
        """The owner's lake over this core (for records mlake keeps on a principal's behalf)."""
        assert self._owner is not None
        return self._owner

    def metadata_location(self, name: TableName) -> str | None:
        """Where the catalog says the table's current metadata is (None: no such table); one small query."""
        ident = name.identifier
        _ = self.catalog  # the catalog creates its tables on first use
        with self.metadata_engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = :c "
                    "AND table_namespace = :ns AND table_name = :t"
                ),
                {"c": CATALOG_NAME, "ns": ident[0], "t": ident[1]},
            ).first()
        return str(row[0]) if row else None

    def catalog_entries(self) -> dict[tuple[str, str], str]:
        """Every table of the catalog with its metadata location, in one query."""
        _ = self.catalog
        with self.metadata_engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT table_namespace, table_name, metadata_location FROM iceberg_tables WHERE catalog_name = :c"
                ),
                {"c": CATALOG_NAME},
            )
            return {(r[0], r[1]): r[2] for r in rows}

    def load(self, name: TableName, location: str | None = None) -> IcebergTable | None:
        """The table's current pyiceberg metadata (None: no such table), reloaded only when it changed."""
        location = location or self.metadata_location(name)
        if location is None:
            return None
        cached = self._loaded.get(name.identifier)
        if cached is not None and cached[0] == location and cached[1].metadata_location == location:
            return cached[1]
        try:
            table = self.catalog.load_table(name.identifier)
        except NoSuchTableError:
            return None
        except Exception as exc:  # pyiceberg raises many kinds on unreadable metadata; one table's must not escape
            raise BrokenTableError(
                f"Table {name} cannot be read: its metadata ({location}) is broken: {str(exc).splitlines()[0][:300]}",
                hint=f"drop it with `mlake tables drop {name}` (a superuser over REST), then load it again",
            ) from exc
        if len(self._loaded) > 512:
            self._loaded.clear()
        self._loaded[name.identifier] = (table.metadata_location, table)
        return table

    def facts(self, name: TableName) -> TableFacts:
        """Owner, tags and columns of a table, for policy checks (NotFoundError if it does not exist).

        A quarantine table has its base table's owner and tags: its rows are the base table's rejects."""
        from mlake.governance.policy import TableFacts

        ice = self.load(name)
        if ice is None:
            raise NotFoundError(f"Table {name} does not exist")
        props = ice.properties
        if name.is_quarantine:
            base = self.load(TableName(name.namespace, name.name[: -len("__quarantine")]))
            if base is not None:
                props = base.properties
        tags = {k[len("mlake.tag.") :]: v for k, v in props.items() if k.startswith("mlake.tag.")}
        current = ice.schema()
        return TableFacts(
            name,
            props.get("owner"),
            tags,
            tuple((f.name, duckdb_type(f.field_type)) for f in current.fields),
            field_ids=tuple(f.field_id for f in current.fields),
            current_ids=tuple((f.name, f.field_id) for f in current.fields),
            names_ever=tuple(sorted({(f.name, f.field_id) for sc in ice.schemas().values() for f in sc.fields})),
        )

    def table_names(self, namespace: str | None = None) -> list[TableName]:
        spaces = [namespace] if namespace else sorted(ns[0] for ns in self.catalog.list_namespaces())
        names: list[TableName] = []
        for ns in spaces:
            try:
                idents = self.catalog.list_tables(ns)
            except NoSuchNamespaceError as exc:
                raise NotFoundError(f"Namespace {ns!r} does not exist") from exc
            names.extend(TableName(i[0], i[1]) for i in idents)
        return sorted(names)


def check_backends(settings: Settings) -> Backend:
    """Refuse settings that name a backend this installation does not have — at connect, with the known
    choices — rather than ignoring them; return the engine's backend."""
    engine = backend_named("engine", settings.engine)
    if settings.online_url:
        backend_for_url("online_store", settings.online_url)
    if settings.stream_url:
        backend_for_url("stream", settings.stream_url)
    return engine


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """Write-ahead logging for the embedded catalog database.

    A commit then costs one fsync instead of a rollback journal's three or four (every write, lineage
    record and audit event is a commit: 0.8 ms → 0.3 ms each here), and readers never wait for a writer.
    The mode is kept in the database file, so pyiceberg's own connections to it use it as well; commits
    stay fully durable (``synchronous=FULL``, SQLite's default)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()
