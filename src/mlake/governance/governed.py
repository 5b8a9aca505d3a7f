"""A lake seen by one principal: ``lake.as_principal(p)``.

:class:`GovernedLake` is a :class:`~mlake.lake.Lake` in every respect (it shares the catalog, the
metadata store and the event bus of the lake it wraps), except that every operation first checks the
principal's grants, every read goes through its secure views (see :mod:`mlake.governance.engine`), and
every operation is written to the audit log. Code written against ``Lake`` — the REST API, Studio,
training-set builders, exports — therefore obeys access control without knowing about it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table as IcebergTable

from mlake.errors import MlakeError, PermissionDeniedError
from mlake.governance.engine import PrincipalEngine
from mlake.governance.model import Principal, Privilege
from mlake.governance.policy import AccessPolicy, TableFacts
from mlake.governance.sandbox import SandboxError
from mlake.lake import Lake
from mlake.tables.lineage import LineageGraph, WriteRecord
from mlake.tables.names import TableName
from mlake.tables.table import Table
from mlake.tables.types import duckdb_type

if TYPE_CHECKING:
    from mlake.features.governed import GovernedFeatureStore
    from mlake.governance.service import Governance, GuardedGovernance
    from mlake.ingest.report import IngestReport
    from mlake.maintenance import MaintenanceReport
    from mlake.results import Result


class GovernedLake(Lake):
    """The lake as ``principal`` may see and change it."""

    engine: PrincipalEngine

    def __init__(self, base: Lake, principal: Principal, governance: Governance, client: str | None = None) -> None:
        # Not Lake.__init__: everything but the engine and the acting user is the base lake's.
        self._base = base
        self._gov = governance
        self.principal = principal
        self.client = client
        self.settings = base.settings.model_copy(update={"user": principal.name})
        self.progress = base.progress
        self.events = base.events
        self._catalog_url = base._catalog_url
        self.metadata_engine = base.metadata_engine
        self.lineage_store = base.lineage_store
        self.policy: AccessPolicy = governance.policy_for(principal)
        self.engine = PrincipalEngine(self, governance.sandbox_engine, self.policy)
        self.audit_table = governance.audit.table_name
        self._metadata = threading.local()

    @property  # type: ignore[override]
    def catalog(self) -> SqlCatalog:
        return self._base.catalog

    @property
    def base(self) -> Lake:
        """The lake this one wraps: for mlake's own records kept on the principal's behalf (the audit log,
        quality metric history), never for reads or writes the principal asks for."""
        return self._base

    @property
    def governance(self) -> GuardedGovernance:  # type: ignore[override]
        """Access-control administration, as this principal may do it."""
        from mlake.governance.service import GuardedGovernance

        return GuardedGovernance(self._gov, self)

    @cached_property
    def features(self) -> GovernedFeatureStore:
        """The feature store as this principal may use it; see :mod:`mlake.features.governed`."""
        from mlake.features.governed import GovernedFeatureStore

        return GovernedFeatureStore(self, self._base.features)

    def as_principal(self, principal: Principal | str, client: str | None = None) -> GovernedLake:
        self.policy.require_superuser("act as another principal")
        return self._gov.as_principal(principal, client)

    def close(self) -> None:
        """Nothing to release: the catalog, the store and the sandboxed engine belong to the base lake."""

    def __repr__(self) -> str:
        return f"<mlake.Lake home={self.settings.home} as {self.principal.name}>"

    # --- auditing and facts ------------------------------------------------------------------------

    def audit(
        self,
        action: str,
        tables: Sequence[str],
        detail: str | None,
        outcome: str,
        message: str | None,
        started: float | None,
    ) -> None:
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        self._gov.audit.record(
            principal=self.principal.name,
            action=action,
            tables=list(dict.fromkeys(tables)),
            detail=detail,
            outcome=outcome,  # type: ignore[arg-type]
            message=message,
            client=self.client,
            duration_ms=duration,
        )

    def audited(self, action: str, tables: Sequence[str], detail: str | None = None) -> _Audited:
        """``with lake.audited("ingest", [t]): ...`` records the outcome of the block."""
        return _Audited(self, action, list(tables), detail)

    def flush_audit(self) -> None:
        self._gov.audit.flush()

    @contextmanager
    def metadata_cache(self) -> Iterator[None]:
        """Within the block, each table's metadata is looked up once (binding one query otherwise asks
        the catalog three or four times: facts, snapshot, view)."""
        outer = getattr(self._metadata, "tables", None)
        if outer is None:
            self._metadata.tables = {}
        try:
            yield
        finally:
            if outer is None:
                self._metadata.tables = None

    def load_iceberg(self, name: TableName) -> IcebergTable:
        cache: dict[TableName, IcebergTable] | None = getattr(self._metadata, "tables", None)
        if cache is not None and name in cache:
            return cache[name]
        table = self._base.iceberg_table(name)
        if cache is not None:
            cache[name] = table
        return table

    def iceberg_table(self, name: str | TableName, location: str | None = None) -> IcebergTable:
        """The base lake's metadata cache (parsed once per metadata file), shared by every principal."""
        table_name = TableName.parse(name)
        if location is None:
            return self.load_iceberg(table_name)
        return self._base.iceberg_table(table_name, location)

    def facts(self, name: str | TableName) -> TableFacts:
        """Owner, tags and columns of a table, for policy checks (NotFoundError if it does not exist)."""
        table_name = TableName.parse(name)
        look = table_name
        if table_name.is_quarantine:
            look = TableName(table_name.namespace, table_name.name[: -len("__quarantine")])
        ice = self.load_iceberg(table_name)
        props = ice.properties
        if look != table_name and self._base.table_exists(look):
            props = self.load_iceberg(look).properties
        tags = {k[len("mlake.tag.") :]: v for k, v in props.items() if k.startswith("mlake.tag.")}
        columns = tuple((f.name, duckdb_type(f.field_type)) for f in ice.schema().fields)
        return TableFacts(table_name, props.get("owner"), tags, columns)

    def require(self, privilege: Privilege, name: str | TableName) -> None:
        self.policy.require(privilege, self.facts(name))

    def privileges(self, name: str | TableName) -> list[str]:
        """What this principal may do with a table (for faces to show or hide actions)."""
        access = self.policy.access(self.facts(name))
        out = sorted(access.privileges & {"insert", "alter", "admin"})
        return (["select"] if access.can_read else []) + out

    # --- namespaces -------------------------------------------------------------------------------

    def create_namespace(self, namespace: str, description: str | None = None, exist_ok: bool = True) -> None:
        if exist_ok and namespace in super().namespaces():
            return
        with self.audited("namespace.create", [], namespace):
            self.policy.require_namespace("alter", namespace)
            super().create_namespace(namespace, description, exist_ok)

    def drop_namespace(self, namespace: str) -> None:
        with self.audited("namespace.drop", [], namespace):
            self.policy.require_namespace("admin", namespace)
            super().drop_namespace(namespace)

    # --- tables -----------------------------------------------------------------------------------

    def table(self, name: str | TableName) -> GovernedTable:
        return GovernedTable(self, TableName.parse(name))

    def list_tables(self, namespace: str | None = None, *, include_quarantine: bool = True) -> list[TableName]:
        """The tables this principal may read or change; others are not listed."""
        names = super().list_tables(namespace, include_quarantine=include_quarantine)
        if self.policy.superuser:
            return names
        visible = []
        for n in names:
            try:
                access = self.policy.access(self.facts(n))
            except MlakeError:
                continue  # dropped meanwhile
            if access.can_read or access.privileges:
                visible.append(n)
        return visible

    def create_table(self, name: str | TableName, data: Any = None, **kw: Any) -> GovernedTable:
        table_name = TableName.parse(name)
        with self.audited("table.create", [str(table_name)]):
            base = TableName(table_name.namespace, table_name.name.removesuffix("__quarantine"))
            may_quarantine = (
                table_name.is_quarantine and self.table_exists(base) and self.policy.can("insert", self.facts(base))
            )
            if not may_quarantine:
                self.policy.require_namespace("alter", table_name.namespace)
            super().create_table(table_name, data, **kw)
        return self.table(table_name)

    def drop_table(self, name: str | TableName, *, purge: bool = True, missing_ok: bool = False) -> None:
        table_name = TableName.parse(name)
        if missing_ok and not self.table_exists(table_name):
            return
        with self.audited("table.drop", [str(table_name)]):
            self.require("alter", table_name)
            super().drop_table(table_name, purge=purge, missing_ok=missing_ok)
            self._gov.store.forget_table(str(table_name))

    def sql(self, query: str, *, as_of: Any = None, params: Any = None) -> Result:
        return self.engine.query(query, as_of=as_of, params=params)

    def lineage(self, name: str | TableName, max_depth: int = 10) -> LineageGraph:
        """Lineage of a readable table; edges touching tables this principal may not read are left out."""
        table_name = TableName.parse(name)
        with self.audited("table.lineage", [str(table_name)]):
            self.require("select", table_name)
            graph = super().lineage(table_name, max_depth)
        if self.policy.superuser:
            return graph
        readable: dict[str, bool] = {}

        def ok(table: str) -> bool:
            if table not in readable:
                try:
                    readable[table] = self.policy.can("select", self.facts(table))
                except MlakeError:
                    readable[table] = False  # dropped since: shown only to superusers
            return readable[table]

        graph.upstream = [e for e in graph.upstream if ok(e.target) and (e.source.kind != "table" or ok(e.source.ref))]
        graph.downstream = [
            e for e in graph.downstream if ok(e.target) and (e.source.kind != "table" or ok(e.source.ref))
        ]
        return graph

    def recent_writes(self, limit: int = 20) -> list[WriteRecord]:
        """The newest writes to tables this principal may read (Studio's recent activity)."""
        out: list[WriteRecord] = []
        seen: dict[str, bool] = {}
        for w in self.lineage_store.writes(limit=limit * 5):
            if w.table not in seen:
                try:
                    seen[w.table] = self.policy.can("select", self.facts(w.table))
                except MlakeError:
                    seen[w.table] = False
            if seen[w.table] and not w.table.startswith(f"{self.audit_table.namespace}."):
                out.append(w)
            if len(out) >= limit:
                break
        return out

    def ingest(self, source: str | Path | Sequence[str | Path], into: str, **options: Any) -> IngestReport:
        name = TableName.parse(into)
        with self.audited("ingest", [str(name)], str(source)[:500]):
            if self.table_exists(name):
                self.require("insert", name)
            else:
                self.policy.require_namespace("alter", name.namespace)
            return super().ingest(source, into, **options)

    def ingest_database(self, url: str, into: str, **options: Any) -> IngestReport:
        name = TableName.parse(into)
        with self.audited("ingest.database", [str(name)]):
            if self.table_exists(name):
                self.require("insert", name)
            else:
                self.policy.require_namespace("alter", name.namespace)
            return super().ingest_database(url, into, **options)

    def maintain(self, name: str | TableName | None = None, **options: Any) -> list[MaintenanceReport]:
        names = [TableName.parse(name)] if name else self.list_tables()
        for n in names:
            self.require("alter", n)
        return super().maintain(name, **options)


class _Audited:
    def __init__(self, lake: GovernedLake, action: str, tables: list[str], detail: str | None) -> None:
        self.lake, self.action, self.tables, self.detail = lake, action, tables, detail
        self.started = time.perf_counter()

    def __enter__(self) -> _Audited:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            self.lake.audit(self.action, self.tables, self.detail, "ok", None, self.started)
        elif isinstance(exc, PermissionDeniedError | SandboxError):
            self.lake.audit(self.action, self.tables, self.detail, "denied", exc.message, self.started)
        elif isinstance(exc, MlakeError):
            self.lake.audit(self.action, self.tables, self.detail, "error", exc.message, self.started)
        else:
            self.lake.audit(self.action, self.tables, self.detail, "error", type(exc).__name__, self.started)


class GovernedTable(Table):
    """A table handle that checks the principal's grants before each read or change."""

    _lake: GovernedLake

    @property
    def iceberg(self) -> IcebergTable:
        return self._lake.load_iceberg(self.name)

    def _require(self, privilege: Privilege) -> None:
        self._lake.require(privilege, self.name)

    def describe(self) -> dict[str, Any]:
        facts = self._lake.facts(self.name)
        access = self._lake.policy.require("select", facts)
        info = super().describe()
        if access.columns is not None:
            info["columns"] = [c for c in info["columns"] if c["name"] in access.columns]
        for c in info["columns"]:
            c["masked"] = c["name"] in access.masks
        info["row_filtered"] = bool(access.filters)
        info["privileges"] = self._lake.privileges(self.name)
        return info

    def query(
        self,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        *,
        snapshot_id: int | None = None,
        as_of: Any = None,
        limit: int | None = None,
        order_by: str | None = None,
    ) -> Result:
        with self._lake.audited("table.read", [str(self.name)], where):
            access = self._lake.policy.require("select", self._lake.facts(self.name))
            sandbox = self._lake.engine.sandbox
            if where:
                sandbox.check_expression(where, "filter")
            if order_by:
                sandbox.check_expression(order_by, "sort order", order_by=True)
            if columns and access.columns is not None:
                hidden = [c for c in columns if c not in access.columns]
                if hidden:
                    raise PermissionDeniedError(
                        f"Principal {self._lake.principal.name!r} may not read column(s) {', '.join(hidden)} "
                        f"of {self.name}"
                    )
            if columns is None and access.columns is not None:
                columns = access.columns
            return super().query(columns, where, snapshot_id=snapshot_id, as_of=as_of, limit=limit, order_by=order_by)

    def history(self) -> list[Any]:
        self._require("select")
        return super().history()

    def set_metadata(self, *, owner: str | None = None, **kw: Any) -> None:
        with self._lake.audited("table.metadata", [str(self.name)], repr({"owner": owner, **kw})[:500]):
            self._require("admin" if owner is not None else "alter")
            super().set_metadata(owner=owner, **kw)

    def rollback(self, snapshot_id: int) -> None:
        with self._lake.audited("table.rollback", [str(self.name)], str(snapshot_id)):
            self._require("alter")
            super().rollback(snapshot_id)

    def append(self, data: Any, **kw: Any) -> WriteRecord:
        with self._lake.audited("table.append", [str(self.name)]):
            self._require("insert")
            return super().append(data, **kw)

    def upsert(self, data: Any, on: Sequence[str], **kw: Any) -> WriteRecord:
        with self._lake.audited("table.upsert", [str(self.name)]):
            self._require("insert")
            return super().upsert(data, on, **kw)

    def overwrite(self, data: Any, where: Any = None, **kw: Any) -> WriteRecord:
        with self._lake.audited("table.overwrite", [str(self.name)], str(where) if where else None):
            self._require("alter")
            return super().overwrite(data, where, **kw)

    def delete(self, where: Any, **kw: Any) -> WriteRecord:
        with self._lake.audited("table.delete", [str(self.name)], str(where)):
            self._require("alter")
            return super().delete(where, **kw)

    def add_columns(self, columns: dict[str, pa.DataType | str], docs: dict[str, str] | None = None) -> None:
        with self._lake.audited("table.schema", [str(self.name)], f"add {list(columns)}"):
            self._require("alter")
            super().add_columns(columns, docs)

    def rename_column(self, old: str, new: str) -> None:
        with self._lake.audited("table.schema", [str(self.name)], f"rename {old} to {new}"):
            self._require("alter")
            super().rename_column(old, new)

    def drop_column(self, name: str) -> None:
        with self._lake.audited("table.schema", [str(self.name)], f"drop {name}"):
            self._require("alter")
            super().drop_column(name)

    def widen_column(self, name: str, to: pa.DataType | str) -> None:
        with self._lake.audited("table.schema", [str(self.name)], f"widen {name}"):
            self._require("alter")
            super().widen_column(name, to)

    def evolve_for(self, data_schema: pa.Schema, lenient: bool = False) -> Any:
        from mlake.tables.frames import plan_schema

        if plan_schema(self.schema, data_schema, lenient).changes_schema:
            self._require("alter")
        else:
            self._require("insert")
        return super().evolve_for(data_schema, lenient)
