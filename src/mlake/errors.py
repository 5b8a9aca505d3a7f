"""The error hierarchy.

Every failure a user can cause or fix is an :class:`MlakeError`. Its message says what went wrong,
where (table, file, line, column) and what to do, so that the CLI can print it as one line and the
REST API can turn it into a JSON problem with a stable ``code``. Errors from dependencies (pyiceberg,
DuckDB, SQLAlchemy, pyarrow) are translated at the boundary where mlake calls them; they never reach
the user as raw tracebacks.
"""

from __future__ import annotations


class MlakeError(Exception):
    """Root of all user-facing errors.

    ``code`` is stable across releases (clients may switch on it); ``hint`` tells the user what to do.
    """

    code = "mlake_error"
    http_status = 400

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message

    def to_dict(self) -> dict[str, str | int | None]:
        return {"code": self.code, "message": self.message, "hint": self.hint, "status": self.http_status}


class ConfigError(MlakeError):
    """Settings are missing, malformed or point at something unreachable."""

    code = "config_error"


class NotFoundError(MlakeError):
    """A namespace, table, snapshot or other named thing does not exist."""

    code = "not_found"
    http_status = 404


class BrokenTableError(MlakeError):
    """A table's Iceberg metadata exists but cannot be read (corrupt, or beyond what the reader accepts)."""

    code = "broken_table"
    http_status = 409


class AlreadyExistsError(MlakeError):
    """Creating something whose name is taken."""

    code = "already_exists"
    http_status = 409


class SchemaError(MlakeError):
    """Data does not fit a table's schema and cannot be made to fit safely."""

    code = "schema_error"
    http_status = 422


class IngestError(MlakeError):
    """A source cannot be read at all (bad records in a readable source are quarantined instead)."""

    code = "ingest_error"
    http_status = 422


class SqlError(MlakeError):
    """A query is invalid, names an unknown table, or fails while running."""

    code = "sql_error"


class CommitConflictError(MlakeError):
    """A table changed under a writer more often than the retry budget allows."""

    code = "commit_conflict"
    http_status = 409


class ValidationError(MlakeError):
    """An argument has the wrong form (a bad name, an unknown option)."""

    code = "invalid_argument"


class PermissionDeniedError(MlakeError):
    """The principal lacks a grant for what it asked to do."""

    code = "permission_denied"
    http_status = 403


class LabelingError(MlakeError):
    """Labeling input cannot be used: annotators' answers, a label schema, or an auto-labeling set-up."""

    code = "labeling_error"
    http_status = 422


class AnswerOutsideSchemaError(LabelingError):
    """An annotator's answer is not one the label schema allows (an unknown class, a malformed box)."""

    code = "answer_outside_schema"


class BoxOutsideImageError(LabelingError):
    """A bounding box reaches past the edges of the image it was drawn on."""

    code = "box_outside_image"


class DuplicateAnswerError(LabelingError):
    """One annotator answered the same item more than once; consolidation counts each annotator once."""

    code = "duplicate_answer"
    http_status = 409


class ObjectError(MlakeError):
    """Bad input to the objects area (no files matched, an unreadable manifest, a malformed object id)."""

    code = "object_error"


class UseForbiddenError(MlakeError):
    """Data is asked for a use (e.g. model training) that the terms of a source it derives from forbid."""

    code = "use_forbidden"
    http_status = 403
