"""``lake.labeling``: labeling projects over any table's rows — a queue, validated answers stored in a lake
table, consolidation into a labels table, progress and auto-labeling rounds.

A project names a source table and its id column (an object table is just a table with an id column),
a task type and a label schema. Its definition lives in the lake's metadata database; everything it
produces lives in lake tables written through :meth:`Table.append` / :meth:`Lake.create_table`, so
lineage, the commit choke point and governance apply:

- ``labeling.<project>__answers``: one row per answer (item_id, annotator, submitted_at, answer JSON,
  seconds spent);
- ``labeling.<project>__labels``: the consolidated label per item (label JSON, confidence, method);
- ``labeling.<project>__annotators``: reliability, answers, accuracy on gold per annotator;
- ``labeling.<project>__auto`` and ``labeling.<project>__rounds``: auto-labels (model, round, threshold)
  and the per-round report.

Annotators are principals: to see items a principal needs ``select`` on the source table (its row
filters decide which items it is shown), to submit ``insert`` on the answers table. A project a
principal may not use is refused with the same words whether or not it exists.

The queue and the duplicate check use an index in the metadata database (:mod:`mlake.labeling.queue`),
kept in step with the answers table with the lake owner's handle (an annotator usually cannot read other
people's answers); they only ever reveal item ids the annotator may read. The index's primary key is
also what refuses a duplicate answer submitted at the same moment by two requests.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

import pyarrow as pa
import sqlalchemy as sa

from mlake.errors import (
    AnswerOutsideSchemaError,
    BoxOutsideImageError,
    DuplicateAnswerError,
    LabelingError,
    MlakeError,
    NotFoundError,
    PermissionDeniedError,
)
from mlake.labeling.queue import MIGRATION as QUEUE_MIGRATION
from mlake.labeling.queue import QueueIndex
from mlake.metastore import Migration, create_tables, metadata
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.labeling.autolabel import AutoLabelRound
    from mlake.lake import Lake

Task = Literal["classification", "multilabel", "text", "rating", "spans", "boxes", "ranking"]
TASKS: tuple[str, ...] = get_args(Task)
NAMESPACE = "labeling"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

projects_table = sa.Table(
    "mlake_labeling_projects",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

MIGRATIONS = [
    Migration("labeling", 1, "labeling projects and review loops", create_tables(projects_table)),
    QUEUE_MIGRATION,
]

ANSWERS_SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("annotator", pa.string(), nullable=False),
        pa.field("submitted_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("answer", pa.string(), nullable=False),
        pa.field("seconds", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Project:
    """A labeling project's definition (stored as JSON in the metadata database)."""

    name: str
    source_table: str
    id_column: str
    task: str
    labels: list[Any]
    instructions: str = ""
    annotators_per_item: int = 1
    gold: dict[str, Any] = field(default_factory=dict)
    bounds: list[float] | None = None
    """``rating``: the allowed [low, high] range."""
    created_by: str = ""
    review: dict[str, Any] | None = None
    """A review loop's rules (see :meth:`LabelingProjects.create_review_loop`); None for a project."""

    @property
    def expired(self) -> bool:
        expires = (self.review or {}).get("expires")
        return expires is not None and datetime.now(UTC) >= datetime.fromisoformat(expires)

    @property
    def answers_table(self) -> str:
        return f"{NAMESPACE}.{self.name}__answers"

    @property
    def labels_table(self) -> str:
        return f"{NAMESPACE}.{self.name}__labels"

    @property
    def annotators_table(self) -> str:
        return f"{NAMESPACE}.{self.name}__annotators"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Project:
        return cls(**d)


@dataclass(frozen=True)
class QueueItem:
    """An item to answer: its id, its row (as the annotator may see it) and whether it is a gold item
    (never said to the annotator in a UI; kept here for the caller's bookkeeping)."""

    item_id: str
    row: dict[str, Any]
    gold: bool = False


@dataclass(frozen=True)
class Answer:
    """One stored answer, as ``submit`` wrote it to ``labeling.<project>__answers``."""

    item_id: str
    annotator: str
    submitted_at: datetime
    answer: str
    """The answer as JSON text (keys sorted), as stored."""
    seconds: float | None = None
    """Time the annotator spent, when given."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of REST (``submitted_at`` as ISO text)."""
        return {**asdict(self), "submitted_at": self.submitted_at.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Answer:
        return cls(d["item_id"], d["annotator"], datetime.fromisoformat(d["submitted_at"]), d["answer"], d["seconds"])


@dataclass(frozen=True)
class Consolidation:
    """What ``consolidate`` wrote: one row per item in ``labels``, one per annotator in ``annotators``."""

    method: str
    labels: pa.Table
    annotators: pa.Table

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "labels": self.labels.to_pylist(), "annotators": self.annotators.to_pylist()}


REVIEW_ITEMS_SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("prediction", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("reason", pa.string(), nullable=False),
    ]
)
REVIEWED_SCHEMA = pa.schema(
    [
        *REVIEW_ITEMS_SCHEMA,
        pa.field("reviewed_label", pa.string()),
        pa.field("review_confidence", pa.float64()),
        pa.field("overruled", pa.bool_()),
    ]
)


@dataclass(frozen=True)
class ReviewReport:
    """How a review loop went: items sent, reviewed, and how often reviewers overruled the model."""

    sent: int
    reviewed: int
    overruled: int
    overrule_rate: float | None
    by_class: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    """How far a project is: items, answers, agreement, and each annotator's gold accuracy and speed."""

    items: int
    items_done: int
    answers: int
    agreement: dict[str, Any] | None
    annotators: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LabelingProjects:
    """The labeling projects of a lake (``lake.labeling``), as the acting principal may use them."""

    def __init__(self, lake: Lake, *, owner: Lake, engine: sa.Engine) -> None:
        self._lake = lake
        self._owner = owner
        self._engine = engine
        self._index = QueueIndex(engine, owner)

    # --- definitions ------------------------------------------------------------------------------

    def create_project(
        self,
        name: str,
        source_table: str,
        id_column: str,
        task: Task = "classification",
        labels: Sequence[Any] = (),
        *,
        instructions: str = "",
        annotators_per_item: int = 1,
        gold: Mapping[Any, Any] | None = None,
        bounds: tuple[float, float] | None = None,
    ) -> Project:
        """Define a project over ``source_table``'s rows (identified by ``id_column``) and create its
        answers table. The caller needs ``select`` on the source and may create tables in ``labeling``."""
        if not _NAME.match(name):
            raise LabelingError(
                f"Project name {name!r} is not usable",
                hint="use lower-case letters, digits and _ (at most 48), starting with a letter",
            )
        if task not in TASKS:
            raise LabelingError(f"Unknown task {task!r}", hint=f"use one of {', '.join(TASKS)}")
        if not 1 <= annotators_per_item <= 9:
            raise LabelingError(
                f"annotators_per_item={annotators_per_item} is out of range", hint="use 1 to 9 annotators per item"
            )
        needs_labels = task in ("classification", "multilabel", "spans", "boxes", "ranking")
        if needs_labels and not labels:
            raise LabelingError(f"A {task} project needs labels=[...]", hint="list the classes annotators choose from")
        if task == "rating" and bounds is None:
            raise LabelingError("A rating project needs bounds=(low, high)", hint="e.g. bounds=(1, 5)")
        source = TableName.parse(source_table)
        self._lake.access.require("select", source)
        columns = self._lake.sql(f"SELECT * FROM {source} LIMIT 0").to_arrow().column_names
        if id_column not in columns:
            raise LabelingError(
                f"Table {source} has no column {id_column!r}", hint=f"choose one of {', '.join(columns)}"
            )
        project = Project(
            name=name,
            source_table=str(source),
            id_column=id_column,
            task=task,
            labels=list(labels),
            instructions=instructions,
            annotators_per_item=annotators_per_item,
            gold={str(k): v for k, v in (gold or {}).items()},
            bounds=[float(bounds[0]), float(bounds[1])] if bounds is not None else None,
            created_by=self._lake.principal.name,
        )
        for item, answer in project.gold.items():
            _validate(project, answer, item, None)
        return self._define(project)

    def _define(self, project: Project) -> Project:
        """Store a definition and create its answers table."""
        name = project.name
        with self._engine.begin() as conn:
            if conn.execute(sa.select(projects_table.c.name).where(projects_table.c.name == name)).first():
                raise LabelingError(f"Project {name!r} exists already", hint="choose another name or use it")
            self._lake.create_table(project.answers_table, schema=ANSWERS_SCHEMA, exist_ok=True)
            conn.execute(
                projects_table.insert().values(
                    name=name,
                    spec=json.dumps(project.to_dict()),
                    created_by=project.created_by,
                    created_at=datetime.now(UTC),
                )
            )
        return project

    def list_projects(self) -> list[Project]:
        """The projects whose source table the actor may read."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(projects_table.c.spec).order_by(projects_table.c.name)).all()
        found = [Project(**json.loads(r.spec)) for r in rows]
        return [p for p in found if self._lake.access.can("select", TableName.parse(p.source_table))]

    def project(self, name: str) -> Project:
        """A project the actor may see (``select`` on its source table)."""
        return self._project(name, "select", "source")

    def _project(self, name: str, privilege: Literal["select", "insert"], on: Literal["source", "answers"]) -> Project:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(projects_table.c.spec).where(projects_table.c.name == name)).first()
        project = Project(**json.loads(row.spec)) if row is not None else None
        if not self._lake.access.governed:
            if project is None:
                raise NotFoundError(f"No labeling project {name!r}", hint="see lake.labeling.list_projects()")
            return project
        target = None if project is None else (project.source_table if on == "source" else project.answers_table)
        if project is None or target is None or not self._lake.access.can(privilege, TableName.parse(target)):
            what = "see the items of" if on == "source" else "submit answers to"
            raise PermissionDeniedError(
                f"Principal {self._lake.access.name!r} may not {what} labeling project {name!r} (or it does not exist)",
                hint=f"ask an admin for {privilege} on the project's {'source' if on == 'source' else 'answers'} table",
            )
        return project

    # --- the queue and answers --------------------------------------------------------------------

    def next_items(self, name: str, n: int = 10, *, annotator: str | None = None) -> list[QueueItem]:
        """Up to ``n`` items ``annotator`` (default: the actor) has not answered that still need answers,
        fewest answers first, with the project's gold items (not answered by them yet) mixed in at every
        fifth place. Only items the actor may read are shown."""
        project = self._project(name, "select", "source")
        if project.expired:
            return []
        who = annotator or self._lake.principal.name
        if annotator is not None and annotator != self._lake.principal.name:
            self._lake.access.require_superuser("look at another annotator's queue")
        self._index.sync(project)
        need: list[str] = []
        rows: dict[str, dict[str, Any]] = {}
        after: tuple[int, str] | None = None
        while len(need) < n:
            batch = self._index.candidates(project, after, max(4 * n, 64))
            if not batch:
                break
            after = batch[-1]
            ids = [i for _, i in batch if i not in project.gold]
            mine = self._index.answered(project, who, ids)
            found = self._rows(project, [i for i in ids if i not in mine])
            rows.update(found)
            need.extend(i for i in ids if i in found)
        need = need[:n]
        gold_ids = [i for i in sorted(project.gold) if i not in self._index.answered(project, who, project.gold)]
        rows.update(self._rows(project, gold_ids))
        gold = [i for i in gold_ids if i in rows]
        out: list[QueueItem] = []
        while len(out) < n and (need or gold):
            if gold and (len(out) % 5 == 4 or not need):
                item = gold.pop(0)
                out.append(QueueItem(item, rows[item], gold=True))
            else:
                item = need.pop(0)
                out.append(QueueItem(item, rows[item]))
        return out

    def submit(self, name: str, item_id: Any, answer: Any, *, seconds: float | None = None) -> Answer:
        """Record the actor's answer to an item, after checking it against the label schema (and, for
        boxes, the image's ``width``/``height`` columns when the source has them). A duplicate answer,
        an unknown item or an answer outside the schema is refused and nothing is written."""
        outcome = self._submit(name, [{"item_id": item_id, "answer": answer, "seconds": seconds}])[0]
        if isinstance(outcome, MlakeError):
            raise outcome
        return Answer.from_dict(outcome)

    def submit_many(self, name: str, answers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Record several of the actor's answers (each ``{"item_id", "answer", "seconds"?}``) in one commit
        — what the Studio annotate page sends when answers queue up faster than single commits land.

        Each answer is checked as :meth:`submit` checks it; the refused ones are reported, not written, and
        do not stop the others: the result has one entry per answer, in order, with ``"status"``
        ``"saved"`` (and the stored record) or ``"refused"`` (with the error's ``code`` and ``message``)."""
        if len(answers) > 1000:
            raise LabelingError(f"{len(answers)} answers in one call", hint="send at most 1,000 answers at a time")
        out: list[dict[str, Any]] = []
        for given, outcome in zip(answers, self._submit(name, answers), strict=True):
            if isinstance(outcome, MlakeError):
                item = str(given.get("item_id")) if isinstance(given, Mapping) else None
                out.append({"item_id": item, "status": "refused", "code": outcome.code, "message": str(outcome)})
            else:
                out.append({**outcome, "status": "saved"})
        return out

    def _submit(self, name: str, answers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | MlakeError]:
        """Check, claim and append ``answers`` (one commit); per answer its record or why it was refused.
        Access and an expired loop refuse the whole call (raised)."""
        project = self._project(name, "insert", "answers")
        if project.expired:
            raise LabelingError(
                f"Review loop {name!r} expired at {(project.review or {})['expires']}", hint="create a new loop"
            )
        who = self._lake.principal.name
        items = [str(a.get("item_id")) if isinstance(a, Mapping) else "" for a in answers]
        rows = self._rows(project, sorted(set(items)))
        self._index.sync(project)
        before = self._index.answered(project, who, items)
        now = datetime.now(UTC)
        outcomes: list[dict[str, Any] | MlakeError] = []
        claimed: list[str] = []
        records: list[dict[str, Any]] = []
        for given, item in zip(answers, items, strict=True):
            try:
                record = self._check(project, who, given, item, rows, before, now)
                if not self._index.claim(project, who, item):  # the same answer, submitted at this very moment
                    raise _duplicate(project, who, item)
            except MlakeError as exc:
                outcomes.append(exc)
                continue
            claimed.append(item)
            records.append(record)
            outcomes.append(record)
        if not records:
            return outcomes
        try:
            with _append_lock(project.answers_table):
                write = self._lake.table(project.answers_table).append(
                    pa.Table.from_pylist(records, schema=ANSWERS_SCHEMA),
                    command=f"labeling submit {name}" + (f" ({len(records)} answers)" if len(records) > 1 else ""),
                )
                self._advance(project, write.snapshot_id)  # under the lock: this process's commits in order
        except BaseException:
            for item in claimed:
                self._index.release(project, who, item)
            raise
        return [o if isinstance(o, MlakeError) else {**o, "submitted_at": now.isoformat()} for o in outcomes]

    def _check(
        self,
        project: Project,
        who: str,
        given: Any,
        item: str,
        rows: Mapping[str, Mapping[str, Any]],
        before: set[str],
        now: datetime,
    ) -> dict[str, Any]:
        """One answer as a record of the answers table, or the error that refuses it."""
        if not isinstance(given, Mapping) or "answer" not in given:
            raise LabelingError(f"{given!r} is not an answer", hint='give {"item_id": ..., "answer": ...}')
        if item not in rows:
            raise LabelingError(
                f"Item {item!r} is not among the items of project {project.name!r} you may see",
                hint="answer items that lake.labeling.next_items() gives",
            )
        if item in before:
            raise _duplicate(project, who, item)
        answer, seconds = given["answer"], given.get("seconds")
        _validate(project, answer, item, rows[item])
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if seconds is not None and (not number or not math.isfinite(seconds) or seconds < 0):
            raise LabelingError(f"seconds={seconds!r} is not a time spent", hint="give seconds >= 0")
        return {
            "item_id": item,
            "annotator": who,
            "submitted_at": now,
            "answer": json.dumps(answer, sort_keys=True),
            "seconds": None if seconds is None else float(seconds),
        }

    def _advance(self, project: Project, snapshot: int | None) -> None:
        """Tell the queue index the answers table moved to ``snapshot`` by our own append."""
        if snapshot is None:
            return
        found = self._owner.iceberg_table(project.answers_table).snapshot_by_id(snapshot)
        parent = found.parent_snapshot_id if found is not None else None
        self._index.advance(project, parent, snapshot)

    def answers(self, name: str) -> pa.Table:
        """The project's answers, as the actor may read them (``select`` on the answers table)."""
        project = self._project(name, "select", "source")
        return self._lake.sql(f"SELECT * FROM {project.answers_table} ORDER BY submitted_at").to_arrow()

    # --- consolidation and progress ---------------------------------------------------------------

    def consolidate(self, name: str, *, method: str | None = None) -> Consolidation:
        """Consolidate the answers into ``labeling.<project>__labels`` (label JSON, confidence, method)
        and ``labeling.<project>__annotators`` (reliability, answers, accuracy on gold).

        classification: Dawid–Skene (default; gold items pinned) or ``method="majority_vote"``;
        multilabel: per-class Dawid–Skene; rating: weighted median by gold accuracy; boxes: IoU clustering;
        text, spans, ranking: majority vote over identical answers (exact match)."""
        project = self.project(name)
        answers = self.answers(name)
        if answers.num_rows == 0:
            raise LabelingError(f"Project {name!r} has no answers yet", hint="submit answers first")
        labels, annotators, used = _consolidate(project, answers, method)
        gold = _gold_table(project, answers)
        if gold is not None:
            annotators = _left_join(annotators, gold)
        self._write(project.labels_table, labels, f"labeling consolidate {name}")
        self._write(project.annotators_table, annotators, f"labeling consolidate {name}")
        return Consolidation(used, labels, annotators)

    def progress(self, name: str) -> Progress:
        """Items done (with ``annotators_per_item`` answers), agreement (Krippendorff, Fleiss: from
        :mod:`mlake.quality.agreement`), and per annotator: answers, accuracy on gold, median seconds."""
        from mlake.quality.agreement import agreement

        project = self.project(name)
        answers = self.answers(name)
        items = int(self._lake.sql(f"SELECT count(*) AS n FROM {project.source_table}").to_pylist()[0]["n"])
        per_item: dict[str, int] = {}
        for item in answers.column("item_id").to_pylist():
            per_item[item] = per_item.get(item, 0) + 1
        done = sum(1 for c in per_item.values() if c >= project.annotators_per_item)
        triples = list(
            zip(
                answers.column("item_id").to_pylist(),
                answers.column("annotator").to_pylist(),
                answers.column("answer").to_pylist(),
                strict=True,
            )
        )
        report = None
        if triples and len({t[1] for t in triples}) > 1:
            level = "interval" if project.task == "rating" else "nominal"
            values = [(i, a, json.loads(v) if level == "interval" else v) for i, a, v in triples]
            report = agreement(values, level=level).to_dict(max_items=0)
        gold = _gold_table(project, answers)
        gold_by = {r["annotator"]: r for r in gold.to_pylist()} if gold is not None else {}
        people: list[dict[str, Any]] = []
        for who in sorted(set(answers.column("annotator").to_pylist())):
            mine = [
                s
                for a, s in zip(
                    answers.column("annotator").to_pylist(), answers.column("seconds").to_pylist(), strict=True
                )
                if a == who
            ]
            times = sorted(s for s in mine if s is not None)
            row = {
                "annotator": who,
                "answers": len(mine),
                "median_seconds": times[len(times) // 2] if times else None,
                "gold_answered": gold_by.get(who, {}).get("gold_answered", 0),
                "gold_accuracy": gold_by.get(who, {}).get("gold_accuracy"),
            }
            people.append(row)
        return Progress(items, done, answers.num_rows, report, people)

    # --- auto-labeling ----------------------------------------------------------------------------

    def auto_label(
        self,
        name: str,
        *,
        target_accuracy: float = 0.95,
        min_human: int = 1250,
        features: Sequence[str] | None = None,
        model: Any = None,
        random_state: int = 0,
        embed: str | Callable[[Sequence[bytes]], Any] | None = None,
    ) -> AutoLabelRound:
        """One auto-labeling round of a classification project: train on the consolidated human labels
        (the source's numeric columns, or ``features``; for a project over an object table, ``embed``
        turns each object's bytes into a vector — ``"image_pixels"`` or the caller's function, see
        :mod:`mlake.labeling.embeddings`), pick the threshold that keeps auto-labels at
        ``target_accuracy`` on held-out human labels, and append the auto-labels (model, round,
        threshold) to ``labeling.<project>__auto`` and the round's report to ``labeling.<project>__rounds``."""
        import numpy as np

        from mlake.labeling.autolabel import AutoLabelSettings, auto_label_round, rounds_to_arrow

        project = self.project(name)
        if project.task != "classification":
            raise LabelingError(f"Auto-labeling needs a classification project; {name!r} is {project.task}")
        human = self.consolidate(name).labels
        source = self._lake.sql(f"SELECT * FROM {project.source_table}").to_arrow()
        if embed is not None:
            features = ()  # the embedding is the vector
        elif features is None:
            features = [
                f.name
                for f in source.schema
                if f.name != project.id_column and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
            ]
        if not features and embed is None:
            raise LabelingError(
                f"Table {project.source_table} has no numeric feature columns",
                hint="pass features=[...], or embed='image_pixels' for a project over images",
            )
        ids = [str(v) for v in source.column(project.id_column).to_pylist()]
        if embed is not None:
            from mlake.labeling.embeddings import embedded

            if project.id_column != "id":
                raise LabelingError(
                    f"embed= reads objects by id, but project {name!r} identifies items by {project.id_column!r}",
                    hint="make the project over an object table with id_column='id'",
                )
            blobs = [self._lake.objects.open(project.source_table, i) for i in ids]
            matrix = embedded(embed, blobs)
        else:
            matrix = np.column_stack(
                [np.asarray(source.column(c).to_numpy(zero_copy_only=False), dtype=float) for c in features]
            )
        known = dict(zip(human.column("item_id").to_pylist(), human.column("label").to_pylist(), strict=True))
        labels = np.array([json.loads(known[i]) if i in known else None for i in ids], dtype=object)
        auto_name = f"{NAMESPACE}.{name}__auto"
        rounds_name = f"{NAMESPACE}.{name}__rounds"
        done = (
            self._lake.sql(f"SELECT count(*) AS n FROM {rounds_name}").to_pylist()[0]["n"]
            if self._lake.table_exists(rounds_name)
            else 0
        )
        settings = AutoLabelSettings(
            accuracy_target=target_accuracy, min_human_labels=min_human, random_state=random_state
        )
        result = auto_label_round(
            matrix,
            labels,
            round_number=int(done) + 1,
            settings=settings,
            model=model,
            item_ids=np.array(ids, dtype=object),
        )
        decisions = result.decisions_to_arrow()
        if decisions.num_rows:
            decisions = decisions.set_column(
                decisions.schema.get_field_index("item"),
                "item",
                pa.array([str(v) for v in decisions.column("item").to_pylist()]),
            )
            decisions = decisions.set_column(
                decisions.schema.get_field_index("label"),
                "label",
                pa.array([json.dumps(_plain(v)) for v in decisions.column("label").to_pylist()]),
            )
            self._append_or_create(auto_name, decisions, f"labeling auto {name}")
        self._append_or_create(rounds_name, rounds_to_arrow([result]), f"labeling auto {name}")
        return result

    # --- import and export ----------------------------------------------------------------------

    def export(
        self,
        name: str,
        format: Literal["label_studio", "coco"] = "label_studio",
        *,
        what: Literal["answers", "labels"] = "answers",
    ) -> Any:
        """The project's answers (Label Studio: with the consolidated labels as predictions, when
        consolidated) or its consolidated labels, as Label Studio JSON tasks or a COCO file (boxes)."""
        from mlake.labeling import interchange

        project = self.project(name)
        rows = self._source_rows(project)
        answers = [
            (a["item_id"], a["annotator"], json.loads(a["answer"]), a["seconds"])
            for a in self.answers(name).to_pylist()
        ]
        labels: dict[str, tuple[Any, float, str]] = {}
        if self._lake.table_exists(project.labels_table):
            for r in self._lake.table(project.labels_table).to_arrow().to_pylist():
                labels[r["item_id"]] = (json.loads(r["label"]), r["confidence"], r["method"])
        if what == "labels":
            answers = [(item, "consensus", label, None) for item, (label, _, _) in labels.items()]
        if format == "coco":
            interchange.check_task(project.task, interchange.BOX_TASKS, "COCO")
            return interchange.to_coco([str(v) for v in project.labels], rows, project.id_column, answers)
        if format != "label_studio":
            raise LabelingError(f"Unknown format {format!r}", hint="use label_studio or coco")
        return interchange.to_label_studio(project.task, project.id_column, rows, answers, labels or None)

    def import_answers(self, name: str, data: Any, format: Literal["label_studio", "coco"] = "label_studio") -> int:
        """Add the answers of a Label Studio export or a COCO file, all or none: each is checked like a
        submitted one (schema, image, duplicates — in the lake or within the file). The file's annotator
        names are kept; answers on behalf of others than the actor need a superuser. Returns how many."""
        from mlake.labeling import interchange

        project = self._project(name, "insert", "answers")
        rows = {str(r[project.id_column]): r for r in self._source_rows(project)}
        if format == "coco":
            interchange.check_task(project.task, interchange.BOX_TASKS, "COCO")
            found = interchange.from_coco(data)
        elif format == "label_studio":
            found = interchange.from_label_studio(project.task, project.id_column, data, rows)
        else:
            raise LabelingError(f"Unknown format {format!r}", hint="use label_studio or coco")
        me = self._lake.principal.name
        if any(who != me for _, who, _, _ in found):
            self._lake.access.require_superuser("import answers on behalf of other annotators")
        self._index.sync(project)
        seen: set[tuple[str, str]] = set()
        now = datetime.now(UTC)
        records: list[dict[str, Any]] = []
        for item, who, answer, seconds in found:
            if item not in rows:
                raise LabelingError(f"Imported item {item!r} is not an item of project {name!r}")
            if (item, who) in seen or self._index.answered(project, who, [item]):
                raise DuplicateAnswerError(f"Annotator {who!r} has answered item {item!r} already (import refused)")
            seen.add((item, who))
            _validate(project, answer, item, rows[item])
            records.append(
                {
                    "item_id": item,
                    "annotator": who,
                    "submitted_at": now,
                    "answer": json.dumps(answer, sort_keys=True),
                    "seconds": None if seconds is None else float(seconds),
                }
            )
        claimed: list[tuple[str, str]] = []
        try:
            for r in records:
                if not self._index.claim(project, r["annotator"], r["item_id"]):
                    raise DuplicateAnswerError(
                        f"Annotator {r['annotator']!r} has answered item {r['item_id']!r} already (import refused)"
                    )
                claimed.append((r["annotator"], r["item_id"]))
            if records:
                with _append_lock(project.answers_table):
                    write = self._lake.table(project.answers_table).append(
                        pa.Table.from_pylist(records, schema=ANSWERS_SCHEMA),
                        command=f"labeling import {name} ({format})",
                    )
                    self._advance(project, write.snapshot_id)
        except BaseException:
            for who, item in claimed:
                self._index.release(project, who, item)
            raise
        return len(records)

    # --- human review loops ---------------------------------------------------------------------

    def create_review_loop(
        self,
        name: str,
        predictions_table: str,
        id_column: str,
        prediction_column: str,
        confidence_column: str,
        *,
        threshold: float | Mapping[str, float] = 0.5,
        where: str | None = None,
        audit_percent: float = 0.0,
        reviewers: int = 1,
        expires: datetime | timedelta | None = None,
        labels: Sequence[Any] | None = None,
        seed: int = 0,
        instructions: str = "",
    ) -> Project:
        """A human review loop over a table of predictions (Amazon A2I's): :meth:`activate` sends to
        ``reviewers`` people each row whose confidence is below ``threshold`` (one number, or one per
        predicted class; a class not listed is never sent by confidence), or that matches the SQL
        predicate ``where``, or that falls in the ``audit_percent`` random sample (deterministic: a hash
        of ``seed`` and the row id). Reviewers answer with ``next_items``/``submit`` like any project,
        until ``expires``; :meth:`review_results` joins their answers back to the predictions.

        The loop's items are written to ``labeling.<loop>__items``: reviewers need ``select`` on that
        table (not on the predictions) and ``insert`` on ``labeling.<loop>__answers``."""
        source = TableName.parse(predictions_table)
        self._lake.access.require("select", source)
        if not 0 <= audit_percent <= 100:
            raise LabelingError(f"audit_percent={audit_percent} is not a percentage", hint="use 0 to 100")
        columns = self._lake.sql(f"SELECT * FROM {source} LIMIT 0").to_arrow().column_names
        for column in (id_column, prediction_column, confidence_column):
            if column not in columns:
                raise LabelingError(
                    f"Table {source} has no column {column!r}", hint=f"choose one of {', '.join(columns)}"
                )
        if labels is None:
            found = self._lake.sql(f'SELECT DISTINCT "{prediction_column}" AS p FROM {source}').to_pylist()
            labels = sorted(str(r["p"]) for r in found if r["p"] is not None)
        if isinstance(expires, timedelta):
            expires = datetime.now(UTC) + expires
        review = {
            "predictions_table": str(source),
            "prediction_column": prediction_column,
            "confidence_column": confidence_column,
            "source_id_column": id_column,
            "threshold": dict(threshold) if isinstance(threshold, Mapping) else float(threshold),
            "where": where,
            "audit_percent": float(audit_percent),
            "seed": seed,
            "expires": expires.isoformat() if expires is not None else None,
        }
        items = f"{NAMESPACE}.{name}__items"
        if not _NAME.match(name):
            raise LabelingError(f"Review loop name {name!r} is not usable", hint="use lower-case letters, digits and _")
        self._lake.create_table(items, schema=REVIEW_ITEMS_SCHEMA, exist_ok=True)
        return self._define(
            Project(
                name=name,
                source_table=items,
                id_column="item_id",
                task="classification",
                labels=list(labels),
                instructions=instructions,
                annotators_per_item=reviewers,
                created_by=self._lake.principal.name,
                review=review,
            )
        )

    def activate(self, name: str) -> pa.Table:
        """Pick the predictions the loop's rules send to people and add them to its items (rows picked by
        an earlier activation are kept, not repeated); returns the rows added, with why they were picked."""
        from mlake.labeling.reviews import pick_for_review

        project = self.project(name)
        rules = project.review
        if rules is None:
            raise LabelingError(f"{name!r} is a labeling project, not a review loop", hint="use create_review_loop")
        ident, pred, conf = rules["source_id_column"], rules["prediction_column"], rules["confidence_column"]
        picked_columns = f'"{ident}" AS item_id, "{pred}" AS prediction, "{conf}" AS confidence'
        rows = self._lake.sql(f"SELECT {picked_columns} FROM {rules['predictions_table']}").to_pylist()
        matched: set[str] = set()
        if rules["where"]:
            hits = self._lake.sql(
                f'SELECT "{ident}" AS item_id FROM {rules["predictions_table"]} WHERE {rules["where"]}'
            )
            matched = {str(r["item_id"]) for r in hits.to_pylist()}
        known = set(self._lake.table(project.source_table).to_arrow(columns=["item_id"]).column("item_id").to_pylist())
        picked = pick_for_review(rows, rules["threshold"], matched, rules["audit_percent"], rules["seed"])
        added = pa.Table.from_pylist([r for r in picked if r["item_id"] not in known], schema=REVIEW_ITEMS_SCHEMA)
        if added.num_rows:
            self._lake.table(project.source_table).append(added, command=f"labeling activate {name}")
        return added

    def review_results(self, name: str) -> ReviewReport:
        """Consolidate the reviewers' answers (majority vote) and write ``labeling.<loop>__reviewed``: each
        reviewed item with the model's prediction and confidence, why it was sent, the reviewed label, its
        confidence and whether the reviewers overruled the model; returns the overrule metrics."""
        project = self.project(name)
        if project.review is None:
            raise LabelingError(f"{name!r} is a labeling project, not a review loop", hint="use create_review_loop")
        items = {r["item_id"]: r for r in self._lake.table(project.source_table).to_arrow().to_pylist()}
        done = self.consolidate(name, method="majority_vote").labels.to_pylist()
        rows = []
        for r in done:
            item = items.get(r["item_id"])
            if item is None:
                continue
            label = json.loads(r["label"])
            rows.append(
                {
                    **item,
                    "reviewed_label": label,
                    "review_confidence": r["confidence"],
                    "overruled": label != item["prediction"],
                }
            )
        table = pa.Table.from_pylist(rows, schema=REVIEWED_SCHEMA)
        self._write(f"{NAMESPACE}.{name}__reviewed", table, f"labeling review {name}")
        by_class: dict[str, list[int]] = {}
        for r in rows:
            s = by_class.setdefault(r["prediction"], [0, 0])
            s[0] += 1
            s[1] += int(r["overruled"])
        overruled = sum(int(r["overruled"]) for r in rows)
        return ReviewReport(
            sent=len(items),
            reviewed=len(rows),
            overruled=overruled,
            overrule_rate=overruled / len(rows) if rows else None,
            by_class={
                k: {"reviewed": n, "overruled": o, "overrule_rate": o / n} for k, (n, o) in sorted(by_class.items())
            },
        )

    # --- plumbing ---------------------------------------------------------------------------------

    def _source_rows(self, project: Project) -> list[dict[str, Any]]:
        """The source rows the actor may read (its row filters and masks apply)."""
        return self._lake.sql(f"SELECT * FROM {project.source_table}").to_pylist()

    def _rows(self, project: Project, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The source rows of ``ids`` the actor may read (row filters and masks apply), by item id."""
        if not ids:
            return {}
        column = '"' + project.id_column.replace('"', '""') + '"'
        found = self._lake.sql(
            f"SELECT * FROM {project.source_table} WHERE CAST({column} AS VARCHAR) IN (SELECT unnest(?))",
            params=[list(ids)],
        ).to_pylist()
        return {str(r[project.id_column]): r for r in found}

    def _write(self, name: str, data: pa.Table, command: str) -> None:
        if self._lake.table_exists(name):
            self._lake.table(name).overwrite(data, command=command)
        else:
            self._lake.create_table(name, data)

    def _append_or_create(self, name: str, data: pa.Table, command: str) -> None:
        if self._lake.table_exists(name):
            self._lake.table(name).append(data, command=command)
        else:
            self._lake.create_table(name, data)


def _duplicate(project: Project, who: str, item: str) -> DuplicateAnswerError:
    return DuplicateAnswerError(
        f"Annotator {who!r} has answered item {item!r} of project {project.name!r} already",
        hint="each annotator answers an item once; the first answer is kept",
    )


# --- appending answers ---------------------------------------------------------------------------


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _append_lock(table: str) -> threading.Lock:
    """One lock per answers table in this process: a server's threads take turns appending answers
    instead of racing Iceberg's optimistic commit (each loser re-reads the metadata and retries with
    back-off, which under a burst of submits costs more than waiting). Other processes still race."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(table, threading.Lock())


# --- validation -----------------------------------------------------------------------------------


def _outside(project: Project, item: str, answer: Any, why: str) -> AnswerOutsideSchemaError:
    return AnswerOutsideSchemaError(
        f"Answer {answer!r} to item {item!r} of project {project.name!r} ({project.task}) is outside the schema: {why}",
        hint=f"labels: {project.labels}" + (f"; bounds: {project.bounds}" if project.bounds else ""),
    )


def _validate(project: Project, answer: Any, item: str, row: Mapping[str, Any] | None) -> None:
    """Refuse an answer the project's schema does not allow (see :meth:`LabelingProjects.submit`)."""
    task, labels = project.task, project.labels
    if task == "classification":
        if answer not in labels:
            raise _outside(project, item, answer, "not one of the labels")
    elif task == "multilabel":
        if (
            not isinstance(answer, list)
            or any(a not in labels for a in answer)
            or len(set(map(str, answer))) < len(answer)
        ):
            raise _outside(project, item, answer, "give a list of distinct labels (empty: none applies)")
    elif task == "text":
        if not isinstance(answer, str) or not answer.strip():
            raise _outside(project, item, answer, "give non-empty text")
    elif task == "rating":
        lo, hi = project.bounds or [-math.inf, math.inf]
        if isinstance(answer, bool) or not isinstance(answer, int | float) or not lo <= answer <= hi:
            raise _outside(project, item, answer, f"give a number in [{lo}, {hi}]")
    elif task == "ranking":
        if not isinstance(answer, list) or sorted(map(str, answer)) != sorted(map(str, labels)):
            raise _outside(project, item, answer, "give every label once, best first")
    elif task == "spans":
        _validate_spans(project, item, answer, row)
    elif task == "boxes":
        _validate_boxes(project, item, answer, row)


def _validate_spans(project: Project, item: str, answer: Any, row: Mapping[str, Any] | None) -> None:
    if not isinstance(answer, list):
        raise _outside(project, item, answer, "give a list of {start, end, label} spans")
    text = next((v for v in (row or {}).values() if isinstance(v, str) and v != item), None)
    for span in answer:
        ok = isinstance(span, dict) and span.get("label") in project.labels
        ok = ok and isinstance(span.get("start"), int) and isinstance(span.get("end"), int)
        ok = ok and 0 <= span["start"] < span["end"] and (text is None or span["end"] <= len(text))
        if not ok:
            raise _outside(project, item, span, "a span needs 0 <= start < end (within the text) and a known label")


def _validate_boxes(project: Project, item: str, answer: Any, row: Mapping[str, Any] | None) -> None:
    if not isinstance(answer, list):
        raise _outside(project, item, answer, "give a list of {x_min, y_min, x_max, y_max, label} boxes")
    width = (row or {}).get("width")
    height = (row or {}).get("height")
    keys = ("x_min", "y_min", "x_max", "y_max")
    for box in answer:
        ok = isinstance(box, dict) and box.get("label") in project.labels
        ok = ok and all(isinstance(box.get(k), int | float) and not isinstance(box.get(k), bool) for k in keys)
        if not ok or not (box["x_min"] < box["x_max"] and box["y_min"] < box["y_max"]):
            raise _outside(project, item, box, "a box needs numeric x_min < x_max, y_min < y_max and a known label")
        past = box["x_min"] < 0 or box["y_min"] < 0
        past = past or (width is not None and box["x_max"] > width) or (height is not None and box["y_max"] > height)
        if past:
            raise BoxOutsideImageError(
                f"Box {box} on item {item!r} of project {project.name!r} reaches past the image ({width}x{height})",
                hint="keep 0 <= x <= width and 0 <= y <= height",
            )
    if len({json.dumps(b, sort_keys=True) for b in answer}) < len(answer):
        raise DuplicateAnswerError(f"The same box is given twice on item {item!r}", hint="send each box once")


# --- consolidation per task -----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as JSON-able Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _long(answers: pa.Table) -> tuple[list[str], list[str], list[Any]]:
    return (
        answers.column("item_id").to_pylist(),
        answers.column("annotator").to_pylist(),
        [json.loads(v) for v in answers.column("answer").to_pylist()],
    )


def _consolidate(project: Project, answers: pa.Table, method: str | None) -> tuple[pa.Table, pa.Table, str]:
    import pandas as pd

    from mlake.labeling.boxes import consolidate_boxes
    from mlake.labeling.categorical import dawid_skene, majority_vote
    from mlake.labeling.continuous import weighted_median
    from mlake.labeling.multilabel import consolidate_multi_label

    items, who, values = _long(answers)
    frame = pd.DataFrame({"item": items, "annotator": who, "label": values})
    task = project.task
    out: tuple[Any, list[str], Any]
    if task == "classification":
        used = method or "dawid_skene"
        if used == "dawid_skene":
            res = dawid_skene(frame, classes=project.labels, gold=dict(project.gold) or None)  # type: ignore[arg-type]
        elif used == "majority_vote":
            res = majority_vote(frame, classes=project.labels)
        else:
            raise LabelingError(f"Unknown method {used!r}", hint="use dawid_skene or majority_vote")
        out = (res.items, [json.dumps(_plain(v)) for v in res.labels], res.confidence)
        people = res.annotators_to_arrow()
    elif task == "multilabel":
        used = method or "dawid_skene"
        ml = consolidate_multi_label(frame, classes=project.labels, method=used)  # type: ignore[arg-type]
        out = (
            ml.items,
            [json.dumps(_plain(v)) for v in ml.labels],
            [float(min(max(p, 1 - p) for p in row)) for row in ml.probability],
        )
        people = pa.table(
            {
                "annotator": ml.annotators.tolist(),
                "reliability": ml.reliability.mean(axis=1).tolist(),
                "answers": [int((frame["annotator"] == a).sum()) for a in ml.annotators],
            }
        )
    elif task == "rating":
        used = "weighted_median"
        frame["label"] = frame["label"].astype(float)
        num = weighted_median(frame, bounds=tuple(project.bounds) if project.bounds else None)  # type: ignore[arg-type]
        out = (num.items, [json.dumps(float(v)) for v in num.value], num.confidence)
        people = _reliability_by_agreement(
            frame.assign(label=frame["label"].map(json.dumps)),
            dict(zip(map(str, num.items), (json.dumps(float(v)) for v in num.value), strict=True)),
        )
    elif task == "boxes":
        used = "box_iou_clustering"
        flat = [
            {"item": i, "annotator": a, **{k: b[k] for k in ("x_min", "y_min", "x_max", "y_max")}, "label": b["label"]}
            for i, a, v in zip(items, who, values, strict=True)
            for b in v
        ]
        empty = [
            {"item": i, "annotator": a, "x_min": None, "y_min": None, "x_max": None, "y_max": None, "label": None}
            for i, a, v in zip(items, who, values, strict=True)
            if not v
        ]
        from mlake.labeling.boxes import BoxColumns

        res_boxes = consolidate_boxes(pd.DataFrame(flat + empty), columns=BoxColumns(label="label"))
        table = res_boxes.to_arrow().to_pylist()
        grouped: dict[str, list[dict[str, Any]]] = {i: [] for i in dict.fromkeys(items)}
        conf: dict[str, list[float]] = {i: [] for i in grouped}
        for r in table:
            box = dict(zip(("x_min", "y_min", "x_max", "y_max"), _box_of(r), strict=True))
            grouped[str(r["item"])].append({**box, "label": r.get("label")})
            conf[str(r["item"])].append(float(r["confidence"]))
        keys = list(grouped)
        out = (keys, [json.dumps(grouped[k]) for k in keys], [min(conf[k]) if conf[k] else 0.0 for k in keys])
        people = _reliability_by_agreement(frame.assign(label=[json.dumps(v, sort_keys=True) for v in values]), {})
    else:
        used = "majority_vote"
        frame["label"] = [json.dumps(v, sort_keys=True) for v in values]
        res = majority_vote(frame)
        out = (res.items, [str(v) for v in res.labels], res.confidence)
        people = res.annotators_to_arrow()
    labels = pa.table(
        {
            "item_id": pa.array([str(v) for v in out[0]], pa.string()),
            "label": pa.array(list(out[1]), pa.string()),
            "confidence": pa.array([float(c) for c in out[2]], pa.float64()),
            "method": pa.array([used] * len(out[0]), pa.string()),
        }
    )
    people = pa.table(
        {
            "annotator": pa.array([str(a) for a in people.column("annotator").to_pylist()], pa.string()),
            "reliability": pa.array(
                [None if r is None else float(r) for r in people.column("reliability").to_pylist()], pa.float64()
            ),
            "answers": pa.array([int(n) for n in people.column("answers").to_pylist()], pa.int64()),
        }
    )
    return labels, people, used


def _box_of(row: Mapping[str, Any]) -> list[float]:
    if "box" in row:
        return [float(v) for v in row["box"]]
    return [float(row[k]) for k in ("x_min", "y_min", "x_max", "y_max")]


def _reliability_by_agreement(frame: Any, consensus: Mapping[str, str]) -> pa.Table:
    """Each annotator's share of answers equal to the consolidated one (``answers`` only without one)."""
    stats: dict[str, list[int]] = {}
    for item, who, label in zip(frame["item"], frame["annotator"], frame["label"], strict=True):
        s = stats.setdefault(who, [0, 0])
        s[0] += 1
        if consensus and consensus.get(str(item)) == (label if isinstance(label, str) else json.dumps(_plain(label))):
            s[1] += 1
    return pa.table(
        {
            "annotator": list(stats),
            "reliability": [(c / n) if consensus else None for n, c in stats.values()],
            "answers": [n for n, _ in stats.values()],
        }
    )


def _gold_table(project: Project, answers: pa.Table) -> pa.Table | None:
    """Per annotator: gold items answered and the share answered exactly as the gold answer."""
    if not project.gold:
        return None
    stats: dict[str, list[int]] = {}
    for item, who, value in zip(*_long(answers), strict=True):
        if item in project.gold:
            s = stats.setdefault(who, [0, 0])
            s[0] += 1
            s[1] += int(json.dumps(value, sort_keys=True) == json.dumps(project.gold[item], sort_keys=True))
    return pa.table(
        {
            "annotator": pa.array(list(stats), pa.string()),
            "gold_answered": pa.array([n for n, _ in stats.values()], pa.int64()),
            "gold_accuracy": pa.array([c / n for n, c in stats.values()], pa.float64()),
        }
    )


def _left_join(left: pa.Table, right: pa.Table) -> pa.Table:
    joined = left.join(right, "annotator", join_type="left outer")
    return joined.sort_by("annotator")
