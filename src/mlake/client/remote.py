"""The Lake API over HTTP, for a lake served by ``mlake serve``.

``RemoteLake`` offers the main operations of :class:`~mlake.lake.Lake` — ``sql``, ``table(...)`` reads and
metadata, ``list_tables``, ``namespaces``, ``lineage``, ``ingest`` of local files, ``create_table`` from
data, the feature store (``features``), data quality (``quality``) and access control
(``governance``) — with the same return types where they matter (Arrow tables, pandas/polars frames,
lineage graphs, ingest reports, profiles and check results, principals and grants). Results travel as
Arrow IPC streams, so types survive exactly. Errors come back as
the same :class:`~mlake.errors.MlakeError` subclasses, chosen by the server's stable error ``code``.

Like httpx itself, the client takes a transport: in tests it talks straight to the ASGI app.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from mlake import errors
from mlake.client.tables import (
    RemoteResult,
    RemoteTable,
    arrow_part,
    form_fields,
    lineage_graph,
    upload_report,
    write_record,
)
from mlake.errors import ConfigError, MlakeError, ValidationError
from mlake.tables.lineage import LineageGraph, WriteRecord
from mlake.tables.models import TableSummary
from mlake.tables.names import TableName

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema

    from mlake.client.bias import RemoteBias
    from mlake.client.dashboards import RemoteDashboards
    from mlake.client.features import RemoteFeatureStore
    from mlake.client.governance import RemoteGovernance
    from mlake.client.labeling import RemoteLabeling
    from mlake.client.monitoring import RemoteMonitoring
    from mlake.client.objects import RemoteObjects
    from mlake.client.pipelines import RemotePipelines
    from mlake.client.quality import RemoteQuality
    from mlake.client.recipes import RemoteRecipes
    from mlake.client.sources import RemoteSourceRegistry
    from mlake.client.storage import RemoteStorage
    from mlake.client.streams import RemoteStreams
    from mlake.governance.model import Identity, Principal
    from mlake.ingest.report import IngestReport
    from mlake.loader.stream import Loader
    from mlake.maintenance import MaintenanceReport
    from mlake.monitor.capture import CaptureLogger


def _error_classes() -> dict[str, type[MlakeError]]:
    from mlake.governance.sandbox import QueryLimitError, SandboxError
    from mlake.governance.tokens import AuthenticationError
    from mlake.pipelines.model import PipelineError
    from mlake.processing.base import ProcessingError
    from mlake.streams.base import StreamError, StreamExistsError, StreamNotFoundError
    from mlake.streams.models import RecordDecodeError
    from mlake.streams.service import PutError

    areas = [SandboxError, QueryLimitError, AuthenticationError, PipelineError, ProcessingError]
    areas += [StreamError, StreamExistsError, StreamNotFoundError, RecordDecodeError, PutError]
    classes: dict[str, type[MlakeError]] = {}
    for value in [*vars(errors).values(), *areas]:
        if isinstance(value, type) and issubclass(value, MlakeError):
            classes[value.code] = value
    return classes


class RemoteLake:
    """A lake on an mlake server."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        client: httpx.Client | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.url = url.rstrip("/")
        token = token or os.environ.get("MLAKE_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if client is not None:
            client.headers.update(headers)
            self._http = client
        else:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)
        self._errors = _error_classes()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteLake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<mlake.RemoteLake {self.url}>"

    # --- transport --------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Call ``/api/v1{path}``; a problem response becomes the matching MlakeError."""
        try:
            response = self._http.request(method, f"/api/v1{path}", **kw)
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"Cannot reach the mlake server at {self.url}: {exc}", hint="is `mlake serve` running?"
            ) from exc
        if response.status_code >= 400:
            self._raise(response)
        return response

    @contextmanager
    def stream(self, method: str, path: str, **kw: Any) -> Iterator[httpx.Response]:
        """Call ``/api/v1{path}`` and hand over the response unread, for bodies read as they arrive."""
        try:
            with self._http.stream(method, f"/api/v1{path}", **kw) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise(response)
                yield response
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"Cannot reach the mlake server at {self.url}: {exc}", hint="is `mlake serve` running?"
            ) from exc

    def _raise(self, response: httpx.Response) -> None:
        try:
            problem = response.json()
        except ValueError:
            problem = {"code": "http_error", "message": response.text[:500] or response.reason_phrase}
        cls = self._errors.get(str(problem.get("code")), MlakeError)
        raise cls(str(problem.get("message", "request failed")), hint=problem.get("hint"))

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self.request(method, path, **kw)
        return None if response.status_code == 204 else response.json()

    @cached_property
    def features(self) -> RemoteFeatureStore:
        """The feature store on the server; see :mod:`mlake.client.features`."""
        from mlake.client.features import RemoteFeatureStore

        return RemoteFeatureStore(self)

    @cached_property
    def governance(self) -> RemoteGovernance:
        """Principals, grants, masks, filters and the audit log on the server; see :mod:`mlake.client.governance`."""
        from mlake.client.governance import RemoteGovernance

        return RemoteGovernance(self)

    @cached_property
    def sources(self) -> RemoteSourceRegistry:
        """Registered sources of data, their terms, and every table's provenance; see :mod:`mlake.client.sources`."""
        from mlake.client.sources import RemoteSourceRegistry

        return RemoteSourceRegistry(self)

    @cached_property
    def storage(self) -> RemoteStorage:
        """Storage usage and its growth, lifecycle policies and runs; see :mod:`mlake.client.storage`."""
        from mlake.client.storage import RemoteStorage

        return RemoteStorage(self)

    @cached_property
    def recipes(self) -> RemoteRecipes:
        """Saved, versioned recipes of transforms, run on the server; see :mod:`mlake.client.recipes`."""
        from mlake.client.recipes import RemoteRecipes

        return RemoteRecipes(self)

    @cached_property
    def pipelines(self) -> RemotePipelines:
        """Pipelines on the server (superusers only); see :mod:`mlake.client.pipelines`."""
        from mlake.client.pipelines import RemotePipelines

        return RemotePipelines(self)

    @cached_property
    def monitoring(self) -> RemoteMonitoring:
        """Monitors on the server: baselines, runs and violations; see :mod:`mlake.client.monitoring`."""
        from mlake.client.monitoring import RemoteMonitoring

        return RemoteMonitoring(self)

    @cached_property
    def bias(self) -> RemoteBias:
        """Bias reports computed on the server; see :mod:`mlake.client.bias`."""
        from mlake.client.bias import RemoteBias

        return RemoteBias(self)

    @cached_property
    def objects(self) -> RemoteObjects:
        """Object tables on the server; see :mod:`mlake.client.objects`."""
        from mlake.client.objects import RemoteObjects

        return RemoteObjects(self)

    @cached_property
    def streams(self) -> RemoteStreams:
        """Streams on the server: put, read, consumer groups, status; see :mod:`mlake.client.streams`."""
        from mlake.client.streams import RemoteStreams

        return RemoteStreams(self)

    @cached_property
    def labeling(self) -> RemoteLabeling:
        """Labeling projects and review loops on the server; see :mod:`mlake.client.labeling`."""
        from mlake.client.labeling import RemoteLabeling

        return RemoteLabeling(self)

    @cached_property
    def dashboards(self) -> RemoteDashboards:
        """Saved queries and dashboards on the server; see :mod:`mlake.client.dashboards`."""
        from mlake.client.dashboards import RemoteDashboards

        return RemoteDashboards(self)

    @cached_property
    def quality(self) -> RemoteQuality:
        """Data quality on the server; see :mod:`mlake.client.quality`."""
        from mlake.client.quality import RemoteQuality

        return RemoteQuality(self)

    def me(self) -> Identity:
        """Who this client acts as, and its grants."""
        from mlake.client.governance import load_model
        from mlake.governance.model import Grant, Identity, Principal

        body = self._json("GET", "/me")
        return Identity(load_model(Principal, body), [load_model(Grant, g) for g in body["grants"]])

    @property
    def principal(self) -> Principal:
        """Who acts: the principal the server knows this client's token as."""
        return self.me().principal

    @property
    def audit_table(self) -> TableName:
        from mlake.governance.audit import AUDIT_TABLE

        return AUDIT_TABLE

    def privileges(self, name: str | TableName) -> list[str]:
        """What this client may do with a table (for faces to show or hide actions)."""
        found: list[str] = self._json("GET", f"/tables/{TableName.parse(name)}/privileges")
        return found

    # --- catalog ----------------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        return [n["name"] for n in self._json("GET", "/namespaces")]

    def create_namespace(self, namespace: str, description: str | None = None, exist_ok: bool = True) -> None:
        if exist_ok and namespace in self.namespaces():
            return
        self._json("POST", "/namespaces", json={"name": namespace, "description": description})

    def drop_namespace(self, namespace: str) -> None:
        self._json("DELETE", f"/namespaces/{quote(namespace, safe='')}")

    def list_tables(self, namespace: str | None = None, *, include_quarantine: bool = True) -> list[TableName]:
        params: dict[str, Any] = {"include_quarantine": include_quarantine}
        if namespace:
            params["namespace"] = namespace
        return sorted(TableName.parse(t["name"]) for t in self._json("GET", "/tables", params=params))

    def search(
        self, query: str | None = None, namespace: str | None = None, *, include_quarantine: bool = True
    ) -> list[TableSummary]:
        """Tables whose name, description, owner, tags or columns match ``query`` (all words)."""
        params: dict[str, Any] = {"include_quarantine": include_quarantine}
        if query:
            params["q"] = query
        if namespace:
            params["namespace"] = namespace
        return [TableSummary.from_dict(t) for t in self._json("GET", "/tables", params=params)]

    def table(self, name: str | TableName) -> RemoteTable:
        return RemoteTable(self, TableName.parse(name))

    def table_exists(self, name: str | TableName) -> bool:
        try:
            self._json("GET", f"/tables/{TableName.parse(name)}")
        except errors.NotFoundError:
            return False
        return True

    def drop_table(self, name: str | TableName, *, purge: bool = True, missing_ok: bool = False) -> None:
        """Drop a table; ``purge`` also deletes its files (default)."""
        if missing_ok and not self.table_exists(name):
            return
        self._json("DELETE", f"/tables/{TableName.parse(name)}", params={"purge": purge})

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
    ) -> RemoteTable:
        """Create a table from data (Arrow, pandas, polars ...; uploaded as Arrow) or from a schema."""
        from pyiceberg.schema import Schema

        from mlake.tables.frames import to_arrow

        table_name = TableName.parse(name)
        if data is None and schema is None:
            raise ValidationError(f"Creating {table_name} needs data or a schema")
        arrow_schema = schema.as_arrow() if isinstance(schema, Schema) else schema
        if data is not None:
            arrow = to_arrow(data)
            if arrow_schema is not None:
                arrow = arrow.cast(arrow_schema)
        else:
            assert arrow_schema is not None
            arrow = arrow_schema.empty_table()
        form = form_fields(
            with_rows=data is not None,
            partition_by=list(partition_by) or None,
            description=description,
            owner=owner,
            tags=tags if tags is None or isinstance(tags, dict) else list(tags),
            exist_ok=exist_ok,
            properties=properties,
        )
        self._json("POST", f"/tables/{table_name}/create", files=[arrow_part(arrow)], data=form)
        return self.table(table_name)

    # --- SQL, lineage, ingest -----------------------------------------------------------------------

    def sql(self, query: str, *, as_of: datetime | str | None = None, params: Any = None) -> RemoteResult:
        """A lazy result; it runs on the server when converted (``to_arrow()``, ``to_pandas()`` ...).

        ``params`` fill ``?`` or ``$name`` placeholders (a list or a dict of JSON values)."""
        return RemoteResult(self, query, as_of.isoformat() if isinstance(as_of, datetime) else as_of, params)

    def capture(self, model: str, version: str, **options: Any) -> CaptureLogger:
        """A non-blocking logger of a model's inputs and outputs into ``capture.<model>`` on the server: the
        logger of :mod:`mlake.monitor.capture` itself, queueing here and appending each batch through this
        client (one governed append per batch; ``captured_at`` is this process's clock, as in process).
        Clients without Python post batches to ``POST /capture/{model}`` instead."""
        from mlake.monitor.capture import CaptureLogger

        return CaptureLogger(self, model, version, **options)

    def loader(self, source: Any, **options: Any) -> Loader:
        """Batches of a table (name or handle), a SQL query or result, or a saved training set on the server
        for training loops: the loader of :mod:`mlake.loader` over rows streamed once (see
        :mod:`mlake.client.loader`)."""
        from mlake.client.loader import build_remote_loader

        return build_remote_loader(self, source, **options)

    def can_read_sql(self, sql: str) -> bool:
        """Whether this client may read every lake table that ``sql`` names (for showing SQL text)."""
        return bool(self._json("POST", "/sql/readable", json={"sql": sql})["readable"])

    def lineage(self, name: str | TableName, max_depth: int = 10) -> LineageGraph:
        body = self._json("GET", f"/tables/{TableName.parse(name)}/lineage", params={"max_depth": min(max_depth, 20)})
        return lineage_graph(body)

    def ingest(
        self, path: str | Path | Sequence[str | Path], into: str, *, source: str | None = None, **options: Any
    ) -> IngestReport:
        """Upload local files into a table (the server quarantines bad rows as usual); ``source``: a
        source registered on the server (``lake.sources``) the rows come from."""
        paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
        expanded: list[Path] = []
        for p in paths:
            expanded.extend(sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p])
        if not expanded:
            raise ValidationError(f"No files to upload in {path}")
        unknown = set(options) - {"mode", "format", "description"}
        if unknown:
            raise ValidationError(
                f"Option(s) {sorted(unknown)} are not available remotely", hint="use mode, format or description"
            )
        handles = [p.open("rb") for p in expanded]
        try:
            files = [("files", (p.name, h, "application/octet-stream")) for p, h in zip(expanded, handles, strict=True)]
            form = {"table": str(TableName.parse(into)), **{k: str(v) for k, v in options.items() if v is not None}}
            if source is not None:
                form["source"] = source
            return upload_report(self._json("POST", "/ingest", files=files, data=form))
        finally:
            for h in handles:
                h.close()

    def ingest_database(self, url: str, into: str, *, source: str | None = None, **options: Any) -> IngestReport:
        """Load a table or query from PostgreSQL / MySQL into a table; the server connects to the
        database (a principal only to sources the lake's owner listed in ``ingest_allowed``)."""
        body = {"url": url, "into": str(TableName.parse(into)), "source": source, **options}
        return upload_report(self._json("POST", "/ingest/database", json=body))

    def recent_writes(self, limit: int = 20) -> list[WriteRecord]:
        """The newest writes to tables this client may read."""
        return [write_record(w) for w in self._json("GET", "/writes", params={"limit": limit})]

    # --- maintenance --------------------------------------------------------------------------------

    def maintain(self, name: str | TableName | None = None, **options: Any) -> list[MaintenanceReport]:
        """Expire old snapshots, compact small files, remove orphaned files, on the server."""
        from datetime import timedelta

        from mlake.maintenance import MaintenanceReport

        body: dict[str, Any] = {"table": str(TableName.parse(name)) if name else None}
        for key, value in options.items():
            body[key] = f"{value.total_seconds()}s" if isinstance(value, timedelta) else value
        return [MaintenanceReport(**r) for r in self._json("POST", "/maintain", json=body)]
