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
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa

from mlake.errors import ValidationError
from mlake.quality.history import METRICS_SCHEMA, Anomaly, AnomalyRules
from mlake.quality.profile_result import Profile
from mlake.quality.store import StoredSuite
from mlake.quality.suggest import SuggestedSuite
from mlake.quality.suite import Suite, SuiteResult
from mlake.tables.names import TableName, is_query

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake
    from mlake.client.tables import RemoteResult

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
    return {"yaml": Suite.load(suite).to_yaml()}  # YAML keeps the suite's name and table


class RemoteQuality:
    """Data quality of a lake on an mlake server (``remote.quality``)."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    # --- profiles -----------------------------------------------------------------------------------

    def profile(
        self,
        table: str | TableName | RemoteResult | Any,
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
    ) -> Profile:
        """Profile a table (any snapshot, or as it was at ``as_of``) or a query (SQL text or a
        ``remote.sql(...)`` result) on the server."""
        from mlake.client.tables import RemoteResult

        options: dict[str, Any] = {
            "columns": list(columns or []),
            "key": [key] if isinstance(key, str) else list(key),
            "time_column": time_column,
            "bins": bins,
            "top_k": top_k,
            "exact_distinct": exact_distinct,
        }
        if isinstance(table, RemoteResult) or is_query(table):
            sql, pinned = (table.sql, table.as_of) if isinstance(table, RemoteResult) else (table, None)
            if snapshot_id is not None:
                raise ValidationError("A query has no snapshot id", hint="pass as_of to read every table as of then")
            when = as_of if as_of is not None else pinned
            body = {**options, "sql": sql, "as_of": _iso(when), "save": save}
            return Profile.from_dict(self._lake._json("POST", "/quality/profile", json=body))
        name = _table(table)
        if as_of is not None:
            if snapshot_id is not None:
                raise ValidationError("Give snapshot_id or as_of, not both")
            snapshot_id = self._snapshot_at(name, as_of)
        body = {**options, "snapshot_id": snapshot_id, "save": save}
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
        table: str | TableName | Any,
        suite: RemoteSuiteSpec,
        *,
        snapshot_id: int | None = None,
        save: bool = True,
        sample_rows: int = 5,
    ) -> SuiteResult:
        """Run a suite (a YAML path or text, a dict, a :class:`Suite`, or a stored suite from
        ``remote.quality.suites``) on a table; a stored suite's kept run becomes its last result."""
        name = _table(table)
        body = {**_suite_body(suite), "snapshot_id": snapshot_id, "save": save, "sample_rows": sample_rows}
        return SuiteResult.from_dict(self._lake._json("POST", f"/tables/{name}/quality/checks", json=body))

    def suggest(self, table: str | TableName | Any, *, name: str | None = None) -> SuggestedSuite:
        """A suite suggested from a fresh profile; ``.yaml`` is the text to save and edit."""
        params = {"name": name} if name else {}
        body = self._lake._json("GET", f"/tables/{_table(table)}/quality/suggestion", params=params)
        data = body["suite"]
        reasons = [str(c.pop("reason", "")) for c in data["checks"]]
        return SuggestedSuite(Suite.from_dict(data, "the server's suggestion"), reasons)

    @cached_property
    def suites(self) -> RemoteSuiteStore:
        """Named suites stored per table on the server, with their last results."""
        return RemoteSuiteStore(self._lake)

    # --- history and anomalies --------------------------------------------------------------------------

    def history(
        self,
        table: str | TableName | Any,
        *,
        metric: str | None = None,
        column: str | None = None,
        kind: str | None = None,
        limit: int = 10_000,
    ) -> pa.Table:
        """Kept metrics of a table across runs, oldest first (the newest ``limit`` rows), typed as the
        local history table is."""
        params = {k: v for k, v in {"metric": metric, "column": column, "kind": kind, "limit": limit}.items() if v}
        body = self._lake._json("GET", f"/tables/{_table(table)}/quality/history", params=params)
        rows = body["rows"]
        for row in rows:
            row["run_at"] = datetime.fromisoformat(row["run_at"])
        return pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)

    def anomalies(
        self,
        table: str | TableName | Any,
        *,
        rules: AnomalyRules | None = None,
        all_runs: bool = False,
        **rule_options: Any,
    ) -> list[Anomaly]:
        """Metrics that jumped in the newest run (or in any run with ``all_runs=True``)."""
        rules = rules or AnomalyRules(**rule_options)
        params: dict[str, Any] = {
            "all_runs": all_runs,
            "relative_change": rules.relative_change,
            "min_rate_change": rules.min_rate_change,
            "z": rules.z,
            "min_history": rules.min_history,
            "window": rules.window,
        }
        if rules.seasonal_period is not None:
            params["seasonal_period"] = rules.seasonal_period
        found = self._lake._json("GET", f"/tables/{_table(table)}/quality/anomalies", params=params)
        return [Anomaly.from_dict(a) for a in found]

    def recent_anomalies(self, *, days: float = 7.0) -> list[Anomaly]:
        """Anomalies in the newest runs of every table whose history you may see, newest first."""
        return [Anomaly.from_dict(a) for a in self._lake._json("GET", "/quality/anomalies", params={"days": days})]

    # --- not offered by the REST API ----------------------------------------------------------------

    def readiness(self, table: Any, target: str, **options: Any) -> Any:
        """Not offered remotely on its own: the report has it (``report(table, target=...)["readiness"]``)."""
        raise _not_remote("readiness", "use report(table, target=...)['readiness'] (built on the server)")

    def dimensions(self, table: Any, **options: Any) -> Any:
        """Not offered remotely on its own: the report has it (``report(table)["dimensions"]``)."""
        raise _not_remote("dimensions", "use report(table)['dimensions'] (built on the server)")

    def agreement(self, data: Any, **options: Any) -> Any:
        """Not offered remotely: annotator agreement runs on labels you hold; compute it locally."""
        raise _not_remote(
            "agreement",
            "fetch the votes with remote.sql('SELECT item, rater, label FROM ...').fetchall() and pass the rows to "
            "mlake.quality.agreement.agreement",
        )

    # --- reports --------------------------------------------------------------------------------------

    def report(
        self,
        table: str | TableName | Any,
        path: str | Path | None = None,
        *,
        target: str | None = None,
        suite: StoredSuite | str | None = None,
        snapshot_id: int | None = None,
        key: Sequence[str] = (),
    ) -> dict[str, Any]:
        """The quality report (profile, dimensions, a stored suite's checks, anomalies, history, and ML
        readiness with ``target``), built on the server. Returns it as JSON data; ``path`` ending in
        ``.html`` or ``.json`` also writes the self-contained file there."""
        name = _table(table)
        params: dict[str, Any] = {"format": "json", "key": list(key)}
        if target:
            params["target"] = target
        if suite is not None:
            params["suite"] = suite.name if isinstance(suite, StoredSuite) else suite
        if snapshot_id is not None:
            params["snapshot_id"] = snapshot_id
        data: dict[str, Any] = self._lake._json("GET", f"/tables/{name}/quality/report", params=params)
        if path is not None:
            path = Path(path)
            if path.suffix not in (".html", ".json"):
                raise ValidationError(f"Cannot write a report to {path}", hint="end the file name in .html or .json")
            if path.suffix == ".html":
                html = self._lake.request("GET", f"/tables/{name}/quality/report", params={**params, "format": "html"})
                path.write_bytes(html.content)
            else:
                import json

                path.write_text(json.dumps(data, indent=2))
        return data


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

    def save(self, table: str | TableName, name: str, yaml: str | Suite) -> StoredSuite:
        """Store a suite under ``name`` (or replace its checks)."""
        text = yaml.to_yaml() if isinstance(yaml, Suite) else yaml
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


def _not_remote(what: str, hint: str) -> ValidationError:
    return ValidationError(f"quality.{what} is not available through a server", hint=hint)


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
