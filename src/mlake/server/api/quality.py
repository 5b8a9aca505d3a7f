"""REST: data quality — profiles, check runs, suggested suites, reports, metric history, anomalies and
stored suites. Everything runs as the caller (``lake.quality`` of its governed lake): its grants, masks
and row filters apply, its runs are audited, and they are kept in the history only under the rules of
:mod:`mlake.quality.access`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.quality.history import AnomalyRules
from mlake.quality.store import StoredSuite
from mlake.quality.suite import Suite
from mlake.server.api.params import SnapshotField, SnapshotQuery
from mlake.server.rows import json_value
from mlake.server.state import principal_lake
from mlake.tables.names import TableName

Lk = Annotated[Lake, Depends(principal_lake)]
SuiteName = Annotated[str, PathParam(min_length=1, max_length=200, description="A stored suite's name.")]
ColumnList = Annotated[list[str], Field(default_factory=list, max_length=500)]
MAX_SAMPLES = 100
Engine = Annotated[
    Literal["duckdb", "ray"], Field(description="duckdb (in process) or ray (the table's data files over Ray tasks).")
]
MAX_HISTORY_ROWS = 100_000
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


class ProfileOptions(BaseModel):
    """What to profile and how (see ``mlake.quality.profile.profile``)."""

    columns: ColumnList = Field(description="Only these columns (default: all).")
    key: ColumnList = Field(description="Column(s) that should identify a row: duplicate keys are counted.")
    time_column: str | None = Field(default=None, max_length=200, description="Event time for freshness.")
    bins: int = Field(default=20, ge=1, le=200, description="Histogram bins of numeric and time columns.")
    top_k: int = Field(default=10, ge=1, le=100, description="Most frequent values kept per column.")
    exact_distinct: bool = Field(default=False, description="Count distinct values exactly for every column.")
    engine: Engine = "duckdb"

    def options(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "columns": self.columns or None,
            "key": self.key,
            "time_column": self.time_column,
            "bins": self.bins,
            "top_k": self.top_k,
            "exact_distinct": self.exact_distinct,
        }


class TableProfileIn(ProfileOptions):
    snapshot_id: SnapshotField | None = None
    save: bool = Field(default=True, description="Keep the profile's metrics in the history (when allowed).")


class SqlProfileIn(ProfileOptions):
    sql: str = Field(min_length=1, max_length=100_000, description="A SELECT over lake tables (DuckDB dialect).")
    as_of: str | None = Field(default=None, max_length=64, description="Read every table as it was then (ISO).")
    save: bool = Field(default=False, description="Keep the metrics under the query's fingerprint (superusers).")


class CheckIn(BaseModel):
    """A suite to run: YAML text, parsed YAML (``checks``), or the name of a stored suite — exactly one."""

    yaml: str | None = Field(default=None, max_length=200_000, description="A suite in YAML.")
    checks: list[dict[str, Any]] | None = Field(
        default=None, max_length=500, description='Checks as in YAML, e.g. [{"not_null": "order_id"}].'
    )
    suite: str | None = Field(default=None, min_length=1, max_length=200, description="A stored suite's name.")
    snapshot_id: SnapshotField | None = None
    sample_rows: int = Field(default=5, ge=0, le=MAX_SAMPLES, description="Failing rows returned per check.")
    save: bool = Field(default=True, description="Keep the run in the history (when allowed).")
    engine: Engine = "duckdb"

    @model_validator(mode="after")
    def _one_suite(self) -> CheckIn:
        given = [n for n in ("yaml", "checks", "suite") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of yaml, checks or suite")
        return self


class SuiteRef(BaseModel):
    """An optional suite: YAML text, parsed YAML (``checks``), or a stored suite's name — at most one."""

    yaml: str | None = Field(default=None, max_length=200_000, description="A suite in YAML.")
    checks: list[dict[str, Any]] | None = Field(default=None, max_length=500, description="Checks as in YAML.")
    suite: str | None = Field(default=None, min_length=1, max_length=200, description="A stored suite's name.")

    @model_validator(mode="after")
    def _at_most_one(self) -> SuiteRef:
        if sum(getattr(self, n) is not None for n in ("yaml", "checks", "suite")) > 1:
            raise ValueError("give at most one of yaml, checks or suite")
        return self

    @property
    def given(self) -> bool:
        return any(getattr(self, n) is not None for n in ("yaml", "checks", "suite"))


class ReadinessIn(BaseModel):
    target: str = Field(min_length=1, max_length=200, description="The label column.")
    snapshot_id: SnapshotField | None = None
    features: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=2000)
    task: Literal["auto", "classification", "regression"] = "auto"
    data_kind: str = Field(default="tabular", max_length=32)
    series: str | None = Field(default=None, max_length=200)
    text: str | None = Field(default=None, max_length=200)
    sample_rows: int | None = Field(default=None, ge=100, le=1_000_000)
    folds: int = Field(default=5, ge=2, le=20)
    seed: int = Field(default=0, ge=0, le=2**31)


class DimensionsIn(SuiteRef):
    snapshot_id: SnapshotField | None = None
    key: ColumnList = Field(description="Column(s) that should identify a row.")
    reference: str | None = Field(default=None, max_length=260, description="A table the values should be found in.")
    rule: str | None = Field(default=None, max_length=10_000, description="A SQL condition every row should meet.")
    max_age: str | None = Field(default=None, max_length=32, description="How fresh the data should be, e.g. 1d.")
    expected_schema: dict[str, str] | None = Field(default=None, max_length=2000)


class ReportIn(SuiteRef):
    target: str | None = Field(default=None, max_length=200, description="Label column: adds ML readiness.")
    snapshot_id: SnapshotField | None = None
    key: ColumnList = Field(description="Column(s) that should identify a row.")
    max_age: str | None = Field(default=None, max_length=32)
    save: bool = Field(default=True, description="Keep the profile and check runs in the history (when allowed).")
    readiness_options: dict[str, Any] | None = Field(default=None, description="Options of the readiness report.")
    format: Literal["html", "json"] = "json"


class RunIn(BaseModel):
    snapshot_id: SnapshotField | None = None
    sample_rows: int = Field(default=5, ge=0, le=MAX_SAMPLES, description="Failing rows returned per check.")
    save: bool = Field(default=True, description="Keep the run (history and last result) when allowed.")


class SuiteIn(BaseModel):
    yaml: str = Field(min_length=1, max_length=200_000, description="The suite in YAML (a list of checks).")


def _table(name: str) -> str:
    return str(TableName.parse(name))


def _suite(body: CheckIn | SuiteRef, lake: Lake, table: str) -> Suite | StoredSuite:
    if body.suite is not None:
        return lake.quality.suites.get(table, body.suite)
    if body.checks is not None:
        return Suite.from_dict({"checks": body.checks}, "request body")
    return Suite.from_yaml(body.yaml or "", "request body", untrusted=True)


router = APIRouter(tags=["quality"])

# --- profiles ---------------------------------------------------------------------------------


@router.get("/tables/{name}/quality/profile", summary="Profile a table (any snapshot); not kept")
def profile_table(
    name: str,
    lake: Lk,
    snapshot_id: SnapshotQuery = None,
    key: Annotated[list[str], Query(max_length=50, description="Key column(s).")] = [],  # noqa: B006
    columns: Annotated[list[str], Query(max_length=500, description="Only these columns.")] = [],  # noqa: B006
    top_k: Annotated[int, Query(ge=1, le=100)] = 10,
    bins: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    options = ProfileOptions(key=key, columns=columns, top_k=top_k, bins=bins).options()
    p = lake.quality.profile(_table(name), snapshot_id=snapshot_id, save=False, **options)
    return {**p.to_dict(), "kept": False}


@router.post("/tables/{name}/quality/profile", summary="Profile a table and keep its metrics in the history")
def profile_and_keep(name: str, body: TableProfileIn, lake: Lk) -> dict[str, Any]:
    table = _table(name)
    p = lake.quality.profile(table, snapshot_id=body.snapshot_id, save=body.save, **body.options())
    return {**p.to_dict(), "kept": body.save and lake.quality.keeps(table)}


@router.post("/quality/profile", summary="Profile the result of a SQL query")
def profile_sql(body: SqlProfileIn, lake: Lk) -> dict[str, Any]:
    if not body.sql.strip():
        raise ValidationError("Nothing to profile: the query is empty")
    p = lake.quality.profile(body.sql, as_of=body.as_of, save=body.save, **body.options())
    return {**p.to_dict(), "kept": body.save and lake.quality.keeps(body.sql)}


# --- checks and suggestions -------------------------------------------------------------------------


@router.post("/tables/{name}/quality/checks", summary="Run a suite of checks (YAML, JSON or a stored suite)")
def check(name: str, body: CheckIn, lake: Lk) -> dict[str, Any]:
    table = _table(name)
    suite = _suite(body, lake, table)
    result = lake.quality.check(
        table, suite, snapshot_id=body.snapshot_id, save=body.save, sample_rows=body.sample_rows, engine=body.engine
    )
    return {**result.to_dict(), "kept": body.save and lake.quality.keeps(table)}


@router.get("/tables/{name}/quality/suggestion", summary="A suite suggested from a fresh profile, as YAML")
def suggestion(
    name: str, lake: Lk, suite_name: Annotated[str | None, Query(max_length=200, alias="name")] = None
) -> dict[str, Any]:
    s = lake.quality.suggest(_table(name), name=suite_name)
    return {"yaml": s.yaml, "suite": s.to_dict()}


# --- reports, history, anomalies ----------------------------------------------------------------------


@router.get("/tables/{name}/quality/report", summary="Download the quality report (self-contained HTML or JSON)")
def report(
    name: str,
    lake: Lk,
    format: Literal["html", "json"] = "html",
    suite: Annotated[str | None, Query(min_length=1, max_length=200, description="A stored suite to run.")] = None,
    target: Annotated[str | None, Query(max_length=200, description="Label column: adds ML readiness.")] = None,
    key: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
    snapshot_id: SnapshotQuery = None,
) -> Response:
    table = _table(name)
    stored = lake.quality.suites.get(table, suite) if suite else None
    rep = lake.quality.report(table, suite=stored, target=target, key=key, snapshot_id=snapshot_id, save=False)
    filename = f"{table.replace('.', '_')}-quality.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "json":
        return Response(rep.to_json(), media_type="application/json", headers=headers)
    # The report styles itself inline and runs no script: allow exactly that when it is opened.
    headers["Content-Security-Policy"] = REPORT_CSP
    return Response(rep.to_html(), media_type="text/html; charset=utf-8", headers=headers)


@router.post("/tables/{name}/quality/report", summary="Build the quality report (JSON or HTML), optionally kept")
def build_report(name: str, body: ReportIn, lake: Lk) -> Response:
    """As the GET route, with any suite (YAML, checks or a stored one), a freshness bound, readiness
    options, and ``save`` to keep the runs in the history when the caller may."""
    table = _table(name)
    rep = lake.quality.report(
        table,
        target=body.target,
        suite=_suite(body, lake, table) if body.given else None,
        snapshot_id=body.snapshot_id,
        key=body.key,
        max_age=body.max_age,
        save=body.save,
        readiness_options=body.readiness_options,
    )
    if body.format == "json":
        return Response(rep.to_json(), media_type="application/json")
    return Response(
        rep.to_html(), media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": REPORT_CSP}
    )


@router.post("/tables/{name}/quality/readiness", summary="ML readiness of a table for predicting a column")
def readiness(name: str, body: ReadinessIn, lake: Lk) -> dict[str, Any]:
    options = body.model_dump(exclude_none=True, exclude={"target", "snapshot_id"})
    return lake.quality.readiness(_table(name), body.target, snapshot_id=body.snapshot_id, **options).to_dict()


@router.post("/tables/{name}/quality/dimensions", summary="Scores for the quality dimensions of a table")
def dimensions(name: str, body: DimensionsIn, lake: Lk) -> dict[str, Any]:
    table = _table(name)
    suite = _suite(body, lake, table) if body.given else None
    scores = lake.quality.dimensions(
        table,
        snapshot_id=body.snapshot_id,
        suite=suite.suite if isinstance(suite, StoredSuite) else suite,
        key=body.key,
        reference=body.reference,
        rule=body.rule,
        max_age=body.max_age,
        expected_schema=body.expected_schema,
    )
    return scores.to_dict()


@router.get("/tables/{name}/quality/history", summary="Kept quality metrics of a table, oldest first")
def history(
    name: str,
    lake: Lk,
    metric: Annotated[str | None, Query(max_length=200)] = None,
    column: Annotated[str | None, Query(max_length=200)] = None,
    kind: Literal["profile", "check", "gate"] | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_ROWS, description="Newest rows returned.")] = 10_000,
) -> dict[str, Any]:
    table = _table(name)
    data = lake.quality.history(table, metric=metric, column=column, kind=kind)
    truncated = data.num_rows > limit
    rows = data.slice(max(data.num_rows - limit, 0)).to_pylist()
    records = [{k: json_value(v) for k, v in row.items()} for row in rows]
    return {"table": table, "rows": records, "truncated": truncated}


def anomaly_rules(
    relative_change: Annotated[float, Query(gt=0, le=1000)] = 0.5,
    min_rate_change: Annotated[float, Query(ge=0, le=1)] = 0.01,
    z: Annotated[float, Query(gt=0, le=1000)] = 4.0,
    min_history: Annotated[int, Query(ge=2, le=10_000)] = 5,
    window: Annotated[int, Query(ge=2, le=10_000)] = 30,
    seasonal_period: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> AnomalyRules:
    """When a metric's newest value counts as an anomaly (query parameters; see AnomalyRules)."""
    return AnomalyRules(relative_change, min_rate_change, z, min_history, window, seasonal_period)


Rules = Annotated[AnomalyRules, Depends(anomaly_rules)]


@router.get("/tables/{name}/quality/anomalies", summary="Metrics that jumped, from the kept history")
def anomalies(
    name: str,
    lake: Lk,
    rules: Rules,
    all_runs: Annotated[bool, Query(description="Look at every run, not only the newest.")] = False,
) -> list[dict[str, Any]]:
    return [a.to_dict() for a in lake.quality.anomalies(_table(name), rules=rules, all_runs=all_runs)]


@router.get("/quality/keeps", summary="Whether runs on a table or query by the caller are kept in the history")
def keeps(
    lake: Lk, target: Annotated[str, Query(min_length=1, max_length=100_000, description="A table or a query.")]
) -> dict[str, bool]:
    return {"keeps": lake.quality.keeps(target)}


@router.get("/quality/anomalies", summary="Anomalies in the newest runs of every table you may see whole")
def recent_anomalies(
    lake: Lk,
    rules: Rules,
    days: Annotated[float, Query(gt=0, le=3650, description="Runs of the last days.")] = 7.0,
) -> list[dict[str, Any]]:
    return [a.to_dict() for a in lake.quality.recent_anomalies(days=days, rules=rules)]


# --- stored suites ----------------------------------------------------------------------------------


@router.get("/quality/suites", summary="Stored suites of every table you may read, with their last results")
def all_suites(
    lake: Lk, failing: Annotated[bool, Query(description="Only those whose last run failed.")] = False
) -> list[dict[str, Any]]:
    found = lake.quality.suites.failing() if failing else lake.quality.suites.list()
    return [s.to_dict() for s in found]


@router.get("/tables/{name}/quality/suites", summary="Stored suites of a table")
def suites(name: str, lake: Lk) -> list[dict[str, Any]]:
    return [s.to_dict() for s in lake.quality.suites.list(_table(name))]


@router.get("/tables/{name}/quality/suites/{suite}", summary="A stored suite and its last result")
def get_suite(name: str, suite: SuiteName, lake: Lk) -> dict[str, Any]:
    return lake.quality.suites.get(_table(name), suite).to_dict()


@router.put("/tables/{name}/quality/suites/{suite}", summary="Store a suite (create, or replace its checks)")
def put_suite(name: str, suite: SuiteName, body: SuiteIn, lake: Lk, response: Response) -> dict[str, Any]:
    table = _table(name)
    existed = any(s.name == suite.strip() for s in lake.quality.suites.list(table))
    stored = lake.quality.suites.save(table, suite, body.yaml)
    response.status_code = 200 if existed else 201
    return stored.to_dict()


@router.delete("/tables/{name}/quality/suites/{suite}", status_code=204, summary="Delete a stored suite")
def delete_suite(name: str, suite: SuiteName, lake: Lk) -> Response:
    lake.quality.suites.delete(_table(name), suite)
    return Response(status_code=204)


@router.post(
    "/tables/{name}/quality/suites/{suite}/run", summary="Run a stored suite (its result is kept when allowed)"
)
def run_suite(name: str, suite: SuiteName, body: RunIn, lake: Lk) -> dict[str, Any]:
    table = _table(name)
    stored = lake.quality.suites.get(table, suite)
    result = lake.quality.check(
        table, stored, snapshot_id=body.snapshot_id, save=body.save, sample_rows=body.sample_rows
    )
    return {**result.to_dict(), "kept": body.save and lake.quality.keeps(table)}
