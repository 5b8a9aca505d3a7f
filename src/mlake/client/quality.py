"""``remote.quality``: data quality against an mlake server.

The same calls as :class:`~mlake.quality.api.Quality` — ``profile``, ``check``, ``suggest``, ``history``,
``anomalies``, ``recent_anomalies``, ``report`` and the stored ``suites`` — over the REST API, returning
the same result types (:class:`~mlake.quality.profile_result.Profile`,
:class:`~mlake.quality.suite.SuiteResult`, :class:`~mlake.quality.suggest.SuggestedSuite`,
:class:`~mlake.quality.history.Anomaly`, :class:`~mlake.quality.store.StoredSuite`), so that notebooks
show them the same way. Everything runs on the server as the caller: grants, masks and row filters
apply, check SQL is sandboxed, and runs are kept in the history only when the caller may see the whole
table.

What the REST API does not offer is refused here with a clear error (a ``ValidationError`` saying what to
do instead) rather than half done: checks of an ad-hoc query (save the query as a table first), and the
readiness, agreement and dimension reports on their own (``report(..., target=...)`` includes readiness
and dimensions).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa

from mlake.errors import AlreadyExistsError, ValidationError
from mlake.quality.history import METRICS_SCHEMA, Anomaly, AnomalyRules
from mlake.quality.profile_result import Profile
from mlake.quality.store import StoredSuite
from mlake.quality.suggest import SuggestedSuite
from mlake.quality.suite import Suite, SuiteResult
from mlake.tables.names import TableName, is_query

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake
    from mlake.quality.agreement import AgreementReport
    from mlake.quality.dimensions import QualityDimensions
    from mlake.quality.readiness import ReadinessReport
    from mlake.quality.report import QualityReport

# What a method measures: a table name, a RemoteTable, SQL text or a ``remote.sql(...)`` result (typed
# Any, as :data:`mlake.quality.api.Target` is locally).
Target = Any
RemoteSuiteSpec = Suite | StoredSuite | str | Path | dict[str, Any] | list[Any]


def _table(target: Any) -> str:
    from mlake.client.tables import RemoteTable

    if isinstance(target, RemoteTable):
        return str(target.name)
    if isinstance(target, TableName):
        return str(target)
    if isinstance(target, str) and not is_query(target):
        return str(TableName.parse(target))
    raise ValidationError(
        f"Expected a table name, got {str(target)[:80]!r}",
        hint="remotely, checks, history and reports work on tables; save a query first with "
        "remote.sql(...).save('ns.table')",
    )


def _suite_body(suite: RemoteSuiteSpec) -> dict[str, Any]:
    """A suite as the REST API takes it: a stored suite's name, or the checks as JSON (validated here
    first, so that a typo is reported before anything is sent)."""
    if isinstance(suite, StoredSuite):
        return {"suite": suite.name}
    if isinstance(suite, str) and "\n" not in suite:
        text = suite.strip()
        is_file = Path(text).is_file() or text.lower().endswith((".yaml", ".yml"))
        if text and not is_file and not any(c in text for c in ":[{"):
            return {"suite": text}  # a stored suite's name, as locally
    return {"yaml": Suite.load(suite).to_yaml()}  # YAML keeps the suite's name and table


class RemoteQuality:
    """Data quality of a lake on an mlake server (``remote.quality``)."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

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
        """Profile a table (any snapshot, or as it was at ``as_of``) or a query (SQL text or a
        ``remote.sql(...)`` result) on the server. The profiler's further tuning options (correlations,
        sample sizes) are the server's: passing one is refused rather than ignored."""
        from mlake.client.tables import RemoteResult

        if options:
            raise ValidationError(
                f"Profile option(s) {sorted(options)} are not available through a server",
                hint="use columns, key, time_column, bins, top_k or exact_distinct",
            )

        wire: dict[str, Any] = {
            "columns": list(columns or []),
            "key": [key] if isinstance(key, str) else list(key),
            "time_column": time_column,
            "bins": bins,
            "top_k": top_k,
            "exact_distinct": exact_distinct,
            "engine": engine,
        }
        if isinstance(table, RemoteResult) or is_query(table):
            sql, pinned = (table.sql, table.as_of) if isinstance(table, RemoteResult) else (table, None)
            if snapshot_id is not None:
                raise ValidationError("A query has no snapshot id", hint="pass as_of to read every table as of then")
            when = as_of if as_of is not None else pinned
            body = {**wire, "sql": sql, "as_of": _iso(when), "save": save}
            return Profile.from_dict(self._lake._json("POST", "/quality/profile", json=body))
        name = _table(table)
        if as_of is not None:
            if snapshot_id is not None:
                raise ValidationError("Give snapshot_id or as_of, not both")
            snapshot_id = self._snapshot_at(name, as_of)
        body = {**wire, "snapshot_id": snapshot_id, "save": save}
        return Profile.from_dict(self._lake._json("POST", f"/tables/{name}/quality/profile", json=body))

    def _snapshot_at(self, name: str, as_of: datetime | str) -> int:
        """The snapshot that was current at ``as_of`` (as :meth:`Table.snapshot_at` does locally)."""
        when = datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        earlier = [s for s in self._lake.table(name).history() if s.in_current_lineage and s.committed_at <= when]
        if not earlier:
            raise ValidationError(f"{name} had no data at {when.isoformat()}", hint="pick a later time")
        return earlier[-1].snapshot_id

    # --- checks and suggestions -----------------------------------------------------------------------

    def check(
        self,
        table: Target,
        suite: RemoteSuiteSpec,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | str | None = None,
        save: bool = True,
        sample_rows: int = 5,
        engine: str = "duckdb",
    ) -> SuiteResult:
        """Run a suite (a YAML path or text, a dict, a :class:`Suite`, or a stored suite from
        ``remote.quality.suites``) on a table (any snapshot, or as it was at ``as_of``); a stored
        suite's kept run becomes its last result. ``engine``: the server's ``duckdb`` or ``ray``."""
        name = _table(table)
        if as_of is not None:
            if snapshot_id is not None:
                raise ValidationError("Give snapshot_id or as_of, not both")
            snapshot_id = self._snapshot_at(name, as_of)
        body = {
            **_suite_body(suite),
            "snapshot_id": snapshot_id,
            "save": save,
            "sample_rows": sample_rows,
            "engine": engine,
        }
        return SuiteResult.from_dict(self._lake._json("POST", f"/tables/{name}/quality/checks", json=body))

    def suggest(
        self, table: Target, *, profile_result: Profile | None = None, name: str | None = None
    ) -> SuggestedSuite:
        """A suite suggested from a fresh profile (made on the server), or from ``profile_result``
        (suggested here, as locally); ``.yaml`` is the text to save and edit."""
        if profile_result is not None:
            from mlake.quality.suggest import suggest

            p = profile_result
            return suggest(p, name=name or (f"{p.table} checks" if p.table else "suggested"))
        params = {"name": name} if name else {}
        body = self._lake._json("GET", f"/tables/{_table(table)}/quality/suggestion", params=params)
        return SuggestedSuite.from_dict(body["suite"], "the server's suggestion")

    def keeps(self, table: Target) -> bool:
        """Whether runs on ``table`` (a table name or a query) by this client are kept in the metric history."""
        from mlake.client.tables import RemoteResult, RemoteTable

        target = (
            table.sql if isinstance(table, RemoteResult) else table.name if isinstance(table, RemoteTable) else table
        )
        return bool(self._lake._json("GET", "/quality/keeps", params={"target": str(target)})["keeps"])

    @cached_property
    def suites(self) -> RemoteSuiteStore:
        """Named suites stored per table on the server, with their last results."""
        return RemoteSuiteStore(self._lake)

    # --- history and anomalies --------------------------------------------------------------------------

    def history(
        self,
        table: Target,
        *,
        metric: str | None = None,
        column: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Kept metrics of a table across runs, oldest first (the newest ``limit`` rows; at most the
        server's page of 10,000 when not given), typed as the local history table is."""
        params = {k: v for k, v in {"metric": metric, "column": column, "kind": kind, "limit": limit}.items() if v}
        body = self._lake._json("GET", f"/tables/{_table(table)}/quality/history", params=params)
        rows = body["rows"]
        for row in rows:
            row["run_at"] = datetime.fromisoformat(row["run_at"])
        return pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)

    def anomalies(
        self,
        table: Target,
        *,
        rules: AnomalyRules | None = None,
        all_runs: bool = False,
        **rule_options: Any,
    ) -> list[Anomaly]:
        """Metrics that jumped in the newest run (or in any run with ``all_runs=True``)."""
        params = {"all_runs": all_runs, **_rule_params(rules or AnomalyRules(**rule_options))}
        found = self._lake._json("GET", f"/tables/{_table(table)}/quality/anomalies", params=params)
        return [Anomaly.from_dict(a) for a in found]

    def recent_anomalies(self, *, days: float = 7.0, rules: AnomalyRules | None = None) -> list[Anomaly]:
        """Anomalies in the newest runs of every table whose history you may see, newest first."""
        params = {"days": days, **_rule_params(rules or AnomalyRules())}
        return [Anomaly.from_dict(a) for a in self._lake._json("GET", "/quality/anomalies", params=params)]

    # --- dimensions, readiness, agreement -----------------------------------------------------------

    def readiness(
        self, table: Target, target: str, *, snapshot_id: int | None = None, **options: Any
    ) -> ReadinessReport:
        """The ML readiness report for predicting ``target``, computed on the server (options: see
        :func:`mlake.quality.readiness.readiness`)."""
        from mlake.quality.readiness import ReadinessReport

        body = {"target": target, "snapshot_id": snapshot_id, **options}
        return ReadinessReport.from_dict(
            self._lake._json("POST", f"/tables/{_table(table)}/quality/readiness", json=body)
        )

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
    ) -> QualityDimensions:
        """Scores for completeness, uniqueness, validity, accuracy, timeliness and schema compatibility,
        computed on the server."""
        from mlake.quality.dimensions import QualityDimensions

        body = {
            **(_suite_body(suite) if suite is not None else {}),
            "snapshot_id": snapshot_id,
            "key": list(key),
            "reference": reference,
            "rule": rule,
            "max_age": _duration(max_age),
            "expected_schema": expected_schema,
        }
        path = f"/tables/{_table(table)}/quality/dimensions"
        return QualityDimensions.from_dict(self._lake._json("POST", path, json=body))

    def agreement(
        self,
        data: Target | Iterable[tuple[Any, Any, Any]],
        *,
        item: str = "item",
        rater: str = "annotator",
        label: str = "label",
        level: str = "nominal",
    ) -> AgreementReport:
        """Annotator agreement from long-form labels: a table or SQL on the server (read through your
        grants), a ``remote.sql(...)`` result, a frame, or (item, rater, label) triples. The labels are
        fetched and the statistics computed here, as locally."""
        from mlake.client.tables import RemoteResult, RemoteTable
        from mlake.quality.agreement import agreement
        from mlake.tables.frames import to_arrow
        from mlake.tables.types import quote_ident

        if isinstance(data, list | tuple) and (not data or isinstance(data[0], tuple | list)):
            return agreement([(r[0], r[1], r[2]) for r in data], level=level)
        cols = ", ".join(quote_ident(c) for c in (item, rater, label))
        if isinstance(data, RemoteTable | TableName) or (isinstance(data, str) and not is_query(data)):
            name = data.name if isinstance(data, RemoteTable) else TableName.parse(data)
            table = self._lake.table(name).to_arrow([item, rater, label])
        elif isinstance(data, RemoteResult | str):
            sql = data.sql if isinstance(data, RemoteResult) else data
            table = self._lake.sql(f"SELECT {cols} FROM ({sql.strip().rstrip(';')}) AS labels").to_arrow()
        else:
            table = to_arrow(data)
        missing = [c for c in (item, rater, label) if c not in table.column_names]
        if missing:
            raise ValidationError(
                f"The labels have no column(s) {', '.join(missing)}",
                hint=f"columns: {', '.join(table.column_names)}; pass item=, rater=, label=",
            )
        triples = zip(*(table.column(c).to_pylist() for c in (item, rater, label)), strict=True)
        return agreement(list(triples), level=level)

    # --- reports --------------------------------------------------------------------------------------

    def report(
        self,
        table: Target,
        path: str | Path | None = None,
        *,
        target: str | None = None,
        suite: RemoteSuiteSpec | None = None,
        snapshot_id: int | None = None,
        key: Sequence[str] = (),
        max_age: str | timedelta | None = None,
        save: bool = True,
        readiness_options: dict[str, Any] | None = None,
    ) -> QualityReport:
        """Profile, dimensions, checks, anomalies (and readiness with ``target``) as one report, built on
        the server. ``path`` ending in ``.html`` or ``.json`` also writes the self-contained file there
        (the HTML as the server renders it, with the metric history)."""
        if path is not None and Path(path).suffix not in (".html", ".json"):
            raise ValidationError(f"Cannot write a report to {path}", hint="end the file name in .html or .json")
        body: dict[str, Any] = {
            **(_suite_body(suite) if suite is not None else {}),
            "target": target,
            "snapshot_id": snapshot_id,
            "key": list(key),
            "max_age": _duration(max_age),
            "save": save,
            "readiness_options": readiness_options,
        }
        route = f"/tables/{_table(table)}/quality/report"
        report = quality_report(self._lake._json("POST", route, json={**body, "format": "json"}))
        if path is not None:
            path = Path(path)
            if path.suffix == ".html":
                page = self._lake.request("POST", route, json={**body, "format": "html", "save": False})
                path.write_bytes(page.content)
            else:
                path.write_text(report.to_json())
        return report


class RemoteSuiteStore:
    """Stored suites on the server as you may see and change them (``remote.quality.suites``)."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def list(self, table: str | TableName | None = None) -> list[StoredSuite]:
        path = f"/tables/{_table(table)}/quality/suites" if table is not None else "/quality/suites"
        return [StoredSuite.from_dict(s) for s in self._lake._json("GET", path)]

    def failing(self) -> builtins.list[StoredSuite]:
        """Suites whose last run failed, on every table you may read."""
        return [StoredSuite.from_dict(s) for s in self._lake._json("GET", "/quality/suites", params={"failing": True})]

    def get(self, table: str | TableName, name: str) -> StoredSuite:
        return StoredSuite.from_dict(
            self._lake._json("GET", f"/tables/{_table(table)}/quality/suites/{quote(name, safe='')}")
        )

    def save(self, table: str | TableName, name: str, yaml: str | Suite, *, replace: bool = True) -> StoredSuite:
        """Store a suite under ``name``; with ``replace`` (the default) an existing one's checks are
        replaced, without it an existing suite of that name is an AlreadyExistsError."""
        text = yaml.to_yaml() if isinstance(yaml, Suite) else yaml
        if not replace and any(s.name == name for s in self.list(table)):
            raise AlreadyExistsError(f"{TableName.parse(table)} already has a suite named {name!r}")
        body = self._lake._json(
            "PUT", f"/tables/{_table(table)}/quality/suites/{quote(name, safe='')}", json={"yaml": text}
        )
        return StoredSuite.from_dict(body)

    def delete(self, table: str | TableName, name: str) -> None:
        self._lake._json("DELETE", f"/tables/{_table(table)}/quality/suites/{quote(name, safe='')}")

    def run(
        self,
        table: str | TableName,
        name: str,
        *,
        snapshot_id: int | None = None,
        sample_rows: int = 5,
        save: bool = True,
    ) -> SuiteResult:
        """Run a stored suite; its result is kept as the suite's last result when you may see the table."""
        body = {"snapshot_id": snapshot_id, "sample_rows": sample_rows, "save": save}
        path = f"/tables/{_table(table)}/quality/suites/{quote(name, safe='')}/run"
        return SuiteResult.from_dict(self._lake._json("POST", path, json=body))


def _rule_params(rules: AnomalyRules) -> dict[str, Any]:
    params: dict[str, Any] = {
        "relative_change": rules.relative_change,
        "min_rate_change": rules.min_rate_change,
        "z": rules.z,
        "min_history": rules.min_history,
        "window": rules.window,
    }
    if rules.seasonal_period is not None:
        params["seasonal_period"] = rules.seasonal_period
    return params


def quality_report(d: dict[str, Any]) -> QualityReport:
    """A :class:`QualityReport` from its ``to_dict()`` form (the metric history is not in it). Built here,
    not in :mod:`mlake.quality.report`, which the parts it holds import back for their HTML."""
    from mlake.quality.dimensions import QualityDimensions
    from mlake.quality.readiness import ReadinessReport
    from mlake.quality.report import QualityReport

    return QualityReport(
        title=d["title"],
        created_at=datetime.fromisoformat(d["created_at"]),
        profile=Profile.from_dict(d["profile"]),
        dimensions=QualityDimensions.from_dict(d["dimensions"]) if d.get("dimensions") else None,
        checks=SuiteResult.from_dict(d["checks"]) if d.get("checks") else None,
        anomalies=[Anomaly.from_dict(a) for a in d.get("anomalies") or []],
        readiness=ReadinessReport.from_dict(d["readiness"]) if d.get("readiness") else None,
        suggested=SuggestedSuite.from_dict(d["suggested_suite"]) if d.get("suggested_suite") else None,
    )


def _duration(value: str | timedelta | None) -> str | None:
    return f"{value.total_seconds()}s" if isinstance(value, timedelta) else value


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
