"""Monitors: a stored baseline + a target table + what to check; each run leaves a violations report.

    mon = lake.monitoring.create("churn", target="serve.scored", baseline="train.scored",
                                 config=MonitorConfig(labels=Labels("churned", "predicted", positive_values=(1,))))
    run = lake.monitoring.run("churn")          # rows added since the last run, by default
    run.violations                              # also rows of mlake.monitor_violations

The baseline is computed once, at creation, from a table (optionally one snapshot of it): a
:class:`~mlake.monitor.baseline.DriftBaseline` plus the model-quality and bias figures of that data when
labels are configured. Runs never read the baseline table again.

Where the rows of a run come from (``MonitorConfig.rows``): ``"new"`` — the rows the target gained since
the snapshot the last run saw: when every snapshot since is an append, exactly the rows of the data files
they added (older files are not read); otherwise the multiset difference of the two snapshots (rows
rewritten by an update count as new); ``"all"`` — the current table; ``"window"`` — rows whose
``time_column`` lies within ``window_seconds`` of the run.

Governance: a monitor reads its target (and label table) through the caller's grants — ``lake.table``
queries, so secure views, masks and filters apply — and refuses a caller who does not see the whole
table, because a violation describes the table, not a view of it. Its records are kept by mlake on the
caller's behalf, like quality's metric history: run records in the control-plane database, violations
appended to ``mlake.monitor_violations`` by the owner's lake (``Table.append``, through
``catalog_for_write``). Whoever may read a monitor's target sees the monitor, its runs and violations;
its owner and superusers delete it.
"""

from __future__ import annotations

import builtins
import json
import math
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from mlake.errors import AlreadyExistsError, NotFoundError, PermissionDeniedError, ValidationError
from mlake.monitor import checks
from mlake.monitor.baseline import DriftBaseline
from mlake.monitor.checks import MonitorConfig, Violation
from mlake.monitor.store import monitors_table, runs_table
from mlake.tables.names import TableName
from mlake.tables.scan import appended_files

if TYPE_CHECKING:
    from mlake.lake import Lake

VIOLATIONS_TABLE = TableName("mlake", "monitor_violations")
VIOLATIONS_SCHEMA = pa.schema(
    [
        pa.field("monitor", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("run_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("target", pa.string(), nullable=False),
        pa.field("snapshot_id", pa.int64()),
        pa.field("check_name", pa.string(), nullable=False),
        pa.field("feature", pa.string(), nullable=False),
        pa.field("statistic", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)
WEBHOOK_TIMEOUT = 5.0


def _aware(v: datetime | None) -> datetime | None:
    return v if v is None or v.tzinfo else v.replace(tzinfo=UTC)


def check_monitor_name(name: str) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > 200 or not all(c.isalnum() or c in "-_." for c in text):
        raise ValidationError(
            f"Invalid monitor name {name!r}", hint="use letters, digits, '-', '_' or '.', e.g. churn-daily"
        )
    return text


@dataclass(frozen=True)
class Monitor:
    """A stored monitor (what ``create``/``get``/``list`` return)."""

    name: str
    target: str
    config: MonitorConfig
    baseline: DriftBaseline
    baseline_metrics: dict[str, dict[str, float]]  # {"quality": {...}, "bias": {...}}
    baseline_source: str
    owner: str
    created_at: datetime
    last_snapshot_id: int | None
    last_run_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "config": self.config.to_dict(),
            "baseline_columns": sorted(self.baseline.columns),
            "baseline_rows": self.baseline.rows,
            "baseline_metrics": self.baseline_metrics,
            "baseline_source": self.baseline_source,
            "owner": self.owner,
            "created_at": self.created_at.isoformat(),
            "last_snapshot_id": self.last_snapshot_id,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
        }

    def to_wire(self) -> dict[str, Any]:
        """Everything of the monitor, its baseline included, for a remote client to rebuild."""
        return self.to_dict() | {"baseline": self.baseline.to_json()}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Monitor:
        last = data.get("last_run_at")
        return cls(
            name=data["name"],
            target=data["target"],
            config=MonitorConfig.from_dict(data["config"]),
            baseline=DriftBaseline.from_json(data["baseline"]),
            baseline_metrics=data["baseline_metrics"],
            baseline_source=data["baseline_source"],
            owner=data["owner"],
            created_at=datetime.fromisoformat(data["created_at"]),
            last_snapshot_id=data.get("last_snapshot_id"),
            last_run_at=datetime.fromisoformat(last) if last else None,
        )


@dataclass(frozen=True)
class MonitorRun:
    """One run: which rows it saw, what it found, and whether the alert went out."""

    run_id: str
    monitor: str
    run_at: datetime
    actor: str
    snapshot_id: int | None
    since_snapshot_id: int | None
    rows: int
    status: str  # ok | violations | no_data
    violations: tuple[Violation, ...] = ()
    alert: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_at"] = self.run_at.isoformat()
        out["violations"] = [v.to_dict() for v in self.violations]
        out["violation_count"] = len(self.violations)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorRun:
        """The run back from :meth:`to_dict` (a remote client rebuilds the server's answer)."""
        fields = {k: v for k, v in data.items() if k not in ("violation_count", "violations", "run_at")}
        violations = tuple(Violation(**v) for v in data.get("violations", []))
        return cls(**fields, run_at=datetime.fromisoformat(data["run_at"]), violations=violations)


class Monitoring:
    """``lake.monitoring``: create, list, run monitors and read their runs and violations."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake

    # --- definitions ----------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        target: str,
        baseline: str | None = None,
        baseline_snapshot_id: int | None = None,
        config: MonitorConfig | None = None,
        columns: builtins.list[str] | None = None,
        categorical: builtins.list[str] | None = None,
        replace: bool = False,
        model: Any = None,
    ) -> Monitor:
        """Compute the baseline from ``baseline`` (default: the target itself) at ``baseline_snapshot_id``
        (default: current) and store the monitor. ``columns`` are the features to watch (default: every
        column but the label, prediction, score and key columns); the next ``rows="new"`` run starts
        after the baseline's snapshot when the baseline is the target. ``model`` is needed when the
        config checks attribution drift: the baseline's global SHAP ranking is computed with it."""
        name = check_monitor_name(name)
        config = config or MonitorConfig()
        target_name = TableName.parse(target)
        source_name = TableName.parse(baseline) if baseline else target_name
        lake = self._lake
        with lake.access.audited("monitor.create", [str(target_name), str(source_name)], name):
            self._require_whole(target_name)
            self._require_whole(source_name)
            if config.labels is not None and config.labels.table is not None:
                self._require_whole(TableName.parse(config.labels.table))
            if not replace and self._row(name) is not None:
                raise AlreadyExistsError(f"Monitor {name!r} already exists", hint="pass replace=True to redefine it")
            source = lake.table(source_name)
            snapshot = baseline_snapshot_id
            if snapshot is None:
                current = lake.iceberg_table(source_name).current_snapshot()
                snapshot = current.snapshot_id if current else None
            data = source.query(snapshot_id=snapshot).to_arrow()
            if data.num_rows == 0:
                raise ValidationError(
                    f"the baseline {source_name} has no rows", hint="compute it from a table with data"
                )
            watched = (
                columns if columns is not None else [c for c in data.column_names if c not in _role_columns(config)]
            )
            drift_baseline = DriftBaseline.from_table(data, columns=watched, categorical=categorical or ())
            metrics: dict[str, dict[str, float]] = self._figures(config, self._with_labels(config, data))
            if config.attribution is not None:
                if model is None:
                    raise ValidationError("attribution drift needs the model", hint="pass model= to create()")
                metrics["attribution"] = checks.attribution_importance(config.attribution, model, data)
            now = datetime.now(UTC)
            values = {
                "target": str(target_name),
                "config": json.dumps(config.to_dict()),
                "baseline": drift_baseline.to_json(),
                "baseline_metrics": json.dumps(metrics),
                "baseline_source": f"{source_name}@{snapshot}",
                "owner": self._actor(),
                "created_at": now,
                "last_snapshot_id": snapshot if source_name == target_name else None,
                "last_run_at": None,
            }
            with self._db.begin() as conn:
                conn.execute(sa.delete(monitors_table).where(monitors_table.c.name == name))
                conn.execute(sa.insert(monitors_table).values(name=name, **values))
        return self.get(name)

    def get(self, name: str) -> Monitor:
        row = self._row(name)
        if row is None or not self._readable(row.target):
            raise NotFoundError(f"Monitor {name!r} does not exist", hint="see `mlake monitor list`")
        return _monitor(row)

    def list(self) -> list[Monitor]:
        """The monitors whose target the caller may read."""
        with self._db.connect() as conn:
            rows = conn.execute(sa.select(monitors_table).order_by(monitors_table.c.name)).fetchall()
        return [_monitor(r) for r in rows if self._readable(r.target)]

    def delete(self, name: str) -> None:
        monitor = self.get(name)
        access = self._lake.access
        if access.governed and not access.superuser and monitor.owner != access.name:
            raise PermissionDeniedError(
                f"Monitor {name!r} belongs to {monitor.owner!r}", hint="ask its owner or a superuser"
            )
        with self._db.begin() as conn:
            conn.execute(sa.delete(monitors_table).where(monitors_table.c.name == monitor.name))
            conn.execute(sa.delete(runs_table).where(runs_table.c.monitor == monitor.name))

    # --- runs -----------------------------------------------------------------------------------------

    def run(self, name: str, *, now: datetime | None = None, model: Any = None) -> MonitorRun:
        """Check the target's rows (per ``config.rows``) against the baseline; store and alert.

        ``model`` is needed for attribution drift (without it that check is skipped, and the run's
        summary says so)."""
        monitor = self.get(name)
        lake = self._lake
        target = TableName.parse(monitor.target)
        with lake.access.audited("monitor.run", [monitor.target], monitor.name):
            self._require_whole(target)
            now = now or datetime.now(UTC)
            current = lake.iceberg_table(target).current_snapshot()
            snapshot = current.snapshot_id if current else None
            since = monitor.last_snapshot_id if monitor.config.rows == "new" else None
            batch, read = self._rows(monitor, snapshot, since, now)
            violations: builtins.list[Violation] = []
            summary: dict[str, Any] = {}
            if batch.num_rows:
                violations, summary = self._check(monitor, batch, model)
            summary["read"] = read
            status = "no_data" if batch.num_rows == 0 else "violations" if violations else "ok"
            run = MonitorRun(
                run_id=uuid.uuid4().hex,
                monitor=monitor.name,
                run_at=now,
                actor=self._actor(),
                snapshot_id=snapshot,
                since_snapshot_id=since,
                rows=batch.num_rows,
                status=status,
                violations=tuple(violations),
                summary=summary,
            )
            if violations:
                self._store_violations(monitor, run)
            alert = _post(monitor.config.webhook, run) if violations and monitor.config.webhook else None
            run = replace(run, alert=alert)
            with self._db.begin() as conn:
                conn.execute(
                    sa.insert(runs_table).values(
                        run_id=run.run_id,
                        monitor=run.monitor,
                        run_at=run.run_at,
                        actor=run.actor,
                        snapshot_id=run.snapshot_id,
                        since_snapshot_id=run.since_snapshot_id,
                        rows=run.rows,
                        violations=len(run.violations),
                        status=run.status,
                        alert=run.alert,
                        summary=json.dumps(_json_safe(summary)),
                    )
                )
                conn.execute(
                    sa.update(monitors_table)
                    .where(monitors_table.c.name == monitor.name)
                    .values(last_snapshot_id=snapshot, last_run_at=now)
                )
        return run

    def due(self) -> builtins.list[Monitor]:
        """The monitors (the caller may see) whose target has a snapshot their last run did not see — what
        a scheduler or a ``mlake monitor watch`` loop runs "on new data"."""
        out = []
        for m in self.list():
            try:
                current = self._lake.iceberg_table(m.target).current_snapshot()
            except NotFoundError:
                continue
            if current is not None and current.snapshot_id != m.last_snapshot_id:
                out.append(m)
        return out

    def run_due(self, *, now: datetime | None = None) -> builtins.list[MonitorRun]:
        """Run every monitor in :meth:`due`, in name order; one failing run does not stop the others."""
        return [self.run(m.name, now=now) for m in self.due()]

    def runs(self, name: str, limit: int = 50) -> builtins.list[MonitorRun]:
        """The monitor's run records, newest first (violations are in :meth:`violations`)."""
        monitor = self.get(name)
        query = (
            sa.select(runs_table)
            .where(runs_table.c.monitor == monitor.name)
            .order_by(runs_table.c.run_at.desc())
            .limit(limit)
        )
        with self._db.connect() as conn:
            rows = conn.execute(query).fetchall()
        return [
            MonitorRun(
                run_id=r.run_id,
                monitor=r.monitor,
                run_at=_aware(r.run_at) or datetime.now(UTC),
                actor=r.actor,
                snapshot_id=r.snapshot_id,
                since_snapshot_id=r.since_snapshot_id,
                rows=r.rows,
                status=r.status,
                alert=r.alert,
                summary={**json.loads(r.summary), "violation_count": r.violations},
            )
            for r in rows
        ]

    def violations(self, name: str, run_id: str | None = None) -> pa.Table:
        """The monitor's violations (all runs, or one), oldest first, from ``mlake.monitor_violations``."""
        monitor = self.get(name)
        keeper = self._lake._system()
        if not keeper.table_exists(VIOLATIONS_TABLE):
            return VIOLATIONS_SCHEMA.empty_table()
        where = "monitor = $monitor" + (" AND run_id = $run" if run_id else "")
        params: dict[str, Any] = {"monitor": monitor.name, "run": run_id} if run_id else {"monitor": monitor.name}
        sql = f"SELECT * FROM {VIOLATIONS_TABLE} WHERE {where} ORDER BY run_at, check_name, feature"
        return keeper.sql(sql, params=params).to_arrow()

    # --- helpers --------------------------------------------------------------------------------------

    @property
    def _db(self) -> sa.Engine:
        """The control-plane database, through the owner's lake: monitors are mlake's records, shown to a
        principal by the rules above (a principal has no direct access to the metadata database)."""
        return self._lake._system().metadata_engine

    def _actor(self) -> str:
        return self._lake.access.name or self._lake.settings.user

    def _row(self, name: str) -> Any:
        with self._db.connect() as conn:
            return conn.execute(sa.select(monitors_table).where(monitors_table.c.name == name)).first()

    def _readable(self, target: str) -> bool:
        access = self._lake.access
        if not access.governed:
            return True
        name = TableName.parse(target)
        return access.visible(name) and access.can("select", name)

    def _require_whole(self, name: TableName) -> None:
        """Refuse a caller who cannot read ``name`` or sees only part of it (a filter, mask or column grant)."""
        access = self._lake.access
        access.require_visible(name)
        granted = access.require("select", name)
        if access.governed and granted.restricted:
            raise PermissionDeniedError(
                f"Principal {access.name!r} sees only part of {name} (a row filter, mask or column grant)",
                hint="monitors describe whole tables: ask for an unrestricted select grant",
            )

    def _rows(
        self, monitor: Monitor, snapshot: int | None, since: int | None, now: datetime
    ) -> tuple[pa.Table, dict[str, Any]]:
        """The run's rows, and how they were read (kept in the run's summary as ``read``).

        ``rows="new"`` reads only the data files appended since the last run's snapshot when every
        snapshot in between is an append (``"appended files"``: older files are not opened); otherwise it
        reads both snapshots and takes their multiset difference (``"snapshot difference"``)."""
        lake = self._lake
        table = lake.table(monitor.target)
        if snapshot is None:
            return pa.table({}), {"method": "empty table"}
        config = monitor.config
        read: dict[str, Any]
        if config.rows == "window":
            assert config.time_column is not None and config.window_seconds is not None
            start = now - timedelta(seconds=config.window_seconds)
            col = '"' + config.time_column.replace('"', '""') + '"'
            where = f"{col} >= TIMESTAMPTZ '{start.isoformat()}' AND {col} <= TIMESTAMPTZ '{now.isoformat()}'"
            data = table.query(where=where, snapshot_id=snapshot).to_arrow()
            read = {"method": "time window"}
        elif since == snapshot:
            data = table.query(snapshot_id=snapshot, limit=0).to_arrow()
            read = {"method": "no new snapshot"}
        elif since is not None and (appended := appended_files(table.iceberg, since, snapshot)) is not None:
            data = self._appended_rows(table.name, snapshot, since)
            read = {"method": "appended files", "files": len(appended)}
        elif since is not None:
            data = _new_rows(table.query(snapshot_id=snapshot).to_arrow(), table.query(snapshot_id=since).to_arrow())
            read = {"method": "snapshot difference"}
        else:
            data = table.query(snapshot_id=snapshot).to_arrow()
            read = {"method": "whole snapshot"}
        return self._with_labels(config, data), read

    def _appended_rows(self, name: TableName, snapshot: int, since: int) -> pa.Table:
        """The rows of the data files appended after ``since`` up to ``snapshot``, read as the caller: the
        engine's view for the caller (a principal's secure view in its sandbox), audited as a table read
        like :meth:`mlake.tables.table.Table.query`."""
        lake = self._lake
        with lake.access.audited("table.read", [str(name)], f"files appended after snapshot {since}"):
            lake.access.require("select", name)
            view = lake.engine.view_for(name, snapshot, added_since=since)
            return lake.engine.run_internal(f"SELECT * FROM {view}").to_arrow()

    def _figures(self, config: MonitorConfig, data: pa.Table) -> dict[str, dict[str, float]]:
        """Model quality and bias of labelled rows (empty dicts when no labels are configured or joined)."""
        labels = config.labels
        if labels is None or labels.label not in data.column_names:
            return {"quality": {}, "bias": {}}
        labelled = data.filter(data.column(labels.label).is_valid())
        if labelled.num_rows == 0:
            return {"quality": {}, "bias": {}}
        quality = checks.quality_figures(labels, labelled)
        bias = checks.bias_figures(config.bias, labels, labelled) if config.bias is not None else {}
        return {"quality": quality, "bias": bias}

    def _with_labels(self, config: MonitorConfig, data: pa.Table) -> pa.Table:
        """``data`` with the ground truth of the label table joined by key (rows without one keep a null)."""
        labels = config.labels
        if labels is None or labels.table is None or data.num_rows == 0:
            return data
        assert labels.key is not None
        truth = self._lake.table(labels.table).query(columns=[labels.key, labels.label]).to_arrow()
        return data.join(truth, labels.key, join_type="left outer", right_suffix="_label")

    def _check(
        self, monitor: Monitor, batch: pa.Table, model: Any = None
    ) -> tuple[builtins.list[Violation], dict[str, Any]]:
        config = monitor.config
        out: builtins.list[Violation] = []
        summary: dict[str, Any] = {}
        features = batch  # the checks look at the baseline's columns only (a watched column may also be the prediction)
        if config.data_quality:
            out += checks.data_quality(monitor.baseline, features, config.completeness_alpha)
        if config.drift:
            found, report = checks.drift(monitor.baseline, features, config.drift_opts())
            out += found
            summary["drift"] = {
                f.column: {"method": f.method, "score": f.score, "drifted": f.drifted} for f in report.features
            }
            summary["share_drifted"] = report.share_drifted
        figures = self._figures(config, batch)
        summary["quality"], summary["bias"] = figures["quality"], figures["bias"]
        out += checks.model_quality(
            monitor.baseline_metrics.get("quality", {}), figures["quality"], config.quality_tolerance
        )
        if config.bias is not None:
            out += checks.bias_drift(config.bias, monitor.baseline_metrics.get("bias", {}), figures["bias"])
        if config.attribution is not None:
            if model is None:
                summary["attribution"] = "skipped: run() was given no model"
            else:
                current = checks.attribution_importance(config.attribution, model, batch)
                summary["attribution"] = current
                out += checks.attribution_drift(config.attribution, monitor.baseline_metrics["attribution"], current)
        return out, summary

    def _store_violations(self, monitor: Monitor, run: MonitorRun) -> None:
        rows = [
            {
                "monitor": monitor.name,
                "run_id": run.run_id,
                "run_at": run.run_at,
                "target": monitor.target,
                "snapshot_id": run.snapshot_id,
                "check_name": v.check,
                "feature": v.feature,
                "statistic": v.statistic if v.statistic is not None and math.isfinite(v.statistic) else None,
                "threshold": v.threshold if v.threshold is not None and math.isfinite(v.threshold) else None,
                "detail": v.detail,
            }
            for v in run.violations
        ]
        keeper = self._lake._system()
        if not keeper.table_exists(VIOLATIONS_TABLE):
            keeper.create_table(
                VIOLATIONS_TABLE,
                schema=VIOLATIONS_SCHEMA,
                description="Monitor violations: one row per violation of every monitor run.",
                owner="mlake",
                exist_ok=True,
            )
        keeper.table(VIOLATIONS_TABLE).append(
            pa.Table.from_pylist(rows, schema=VIOLATIONS_SCHEMA), command=f"monitor {monitor.name}"
        )


def _role_columns(config: MonitorConfig) -> set[str]:
    """Columns that are not features: label, prediction, score, join key."""
    labels = config.labels
    if labels is None:
        return set()
    return {c for c in (labels.label, labels.predicted, labels.score, labels.key) if c is not None}


def _new_rows(now: pa.Table, before: pa.Table) -> pa.Table:
    """Rows of ``now`` beyond those of ``before`` (multiset difference: EXCEPT ALL), in ``now``'s schema."""
    if before.column_names != now.column_names:  # the schema changed: every row counts as new
        return now
    con = duckdb.connect()
    try:
        con.register("now_rows", now)
        con.register("before_rows", before)
        return con.sql("SELECT * FROM now_rows EXCEPT ALL SELECT * FROM before_rows").to_arrow_table().cast(now.schema)
    finally:
        con.close()


def _monitor(row: Any) -> Monitor:
    return Monitor(
        name=row.name,
        target=row.target,
        config=MonitorConfig.from_dict(json.loads(row.config)),
        baseline=DriftBaseline.from_json(row.baseline),
        baseline_metrics=json.loads(row.baseline_metrics),
        baseline_source=row.baseline_source,
        owner=row.owner,
        created_at=_aware(row.created_at) or datetime.now(UTC),
        last_snapshot_id=row.last_snapshot_id,
        last_run_at=_aware(row.last_run_at),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _post(url: str | None, run: MonitorRun) -> str:
    """POST the run as JSON to the webhook; the outcome ("200", or the error) is kept with the run record."""
    assert url is not None
    body = json.dumps(_json_safe(run.to_dict())).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
            return str(response.status)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"failed: {exc}"
