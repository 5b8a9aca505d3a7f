"""Stored check suites: named YAML suites per table, kept with the result of their last run.

``lake.quality.suites`` saves a suite under a name for a table (``save("shop.orders", "basics", yaml)``),
lists and deletes them; ``lake.quality.check(table, stored)`` runs one and, when the run may be kept
(see :mod:`mlake.quality.access`), records it as the suite's last result — what Studio's home page
("failing checks") and quality pages show without re-running anything.

Suites live in the control-plane database (migration area ``quality``), not in an Iceberg table: they
are small, edited and deleted configuration, like dashboards and grants, while Iceberg keeps the
append-only record of every run (``mlake.quality_metrics``). A last result is kept without failing-row
samples: the metastore holds figures, never rows of data. Suites outlive their table being dropped and
created again (``CREATE OR REPLACE``); while no table of that name exists they are not listed.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlake.errors import AlreadyExistsError, MlakeError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.quality.access import audited, keeper, may_change, metadata_cache, readable, require_read
from mlake.quality.metastore import suites_table
from mlake.quality.suite import Suite, SuiteResult
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.lake import Lake

MAX_YAML = 200_000


def _aware(v: datetime | None) -> datetime | None:
    return v if v is None or v.tzinfo else v.replace(tzinfo=UTC)


def check_suite_name(name: str) -> str:
    text = (name or "").strip() if isinstance(name, str) else ""
    if not text or len(text) > 200 or any(c in text for c in "/\\\n\r\t") or not text.isprintable():
        raise ValidationError(
            f"Invalid suite name {name!r}",
            hint="use 1 to 200 printable characters without slashes or line breaks, e.g. 'orders basics'",
        )
    return text


@dataclass
class StoredSuite:
    """A named suite of one table, with its last kept result (None when never run, or hidden from the
    caller because it describes more of the table than the caller may see)."""

    id: int
    table: str
    name: str
    yaml: str
    owner: str
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    last_passed: bool | None = None
    last_result: dict[str, Any] | None = None
    last_result_hidden: bool = False

    @property
    def suite(self) -> Suite:
        """The checks (named after the stored suite, so that history and results carry its name)."""
        suite = Suite.from_yaml(self.yaml, f"suite {self.name!r} of {self.table}", untrusted=True)
        suite.name = self.name
        suite.table = self.table
        return suite

    @property
    def check_count(self) -> int | None:
        """How many checks the suite has (None when its YAML no longer parses; running it says why)."""
        try:
            return len(self.suite.checks)
        except MlakeError:
            return None

    @property
    def failing(self) -> list[dict[str, Any]]:
        """Checks of the last run that failed (severity error), then those that warned."""
        if not self.last_result:
            return []
        results = [r for r in self.last_result.get("results", []) if not r.get("passed")]
        return sorted(results, key=lambda r: r.get("severity") != "error")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "table": self.table,
            "name": self.name,
            "yaml": self.yaml,
            "checks": self.check_count,
            "owner": self.owner,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_passed": self.last_passed,
            "last_result": self.last_result,
            "last_result_hidden": self.last_result_hidden,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StoredSuite:
        """The inverse of ``to_dict`` (for clients of the REST API)."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for name in ("created_at", "updated_at", "last_run_at"):
            fields[name] = datetime.fromisoformat(d[name]) if d.get(name) else None
        return cls(**fields)


class SuiteStore:
    """Stored suites as the lake's caller may see and change them (``lake.quality.suites``)."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        self._engine = lake._core.metadata_engine

    # --- reading --------------------------------------------------------------------------------

    def _row(self, r: Any, show_result: bool) -> StoredSuite:
        result = json.loads(r.last_result) if r.last_result and show_result else None
        return StoredSuite(
            id=int(r.id),
            table=r.table_name,
            name=r.name,
            yaml=r.yaml,
            owner=r.owner,
            created_at=_aware(r.created_at) or datetime.now(UTC),
            updated_at=_aware(r.updated_at) or datetime.now(UTC),
            last_run_at=_aware(r.last_run_at) if show_result else None,
            last_passed=r.last_passed if show_result else None,
            last_result=result,
            last_result_hidden=bool(r.last_result) and not show_result,
        )

    def list(self, table: str | TableName | None = None) -> builtins.list[StoredSuite]:
        """Suites of one table, or of every table the caller may read, by table and name."""
        query = sa.select(suites_table).order_by(suites_table.c.table_name, suites_table.c.name)
        if table is not None:
            name = str(TableName.parse(table))
            require_read(self._lake, name)  # suites are table metadata: read like a description, not audited
            query = query.where(suites_table.c.table_name == name)
        with self._engine.connect() as conn:
            rows = list(conn.execute(query))
        out: builtins.list[StoredSuite] = []
        access: dict[str, tuple[bool, bool]] = {}  # table -> (may read it, sees it whole)
        with metadata_cache(self._lake):
            for r in rows:
                if r.table_name not in access:
                    can = readable(self._lake, r.table_name)
                    access[r.table_name] = (can, can and keeper(self._lake, r.table_name) is not None)
                can, whole = access[r.table_name]
                if can:
                    out.append(self._row(r, whole))
        return out

    def get(self, table: str | TableName, name: str) -> StoredSuite:
        table_name = str(TableName.parse(table))
        require_read(self._lake, table_name)
        with self._engine.connect() as conn:
            r = conn.execute(
                sa.select(suites_table).where(
                    suites_table.c.table_name == table_name, suites_table.c.name == check_suite_name(name)
                )
            ).first()
        if r is None:
            raise NotFoundError(
                f"{table_name} has no stored suite {name!r}",
                hint=f"list them: GET /api/v1/tables/{table_name}/quality/suites, or save one first",
            )
        return self._row(r, keeper(self._lake, table_name) is not None)

    def failing(self) -> builtins.list[StoredSuite]:
        """Suites whose last kept run failed, on tables the caller may see whole, newest first."""
        found = [s for s in self.list() if s.last_passed is False]
        return sorted(found, key=lambda s: s.last_run_at or datetime.min.replace(tzinfo=UTC), reverse=True)

    # --- changing -------------------------------------------------------------------------------

    def save(self, table: str | TableName, name: str, yaml: str | Suite, *, replace: bool = True) -> StoredSuite:
        """Store ``yaml`` (checked by parsing it; or a :class:`Suite`) as suite ``name`` of ``table``; with
        ``replace``, an existing suite of that name is changed (by its owner, a principal with alter, or a
        superuser)."""
        if isinstance(yaml, Suite):
            yaml = yaml.to_yaml()
        table_name = str(TableName.parse(table))
        suite_name = check_suite_name(name)
        with audited(self._lake, "quality.suite.save", [table_name], suite_name):
            require_read(self._lake, table_name)
            if not isinstance(yaml, str) or not yaml.strip():
                raise ValidationError("A stored suite needs YAML text with a list of checks")
            if len(yaml) > MAX_YAML:
                raise ValidationError(f"The suite is longer than {MAX_YAML:,} characters")
            suite = Suite.from_yaml(yaml, f"suite {suite_name!r}", untrusted=True)
            if suite.table and str(TableName.parse(suite.table)) != table_name:
                raise ValidationError(
                    f"The suite says it is for {suite.table}, not {table_name}",
                    hint="remove its table: line, or save it for that table",
                )
            now = datetime.now(UTC)
            with self._engine.begin() as conn:
                existing = conn.execute(
                    sa.select(suites_table).where(
                        suites_table.c.table_name == table_name, suites_table.c.name == suite_name
                    )
                ).first()
                if existing is None:
                    conn.execute(
                        suites_table.insert().values(
                            table_name=table_name,
                            name=suite_name,
                            yaml=yaml,
                            owner=self._lake.settings.user,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                else:
                    if not replace:
                        raise AlreadyExistsError(f"{table_name} already has a suite named {suite_name!r}")
                    self._require_change(existing.owner, table_name, suite_name)
                    conn.execute(
                        suites_table.update()
                        .where(suites_table.c.id == existing.id)
                        .values(yaml=yaml, updated_at=now, last_run_at=None, last_passed=None, last_result=None)
                    )
        return self.get(table_name, suite_name)

    def delete(self, table: str | TableName, name: str) -> None:
        table_name = str(TableName.parse(table))
        with audited(self._lake, "quality.suite.delete", [table_name], str(name)[:200]):
            stored = self.get(table_name, name)
            self._require_change(stored.owner, stored.table, stored.name)
            with self._engine.begin() as conn:
                conn.execute(suites_table.delete().where(suites_table.c.id == stored.id))

    def run(
        self,
        table: str | TableName,
        name: str,
        *,
        snapshot_id: int | None = None,
        sample_rows: int = 5,
        save: bool = True,
    ) -> SuiteResult:
        """Run a stored suite; its result is kept as the suite's last result when the caller may see the
        whole table (see :meth:`mlake.quality.api.Quality.check`)."""
        return self._lake.quality.check(
            table, self.get(table, name), snapshot_id=snapshot_id, save=save, sample_rows=sample_rows
        )

    def record_run(self, stored: StoredSuite, result: SuiteResult, actor: str) -> None:
        """Keep ``result`` as the suite's last run (callers check that the run may be kept)."""
        summary = result.to_dict()
        for r in summary["results"]:
            r.pop("samples", None)
        summary["actor"] = actor
        with self._engine.begin() as conn:
            conn.execute(
                suites_table.update()
                .where(suites_table.c.id == stored.id)
                .values(
                    last_run_at=result.computed_at,
                    last_passed=result.passed,
                    last_result=json.dumps(summary, default=str),
                )
            )

    def _require_change(self, owner: str, table: str, name: str) -> None:
        if not may_change(self._lake, owner, table):
            raise PermissionDeniedError(
                f"Only {owner!r} (its owner), principals with ALTER on {table} or a superuser may change "
                f"suite {name!r}",
                hint="save your version under another name",
            )
