"""The labeling queue's index in the metadata database: which annotator answered which item, and how
many answers each item has.

The answers themselves live in the lake table ``labeling.<project>__answers`` (the record of truth).
Reading that whole table for every ``next_items`` and ``submit`` costs time in proportion to the answers
given, and checking it before appending cannot stop two submits of the same (item, annotator) that run
at the same moment. So each project keeps, in the control-plane database:

- ``mlake_labeling_answered``: one row per (project, annotator, item) answered — its primary key is the
  claim a submit makes *before* appending the answer, so a concurrent duplicate fails on the key (in
  SQLite and PostgreSQL alike) and nothing is appended twice;
- ``mlake_labeling_queue``: one row per item of the source with its number of answers, indexed by
  (project, answers, item) so the next items come from an index range, not a scan;
- ``mlake_labeling_index``: the source and answers snapshots the two tables reflect. Answers written
  to the lake table by other paths (a bulk append, a restored snapshot) are picked up when the answers
  snapshot differs from the recorded one: the missing pairs are added (never removed, so a claim in
  flight is never lost) and the counts recomputed. A submit moves the recorded snapshot forward itself
  when its append is the next commit, so in steady state nothing is re-read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

if TYPE_CHECKING:
    from mlake.labeling.projects import Project
    from mlake.lake import Lake

answered_table = sa.Table(
    "mlake_labeling_answered",
    metadata,
    sa.Column("project", sa.String(64), primary_key=True),
    sa.Column("annotator", sa.String(200), primary_key=True),
    sa.Column("item_id", sa.String(400), primary_key=True),
    sa.Index("ix_mlake_labeling_answered_item", "project", "item_id"),
)

queue_table = sa.Table(
    "mlake_labeling_queue",
    metadata,
    sa.Column("project", sa.String(64), primary_key=True),
    sa.Column("item_id", sa.String(400), primary_key=True),
    sa.Column("answers", sa.Integer, nullable=False),
    sa.Index("ix_mlake_labeling_queue_next", "project", "answers", "item_id"),
)

index_state_table = sa.Table(
    "mlake_labeling_index",
    metadata,
    sa.Column("project", sa.String(64), primary_key=True),
    sa.Column("source_snapshot", sa.BigInteger, nullable=True),
    sa.Column("answers_snapshot", sa.BigInteger, nullable=True),
)

MIGRATION = Migration(
    "labeling",
    2,
    "labeling queue index: answered pairs (duplicate guard) and per-item answer counts",
    create_tables(answered_table, queue_table, index_state_table),
)
_CHUNK = 5000


def _bulk_insert(conn: sa.Connection, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows (tuples in the table's column order) with the driver's own ``executemany``: at 100k
    rows SQLAlchemy's per-row parameter dictionaries cost more than the inserts themselves."""
    style = conn.dialect.paramstyle
    if style not in ("qmark", "format", "pyformat"):  # pragma: no cover - SQLite and psycopg use these
        conn.execute(table.insert(), [dict(zip(table.columns.keys(), row, strict=True)) for row in rows])
        return
    mark = "?" if style == "qmark" else "%s"
    prepare = conn.dialect.identifier_preparer
    columns = ", ".join(prepare.quote(c.name) for c in table.columns)
    values = ", ".join([mark] * len(table.columns))
    conn.exec_driver_sql(f"INSERT INTO {prepare.format_table(table)} ({columns}) VALUES ({values})", list(rows))


class QueueIndex:
    """The queue index of every project of one lake (see the module doc); reads the lake with the
    owner's handle, and only ever hands item ids back to callers that filter them by their own grants."""

    def __init__(self, engine: sa.Engine, owner: Lake) -> None:
        self._engine = engine
        self._owner = owner

    # --- keeping the index in step with the lake ---------------------------------------------------

    def _snapshot(self, table: str) -> int | None:
        snap = self._owner.iceberg_table(table).metadata.current_snapshot_id
        return None if snap is None else int(snap)

    def sync(self, project: Project) -> None:
        """Bring the project's index up to the current source and answers snapshots (cheap when current:
        two catalog lookups and one indexed row)."""
        source_snap = self._snapshot(project.source_table)
        answers_snap = self._snapshot(project.answers_table)
        with self._engine.connect() as conn:
            state = conn.execute(
                sa.select(index_state_table).where(index_state_table.c.project == project.name)
            ).first()
        if state is not None and (state.source_snapshot, state.answers_snapshot) == (source_snap, answers_snap):
            return
        built = state is None and self._build(project)
        if not built and (state is None or state.source_snapshot != source_snap):
            self._index_items(project)
        if not built and (state is None or state.answers_snapshot != answers_snap):
            self._index_answers(project)
        with self._engine.begin() as conn:
            values = {"source_snapshot": source_snap, "answers_snapshot": answers_snap}
            done = conn.execute(
                index_state_table.update().where(index_state_table.c.project == project.name).values(**values)
            ).rowcount
            if not done:
                try:
                    with conn.begin_nested():
                        conn.execute(index_state_table.insert().values(project=project.name, **values))
                except sa.exc.IntegrityError:
                    pass  # another process indexed it at the same moment

    def _build(self, project: Project) -> bool:
        """The first indexing of a project: every item with its count and every pair, in one transaction
        (no per-item updates). False when part of the index exists (another process built it at the same
        moment, or the state row was lost): then the incremental path runs."""
        ids = self._owner.table(project.source_table).to_arrow(columns=[project.id_column]).column(0).to_pylist()
        table = self._owner.table(project.answers_table).to_arrow(columns=["item_id", "annotator"])
        pairs = set(zip(table.column("annotator").to_pylist(), table.column("item_id").to_pylist(), strict=True))
        counts: dict[str, int] = {}
        for _, item in pairs:
            counts[item] = counts.get(item, 0) + 1
        try:
            with self._engine.begin() as conn:
                items = sorted({str(v) for v in ids})  # key order: B-tree appends, not random inserts
                _bulk_insert(conn, queue_table, [(project.name, i, counts.get(i, 0)) for i in items])
                if pairs:
                    _bulk_insert(conn, answered_table, [(project.name, a, i) for a, i in sorted(pairs)])
        except sa.exc.IntegrityError:
            return False
        return True

    def _index_items(self, project: Project) -> None:
        """Every source item gets a queue row (0 answers); items gone from the source leave the queue."""
        ids = self._owner.table(project.source_table).to_arrow(columns=[project.id_column]).column(0).to_pylist()
        wanted = {str(v) for v in ids}
        with self._engine.connect() as conn:
            known = set(
                conn.execute(sa.select(queue_table.c.item_id).where(queue_table.c.project == project.name)).scalars()
            )
        fresh = [{"project": project.name, "item_id": i, "answers": 0} for i in wanted - known]
        self._insert_missing(queue_table, fresh)
        gone = sorted(known - wanted)
        with self._engine.begin() as conn:
            for start in range(0, len(gone), _CHUNK):
                conn.execute(
                    queue_table.delete().where(
                        queue_table.c.project == project.name, queue_table.c.item_id.in_(gone[start : start + _CHUNK])
                    )
                )

    def _index_answers(self, project: Project) -> None:
        """Add the (annotator, item) pairs of the answers table the index lacks, then recount."""
        table = self._owner.table(project.answers_table).to_arrow(columns=["item_id", "annotator"])
        pairs = set(zip(table.column("annotator").to_pylist(), table.column("item_id").to_pylist(), strict=True))
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(answered_table.c.annotator, answered_table.c.item_id).where(
                    answered_table.c.project == project.name
                )
            )
            known = {(str(a), str(i)) for a, i in found}
        missing = sorted(pairs - known, key=lambda p: p[1])
        for start in range(0, len(missing), _CHUNK):
            self._add_pairs(project, missing[start : start + _CHUNK])

    def _add_pairs(self, project: Project, pairs: Sequence[tuple[str, str]]) -> None:
        """Insert (annotator, item) pairs and count them on their items in the same transaction, as a
        claim does — so a pair is counted once whichever path inserts it. A pair inserted meanwhile by
        another process makes the chunk go again one pair at a time, skipping those."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    answered_table.insert(), [{"project": project.name, "annotator": a, "item_id": i} for a, i in pairs]
                )
                per_item: dict[str, int] = {}
                for _, item in pairs:
                    per_item[item] = per_item.get(item, 0) + 1
                conn.execute(
                    queue_table.update()
                    .where(queue_table.c.project == project.name, queue_table.c.item_id == sa.bindparam("item"))
                    .values(answers=queue_table.c.answers + sa.bindparam("n")),
                    [{"item": i, "n": n} for i, n in per_item.items()],
                )
        except sa.exc.IntegrityError:
            if len(pairs) == 1:
                return
            for pair in pairs:
                self._add_pairs(project, [pair])

    def _insert_missing(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows whose key may meanwhile have been inserted by another process (then kept as is)."""
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            try:
                with self._engine.begin() as conn:
                    conn.execute(table.insert(), list(chunk))
            except sa.exc.IntegrityError:
                for row in chunk:
                    try:
                        with self._engine.begin() as conn:
                            conn.execute(table.insert().values(**row))
                    except sa.exc.IntegrityError:
                        continue

    def advance(self, project: Project, parent: int | None, snapshot: int | None) -> None:
        """Record that the answers table is at ``snapshot`` when the index was at its ``parent`` (the
        append just made was the next commit); otherwise the next :meth:`sync` re-reads the answers."""
        with self._engine.begin() as conn:
            state = index_state_table.c.answers_snapshot
            match = state.is_(None) if parent is None else state == parent
            conn.execute(
                index_state_table.update()
                .where(index_state_table.c.project == project.name, match)
                .values(answers_snapshot=snapshot)
            )

    # --- claims and the queue ----------------------------------------------------------------------

    def claim(self, project: Project, annotator: str, item: str) -> bool:
        """Claim (item, annotator) before appending the answer: False when it is claimed already (a
        duplicate, possibly submitted at this very moment by another request)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(answered_table.insert().values(project=project.name, annotator=annotator, item_id=item))
                conn.execute(
                    queue_table.update()
                    .where(queue_table.c.project == project.name, queue_table.c.item_id == item)
                    .values(answers=queue_table.c.answers + 1)
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def release(self, project: Project, annotator: str, item: str) -> None:
        """Undo a claim whose answer could not be appended, so the annotator can answer the item again."""
        with self._engine.begin() as conn:
            gone = conn.execute(
                answered_table.delete().where(
                    answered_table.c.project == project.name,
                    answered_table.c.annotator == annotator,
                    answered_table.c.item_id == item,
                )
            ).rowcount
            if gone:
                conn.execute(
                    queue_table.update()
                    .where(queue_table.c.project == project.name, queue_table.c.item_id == item)
                    .values(answers=queue_table.c.answers - 1)
                )

    def answered(self, project: Project, annotator: str, items: Iterable[str] | None = None) -> set[str]:
        """The items ``annotator`` has answered (among ``items``, when given): an index range."""
        query = sa.select(answered_table.c.item_id).where(
            answered_table.c.project == project.name, answered_table.c.annotator == annotator
        )
        with self._engine.connect() as conn:
            if items is None:
                return set(conn.execute(query).scalars())
            wanted = list(items)
            found: set[str] = set()
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                found.update(conn.execute(query.where(answered_table.c.item_id.in_(chunk))).scalars())
            return found

    def candidates(self, project: Project, after: tuple[int, str] | None, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (answers, item) that still need answers, after ``after`` in queue order:
        started items first (most answers first, to finish them), then untouched ones, by item id.
        Each answer level is one range of the (project, answers, item) index."""
        top = project.annotators_per_item - 1
        level, past = after if after is not None else (top, None)
        out: list[tuple[int, str]] = []
        with self._engine.connect() as conn:
            while level >= 0 and len(out) < limit:
                query = (
                    sa.select(queue_table.c.item_id)
                    .where(queue_table.c.project == project.name, queue_table.c.answers == level)
                    .order_by(queue_table.c.item_id)
                    .limit(limit - len(out))
                )
                if past is not None:
                    query = query.where(queue_table.c.item_id > past)
                out.extend((level, str(i)) for i in conn.execute(query).scalars())
                level, past = level - 1, None
        return out

    def counts(self, project: Project) -> tuple[int, int]:
        """(items, items with ``annotators_per_item`` answers or more) — from the index."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(
                        sa.func.sum(sa.case((queue_table.c.answers >= project.annotators_per_item, 1), else_=0)), 0
                    ),
                ).where(queue_table.c.project == project.name)
            ).one()
        return int(row[0]), int(row[1])
