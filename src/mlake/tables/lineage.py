"""Lineage: every write records its inputs and its output snapshot.

A *write* is one commit by mlake (an ingest, an append, a CTAS ...). Its inputs are files (with content
hashes), URLs, database queries, data frames, and table snapshots. Walking the input records backwards
gives a table's upstream; finding writes that read a table gives its downstream.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlake.metastore import ingest_log_table, lineage_inputs_table, writes_table

InputKind = Literal["file", "url", "database", "table", "dataframe", "query"]


@dataclass(frozen=True)
class LineageInput:
    kind: InputKind
    ref: str
    detail: str | None = None
    snapshot_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "detail": self.detail, "snapshot_id": self.snapshot_id}


@dataclass
class WriteRecord:
    write_id: str
    table: str
    operation: str
    actor: str
    command: str
    snapshot_id: int | None = None
    rows_written: int = 0
    rows_quarantined: int = 0
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    inputs: list[LineageInput] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "write_id": self.write_id,
            "table": self.table,
            "operation": self.operation,
            "actor": self.actor,
            "command": self.command,
            "snapshot_id": self.snapshot_id,
            "rows_written": self.rows_written,
            "rows_quarantined": self.rows_quarantined,
            "at": self.at.isoformat(),
            "inputs": [i.to_dict() for i in self.inputs],
        }


@dataclass
class LineageEdge:
    """``source`` fed ``target`` through one write."""

    source: LineageInput
    target: str
    write: WriteRecord
    depth: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "target": self.target,
            "depth": self.depth,
            "write_id": self.write.write_id,
            "operation": self.write.operation,
            "snapshot_id": self.write.snapshot_id,
            "at": self.write.at.isoformat(),
            "actor": self.write.actor,
        }


HIDDEN_TEXT = "(hidden: it names a table you may not read)"


@dataclass
class LineageGraph:
    """Upstream and downstream of one table, each edge tagged with its distance from the table."""

    table: str
    upstream: list[LineageEdge]
    downstream: list[LineageEdge]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "upstream": [e.to_dict() for e in self.upstream],
            "downstream": [e.to_dict() for e in self.downstream],
        }

    def hide_text(self, hide: Callable[[str], bool]) -> None:
        """Blank the SQL text of writes and query inputs for which ``hide`` says so (a principal must not
        read SQL naming tables it may not read)."""
        for edge in [*self.upstream, *self.downstream]:
            if edge.write.command and hide(edge.write.command):
                edge.write = replace(edge.write, command=HIDDEN_TEXT)
            if edge.source.detail and edge.source.kind == "query" and hide(edge.source.detail):
                edge.source = replace(edge.source, detail=HIDDEN_TEXT)

    def upstream_tables(self) -> set[str]:
        return {e.source.ref for e in self.upstream if e.source.kind == "table"}

    def downstream_tables(self) -> set[str]:
        return {e.target for e in self.downstream}

    def _repr_html_(self) -> str:
        def rows(edges: list[LineageEdge], up: bool) -> str:
            out = []
            for e in edges:
                src = f"{e.source.kind}: {e.source.ref}"
                if e.source.snapshot_id:
                    src += f" @ {e.source.snapshot_id}"
                arrow = f"{html.escape(src)} → {html.escape(e.target)}"
                out.append(
                    f"<tr><td>{'↑' if up else '↓'}{e.depth}</td><td>{arrow}</td>"
                    f"<td>{html.escape(e.write.operation)}</td><td>{e.write.at:%Y-%m-%d %H:%M}</td></tr>"
                )
            return "".join(out) or "<tr><td colspan=4><i>none recorded</i></td></tr>"

        return (
            f"<b>Lineage of {html.escape(self.table)}</b><table><tr><th></th><th>edge</th><th>operation</th>"
            f"<th>at</th></tr><tr><th colspan=4>upstream</th></tr>{rows(self.upstream, True)}"
            f"<tr><th colspan=4>downstream</th></tr>{rows(self.downstream, False)}</table>"
        )


class LineageStore:
    """Records and walks lineage in the control-plane database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, write: WriteRecord) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                writes_table.insert().values(
                    write_id=write.write_id,
                    table_name=write.table,
                    snapshot_id=write.snapshot_id,
                    operation=write.operation,
                    actor=write.actor,
                    command=write.command[:4000],
                    rows_written=write.rows_written,
                    rows_quarantined=write.rows_quarantined,
                    at=write.at,
                )
            )
            if write.inputs:
                conn.execute(
                    lineage_inputs_table.insert(),
                    [
                        {
                            "write_id": write.write_id,
                            "kind": i.kind,
                            "ref": i.ref,
                            "detail": i.detail,
                            "snapshot_id": i.snapshot_id,
                            "table_ref": i.ref if i.kind == "table" else None,
                        }
                        for i in write.inputs
                    ],
                )

    def writes(self, table: str | None = None, limit: int | None = None) -> list[WriteRecord]:
        """Writes, newest first, with their inputs."""
        query = sa.select(writes_table).order_by(writes_table.c.at.desc())
        if table is not None:
            query = query.where(writes_table.c.table_name == table)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            rows = list(conn.execute(query))
            return self._with_inputs(conn, rows)

    def _with_inputs(self, conn: sa.Connection, rows: Iterable[Any]) -> list[WriteRecord]:
        records = {
            r.write_id: WriteRecord(
                write_id=r.write_id,
                table=r.table_name,
                operation=r.operation,
                actor=r.actor,
                command=r.command,
                snapshot_id=r.snapshot_id,
                rows_written=r.rows_written,
                rows_quarantined=r.rows_quarantined,
                at=r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
            )
            for r in rows
        }
        if records:
            inputs = conn.execute(
                sa.select(lineage_inputs_table)
                .where(lineage_inputs_table.c.write_id.in_(list(records)))
                .order_by(lineage_inputs_table.c.id)
            )
            for i in inputs:
                records[i.write_id].inputs.append(LineageInput(i.kind, i.ref, i.detail, i.snapshot_id))
        return list(records.values())

    def graph(self, table: str, max_depth: int = 10) -> LineageGraph:
        return LineageGraph(table, self._walk_up(table, max_depth), self._walk_down(table, max_depth))

    def _walk_up(self, table: str, max_depth: int) -> list[LineageEdge]:
        edges: list[LineageEdge] = []
        frontier, seen = [table], {table}
        for depth in range(1, max_depth + 1):
            if not frontier:
                break
            with self._engine.connect() as conn:
                rows = conn.execute(
                    sa.select(writes_table).where(writes_table.c.table_name.in_(frontier)).order_by(writes_table.c.at)
                )
                writes = self._with_inputs(conn, rows)
            next_frontier = []
            for w in writes:
                for i in w.inputs:
                    edges.append(LineageEdge(i, w.table, w, depth))
                    if i.kind == "table" and i.ref not in seen:
                        seen.add(i.ref)
                        next_frontier.append(i.ref)
            frontier = next_frontier
        return edges

    def _walk_down(self, table: str, max_depth: int) -> list[LineageEdge]:
        edges: list[LineageEdge] = []
        frontier, seen = [table], {table}
        for depth in range(1, max_depth + 1):
            if not frontier:
                break
            with self._engine.connect() as conn:
                write_ids = [
                    r.write_id
                    for r in conn.execute(
                        sa.select(lineage_inputs_table.c.write_id)
                        .where(lineage_inputs_table.c.table_ref.in_(frontier))
                        .distinct()
                    )
                ]
                if not write_ids:
                    break
                rows = conn.execute(
                    sa.select(writes_table).where(writes_table.c.write_id.in_(write_ids)).order_by(writes_table.c.at)
                )
                writes = self._with_inputs(conn, rows)
            next_frontier = []
            for w in writes:
                for i in w.inputs:
                    if i.kind == "table" and i.ref in frontier:
                        edges.append(LineageEdge(i, w.table, w, depth))
                if w.table not in seen:
                    seen.add(w.table)
                    next_frontier.append(w.table)
            frontier = next_frontier
        return edges

    def forget_table(self, table: str) -> None:
        """Drop a table's own write records (its inputs' records stay: other tables' history) and its
        ingest log, so that the files it was made from are ingested again into a table of the same name."""
        with self._engine.begin() as conn:
            conn.execute(ingest_log_table.delete().where(ingest_log_table.c.table_name == table))
            ids = [
                r.write_id
                for r in conn.execute(sa.select(writes_table.c.write_id).where(writes_table.c.table_name == table))
            ]
            if ids:
                conn.execute(lineage_inputs_table.delete().where(lineage_inputs_table.c.write_id.in_(ids)))
                conn.execute(writes_table.delete().where(writes_table.c.write_id.in_(ids)))
