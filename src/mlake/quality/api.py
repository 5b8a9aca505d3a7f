"""``lake.quality``: the one entry point to profiles, checks, suggestions, history, gates and reports.

Every method takes a *table* (``"shop.orders"``, optionally at ``snapshot_id=`` / ``as_of=``), SQL text,
or a ``lake.sql(...)`` result. Results are dataclasses with ``to_dict()`` (JSON for the REST API and
programs) and ``_repr_html_()`` (notebooks; HTML fragments a web page can embed).

On a principal's lake (``lake.as_principal(p).quality``, as the server uses it) every measurement reads
the principal's view of the data, is audited, and is kept in the metric history only under the rules of
:mod:`mlake.quality.access`. Named suites are stored per table in ``lake.quality.suites``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from mlake.errors import PermissionDeniedError, ValidationError
from mlake.quality import access
from mlake.quality.agreement import AgreementReport, agreement
from mlake.quality.dimensions import QualityDimensions, score_dimensions
from mlake.quality.gates import QualityGate
from mlake.quality.history import (
    Anomaly,
    AnomalyRules,
    detect,
    load_history,
    load_recent,
    record_profile,
    record_suite,
)
from mlake.quality.partitioned import on_engine
from mlake.quality.profile import Profile, profile
from mlake.quality.readiness import ReadinessReport, readiness
from mlake.quality.report import QualityReport
from mlake.quality.source import Source, is_table_name, resolve
from mlake.quality.store import StoredSuite, SuiteStore
from mlake.quality.suggest import SuggestedSuite, suggest
from mlake.quality.suite import Suite, SuiteResult, run_suite
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.lake import Lake

Target = Any  # a table name, Table, SQL text, Result, or Source
SuiteSpec = Suite | StoredSuite | str | Path | dict[str, Any] | list[Any]


class Quality:
    """Data quality for one lake (``lake.quality``)."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake

    def source(self, table: Target, snapshot_id: int | None = None, as_of: datetime | str | None = None) -> Source:
        """What a measurement reads (for advanced use: pass it to several methods to pin one snapshot)."""
        return resolve(self._lake, table, snapshot_id, as_of)

    # --- profiles -----------------------------------------------------------------------------------

    def profile(
        self,
        table: Target,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        save: bool = True,
        columns: Sequence[str] | None = None,
        key: Sequence[str] | str = (),
        time_column: str | None = None,
        bins: int = 20,
        top_k: int = 10,
        exact_distinct: bool = False,
        engine: str = "duckdb",
        **options: Any,
    ) -> Profile:
        """Profile a table, snapshot or query: ``columns`` (default all), ``key`` (columns that should
        identify a row), ``time_column`` (for freshness), histogram ``bins``, ``top_k`` values, and
        ``exact_distinct`` counts; further tuning options: see :func:`mlake.quality.profile.profile`.

        ``save`` keeps the profile's metrics in the history (``mlake.quality_metrics``). ``engine``:
        ``duckdb`` (in process) or ``ray`` (a table's data files split over Ray tasks, same results: see
        :mod:`mlake.quality.partitioned`).
        """
        options.update(
            columns=columns,
            key=[key] if isinstance(key, str) else list(key),
            time_column=time_column,
            bins=bins,
            top_k=top_k,
            exact_distinct=exact_distinct,
        )
        with self._audited("quality.profile", table):
            return self._profile(self._source(table, snapshot_id, as_of), save, engine=engine, **options)

    def _profile(self, src: Source, save: bool, engine: str = "duckdb", **options: Any) -> Profile:
        with self._lake.progress.task(f"profiling {src.label}", total=None), on_engine(src, engine) as on:
            result = profile(on, **options)
        if save and (keeper := self._keeper(src)) is not None:
            record_profile(keeper, result, src.history_key, actor=access.actor(self._lake))
        return result

    # --- checks -------------------------------------------------------------------------------------

    def check(
        self,
        table: Target,
        suite: SuiteSpec,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        save: bool = True,
        sample_rows: int = 5,
        engine: str = "duckdb",
    ) -> SuiteResult:
        """Run a suite (YAML path or text, dict, :class:`Suite`, a stored suite or its name) on a table,
        snapshot or query. A stored suite's kept run becomes its last result (see :mod:`mlake.quality.store`).
        ``engine``: ``duckdb`` (in process) or ``ray`` (a table's data files split over Ray tasks)."""
        suite = self.resolve_suite(table, suite)
        stored = suite if isinstance(suite, StoredSuite) else None
        with self._audited("quality.check", table, stored.name if stored else None):
            return self._check(self._source(table, snapshot_id, as_of), suite, save, sample_rows, engine)

    def resolve_suite(self, table: Target, suite: SuiteSpec) -> SuiteSpec:
        """``suite`` as :meth:`check` reads it: one line of text is a suite file when one exists at that
        path, else the name of a suite stored for ``table`` (``"orders-basics"``), else one-line YAML.
        Other specs are returned as they are."""
        if not isinstance(suite, str) or "\n" in suite:
            return suite
        text = suite.strip()
        if Path(text).is_file():
            return Path(text)
        table_text = str(getattr(table, "name", table))
        if text.lower().endswith((".yaml", ".yml")) or not text or not is_table_name(table_text):
            return suite  # Suite.load reports a missing file; YAML text is read as YAML
        name = table_text.strip().replace('"', "")
        if not self._lake.table_exists(name):  # a missing table is the error to report, not a missing suite
            raise self._lake.not_found(TableName.parse(name))
        stored = self.suites.list(name)
        for s in stored:
            if s.name == text:
                return s
        if any(c in text for c in ":[{"):
            return suite  # one-line YAML, e.g. "[not_null: id]"
        names = ", ".join(repr(s.name) for s in stored) or "none"
        raise ValidationError(
            f"{text!r} is neither a suite file nor a suite stored for {name} (stored: {names})",
            hint="give a YAML file, or store one with `mlake quality store-suite TABLE NAME FILE`",
        )

    def _check(
        self, src: Source, suite: SuiteSpec, save: bool, sample_rows: int = 5, engine: str = "duckdb"
    ) -> SuiteResult:
        stored = suite if isinstance(suite, StoredSuite) else None
        loaded = stored.suite if stored else Suite.load(suite)  # type: ignore[arg-type]
        if loaded.table and src.table and src.kind == "table" and loaded.table != src.table:
            raise ValidationError(
                f"Suite {loaded.name} is for {loaded.table}, not {src.table}",
                hint="remove the suite's table: line to use it on other tables",
            )
        with self._lake.progress.task(f"checking {src.label}", total=None), on_engine(src, engine) as on:
            result = run_suite(on, loaded, sample_rows=sample_rows)
        if save and (keeper := self._keeper(src)) is not None:
            record_suite(keeper, result, src.history_key, actor=access.actor(self._lake))
            if stored is not None and src.kind == "table" and src.table == stored.table:
                self.suites.record_run(stored, result, access.actor(self._lake))
        return result

    @cached_property
    def suites(self) -> SuiteStore:
        """Named suites stored per table, with their last results."""
        return SuiteStore(self._lake)

    def keeps(self, table: Target) -> bool:
        """Whether runs on ``table`` (a table name or a query) by this lake are kept in the metric history."""
        key = self._key(table)
        return access.keeper(self._lake, key if is_table_name(key) else None) is not None

    def suggest(
        self, table: Target, *, profile_result: Profile | None = None, name: str | None = None
    ) -> SuggestedSuite:
        """Suggest a suite from a (fresh, unless given) profile; ``.yaml`` is the text to save and edit."""
        if profile_result is None:
            with self._audited("quality.suggest", table):
                profile_result = profile(self._source(table))
        p = profile_result
        return suggest(p, name=name or (f"{p.table} checks" if p.table else "suggested"))

    def gate(self, suite: Suite | str | Path | dict[str, Any], *, save: bool = True) -> QualityGate:
        """A gate for ingestion: ``lake.ingest(..., gate=lake.quality.gate("suite.yaml"))``."""
        return QualityGate(self._lake, suite, save=save)

    # --- history --------------------------------------------------------------------------------------

    def history(
        self,
        table: Target,
        *,
        metric: str | None = None,
        column: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Stored metrics of a table (or query) across runs, oldest first (the newest ``limit`` rows when given).

        On a principal's lake, only for principals who may read the whole table (PermissionDeniedError
        otherwise, saying why): the history describes all of it.
        """
        key = self._key(table)
        with self._audited("quality.history", key):
            keeper = self._history_keeper(key)
            found = load_history(keeper, key, metric=metric, column=column, kind=kind)
        return found if limit is None or found.num_rows <= limit else found.slice(found.num_rows - limit)

    def anomalies(
        self, table: Target, *, rules: AnomalyRules | None = None, all_runs: bool = False, **rule_options: Any
    ) -> list[Anomaly]:
        """Metrics that jumped in the newest run (or in any run with ``all_runs=True``)."""
        if rules is None:
            rules = AnomalyRules(**rule_options)
        return detect(self.history(table), rules, only_last=not all_runs)

    def recent_anomalies(self, *, days: float = 7.0, rules: AnomalyRules | None = None) -> list[Anomaly]:
        """Anomalies in the newest runs of every table whose history the caller may see, among runs of the
        last ``days``, newest first (a lake-wide "what changed" for people who did not write the rule)."""
        since = datetime.now(UTC) - timedelta(days=days)
        with access.audited(self._lake, "quality.anomalies", [], f"all tables, last {days:g} days"):
            history = load_recent(access.system(self._lake), since)
            targets = set(history.column("target").to_pylist()) if history.num_rows else set()
            with access.metadata_cache(self._lake):
                shown = [
                    t
                    for t in sorted(targets)
                    if is_table_name(t) and access.readable(self._lake, t) and access.keeper(self._lake, t)
                ]
            if not shown:
                return []
            mine = history.filter(pc.is_in(history.column("target"), pa.array(shown, pa.string())))
            found = [a for a in detect(mine, rules) if a.run_at >= since]
        return sorted(found, key=lambda a: a.run_at, reverse=True)

    def _key(self, table: Target) -> str:
        if isinstance(table, Source):
            return table.history_key
        text = str(getattr(table, "name", table))
        if is_table_name(text):
            return text.strip().replace('"', "").lower()
        return resolve(self._lake, table).history_key

    # --- access (see mlake.quality.access) -------------------------------------------------------------

    def _audited(self, action: str, target: Target, detail: str | None = None) -> Any:
        """Audit a measurement of ``target`` on a principal's lake (tables named; SQL as the detail)."""
        tables: list[str] = []
        if isinstance(target, Source):
            tables, text = ([target.table] if target.table else []), target.label
        elif isinstance(target, str | TableName) or hasattr(target, "iceberg"):  # a name, SQL, or a Table
            text = str(getattr(target, "name", target))
            tables = [text.strip().replace('"', "").lower()] if is_table_name(text) else []
        else:  # a Result (its SQL); never a dataframe's contents
            text = str(getattr(target, "sql", f"({type(target).__name__})"))
        if detail is None and not tables:
            detail = text[:2000]
        return access.audited(self._lake, action, tables, detail)

    def _source(self, table: Target, snapshot_id: int | None = None, as_of: datetime | str | None = None) -> Source:
        """The source, after refusing a principal without select on a named table (before anything about
        the table — snapshots, columns — can show through an error)."""
        if not isinstance(table, Source):
            text = str(getattr(table, "name", table))
            if is_table_name(text) and self._lake.table_exists(text.strip().replace('"', "")):
                access.require_read(self._lake, text.strip().replace('"', ""))
        return self.source(table, snapshot_id, as_of)

    def _keeper(self, src: Source) -> Lake | None:
        if src.kind == "staged":
            return None
        return access.keeper(self._lake, src.table if src.kind == "table" else None)

    def _history_keeper(self, key: str) -> Lake:
        if is_table_name(key):
            if access.governed(self._lake) is not None:
                if not self._lake.table_exists(key):
                    raise self._lake.not_found(TableName.parse(key))
                access.require_read(self._lake, key)
            return access.require_whole(self._lake, key, "metric history")
        keeper = access.keeper(self._lake, None)
        if keeper is None:
            raise PermissionDeniedError("The metric history of queries is kept for superusers only")
        return keeper

    # --- dimensions, readiness, agreement -----------------------------------------------------------

    def dimensions(
        self,
        table: Target,
        *,
        snapshot_id: int | None = None,
        suite: Suite | str | Path | dict[str, Any] | None = None,
        key: Sequence[str] = (),
        reference: str | None = None,
        rule: str | None = None,
        max_age: str | timedelta | None = None,
        expected_schema: dict[str, str] | None = None,
        profile_result: Profile | None = None,
        checks: SuiteResult | None = None,
    ) -> QualityDimensions:
        """Scores for completeness, uniqueness, validity, accuracy, timeliness and schema compatibility."""
        with self._audited("quality.dimensions", table):
            return self._dimensions(
                table, snapshot_id, suite, key, reference, rule, max_age, expected_schema, profile_result, checks
            )

    def _dimensions(
        self,
        table: Target,
        snapshot_id: int | None,
        suite: Suite | str | Path | dict[str, Any] | None,
        key: Sequence[str],
        reference: str | None,
        rule: str | None,
        max_age: str | timedelta | None,
        expected_schema: dict[str, str] | None,
        profile_result: Profile | None,
        checks: SuiteResult | None,
    ) -> QualityDimensions:
        src = self._source(table, snapshot_id)
        p = profile_result or profile(src, key=list(key))
        if checks is None and suite is not None:
            checks = run_suite(src, Suite.load(suite))
        return score_dimensions(
            self._lake,
            src,
            p,
            checks=checks,
            reference=reference,
            key=list(key) or None,
            rule=rule,
            max_age=max_age,
            expected_schema=expected_schema,
        )

    def readiness(
        self, table: Target, target: str, *, snapshot_id: int | None = None, **options: Any
    ) -> ReadinessReport:
        """The ML readiness report for predicting ``target`` (options: see :mod:`mlake.quality.readiness`)."""
        with self._audited("quality.readiness", table, target):
            src = self._source(table, snapshot_id)
            with self._lake.progress.task(f"assessing {src.label} for {target}", total=None):
                return readiness(src, target, **options)

    def agreement(
        self,
        data: Target | Iterable[tuple[Any, Any, Any]],
        *,
        item: str = "item",
        rater: str = "annotator",
        label: str = "label",
        level: str = "nominal",
    ) -> AgreementReport:
        """Annotator agreement from long-form labels: a table/SQL/dataframe with item, rater and label columns,
        or (item, rater, label) triples."""
        if isinstance(data, list | tuple):
            return agreement(self._triples(data, item, rater, label), level=level)
        with self._audited("quality.agreement", data):
            return agreement(self._triples(data, item, rater, label), level=level)

    def _triples(self, data: Any, item: str, rater: str, label: str) -> list[tuple[Any, Any, Any]]:
        if isinstance(data, list | tuple) and (not data or isinstance(data[0], tuple | list)):
            return [tuple(r) for r in data]  # type: ignore[misc]
        if isinstance(data, str) or hasattr(data, "relation") or isinstance(data, Source):
            src = self._source(data)
            for col in (item, rater, label):
                src.column_type(col)
            from mlake.quality.source import q

            rows = src.fetch(f"SELECT {q(item)}, {q(rater)}, {q(label)} FROM {src.from_clause()}")
            return [tuple(r) for r in rows]
        from mlake.tables.frames import to_arrow

        table = to_arrow(data)
        missing = [c for c in (item, rater, label) if c not in table.column_names]
        if missing:
            raise ValidationError(
                f"The labels have no column(s) {', '.join(missing)}",
                hint=f"columns: {', '.join(table.column_names)}; pass item=, rater=, label=",
            )
        return list(
            zip(
                table.column(item).to_pylist(),
                table.column(rater).to_pylist(),
                table.column(label).to_pylist(),
                strict=True,
            )
        )

    # --- reports ------------------------------------------------------------------------------------

    def report(
        self,
        table: Target,
        path: str | Path | None = None,
        *,
        target: str | None = None,
        suite: SuiteSpec | None = None,
        snapshot_id: int | None = None,
        key: Sequence[str] = (),
        max_age: str | timedelta | None = None,
        save: bool = True,
        readiness_options: dict[str, Any] | None = None,
    ) -> QualityReport:
        """Profile, dimensions, checks, anomalies, history (and readiness with ``target``) as one report.

        ``path`` ending in ``.html`` or ``.json`` writes it there. ``save`` keeps the profile and check
        runs in the history; the history (and anomalies) are in the report whenever the caller may see
        them (see :mod:`mlake.quality.access`).
        """
        with self._audited("quality.report", table, target):
            src = self._source(table, snapshot_id)
            p = self._profile(src, save, key=list(key))
            checks = self._check(src, suite, save) if suite is not None else None
            dims = score_dimensions(self._lake, src, p, checks=checks, key=list(key) or None, max_age=max_age)
            keeper = self._keeper(src)
            history = load_history(keeper, src.history_key) if keeper is not None else None
            anomalies = detect(history) if history is not None and history.num_rows else []
            ready = readiness(src, target, **(readiness_options or {})) if target else None
        report = QualityReport(
            title=f"Data quality report — {src.table or src.label}",
            profile=p,
            dimensions=dims,
            checks=checks,
            anomalies=anomalies,
            history=history,
            readiness=ready,
            suggested=suggest(p, name=f"{p.table} checks" if p.table else None),
        )
        if path is not None:
            report.save(path)
        return report
