"""A handle on one lake table: read it, write it, look at its history and metadata.

A ``Table`` is cheap: it holds a name and the lake. Every call loads the table's current metadata
from the catalog, so a handle never goes stale when other processes write.
"""

from __future__ import annotations

import html
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.exceptions import ValidationError as IcebergValidationError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, In, Or
from pyiceberg.expressions.parser import parse as parse_filter
from pyiceberg.schema import Schema
from pyiceberg.table import Table as IcebergTable
from pyiceberg.table.snapshots import Snapshot

from mlake.errors import MlakeError, NotFoundError, PermissionDeniedError, SchemaError, ValidationError
from mlake.tables.frames import SchemaPlan, conform, iceberg_type_of, plan_schema, to_arrow
from mlake.tables.lineage import LineageGraph, LineageInput, WriteRecord
from mlake.tables.models import ColumnInfo, TableInfo
from mlake.tables.names import TableName
from mlake.tables.types import quote_ident
from mlake.tables.types import type_name as iceberg_type_name
from mlake.tables.writer import append_files, remove_files, with_retries, write_arrow

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from mlake.core import LakeHandle as Lake
    from mlake.governance.model import Privilege
    from mlake.results import Result

TAG_PREFIX = "mlake.tag."


@dataclass(frozen=True)
class SnapshotInfo:
    """One entry of a table's history."""

    snapshot_id: int
    parent_id: int | None
    committed_at: datetime
    operation: str
    rows_added: int
    rows_deleted: int
    total_rows: int
    files_added: int
    actor: str | None
    command: str | None
    write_id: str | None
    is_current: bool
    in_current_lineage: bool

    def to_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["committed_at"] = self.committed_at.isoformat()
        return d


@dataclass(frozen=True)
class Page:
    """One page of a table's rows, as a catalog browser shows it."""

    rows: pa.Table
    offset: int
    limit: int
    has_more: bool
    snapshot_id: int | None
    total_rows: int | None  # None when a filter, a time or the actor's row filter makes it unknown


def _summary_int(snapshot: Snapshot, key: str) -> int:
    if snapshot.summary is None:
        return 0
    value = snapshot.summary.additional_properties.get(key)
    return int(value) if value is not None else 0


def parse_row_filter(where: str | BooleanExpression | None) -> BooleanExpression:
    """A row filter for Iceberg operations (delete, overwrite), from SQL-like text."""
    if where is None:
        return AlwaysTrue()
    if isinstance(where, BooleanExpression):
        return where
    try:
        return parse_filter(where)
    except Exception as exc:
        raise ValidationError(
            f"Cannot understand the filter {where!r}: {str(exc).splitlines()[0]}",
            hint="use comparisons joined by AND/OR, e.g. \"amount < 0 AND channel = 'web'\", "
            "IN (...), IS NULL, LIKE 'prefix%'",
        ) from exc


class Table:
    """One table of the lake, by name."""

    def __init__(self, lake: Lake, name: TableName) -> None:
        self._lake = lake
        self.name = name

    def __repr__(self) -> str:
        return f"<mlake.Table {self.name}>"

    # --- metadata -------------------------------------------------------------------------------

    @property
    def iceberg(self) -> IcebergTable:
        """The pyiceberg table as the catalog has it now (cached while unchanged; do not commit on it)."""
        return self._lake.iceberg_table(self.name)

    @property
    def schema(self) -> Schema:
        """The current schema; a principal granted only some columns sees only those."""
        schema = self.iceberg.schema()
        visible = self._lake.access.table(self.name).columns
        if visible is None:
            return schema
        keep = set(visible)
        return Schema(*(f for f in schema.fields if f.name in keep), schema_id=schema.schema_id)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.schema.fields]

    @property
    def location(self) -> str:
        """Where the table's files are; a storage path of the server, shown to superusers only."""
        tbl = self.iceberg
        self._lake.access.require_superuser("see storage locations")
        return tbl.location()

    def describe(self) -> TableInfo:
        """Everything a catalog page shows about the table — as the actor may see it: a principal needs
        ``select``, sees only its columns (masked ones flagged), no storage location unless a superuser,
        and no row or byte counts of a table its row filter narrows. ``to_dict()`` gives it as JSON data."""
        tbl = self.iceberg
        access = self._lake.access.require("select", self.name)
        snap = tbl.current_snapshot()
        props = tbl.properties
        columns = [
            ColumnInfo(
                name=f.name,
                type=iceberg_type_name(f.field_type),
                required=f.required,
                doc=f.doc,
                field_id=f.field_id,
                masked=f.name in access.masks,
            )
            for f in tbl.schema().fields
            if access.columns is None or f.name in access.columns
        ]
        whole = not access.filters
        return TableInfo(
            name=str(self.name),
            description=props.get("comment"),
            owner=props.get("owner"),
            tags=self._tags(props),
            columns=columns,
            partitioning=[str(f) for f in tbl.spec().fields],
            location=tbl.location() if self._lake.access.superuser else None,
            snapshot_id=snap.snapshot_id if snap else None,
            rows=(_summary_int(snap, "total-records") if snap else 0) if whole else None,
            files=(_summary_int(snap, "total-data-files") if snap else 0) if whole else None,
            size_bytes=(_summary_int(snap, "total-files-size") if snap else 0) if whole else None,
            last_updated=datetime.fromtimestamp(snap.timestamp_ms / 1000, UTC).isoformat() if snap else None,
            format_version=tbl.format_version,
            row_filtered=not whole,
            privileges=self._lake.privileges(self.name) if self._lake.access.governed else None,
        )

    @staticmethod
    def _tags(props: dict[str, str]) -> dict[str, str]:
        return {k[len(TAG_PREFIX) :]: v for k, v in props.items() if k.startswith(TAG_PREFIX)}

    @property
    def tags(self) -> dict[str, str]:
        return self._tags(self.iceberg.properties)

    def set_metadata(
        self,
        *,
        description: str | None = None,
        owner: str | None = None,
        tags: dict[str, str] | Sequence[str] | None = None,
        remove_tags: Sequence[str] = (),
        column_docs: dict[str, str] | None = None,
    ) -> None:
        """Update description, owner, tags (``{"pii": "false"}`` or ``["gold"]``) and column descriptions.

        They are stored in Iceberg itself (table properties and column docs), so any Iceberg engine
        sees them too.
        """
        detail = repr({"description": description, "owner": owner, "tags": tags, "remove_tags": remove_tags})
        with self._lake.access.audited("table.metadata", [str(self.name)], detail[:500]):
            self._set_metadata(description, owner, tags, remove_tags, column_docs)

    def _set_metadata(
        self,
        description: str | None,
        owner: str | None,
        tags: dict[str, str] | Sequence[str] | None,
        remove_tags: Sequence[str],
        column_docs: dict[str, str] | None,
    ) -> None:
        # Changing the owner hands the table over: that needs admin; the rest is alter.
        catalog = self._lake.catalog_for_write(self.name, "admin" if owner is not None else "alter")
        props: dict[str, str] = {}
        if description is not None:
            props["comment"] = description
        if owner is not None:
            props["owner"] = owner
        if tags is not None:
            items = tags.items() if isinstance(tags, dict) else ((t, "") for t in tags)
            for key, value in items:
                props[TAG_PREFIX + key] = str(value)
        known = set(self.columns)
        for col in column_docs or {}:
            if col not in known:
                raise NotFoundError(
                    f"Table {self.name} has no column {col!r}", hint=f"columns: {', '.join(sorted(known))}"
                )

        def attempt(tbl: IcebergTable) -> None:
            with tbl.transaction() as tx:
                if props:
                    tx.set_properties(props)
                if remove_tags:
                    tx.remove_properties(*(TAG_PREFIX + t for t in remove_tags))
                if column_docs:
                    with tx.update_schema() as update:
                        for col, doc in column_docs.items():
                            update.update_column(col, doc=doc)

        with_retries(catalog, self.name.identifier, attempt, self._lake.settings.commit_retries)

    # --- reading --------------------------------------------------------------------------------

    def snapshot_at(self, when: datetime | str) -> int:
        """The id of the snapshot that was current at ``when`` (a datetime or ISO text)."""
        if isinstance(when, str):
            try:
                when = datetime.fromisoformat(when)
            except ValueError as exc:
                raise ValidationError(
                    f"Cannot read {when!r} as a time", hint="use ISO 8601, e.g. 2026-11-20 14:00"
                ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        tbl = self.iceberg
        snap = tbl.snapshot_as_of_timestamp(int(when.timestamp() * 1000))
        if snap is None:
            first = min((s.timestamp_ms for s in tbl.snapshots()), default=None)
            since = (
                f"; its first snapshot is from {datetime.fromtimestamp(first / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC"
                if first
                else ""
            )
            raise NotFoundError(f"Table {self.name} had no data at {when.isoformat()}{since}")
        return snap.snapshot_id

    def check_snapshot(self, snapshot_id: int) -> int:
        if self.iceberg.snapshot_by_id(snapshot_id) is None:
            raise NotFoundError(
                f"Table {self.name} has no snapshot {snapshot_id}",
                hint=f"see `mlake tables history {self.name}` for its snapshots",
            )
        return snapshot_id

    def query(
        self,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        limit: int | None = None,
        order_by: str | None = None,
    ) -> Result:
        """A lazy query over this table; convert it with ``to_arrow()``, ``to_pandas()``, ``batches()``.

        A principal reads through its secure view (see :meth:`mlake.sql.SqlEngine.view_for`); its filter
        and sort order are checked like any SQL it sends."""
        with self._lake.access.audited("table.read", [str(self.name)], where):
            return self._query(columns, where, snapshot_id, as_of, limit, order_by)

    def _query(
        self,
        columns: Sequence[str] | None,
        where: str | None,
        snapshot_id: int | None,
        as_of: datetime | str | None,
        limit: int | None,
        order_by: str | None,
    ) -> Result:
        self._lake.access.require("select", self.name)
        if where:
            self._lake.engine.check_expression(where, "filter")
        if order_by:
            self._lake.engine.check_expression(order_by, "sort order", order_by=True)
        if as_of is not None and snapshot_id is None:
            snapshot_id = self.snapshot_at(as_of)
        if snapshot_id is not None:
            self.check_snapshot(snapshot_id)
        visible = self.columns  # a principal's: only the columns granted to it
        if columns is None and self._lake.access.table(self.name).columns is not None:
            columns = visible
        cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
        if columns:
            hidden = [c for c in columns if c not in visible and c in self.iceberg.schema().column_names]
            if hidden:
                raise PermissionDeniedError(
                    f"Principal {self._lake.access.name!r} may not read column(s) {', '.join(hidden)} of {self.name}"
                )
            missing = set(columns) - set(visible)
            if missing:
                raise NotFoundError(f"Table {self.name} has no column(s) {', '.join(sorted(missing))}")
        view = self._lake.engine.view_for(self.name, snapshot_id, where)
        sql = f"SELECT {cols} FROM {view}"
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._lake.engine.run_internal(sql)

    def page(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        order_by: str | None = None,
        desc: bool = False,
        where: str | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
    ) -> Page:
        """A page of rows sorted by one column — with the total when it is known without counting."""
        info = self.describe()
        columns = info.column_names
        order = None
        if order_by:
            if order_by not in columns:
                raise ValidationError(f"Cannot sort by {order_by!r}: no such column", hint=f"columns: {columns}")
            order = f"{quote_ident(order_by)} {'DESC' if desc else 'ASC'} NULLS LAST"
        result = self.query(columns, where or None, snapshot_id=snapshot_id, as_of=as_of, order_by=order)
        rows = result.page(limit + 1, offset)
        total = info.rows
        if where or as_of:
            total = None
        elif snapshot_id is not None and total is not None:
            total = next((s.total_rows for s in self.history() if s.snapshot_id == snapshot_id), None)
        return Page(
            rows=rows.slice(0, limit),
            offset=offset,
            limit=limit,
            has_more=rows.num_rows > limit,
            snapshot_id=snapshot_id if snapshot_id is not None else info.snapshot_id,
            total_rows=total,
        )

    def to_arrow(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pa.Table:
        return self.query(columns, where, **kw).to_arrow()

    def to_pandas(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pd.DataFrame:
        return self.query(columns, where, **kw).to_pandas()

    def to_polars(self, columns: Sequence[str] | None = None, where: str | None = None, **kw: Any) -> pl.DataFrame:
        return self.query(columns, where, **kw).to_polars()

    def batches(self, batch_size: int = 100_000, **kw: Any) -> Iterator[pa.RecordBatch]:
        return self.query(**kw).batches(batch_size)

    def loader(self, batch_size: int = 1024, **options: Any) -> Any:
        """A :class:`mlake.loader.Loader` over this table for training loops (``shuffle``, ``seed``,
        ``columns``, ``rank``, ``world_size``, ``cache``, ``format`` ...; see
        :func:`mlake.loader.build_loader`): batches of numpy arrays or Arrow, sharded by rank and
        DataLoader worker, shuffled by seed and epoch, prefetched, cached.

        Its owner (or a principal that may read the table as it is) reads the data files directly; a
        principal that sees it through masks, row filters or some columns reads through its secure view
        (see :mod:`mlake.loader.build`)."""
        return self._lake.loader(self, batch_size=batch_size, **options)

    def provenance(self) -> Any:
        """Every registered source (and license) this table's data derives from, through its lineage; see
        :meth:`mlake.sources.SourceRegistry.provenance`."""
        return self._lake.sources.provenance(self.name)

    def head(self, n: int = 10) -> Result:
        return self.query(limit=n)

    def count(self, snapshot_id: int | None = None) -> int:
        rows = self.query(snapshot_id=snapshot_id).relation.aggregate("count(*)").fetchall()
        return int(rows[0][0]) if rows else 0

    # --- history --------------------------------------------------------------------------------

    def lineage(self, max_depth: int = 10) -> LineageGraph:
        """Upstream and downstream of this table (see :meth:`mlake.lake.Lake.lineage`)."""
        return self._lake.lineage(self.name, max_depth)

    def history(self) -> list[SnapshotInfo]:
        """Snapshots, oldest first; ``in_current_lineage`` is False for ones left by a rollback."""
        tbl = self.iceberg
        self._lake.access.require("select", self.name)
        current = tbl.current_snapshot()
        ancestors: set[int] = set()
        snap = current
        while snap is not None:
            ancestors.add(snap.snapshot_id)
            snap = tbl.snapshot_by_id(snap.parent_snapshot_id) if snap.parent_snapshot_id else None
        out = []
        for s in sorted(tbl.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0)):
            props = s.summary.additional_properties if s.summary else {}
            op = s.summary.operation.value if s.summary else "unknown"
            added, deleted = _summary_int(s, "added-records"), _summary_int(s, "deleted-records")
            if props.get("mlake.operation") == "delete":
                # Copy-on-write rewrites the surviving rows of touched files; report the rows removed.
                added, deleted = 0, deleted - added
            out.append(
                SnapshotInfo(
                    snapshot_id=s.snapshot_id,
                    parent_id=s.parent_snapshot_id,
                    committed_at=datetime.fromtimestamp(s.timestamp_ms / 1000, UTC),
                    operation=props.get("mlake.operation", op),
                    rows_added=added,
                    rows_deleted=deleted,
                    total_rows=_summary_int(s, "total-records"),
                    files_added=_summary_int(s, "added-data-files"),
                    actor=props.get("mlake.actor"),
                    command=props.get("mlake.command"),
                    write_id=props.get("mlake.write-id"),
                    is_current=current is not None and s.snapshot_id == current.snapshot_id,
                    in_current_lineage=s.snapshot_id in ancestors,
                )
            )
        return out

    def rollback(self, snapshot_id: int) -> None:
        """Make ``snapshot_id`` current again. Later snapshots stay in history (roll forward works too)."""
        with self._lake.access.audited("table.rollback", [str(self.name)], str(snapshot_id)):
            self._rollback(snapshot_id)

    def _rollback(self, snapshot_id: int) -> None:
        self.check_snapshot(snapshot_id)
        catalog = self._lake.catalog_for_write(self.name, "alter")

        def attempt(tbl: IcebergTable) -> None:
            tbl.manage_snapshots().set_current_snapshot(snapshot_id=snapshot_id).commit()

        with_retries(catalog, self.name.identifier, attempt, self._lake.settings.commit_retries)
        self._lake._core.lineage_store.record(
            self._write_record("rollback", f"rollback to {snapshot_id}", snapshot_id=snapshot_id)
        )

    # --- schema changes ---------------------------------------------------------------------------

    def add_columns(self, columns: dict[str, pa.DataType | str], docs: dict[str, str] | None = None) -> None:
        """Add nullable columns; old files read them as NULL without being rewritten."""
        fields = {name: pa.field(name, _arrow_type(t)) for name, t in columns.items()}

        def attempt(tbl: IcebergTable) -> None:
            with tbl.update_schema() as update:
                for name, f in fields.items():
                    update.add_column(name, iceberg_type_of(f.type), doc=(docs or {}).get(name))

        with self._lake.access.audited("table.schema", [str(self.name)], f"add {list(columns)}"):
            self._schema_change(attempt)

    def rename_column(self, old: str, new: str) -> None:
        with self._lake.access.audited("table.schema", [str(self.name)], f"rename {old} to {new}"):
            self._schema_change(lambda tbl: _apply(tbl, lambda u: u.rename_column(old, new)))

    def drop_column(self, name: str) -> None:
        with self._lake.access.audited("table.schema", [str(self.name)], f"drop {name}"):
            self._schema_change(lambda tbl: _apply(tbl, lambda u: u.delete_column(name)))

    def widen_column(self, name: str, to: pa.DataType | str) -> None:
        """Widen int→long, float→double or a decimal's precision (Iceberg's safe promotions)."""
        new_type = iceberg_type_of(_arrow_type(to))
        field_ = self.schema.find_field(name) if name in self.columns else None
        if field_ is None:
            raise NotFoundError(f"Table {self.name} has no column {name!r}")
        from mlake.tables.types import reconcile

        if reconcile(name, field_.field_type, new_type) != "widen":
            return
        with self._lake.access.audited("table.schema", [str(self.name)], f"widen {name}"):
            self._schema_change(lambda tbl: _apply(tbl, lambda u: u.update_column(name, field_type=new_type)))

    def _schema_change(self, attempt: Any) -> None:
        catalog = self._lake.catalog_for_write(self.name, "alter")
        try:
            with_retries(catalog, self.name.identifier, attempt, self._lake.settings.commit_retries)
        except (IcebergValidationError, ValueError) as exc:
            raise SchemaError(f"Schema change on {self.name} refused: {exc}") from exc

    def evolve_for(self, data_schema: pa.Schema, lenient: bool = False) -> SchemaPlan:
        """Add new columns and widen columns so that data of ``data_schema`` fits; return the plan.

        ``lenient`` leaves incompatible columns alone (see :func:`plan_schema`)."""
        plan = plan_schema(self.iceberg.schema(), data_schema, lenient)
        if plan.changes_schema:

            def attempt(tbl: IcebergTable) -> None:
                fresh = plan_schema(tbl.schema(), data_schema, lenient)
                if not fresh.changes_schema:
                    return
                with tbl.update_schema() as update:
                    for f in fresh.add:
                        update.add_column(f.name, iceberg_type_of(f.type))
                    for name, t in fresh.widen.items():
                        update.update_column(name, field_type=t)

            self._schema_change(attempt)
        return plan

    # --- writing --------------------------------------------------------------------------------

    def _write_record(self, operation: str, command: str, **kw: Any) -> WriteRecord:
        return WriteRecord(
            write_id=kw.pop("write_id", None) or uuid.uuid4().hex,
            table=str(self.name),
            operation=operation,
            actor=self._lake.settings.user,
            command=command,
            **kw,
        )

    @staticmethod
    def snapshot_properties(write: WriteRecord) -> dict[str, str]:
        return {
            "mlake.write-id": write.write_id,
            "mlake.actor": write.actor,
            "mlake.command": write.command[:500],
            "mlake.operation": write.operation,
        }

    def _finish(self, write: WriteRecord, tbl: IcebergTable) -> WriteRecord:
        snap = tbl.current_snapshot()
        write.snapshot_id = snap.snapshot_id if snap else None
        self._lake._core.lineage_store.record(write)
        self._lake.events.emit("table.write", write)
        return write

    def _prepare(self, data: Any, privilege: Privilege = "insert") -> tuple[pa.Table, list[LineageInput]]:
        # Refused before any file is written; the commit (catalog_for_write) checks again.
        self._lake.access.require(privilege, self.name)
        inputs = list(getattr(data, "lineage_inputs", []) or [])
        table = _drop_untyped_nulls(to_arrow(data), self.iceberg.schema())
        if not inputs:
            inputs = [LineageInput("dataframe", type(data).__name__, f"{table.num_rows} rows")]
        self.evolve_for(table.schema)
        return conform(table, self.iceberg.schema()), inputs

    def append(
        self,
        data: Any,
        *,
        command: str | None = None,
        inputs: list[LineageInput] | None = None,
        properties: dict[str, str] | None = None,
        precondition: Callable[[IcebergTable], None] | None = None,
    ) -> WriteRecord:
        """Append rows; new columns are added to the schema, safe widenings applied.

        ``properties`` go into the snapshot summary with the data, in the same commit; ``precondition``
        may abort the commit after seeing the table as it is then (see ``writer.append_files``)."""
        with self._lake.access.audited("table.append", [str(self.name)]):
            return self._append(data, command, inputs, properties, precondition)

    def _append(
        self,
        data: Any,
        command: str | None,
        inputs: list[LineageInput] | None,
        properties: dict[str, str] | None = None,
        precondition: Callable[[IcebergTable], None] | None = None,
    ) -> WriteRecord:
        table, default_inputs = self._prepare(data)
        write = self._write_record("append", command or "append", inputs=inputs or default_inputs)
        write.rows_written = table.num_rows
        tbl = self.iceberg
        files = write_arrow(tbl, table)
        try:
            tbl = append_files(
                self._lake.catalog_for_write(self.name, "insert"),
                self.name.identifier,
                files,
                {**(properties or {}), **self.snapshot_properties(write)},
                self._lake.settings.commit_retries,
                precondition,
            )
        except BaseException:
            remove_files(f.file_path for f in files)
            raise
        return self._finish(write, tbl)

    def overwrite(
        self,
        data: Any,
        where: str | BooleanExpression | None = None,
        *,
        command: str | None = None,
        inputs: list[LineageInput] | None = None,
    ) -> WriteRecord:
        """Replace all rows (or the rows matching ``where``) with ``data``, in one snapshot."""
        with self._lake.access.audited("table.overwrite", [str(self.name)], str(where) if where else None):
            return self._overwrite(data, where, command, inputs)

    def _overwrite(
        self,
        data: Any,
        where: str | BooleanExpression | None,
        command: str | None,
        inputs: list[LineageInput] | None,
    ) -> WriteRecord:
        table, default_inputs = self._prepare(data, "alter")
        row_filter = parse_row_filter(where)
        write = self._write_record(
            "overwrite",
            command or (f"overwrite where {where}" if where else "overwrite"),
            inputs=inputs or default_inputs,
        )
        write.rows_written = table.num_rows
        props = self.snapshot_properties(write)

        def attempt(tbl: IcebergTable) -> IcebergTable:
            tbl.overwrite(table, overwrite_filter=row_filter, snapshot_properties=props)
            return tbl

        tbl = self._run(attempt, "alter")
        return self._finish(write, tbl)

    def delete(self, where: str | BooleanExpression, *, command: str | None = None) -> WriteRecord:
        """Delete the rows matching ``where`` (files are rewritten; older snapshots keep the rows)."""
        with self._lake.access.audited("table.delete", [str(self.name)], str(where)):
            return self._delete(where, command)

    def _delete(self, where: str | BooleanExpression, command: str | None) -> WriteRecord:
        row_filter = parse_row_filter(where)
        write = self._write_record("delete", command or f"delete where {where}")

        def attempt(tbl: IcebergTable) -> IcebergTable:
            tbl.delete(delete_filter=row_filter, snapshot_properties=self.snapshot_properties(write))
            return tbl

        tbl = self._run(attempt, "alter")
        snap = tbl.current_snapshot()
        if (
            snap is not None
            and snap.summary
            and snap.summary.additional_properties.get("mlake.write-id") == write.write_id
        ):
            # copy-on-write: deleted-records counts the rewritten survivors too
            write.rows_written = _summary_int(snap, "deleted-records") - _summary_int(snap, "added-records")
        return self._finish(write, tbl)

    def upsert(
        self, data: Any, on: Sequence[str], *, command: str | None = None, inputs: list[LineageInput] | None = None
    ) -> WriteRecord:
        """Update rows whose key columns ``on`` match, insert the others."""
        with self._lake.access.audited("table.upsert", [str(self.name)]):
            return self._upsert(data, on, command, inputs)

    def _upsert(
        self, data: Any, on: Sequence[str], command: str | None, inputs: list[LineageInput] | None
    ) -> WriteRecord:
        table, default_inputs = self._prepare(data)
        missing = [c for c in on if c not in table.column_names]
        if missing:
            raise ValidationError(f"Upsert key column(s) {missing} are not in the data")
        dup = (
            table.group_by(list(on))
            .aggregate([([], "count_all")])
            .filter(pa.compute.greater(pa.compute.field("count_all"), 1))
        )
        if dup.num_rows:
            raise ValidationError(
                f"Upsert data has {dup.num_rows} duplicate key(s) on {list(on)}",
                hint="each key may appear once in the data; deduplicate it first",
            )
        write = self._write_record("upsert", command or f"upsert on {', '.join(on)}", inputs=inputs or default_inputs)
        props = self.snapshot_properties(write)
        result: dict[str, int] = {}

        def attempt(tbl: IcebergTable) -> IcebergTable:
            r = tbl.upsert(table, join_cols=list(on), snapshot_properties=props)
            result.update(updated=r.rows_updated, inserted=r.rows_inserted)
            return tbl

        tbl = self._run(attempt, "insert")
        write.rows_written = result.get("updated", 0) + result.get("inserted", 0)
        return self._finish(write, tbl)

    def apply_changes(
        self,
        rows: Any,
        on: Sequence[str],
        *,
        delete_keys: Sequence[tuple[Any, ...]] = (),
        delete_all: bool = False,
        command: str | None = None,
        properties: dict[str, str] | None = None,
        precondition: Callable[[IcebergTable], None] | None = None,
    ) -> WriteRecord:
        """Apply a batch of changes in one commit: remove the rows whose key (columns ``on``) is in
        ``delete_keys`` or in ``rows`` (every row with ``delete_all``), then add ``rows``.

        ``rows`` hold each key at most once, in its final state. It is what change data capture needs: a
        batch of inserts, updates and deletes becomes one atomic commit, with ``properties`` (the source
        position) in its snapshot summary and ``precondition`` checked on the table as it is then."""
        with self._lake.access.audited("table.apply_changes", [str(self.name)]):
            table, default_inputs = self._prepare(rows, "alter")
            write = self._write_record("upsert", command or f"apply changes on {', '.join(on)}", inputs=default_inputs)
            write.rows_written = table.num_rows
            props = {**(properties or {}), **self.snapshot_properties(write)}
            keys = list(dict.fromkeys([*delete_keys, *zip(*(table.column(c).to_pylist() for c in on), strict=True)]))
            condition = AlwaysTrue() if delete_all else _key_filter(list(on), keys)

            def attempt(tbl: IcebergTable) -> IcebergTable:
                if precondition is not None:
                    precondition(tbl)
                with tbl.transaction() as tx:
                    if condition is not None and tbl.current_snapshot() is not None:
                        with warnings.catch_warnings():  # keys that are new match nothing: that is fine
                            warnings.filterwarnings("ignore", "Delete operation did not match any records")
                            tx.delete(delete_filter=condition, snapshot_properties=props)
                    tx.append(table, snapshot_properties=props)
                return tbl

            tbl = self._run(attempt, "alter")
            return self._finish(write, tbl)

    def _run(self, attempt: Any, privilege: Privilege) -> IcebergTable:
        catalog = self._lake.catalog_for_write(self.name, privilege)
        try:
            tbl: IcebergTable = with_retries(catalog, self.name.identifier, attempt, self._lake.settings.commit_retries)
        except MlakeError:
            raise
        except (IcebergValidationError, ValueError) as exc:
            raise SchemaError(f"Write to {self.name} refused: {exc}") from exc
        return tbl

    # --- notebooks --------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        d = self.describe()
        cols = "".join(
            f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(c.type)}</td><td>{html.escape(c.doc or '')}</td></tr>"
            for c in d.columns
        )
        tags = ", ".join(f"{k}={v}" if v else k for k, v in d.tags.items())
        head = self.head(5)._repr_html_()
        size = "rows filtered for you" if d.rows is None else f"{d.rows:,} rows, {d.files} files"
        return (
            f"<div><b>{html.escape(d.name)}</b> — {size}"
            f"{' — ' + html.escape(d.description) if d.description else ''}"
            f"{'<br>owner: ' + html.escape(d.owner) if d.owner else ''}"
            f"{'<br>tags: ' + html.escape(tags) if tags else ''}"
            f"<table><tr><th>column</th><th>type</th><th>description</th></tr>{cols}</table>{head}</div>"
        )


def _apply(tbl: IcebergTable, change: Any) -> None:
    with tbl.update_schema() as update:
        change(update)


_TYPE_NAMES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "str": pa.string(),
    "varchar": pa.string(),
    "text": pa.string(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "int32": pa.int32(),
    "long": pa.int64(),
    "bigint": pa.int64(),
    "int64": pa.int64(),
    "float": pa.float32(),
    "float32": pa.float32(),
    "real": pa.float32(),
    "double": pa.float64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "binary": pa.binary(),
    "blob": pa.binary(),
}


def _arrow_type(t: pa.DataType | str) -> pa.DataType:
    if isinstance(t, pa.DataType):
        return t
    key = t.strip().lower()
    if key.startswith("decimal(") and key.endswith(")"):
        p, s = (int(x) for x in key[8:-1].split(","))
        return pa.decimal128(p, s)
    if key not in _TYPE_NAMES:
        raise ValidationError(
            f"Unknown type {t!r}", hint=f"use one of {', '.join(sorted(_TYPE_NAMES))} or decimal(p,s)"
        )
    return _TYPE_NAMES[key]


def parse_type(t: pa.DataType | str) -> pa.DataType:
    """A user's type name (``long``, ``decimal(10,2)``, ``timestamptz``) as an Arrow type."""
    return _arrow_type(t)


def type_name(t: pa.DataType | str) -> str:
    """The name :func:`parse_type` reads back as ``t`` (for sending a type over the wire)."""
    if isinstance(t, str):
        return t
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    for name, known in _TYPE_NAMES.items():
        if known == t:
            return name
    raise ValidationError(f"Type {t} has no mlake type name", hint=f"use one of {', '.join(sorted(_TYPE_NAMES))}")


__all__ = ["Page", "SnapshotInfo", "Table", "parse_row_filter", "parse_type", "type_name"]


def _drop_untyped_nulls(data: pa.Table, schema: Schema) -> pa.Table:
    """Leave out columns of the data that hold only nulls and exist (optional) in the table.

    A frame column with no values has no type of its own (pandas and ``from_pydict`` give it ``null`` or
    ``object``, which becomes string), so it must not be read as a type change of the table's column:
    ``conform`` fills it with nulls of the table's type instead."""
    optional = {f.name.lower() for f in schema.fields if not f.required}
    keep = [
        name
        for name, column in zip(data.column_names, data.columns, strict=True)
        if name.lower() not in optional or column.null_count < len(column) or not len(column)
    ]
    return data if len(keep) == data.num_columns else data.select(keep)


def _key_filter(on: list[str], keys: list[tuple[Any, ...]]) -> BooleanExpression | None:
    """Rows whose key columns equal one of ``keys`` (None: no key)."""
    if not keys:
        return None
    if len(on) == 1:
        return In(on[0], {k[0] for k in keys})  # type: ignore[call-arg,arg-type]  # pydantic plugin misreads it
    expression: BooleanExpression | None = None
    for key in keys:
        terms = [EqualTo(c, v) for c, v in zip(on, key, strict=True)]  # type: ignore[call-arg,arg-type]
        match: BooleanExpression = And(*terms)
        expression = match if expression is None else Or(expression, match)
    return expression
