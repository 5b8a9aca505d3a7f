"""``lake.quality``: the one entry point to profiles, checks, suggestions, history, gates and reports.

Every method takes a *table* (``"shop.orders"``, optionally at ``snapshot_id=`` / ``as_of=``), SQL text,
or a ``lake.sql(...)`` result. Results are dataclasses with ``to_dict()`` (JSON for the REST API and
programs) and ``_repr_html_()`` (notebooks; HTML fragments a web page can embed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import ValidationError
from mlake.quality.agreement import AgreementReport, agreement
from mlake.quality.dimensions import QualityDimensions, score_dimensions
from mlake.quality.gates import QualityGate
from mlake.quality.history import (
    Anomaly,
    AnomalyRules,
    detect,
    load_history,
    record_profile,
    record_suite,
)
from mlake.quality.profile import Profile, profile
from mlake.quality.readiness import ReadinessReport, readiness
from mlake.quality.report import QualityReport
from mlake.quality.source import Source, resolve
from mlake.quality.suggest import SuggestedSuite, suggest
from mlake.quality.suite import Suite, SuiteResult, run_suite

if TYPE_CHECKING:
    from mlake.lake import Lake

Target = Any  # a table name, Table, SQL text, Result, or Source


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
        **options: Any,
    ) -> Profile:
        """Profile a table, snapshot or query (options: see :func:`mlake.quality.profile.profile`).

        ``save`` keeps the profile's metrics in the history (``mlake.quality_metrics``).
        """
        src = self.source(table, snapshot_id, as_of)
        with self._lake.progress.task(f"profiling {src.label}", total=None):
            result = profile(src, **options)
        if save:
            record_profile(self._lake, result, src.history_key)
        return result

    # --- checks -------------------------------------------------------------------------------------

    def check(
        self,
        table: Target,
        suite: Suite | str | Path | dict[str, Any] | list[Any],
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        save: bool = True,
        sample_rows: int = 5,
    ) -> SuiteResult:
        """Run a suite (YAML path or text, dict, or :class:`Suite`) on a table, snapshot or query."""
        src = self.source(table, snapshot_id, as_of)
        loaded = Suite.load(suite)
        if loaded.table and src.table and src.kind == "table" and loaded.table != src.table:
            raise ValidationError(
                f"Suite {loaded.name} is for {loaded.table}, not {src.table}",
                hint="remove the suite's table: line to use it on other tables",
            )
        with self._lake.progress.task(f"checking {src.label}", total=None):
            result = run_suite(src, loaded, sample_rows=sample_rows)
        if save:
            record_suite(self._lake, result, src.history_key)
        return result

    def suggest(
        self, table: Target, *, profile_result: Profile | None = None, name: str | None = None
    ) -> SuggestedSuite:
        """Suggest a suite from a (fresh, unless given) profile; ``.yaml`` is the text to save and edit."""
        p = profile_result or self.profile(table, save=False)
        return suggest(p, name=name or (f"{p.table} checks" if p.table else "suggested"))

    def gate(self, suite: Suite | str | Path | dict[str, Any], *, save: bool = True) -> QualityGate:
        """A gate for ingestion: ``lake.ingest(..., gate=lake.quality.gate("suite.yaml"))``."""
        return QualityGate(self._lake, suite, save=save)

    # --- history --------------------------------------------------------------------------------------

    def history(
        self, table: Target, *, metric: str | None = None, column: str | None = None, kind: str | None = None
    ) -> pa.Table:
        """Stored metrics of a table (or query) across runs, oldest first."""
        return load_history(self._lake, self._key(table), metric=metric, column=column, kind=kind)

    def anomalies(
        self, table: Target, *, rules: AnomalyRules | None = None, all_runs: bool = False, **rule_options: Any
    ) -> list[Anomaly]:
        """Metrics that jumped in the newest run (or in any run with ``all_runs=True``)."""
        if rules is None:
            rules = AnomalyRules(**rule_options)
        return detect(self.history(table), rules, only_last=not all_runs)

    def _key(self, table: Target) -> str:
        if isinstance(table, Source):
            return table.history_key
        text = str(getattr(table, "name", table))
        from mlake.quality.source import is_table_name

        if is_table_name(text):
            return text.strip().replace('"', "").lower()
        return resolve(self._lake, table).history_key

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
        src = self.source(table, snapshot_id)
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
        src = self.source(table, snapshot_id)
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
        return agreement(self._triples(data, item, rater, label), level=level)

    def _triples(self, data: Any, item: str, rater: str, label: str) -> list[tuple[Any, Any, Any]]:
        if isinstance(data, list | tuple) and (not data or isinstance(data[0], tuple | list)):
            return [tuple(r) for r in data]  # type: ignore[misc]
        if isinstance(data, str) or hasattr(data, "relation") or isinstance(data, Source):
            src = self.source(data)
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
        suite: Suite | str | Path | dict[str, Any] | None = None,
        snapshot_id: int | None = None,
        key: Sequence[str] = (),
        max_age: str | timedelta | None = None,
        save: bool = True,
        readiness_options: dict[str, Any] | None = None,
    ) -> QualityReport:
        """Profile, dimensions, checks, anomalies, history (and readiness with ``target``) as one report.

        ``path`` ending in ``.html`` or ``.json`` writes it there.
        """
        src = self.source(table, snapshot_id)
        p = self.profile(src, save=save, key=list(key))
        checks = self.check(src, suite, save=save) if suite is not None else None
        dims = score_dimensions(self._lake, src, p, checks=checks, key=list(key) or None, max_age=max_age)
        history = load_history(self._lake, src.history_key) if save else None
        anomalies = detect(history) if history is not None else []
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
