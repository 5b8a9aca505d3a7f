"""``remote.labeling``: labeling projects and human review loops of :mod:`mlake.labeling` on a server.

The same calls and return types as ``lake.labeling`` (:class:`~mlake.labeling.projects.LabelingProjects`):
projects travel as their ``to_dict()``, answers, progress and review reports are rebuilt as the same
dataclasses, and tables (answers, consolidated labels, review items) as Arrow tables with their types.
The server applies the caller's grants exactly as in process: the queue needs ``select`` on the
project's source table, submitting ``insert`` on its answers table.

``auto_label`` trains the model on the server (a model object or an embedding function of your own stays
in process: run such rounds with ``lake.labeling`` beside the lake; a built-in embedding travels by name);
the round comes back whole, arrays included.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import pyarrow as pa

from mlake.labeling.autolabel import AutoLabelRound
from mlake.labeling.projects import (
    REVIEW_ITEMS_SCHEMA,
    Answer,
    Consolidation,
    Progress,
    Project,
    QueueItem,
    ReviewReport,
    Task,
)

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


def _arrow(body: bytes) -> pa.Table:
    import pyarrow.ipc as ipc

    return ipc.open_stream(body).read_all()


class RemoteLabeling:
    """Labeling projects on the server, as the caller's token may use them."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _path(self, name: str, tail: str = "") -> str:
        return f"/labeling/projects/{quote(name, safe='')}{tail}"

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
        """Define a project over ``source_table``'s rows on the server (see ``LabelingProjects.create_project``)."""
        body = {
            "name": name,
            "source_table": source_table,
            "id_column": id_column,
            "task": task,
            "labels": list(labels),
            "instructions": instructions,
            "annotators_per_item": annotators_per_item,
            "gold": {str(k): v for k, v in (gold or {}).items()},
            "bounds": list(bounds) if bounds is not None else None,
        }
        return Project.from_dict(self._lake._json("POST", "/labeling/projects", json=body))

    def list_projects(self) -> list[Project]:
        """The projects whose source table the caller may read."""
        return [Project.from_dict(p) for p in self._lake._json("GET", "/labeling/projects")]

    def project(self, name: str) -> Project:
        return Project.from_dict(self._lake._json("GET", self._path(name)))

    # --- the queue and answers --------------------------------------------------------------------

    def next_items(self, name: str, n: int = 10, *, annotator: str | None = None) -> list[QueueItem]:
        """Up to ``n`` items the caller (or, for a superuser, ``annotator``) has not answered yet."""
        params: dict[str, Any] = {"n": n} | ({"annotator": annotator} if annotator is not None else {})
        found = self._lake._json("GET", self._path(name, "/next"), params=params)
        return [QueueItem(q["item_id"], q["row"], bool(q.get("gold", False))) for q in found]

    def submit(self, name: str, item_id: Any, answer: Any, *, seconds: float | None = None) -> Answer:
        """Record the caller's answer to an item (checked against the label schema on the server)."""
        body = {"item_id": str(item_id), "answer": answer, "seconds": seconds}
        return Answer.from_dict(self._lake._json("POST", self._path(name, "/answers"), json=body))

    def submit_many(self, name: str, answers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Record several of the caller's answers in one commit; per answer ``"saved"`` (with the stored
        record) or ``"refused"`` (with the error's ``code`` and ``message``), as ``LabelingProjects.submit_many``."""
        body = [
            {"item_id": str(a.get("item_id")), "answer": a.get("answer"), "seconds": a.get("seconds")} for a in answers
        ]
        found: list[dict[str, Any]] = self._lake._json("POST", self._path(name, "/answers/batch"), json=body)
        return found

    def answers(self, name: str) -> pa.Table:
        """The project's answers, as the caller may read them."""
        return _arrow(self._lake.request("GET", self._path(name, "/answers"), params={"format": "arrow"}).content)

    # --- consolidation and progress ---------------------------------------------------------------

    def consolidate(self, name: str, *, method: str | None = None) -> Consolidation:
        """Consolidate the answers on the server into ``labeling.<project>__labels`` and ``__annotators``."""
        params = {"format": "arrow"} | ({"method": method} if method is not None else {})
        body = self._lake._json("POST", self._path(name, "/consolidate"), params=params)
        labels = _arrow(base64.b64decode(body["labels"]))
        return Consolidation(body["method"], labels, _arrow(base64.b64decode(body["annotators"])))

    def progress(self, name: str) -> Progress:
        """Items done, agreement, and per annotator: answers, accuracy on gold, median seconds."""
        return Progress(**self._lake._json("GET", self._path(name, "/progress")))

    # --- auto-labeling ----------------------------------------------------------------------------

    def auto_label(
        self,
        name: str,
        *,
        target_accuracy: float = 0.95,
        min_human: int = 1250,
        features: Sequence[str] | None = None,
        random_state: int = 0,
        embed: str | None = None,
    ) -> AutoLabelRound:
        """One auto-labeling round of a classification project, run on the server (see
        ``LabelingProjects.auto_label``)."""
        params: dict[str, Any] = {
            "target_accuracy": target_accuracy,
            "min_human": min_human,
            "random_state": random_state,
            "detail": True,
        }
        if features is not None:
            params["features"] = list(features)
        if embed is not None:
            params["embed"] = embed
        return AutoLabelRound.from_dict(self._lake._json("POST", self._path(name, "/auto"), params=params))

    # --- import and export ----------------------------------------------------------------------

    def export(
        self,
        name: str,
        format: Literal["label_studio", "coco"] = "label_studio",
        *,
        what: Literal["answers", "labels"] = "answers",
    ) -> Any:
        """The project's answers or labels as Label Studio JSON tasks or a COCO file (boxes)."""
        return self._lake._json("GET", self._path(name, "/export"), params={"format": format, "what": what})

    def import_answers(self, name: str, data: Any, format: Literal["label_studio", "coco"] = "label_studio") -> int:
        """Add the answers of a Label Studio export or a COCO file, all or none; returns how many."""
        found = self._lake._json("POST", self._path(name, "/import"), params={"format": format}, json=data)
        return int(found["imported"])

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
        """A human review loop over a table of predictions (see ``LabelingProjects.create_review_loop``)."""
        body: dict[str, Any] = {
            "name": name,
            "predictions_table": predictions_table,
            "id_column": id_column,
            "prediction_column": prediction_column,
            "confidence_column": confidence_column,
            "threshold": dict(threshold) if isinstance(threshold, Mapping) else threshold,
            "where": where,
            "audit_percent": audit_percent,
            "reviewers": reviewers,
            "labels": list(labels) if labels is not None else None,
            "seed": seed,
            "instructions": instructions,
        }
        if isinstance(expires, timedelta):
            body["expires_in_seconds"] = expires.total_seconds()
        elif isinstance(expires, datetime):
            body["expires_at"] = (expires if expires.tzinfo else expires.replace(tzinfo=UTC)).isoformat()
        return Project.from_dict(self._lake._json("POST", "/labeling/review-loops", json=body))

    def activate(self, name: str) -> pa.Table:
        """Send the rows the loop's rules pick to reviewers; returns the rows added, with why."""
        found = self._lake._json("POST", f"/labeling/review-loops/{quote(name, safe='')}/activate")
        return pa.Table.from_pylist(found["items"], schema=REVIEW_ITEMS_SCHEMA)

    def review_results(self, name: str) -> ReviewReport:
        """Join the reviewers' answers back to the predictions (on the server); the overrule metrics."""
        return ReviewReport(**self._lake._json("POST", f"/labeling/review-loops/{quote(name, safe='')}/results"))
