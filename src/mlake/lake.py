"""The Lake: the one object a user holds.

It wires settings to the catalog (pyiceberg ``SqlCatalog``), mlake's metadata store, the DuckDB engine
and the area APIs. The CLI, the REST API and Studio call these same methods.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import sqlalchemy as sa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io.pyarrow import _ConvertToIcebergWithoutIDs, visit_pyarrow
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import Table as IcebergTable

from mlake.core import LakeCore
from mlake.errors import (
    AlreadyExistsError,
    MlakeError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from mlake.events import EventBus, Progress
from mlake.governance.access import OWNER, Access
from mlake.settings import Settings
from mlake.sql import SqlEngine
from mlake.tables.lineage import LineageGraph, LineageStore, WriteRecord
from mlake.tables.models import TableSummary
from mlake.tables.names import TableName, check_part
from mlake.tables.partitioning import parse_partition_spec
from mlake.tables.table import Table
from mlake.tables.types import normalize_arrow_schema

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from mlake.bias.api import Bias
    from mlake.dashboards.store import DashboardStore
    from mlake.features.store import FeatureStore
    from mlake.governance.model import Identity, Principal, Privilege
    from mlake.governance.policy import AccessPolicy
    from mlake.governance.service import Governance, GovernanceAdmin
    from mlake.ingest.report import IngestReport
    from mlake.labeling.projects import LabelingProjects
    from mlake.lifecycle import LakeStorage
    from mlake.loader import Loader
    from mlake.maintenance import MaintenanceReport
    from mlake.monitor.capture import CaptureLogger
    from mlake.monitor.monitors import Monitoring
    from mlake.objects.service import LakeObjects
    from mlake.pipelines.service import Pipelines
    from mlake.processing.api import Recipes
    from mlake.quality.api import Quality
    from mlake.results import Result
    from mlake.sources import SourceRegistry
    from mlake.streams.base import StreamBackend
    from mlake.streams.lake_streams import LakeStreams
    from mlake.streams.service import StreamPrivilege


class Lake:
    """A data lake: Iceberg tables in a warehouse, a catalog, and everything built on them.

    ``mlake.connect()`` gives the owner's lake; ``lake.as_principal(p)`` the same lake as principal ``p``
    may see and change it. Both are this class: what differs is :attr:`access`, which every path crosses
    (see :mod:`mlake.governance.access`)."""

    settings: Settings

    def __init__(
        self, settings: Settings | LakeCore, progress: Progress | None = None, *, access: Access = OWNER
    ) -> None:
        self._core = settings if isinstance(settings, LakeCore) else LakeCore(settings, progress)
        self.access = access
        if access.principal is None:
            if self._core._owner is None:
                self._core._owner = self
            self.settings = self._core.settings
            self.engine: SqlEngine = self._core.engine_backend.load()(self)
        else:
            from mlake.governance.engine import PrincipalSqlPolicy

            self.settings = self._core.settings.model_copy(update={"user": access.principal.name})
            shared = self._core.owner.governance_service.sandbox_engine  # one sandboxed database for all principals
            self.engine = SqlEngine(self, PrincipalSqlPolicy(self, shared, access), database=shared)

    # --- plumbing (the owner's) ---------------------------------------------------------------------

    @property
    def progress(self) -> Progress:
        return self._core.progress

    @progress.setter
    def progress(self, value: Progress) -> None:
        """Where long work reports (the CLI installs a rich progress bar)."""
        self._core.progress = value

    @property
    def events(self) -> EventBus:
        return self._core.events

    @property
    def catalog(self) -> SqlCatalog:
        """The pyiceberg catalog (the owner's: it bypasses access control)."""
        self.access.require_owner("The Iceberg catalog")
        return self._core.catalog

    @property
    def metadata_engine(self) -> sa.Engine:
        """The control-plane database (the owner's: it bypasses access control)."""
        self.access.require_owner("The metadata database")
        return self._core.metadata_engine

    @property
    def lineage_store(self) -> LineageStore:
        """Every write's lineage record (the owner's: principals read lineage through :meth:`lineage`)."""
        self.access.require_owner("The lineage store")
        return self._core.lineage_store

    def catalog_for_write(self, name: str | TableName, privilege: Privilege) -> Catalog:
        """The catalog to commit a change of ``name`` through — the choke point of every write: it is
        handed out only when the actor holds ``privilege`` (``insert`` or ``alter``) on the table."""
        table_name = TableName.parse(name)
        self.access.require_visible(table_name)
        self.access.require(privilege, table_name)
        return self._core.catalog

    def close(self) -> None:
        if self.access.governed:
            return  # the catalog, the store and the sandboxed engine belong to the owner's lake
        if "governance_service" in self.__dict__:
            self.governance_service.close()
        if "features" in self.__dict__:
            self.features.close()
        if "stream_backend" in self.__dict__:
            self.stream_backend.close()
        self.engine.close()
        self._core.metadata_engine.dispose()
        if "catalog" in self._core.__dict__:
            self._core.catalog.engine.dispose()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        who = f" as {self.access.name}" if self.access.governed else ""
        return f"<mlake.Lake home={self.settings.home}{who}>"

    # --- governance -------------------------------------------------------------------------------

    @cached_property
    def governance(self) -> GovernanceAdmin:
        """Principals, grants, row filters, column masks and the audit log; see :mod:`mlake.governance`.

        A principal gets the same administration API with every change checked and audited."""
        if self.access.governed:
            from mlake.governance.service import GuardedGovernance

            return GuardedGovernance(self._core.owner.governance_service, self)
        return self.governance_service

    @cached_property
    def governance_service(self) -> Governance:
        """The lake's access-control service itself: token authentication, policies, the audit log and
        the sandbox limits (the owner's; a server authenticates its callers with it)."""
        self.access.require_owner("The access-control service")
        from mlake.governance.service import Governance

        return Governance(self)

    def as_principal(self, principal: Principal | str, client: str | None = None) -> Lake:
        """This lake as ``principal`` may see and change it (sandboxed SQL, secure views, audit log)."""
        self.access.require_superuser("act as another principal")
        return cast("Lake", self._core.owner.governance_service.as_principal(principal, client))

    @property
    def principal(self) -> Principal:
        """Who acts: the principal, or the lake's own user (a superuser) for the owner's lake."""
        if self.access.principal is not None:
            return self.access.principal
        from mlake.governance.model import Principal

        return Principal(name=self.settings.user, superuser=True, display_name="local user")

    def me(self) -> Identity:
        """Who acts, and its grants (what ``GET /me`` answers)."""
        from mlake.governance.model import Identity

        return Identity(self.principal, list(self.policy.grants) if self.policy else [])

    @property
    def policy(self) -> AccessPolicy | None:
        """The principal's policy as access control stands now (None for the owner's lake)."""
        return self.access.policy

    @property
    def client(self) -> str | None:
        return self.access.client

    @property
    def audit_table(self) -> TableName:
        from mlake.governance.audit import AUDIT_TABLE

        return AUDIT_TABLE

    def audited(self, action: str, tables: Sequence[str], detail: str | None = None) -> Any:
        """``with lake.audited("ingest", [t]): ...`` records the outcome of the block for a principal."""
        return self.access.audited(action, tables, detail)

    def privileges(self, name: str | TableName) -> list[str]:
        """What the actor may do with a table (for faces to show or hide actions)."""
        table_name = TableName.parse(name)
        self.access.require_visible(table_name)
        access = self.access.table(table_name)
        out = sorted(access.privileges & {"insert", "alter", "admin"})
        return (["select"] if access.can_read else []) + out

    def _system(self) -> Lake:
        """The owner's lake, for records mlake keeps on the actor's behalf (the audit log, quality's
        metric history) — never for reads or writes the actor asks for."""
        return cast("Lake", self._core.owner)

    # --- namespaces -------------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        """Namespaces; a principal sees those it holds a namespace grant on or a visible table in."""
        spaces = sorted(ns[0] for ns in self._core.catalog.list_namespaces())
        if self.access.superuser:
            return spaces
        visible = {n.namespace for n in self.list_tables()}
        return [ns for ns in spaces if ns in visible or any(self.access.can_on_namespace(p, ns) for p in _PRIVILEGES)]

    def create_namespace(self, namespace: str, description: str | None = None, exist_ok: bool = True) -> None:
        check_part(namespace, "namespace")
        with self.access.audited("namespace.create", [], namespace):
            self.access.require_namespace("alter", namespace)
            props = {"comment": description} if description else {}
            try:
                self._core.catalog.create_namespace(namespace, props)
            except NamespaceAlreadyExistsError as exc:
                if not exist_ok:
                    raise AlreadyExistsError(f"Namespace {namespace!r} already exists") from exc
            except sa.exc.IntegrityError as exc:
                # Two writers created it at once: the SQL catalog checks, then inserts, so the slower one
                # hits the unique key. The namespace exists, which is all either of them asked for.
                try:
                    self._core.catalog.load_namespace_properties(namespace)
                except NoSuchNamespaceError:
                    raise exc from None
                if not exist_ok:
                    raise AlreadyExistsError(f"Namespace {namespace!r} already exists") from exc

    def drop_namespace(self, namespace: str) -> None:
        with self.access.audited("namespace.drop", [], namespace):
            self.access.require_namespace("admin", namespace)
            try:
                self._core.catalog.drop_namespace(namespace)
            except NoSuchNamespaceError as exc:
                raise NotFoundError(f"Namespace {namespace!r} does not exist") from exc
            except NamespaceNotEmptyError as exc:
                raise ValidationError(
                    f"Namespace {namespace!r} still has tables", hint="drop its tables first"
                ) from exc

    # --- tables -----------------------------------------------------------------------------------

    def table(self, name: str | TableName) -> Table:
        """A handle on a table (it need not exist yet; reading a missing table raises NotFoundError)."""
        return Table(self, TableName.parse(name))

    def table_exists(self, name: str | TableName) -> bool:
        """Whether the table exists — for a principal, and it may know so (holds some grant on it)."""
        table_name = TableName.parse(name)
        if self._core.metadata_location(table_name) is None:
            return False
        return self.access.visible(table_name)

    def iceberg_table(self, name: str | TableName, location: str | None = None) -> IcebergTable:
        """The table's current pyiceberg metadata, reloaded only when the table changed.

        Every attribute of a :class:`Table` comes from here, so this is where a principal must hold
        some grant on the table (NotFoundError otherwise, as for a table that does not exist)."""
        table_name = TableName.parse(name)
        self.access.require_visible(table_name)
        table = self._core.load(table_name, location)
        if table is None:
            raise self._not_found(table_name)
        return table

    def list_tables(self, namespace: str | None = None, *, include_quarantine: bool = True) -> list[TableName]:
        """The tables; a principal sees those it may read or change, others are not listed."""
        names = self._core.table_names(namespace)
        if not include_quarantine:
            names = [n for n in names if not n.is_quarantine]
        if self.access.superuser:
            return names
        with self.access.operation():
            return [n for n in names if self.access.visible(n)]

    def search(
        self, query: str | None = None, namespace: str | None = None, *, include_quarantine: bool = True
    ) -> list[TableSummary]:
        """Tables whose name, description, owner, tags or columns match ``query`` (all words), as the
        catalog pages list them; a principal finds only the tables it may see."""
        from mlake.tables.search import search_tables

        return search_tables(self, query, namespace, include_quarantine=include_quarantine)

    def _not_found(self, name: TableName) -> MlakeError:
        """A NotFoundError for a table, suggesting close names the actor may see.

        A principal that may not see every table is told what it is told about a table it holds no grant
        on, so that probing names teaches it nothing."""
        if not self.access.superuser:
            try:
                self.access.require_visible(name)
            except PermissionDeniedError as exc:
                return exc
        try:
            existing = [str(n) for n in self.list_tables()]
        except Exception:
            existing = []
        close = difflib.get_close_matches(str(name), existing, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else "`mlake tables list` shows the tables"
        return NotFoundError(f"Table {name} does not exist", hint=hint)

    def not_found(self, name: str | TableName) -> MlakeError:
        """The error for a missing table, with close names the actor may see as suggestions."""
        return self._not_found(TableName.parse(name))

    def create_table(
        self,
        name: str | TableName,
        data: Any = None,
        *,
        schema: pa.Schema | Schema | None = None,
        partition_by: Sequence[str] = (),
        description: str | None = None,
        owner: str | None = None,
        tags: dict[str, str] | Sequence[str] | None = None,
        exist_ok: bool = False,
        properties: dict[str, str] | None = None,
    ) -> Table:
        """Create a table from data (schema inferred) or from an explicit schema, then write the data."""
        table_name = TableName.parse(name)
        with self.access.audited("table.create", [str(table_name)]):
            self._require_create(table_name)
            if data is None and schema is None:
                raise ValidationError(f"Creating {table_name} needs data or a schema")
            arrow_data = None
            if data is not None:
                from mlake.tables.frames import to_arrow

                arrow_data = to_arrow(data)
                if schema is None:
                    schema = arrow_data.schema
            iceberg_schema = self._iceberg_schema(schema)
            spec = parse_partition_spec(partition_by, iceberg_schema)
            if table_name.namespace not in {ns[0] for ns in self._core.catalog.list_namespaces()}:
                self.create_namespace(table_name.namespace)
            props = {"format-version": "2", **(properties or {})}
            props["owner"] = owner or self.settings.user
            if description:
                props["comment"] = description
            try:
                self._core.catalog.create_table(
                    table_name.identifier, schema=iceberg_schema, partition_spec=spec, properties=props
                )
            except TableAlreadyExistsError as exc:
                if not exist_ok:
                    raise AlreadyExistsError(
                        f"Table {table_name} already exists",
                        hint="append to it, or pass exist_ok=True",
                    ) from exc
            table = Table(self, table_name)
            if tags:
                table.set_metadata(tags=tags)
            if arrow_data is not None and arrow_data.num_rows:
                table.append(arrow_data, command=f"create table {table_name}")
        return table

    def _require_create(self, name: TableName) -> None:
        """Creating a table needs ``alter`` on its namespace; a quarantine table, ``insert`` on its base."""
        if not self.access.governed:
            return
        base = TableName(name.namespace, name.name.removesuffix("__quarantine"))
        if name.is_quarantine and self.access.can("insert", base):
            return
        self.access.require_namespace("alter", name.namespace)

    @staticmethod
    def _iceberg_schema(schema: pa.Schema | Schema | None) -> Schema:
        if isinstance(schema, Schema):
            return schema
        assert schema is not None
        if not len(schema):
            raise ValidationError("A table needs at least one column")
        converted = visit_pyarrow(normalize_arrow_schema(schema), _ConvertToIcebergWithoutIDs())
        assert isinstance(converted, Schema)
        return assign_fresh_schema_ids(converted)

    def drop_table(self, name: str | TableName, *, purge: bool = True, missing_ok: bool = False) -> None:
        """Drop a table; ``purge`` also deletes its files (default), as a local lake owns them."""
        table_name = TableName.parse(name)
        if missing_ok and not self.table_exists(table_name):
            return
        with self.access.audited("table.drop", [str(table_name)]):
            if not self.access.superuser:  # superusers may also drop a table whose metadata cannot be read
                self.access.require_visible(table_name)
                self.access.require("alter", table_name)
            self._drop(table_name, purge, missing_ok)

    def _drop(self, table_name: TableName, purge: bool, missing_ok: bool) -> None:
        catalog = self._core.catalog
        location = None
        try:
            try:
                location = catalog.load_table(table_name.identifier).location()
            except NoSuchTableError:
                raise
            except Exception:  # broken metadata: the folder is found from the catalog's pointer to it
                meta = self._core.metadata_location(table_name)
                location = meta.rsplit("/metadata/", 1)[0] if meta and "/metadata/" in meta else None
            if purge and location and not location.startswith("file://"):
                catalog.purge_table(table_name.identifier)  # object storage: delete via FileIO
                location = None
            else:
                catalog.drop_table(table_name.identifier)
        except NoSuchTableError as exc:
            if missing_ok:
                return
            raise self._not_found(table_name) from exc
        self._core.lineage_store.forget_table(str(table_name))
        self._core.events.emit("table.drop", str(table_name))
        if "governance_service" in self._core.owner.__dict__ or self.access.governed:
            self._core.owner.governance_service.store.forget_table(str(table_name))
        if purge and location:
            from mlake.tables.scan import local_path

            path = local_path(location)
            if path:
                import shutil

                shutil.rmtree(Path(path), ignore_errors=True)

    # --- SQL ----------------------------------------------------------------------------------------

    def sql(self, query: str, *, as_of: datetime | str | None = None, params: Any = None) -> Result:
        """Run SQL over the lake's tables (DuckDB dialect); see :mod:`mlake.sql`."""
        return self.engine.query(query, as_of=as_of, params=params)

    # --- training-data loader ----------------------------------------------------------------------

    def loader(self, source: Any, **options: Any) -> Loader:
        """Batches of a table (name or handle), a SQL query or result, or a training set for training
        loops: sharded, shuffled, prefetched and cached; see :mod:`mlake.loader` for the options and
        :mod:`mlake.loader.build` for which governed path it reads through."""
        from mlake.loader import build_loader

        return build_loader(self, source, **options)

    # --- lineage ------------------------------------------------------------------------------------

    def lineage(self, name: str | TableName, max_depth: int = 10) -> LineageGraph:
        """Lineage of a table; a principal sees only edges between tables it may read, and no SQL text
        that names a table it may not read."""
        table_name = TableName.parse(name)
        with self.access.audited("table.lineage", [str(table_name)]):
            self.access.require_visible(table_name)
            self.access.require("select", table_name)
            graph = self._core.lineage_store.graph(str(table_name), max_depth)
        if self.access.superuser:
            return graph
        readable: dict[str, bool] = {}

        def ok(table: str) -> bool:
            if table not in readable:
                try:
                    readable[table] = self.access.can("select", TableName.parse(table))
                except MlakeError:
                    readable[table] = False  # dropped since: shown only to superusers
            return readable[table]

        graph.upstream = [e for e in graph.upstream if ok(e.target) and (e.source.kind != "table" or ok(e.source.ref))]
        graph.downstream = [
            e for e in graph.downstream if ok(e.target) and (e.source.kind != "table" or ok(e.source.ref))
        ]
        graph.hide_text(lambda text: not _names_only_readable(text, ok, self._core.catalog_entries()))
        return graph

    def recent_writes(self, limit: int = 20) -> list[WriteRecord]:
        """The newest writes to tables the actor may read (Studio's recent activity)."""
        out: list[WriteRecord] = []
        seen: dict[str, bool] = {}
        audit_ns = f"{self.audit_table.namespace}."
        for w in self._core.lineage_store.writes(limit=limit * 5):
            if w.table not in seen:
                seen[w.table] = self.access.can("select", TableName.parse(w.table))
            if seen[w.table] and (self.access.superuser or not w.table.startswith(audit_ns)):
                out.append(w)
            if len(out) >= limit:
                break
        return out

    # --- ingestion ----------------------------------------------------------------------------------

    def _require_allowed_source(self, sources: Sequence[str | Path] | str | Path) -> None:
        """A principal (not a superuser) may ingest only files uploaded to the server and the folders and
        URL prefixes an admin listed in ``settings.ingest_allowed``: reading the server's disk or network
        on a caller's behalf is the owner's to allow, and denied by default."""
        if self.access.superuser:
            return
        allowed = [self.settings.home / "tmp" / "uploads", *self.settings.ingest_allowed]
        items = [sources] if isinstance(sources, str | Path) else list(sources)
        for item in items:
            text = str(item)
            if "://" in text and not text.startswith("file://"):
                ok = any((str(a).endswith("/") and text.startswith(str(a))) or text == str(a) for a in allowed)
            else:
                path = Path(text.removeprefix("file://"))
                base = path
                while any(ch in base.name for ch in "*?[") and base != base.parent:
                    base = base.parent  # a glob: the folder it searches
                resolved = base.resolve()
                ok = any(
                    "://" not in str(a) and resolved.is_relative_to(Path(str(a)).expanduser().resolve())
                    for a in allowed
                )
            if not ok:
                raise PermissionDeniedError(
                    f"Principal {self.access.name!r} may not ingest from {text!r}: only uploads and the sources "
                    "in the lake's ingest_allowed setting are open to principals",
                    hint="upload the file instead, or ask the lake's owner to add its folder or URL prefix "
                    "(ending in /) to ingest_allowed",
                )

    def _require_write_into(self, name: TableName) -> None:
        if self.table_exists(name):
            self.access.require("insert", name)
        else:
            self.access.require_namespace("alter", name.namespace)

    def ingest(
        self, path: str | Path | Sequence[str | Path], into: str, *, source: str | None = None, **options: Any
    ) -> IngestReport:
        """Load files, a folder, a glob or an http(s) URL into a table; see :mod:`mlake.ingest.files`.

        ``source`` names the registered source (:attr:`sources`) the data comes from: it is attached to
        the table, so the table and everything derived from it carry its license and terms."""
        from mlake.ingest.files import ingest_files

        name = TableName.parse(into)
        with self.access.audited("ingest", [str(name)], str(path)[:500]):
            self._require_allowed_source(path)
            self._require_write_into(name)
            if source is not None:
                self.sources.get(source)  # an unknown source fails before any row is read
            report = ingest_files(self, path, into, **options)
            if source is not None:
                self.sources.attach(name, source)
            return report

    def ingest_database(self, url: str, into: str, *, source: str | None = None, **options: Any) -> IngestReport:
        """Load a table or query from PostgreSQL / MySQL; see :mod:`mlake.ingest.database`. ``source``: as
        for :meth:`ingest`."""
        from mlake.ingest.database import ingest_database

        name = TableName.parse(into)
        with self.access.audited("ingest.database", [str(name)]):
            self._require_allowed_source(url)
            self._require_write_into(name)
            if source is not None:
                self.sources.get(source)
            report = ingest_database(self, url, into, **options)
            if source is not None:
                self.sources.attach(name, source)
            return report

    # --- sources and licenses -------------------------------------------------------------------------

    @cached_property
    def sources(self) -> SourceRegistry:
        """Where data came from and under which terms; every table's provenance; see :mod:`mlake.sources`."""
        from mlake.sources import SourceRegistry

        return SourceRegistry(self)

    # --- quality ------------------------------------------------------------------------------------

    @cached_property
    def quality(self) -> Quality:
        """Profiles, checks, suggestions, gates, metric history, readiness and reports; see :mod:`mlake.quality`."""
        from mlake.quality.api import Quality

        return Quality(self)

    @cached_property
    def monitoring(self) -> Monitoring:
        """Monitors: a stored baseline, a target table, checks, runs and violations; see :mod:`mlake.monitor`."""
        from mlake.monitor.monitors import Monitoring

        return Monitoring(self)

    @cached_property
    def bias(self) -> Bias:
        """Bias reports (Clarify's metrics with confidence intervals) of tables and SQL; see :mod:`mlake.bias`."""
        from mlake.bias.api import Bias

        return Bias(self)

    def capture(self, model: str, version: str, **options: Any) -> CaptureLogger:
        """A non-blocking logger of inputs and outputs into ``capture.<model>``; see :mod:`mlake.monitor.capture`."""
        from mlake.monitor.capture import CaptureLogger

        return CaptureLogger(self, model, version, **options)

    # --- areas --------------------------------------------------------------------------------------

    @cached_property
    def features(self) -> FeatureStore:
        """The feature store: groups, offline/online stores, training sets; see :mod:`mlake.features`."""
        from mlake.features.store import FeatureStore

        return FeatureStore(self)

    @cached_property
    def recipes(self) -> Recipes:
        """Saved, versioned recipes of transforms, run on DuckDB or Ray; see :mod:`mlake.processing`."""
        from mlake.processing.api import Recipes

        return Recipes(self)

    @cached_property
    def pipelines(self) -> Pipelines:
        """DAGs of checks, recipes, SQL and Python steps with recorded, cached, triggered runs; see
        :mod:`mlake.pipelines`."""
        from mlake.pipelines.service import Pipelines

        return Pipelines(self)

    @cached_property
    def streams(self) -> LakeStreams:
        """Streams on the backend ``settings.stream_url`` names (the embedded log by default), deliveries
        into tables and status; a principal needs grants on ``stream:NAME``. See :mod:`mlake.streams`."""
        from mlake.streams.lake_streams import LakeStreams
        from mlake.streams.managed import ManagedStore
        from mlake.streams.metastore import DeliveryRegistry

        principal = self.access.principal
        return LakeStreams(
            cast("Lake", self._core.owner).stream_backend,
            tables=self,
            registry=DeliveryRegistry(self._core.metadata_engine),
            guard=_StreamGuard(self),
            managed=ManagedStore(self._core.metadata_engine),
            principal=None if principal is None else principal.name,
        )

    @cached_property
    def objects(self) -> LakeObjects:
        """Object tables: images, text, audio and other files stored in the warehouse, one row per object;
        adding needs what ingesting needs (an allowed source, insert on the table). See :mod:`mlake.objects`."""
        from mlake.objects.service import LakeObjects

        return LakeObjects(self, self._require_allowed_source)

    @cached_property
    def stream_backend(self) -> StreamBackend:
        """The raw stream backend, shared by the lake's principals' handles (the owner's: it bypasses grants)."""
        self.access.require_owner("The raw stream backend")
        from mlake.streams.registry import open_stream_backend

        return open_stream_backend(self.settings.stream_url, home=self.settings.home)

    @cached_property
    def labeling(self) -> LabelingProjects:
        """Labeling projects over any table's rows: queue, answers, consolidation, progress, auto-labeling;
        annotators are principals (see :mod:`mlake.labeling.projects`)."""
        from mlake.labeling.projects import LabelingProjects

        return LabelingProjects(self, owner=cast("Lake", self._core.owner), engine=self._core.metadata_engine)

    @cached_property
    def dashboards(self) -> DashboardStore:
        """Saved queries and dashboards; a principal sees those whose SQL reads only tables it may read, and
        changes those it owns (a superuser: all)."""
        from mlake.dashboards.store import DashboardStore

        return DashboardStore(
            self._core.metadata_engine,
            self.can_read_sql,
            actor=self.principal.name,
            superuser=self.access.superuser,
        )

    def can_read_sql(self, sql: str) -> bool:
        """Whether the actor may read every lake table that ``sql`` names (for showing SQL text)."""
        if self.access.superuser:
            return True
        from mlake.sql import find_table_refs

        entries = self._core.catalog_entries()
        try:
            refs = find_table_refs(sql, {ns for ns, _ in entries})
        except MlakeError:
            return False
        return all(self.access.can("select", ref.name) for ref in refs)

    # --- maintenance --------------------------------------------------------------------------------

    @cached_property
    def storage(self) -> LakeStorage:
        """Storage usage and its growth, lifecycle policies (retention, tiering, compaction, expiry) and
        applying them; see :mod:`mlake.lifecycle`."""
        from mlake.lifecycle import LakeStorage

        return LakeStorage(self)

    def maintain(self, name: str | TableName | None = None, **options: Any) -> list[MaintenanceReport]:
        """Expire old snapshots, compact small files, remove orphaned files; see :mod:`mlake.maintenance`."""
        from mlake.maintenance import maintain_table

        names = [TableName.parse(name)] if name else self.list_tables()
        for n in names:
            self.access.require_visible(n)
            self.access.require("alter", n)
        return [maintain_table(self, n, **options) for n in names]


_PRIVILEGES: tuple[Privilege, ...] = ("select", "insert", "alter", "admin")


class _StreamGuard:
    """The lake's access, as the streams area asks for it (:class:`mlake.streams.service.StreamGuard`)."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake

    def require(self, privilege: StreamPrivilege, stream: str) -> None:
        self._lake.access.require_stream(privilege, stream)

    def sees(self, stream: str) -> bool:
        return self._lake.access.sees_stream(stream)

    def created(self, stream: str) -> None:
        principal = self._lake.access.principal
        if principal is not None and not principal.superuser:
            store = self._lake._core.owner.governance_service.store
            store.grant(principal.name, "admin", f"stream:{stream}", principal.name)

    def deleted(self, stream: str) -> None:
        self._lake._core.owner.governance_service.store.forget_stream(stream)

    def audited(self, action: str, stream: str, detail: str | None = None) -> Any:
        return self._lake.access.audited(action, [f"stream:{stream}"], detail)

    def require_source(self, url: str) -> None:
        self._lake._require_allowed_source(url)


def _names_only_readable(text: str, ok: Any, entries: dict[tuple[str, str], str]) -> bool:
    """Whether every lake table that ``text`` (a lineage record's SQL) names is one the actor may read."""
    lowered = text.lower()
    return all(ok(f"{ns}.{t}") for ns, t in entries if f"{ns}.{t}" in lowered)
