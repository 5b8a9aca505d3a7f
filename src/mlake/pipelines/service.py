"""Running pipelines: recorded runs, cached steps, triggers on new snapshots, exactly-once claiming.

A run is a row in ``mlake_pipeline_runs``. Triggers insert *pending* runs with a unique trigger key
(pipeline, table, snapshot), so several pollers create one run per new snapshot. A worker claims a
pending run with one conditional ``UPDATE ... WHERE status = 'pending'``: the database lets exactly
one worker see its row change, on SQLite and PostgreSQL alike. A claimed run's worker beats a heartbeat
between steps; a run whose heartbeat is older than the lease (its worker died) goes back to pending
and is retried, not lost — its finished steps are then skipped by the cache.
"""

from __future__ import annotations

import importlib
import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from mlake.errors import MlakeError, NotFoundError
from mlake.pipelines.metastore import pipelines_table, runs_table, step_runs_table
from mlake.pipelines.model import Pipeline, PipelineError, Step
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.core import LakeHandle
    from mlake.streams.managed import DeliverySupervisor, WorkerLake


@dataclass
class StepRun:
    step: str
    status: str
    inputs: dict[str, int | None]
    outputs: dict[str, int | None]
    attempts: int
    log: str = ""
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class PipelineRun:
    id: int
    pipeline: str
    status: str
    trigger: str
    worker: str | None
    attempts: int
    error: str | None
    steps: list[StepRun] = field(default_factory=list)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineRun:
        """The run back from :meth:`to_dict` (a remote client rebuilds the server's answer)."""
        steps = [StepRun(**_times(s, "started_at", "finished_at")) for s in data.get("steps", [])]
        fields = _times({k: v for k, v in data.items() if k != "steps"}, "created_at", "started_at", "finished_at")
        return cls(**fields, steps=steps)


def _utc(when: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time here is UTC."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _times(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """``data`` with the named ISO-8601 strings (as JSON carries them) turned back into datetimes."""
    return {k: datetime.fromisoformat(v) if k in names and isinstance(v, str) else v for k, v in data.items()}


def _now() -> datetime:
    return datetime.now(UTC)


class Pipelines:
    """Save pipelines, start runs (by hand or by triggers), run them, read their records."""

    def __init__(self, lake: LakeHandle) -> None:
        # A pipeline runs Python functions and SQL on the lake's behalf and keeps logs that may quote
        # data: defining, running and reading pipelines is for superusers (their steps still run with
        # the actor's own lake, so reads and writes stay governed).
        lake.access.require_superuser("define, run or read pipelines")
        self._lake = lake
        self._db = lake._core.metadata_engine

    # --- definitions ------------------------------------------------------------------------------

    def save(self, pipeline: Pipeline | str) -> Pipeline:
        p = Pipeline.from_yaml(pipeline) if isinstance(pipeline, str) else pipeline
        values = {"yaml": p.to_yaml(), "created_by": self._lake.principal.name, "updated_at": _now()}
        with self._db.begin() as conn:
            done = conn.execute(pipelines_table.update().where(pipelines_table.c.name == p.name).values(**values))
            if not done.rowcount:
                conn.execute(pipelines_table.insert().values(name=p.name, **values))
        return p

    def get(self, name: str) -> Pipeline:
        with self._db.connect() as conn:
            text = conn.execute(sa.select(pipelines_table.c.yaml).where(pipelines_table.c.name == name)).scalar()
        if text is None:
            raise NotFoundError(f"Pipeline {name!r} does not exist")
        return Pipeline.from_yaml(text)

    def schedule(self, name: str, cron: str) -> Pipeline:
        """Add a cron trigger (five fields, UTC) to a saved pipeline; workers start its runs."""
        from mlake.pipelines.model import Trigger

        p = self.get(name)
        try:
            trigger = Trigger(cron=cron)
        except ValueError as exc:
            raise PipelineError(f"Cannot schedule {name!r}: {exc}") from exc
        if trigger not in p.triggers:
            p.triggers.append(trigger)
        return self.save(p)

    def names(self) -> list[str]:
        with self._db.connect() as conn:
            return sorted(conn.execute(sa.select(pipelines_table.c.name)).scalars())

    # --- runs -------------------------------------------------------------------------------------

    def start(self, name: str, trigger: str = "manual", trigger_key: str | None = None) -> int | None:
        """A pending run (its id), or None when a run with ``trigger_key`` already exists."""
        self.get(name)
        try:
            with self._db.begin() as conn:
                key = conn.execute(
                    runs_table.insert().values(
                        pipeline=name,
                        status="pending",
                        trigger=trigger,
                        trigger_key=trigger_key,
                        attempts=0,
                        created_at=_now(),
                    )
                ).inserted_primary_key
                assert key is not None
                return int(key[0])
        except sa.exc.IntegrityError:
            return None  # another poller created the run for this snapshot first

    def poll_triggers(self, now: datetime | None = None) -> list[int]:
        """Start a run for every ``on_new_data`` trigger whose table has a snapshot no run was started
        for, and for every ``cron`` trigger whose latest due time (after the pipeline was saved) has no
        run yet. The trigger key makes each such run unique, however many workers poll."""
        now = now or _now()
        started = []
        with self._db.connect() as conn:
            saved = dict(conn.execute(sa.select(pipelines_table.c.name, pipelines_table.c.updated_at)).all())
        for name in sorted(saved):
            for trig in self.get(name).triggers:
                if trig.on_new_data is not None:
                    snapshot = self._snapshot(trig.on_new_data)
                    if snapshot is None:
                        continue
                    key = f"{name}:{trig.on_new_data}@{snapshot}"
                    run = self.start(name, f"new data in {trig.on_new_data} (snapshot {snapshot})", key)
                else:
                    assert trig.cron is not None
                    from croniter import croniter

                    due = croniter(trig.cron, now.astimezone(UTC).replace(tzinfo=None)).get_prev(datetime)
                    since = saved[name].replace(tzinfo=None) if saved[name].tzinfo else saved[name]
                    if due < since.replace(second=0, microsecond=0):
                        continue
                    run = self.start(
                        name, f"schedule {trig.cron} ({due.isoformat()} UTC)", f"{name}:cron@{due.isoformat()}"
                    )
                if run is not None:
                    started.append(run)
        return started

    def run(self, name: str) -> PipelineRun:
        """Start a run and execute it here, now."""
        run_id = self.start(name)
        assert run_id is not None
        if not self.claim(run_id, "local"):
            raise PipelineError(f"Run {run_id} was claimed by another worker")
        return self.execute(run_id, "local")

    def claim(self, run_id: int, worker: str) -> bool:
        """Take a pending run for ``worker``; True for exactly one of several workers racing for it."""
        with self._db.begin() as conn:
            result = conn.execute(
                runs_table.update()
                .where((runs_table.c.id == run_id) & (runs_table.c.status == "pending"))
                .values(
                    status="running",
                    worker=worker,
                    started_at=_now(),
                    heartbeat_at=_now(),
                    attempts=runs_table.c.attempts + 1,
                )
            )
            return bool(result.rowcount == 1)

    def pending(self) -> list[int]:
        with self._db.connect() as conn:
            return list(
                conn.execute(
                    sa.select(runs_table.c.id).where(runs_table.c.status == "pending").order_by(runs_table.c.id)
                ).scalars()
            )

    def requeue_stale(self, lease_seconds: float) -> int:
        """Runs whose worker stopped beating for ``lease_seconds`` go back to pending (to be retried)."""
        with self._db.begin() as conn:
            result = conn.execute(
                runs_table.update()
                .where(
                    (runs_table.c.status == "running")
                    & (runs_table.c.heartbeat_at < _now() - timedelta(seconds=lease_seconds))
                )
                .values(status="pending", worker=None)
            )
            return int(result.rowcount or 0)

    def execute(self, run_id: int, worker: str, heartbeat_every: float | None = None) -> PipelineRun:
        """Run the claimed run's steps in DAG order: cached steps are skipped, a failure stops the
        steps that depend on it, other branches go on. With ``heartbeat_every``, a thread keeps the
        claim alive during long steps (a worker's lease must not run out while it works)."""
        if heartbeat_every is None:
            return self._execute(run_id, worker)
        import threading

        done = threading.Event()

        def beat() -> None:
            while not done.wait(heartbeat_every):
                self._beat(run_id, worker)

        thread = threading.Thread(target=beat, name=f"mlake-heartbeat-{run_id}", daemon=True)
        thread.start()
        try:
            return self._execute(run_id, worker)
        finally:
            done.set()
            thread.join()

    def _execute(self, run_id: int, worker: str) -> PipelineRun:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"Pipeline run {run_id} does not exist")
        pipeline = self.get(row["pipeline"])
        results: dict[str, StepRun] = {}
        for step in pipeline.order():
            self._beat(run_id, worker)
            blocked = [d for d in step.depends_on if results[d].status in ("failed", "stopped")]
            inputs = {t: self._snapshot(t) for t in step.input_tables()}
            if blocked:
                results[step.name] = StepRun(step.name, "stopped", inputs, {}, 0, error=f"{', '.join(blocked)} failed")
            elif self._cached(pipeline.name, step, inputs):
                results[step.name] = StepRun(
                    step.name, "cached", inputs, {}, 0, log="inputs unchanged since the last success"
                )
            else:
                results[step.name] = self._run_step(step, inputs)
            self._record(run_id, pipeline.name, results[step.name])
        failed = [s.step for s in results.values() if s.status == "failed"]
        status = "failed" if failed else "succeeded"
        error = f"step(s) failed: {', '.join(failed)}" if failed else None
        with self._db.begin() as conn:
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(status=status, finished_at=_now(), error=error)
            )
        return self.status(run_id)

    def status(self, run_id: int) -> PipelineRun:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).mappings().first()
            if row is None:
                raise NotFoundError(f"Pipeline run {run_id} does not exist")
            steps = conn.execute(
                sa.select(step_runs_table).where(step_runs_table.c.run_id == run_id).order_by(step_runs_table.c.id)
            ).mappings()
            step_runs = [
                StepRun(
                    s["step"],
                    s["status"],
                    json.loads(s["inputs"]),
                    json.loads(s["outputs"] or "{}"),
                    s["attempts"],
                    s["log"] or "",
                    s["error"],
                    _utc(s["started_at"]),
                    _utc(s["finished_at"]),
                )
                for s in steps
            ]
        return PipelineRun(
            row["id"],
            row["pipeline"],
            row["status"],
            row["trigger"],
            row["worker"],
            row["attempts"],
            row["error"],
            step_runs,
            _utc(row["created_at"]),
            _utc(row["started_at"]),
            _utc(row["finished_at"]),
        )

    def runs(self, name: str) -> list[PipelineRun]:
        with self._db.connect() as conn:
            ids = list(
                conn.execute(
                    sa.select(runs_table.c.id).where(runs_table.c.pipeline == name).order_by(runs_table.c.id)
                ).scalars()
            )
        return [self.status(i) for i in ids]

    # --- steps ------------------------------------------------------------------------------------

    def _run_step(self, step: Step, inputs: dict[str, int | None]) -> StepRun:
        attempts = 0
        while True:
            attempts += 1
            try:
                log = self._perform(step)
                outputs = {step.output: self._snapshot(step.output)} if step.output else {}
                return StepRun(step.name, "succeeded", inputs, outputs, attempts, log)
            except Exception as exc:  # a step's failure is recorded, not raised: the run goes on
                if attempts > step.retries or isinstance(exc, _CheckFailed):
                    message = exc.message if isinstance(exc, MlakeError) else f"{type(exc).__name__}: {exc}"
                    return StepRun(step.name, "failed", inputs, {}, attempts, traceback.format_exc(limit=3), message)
                time.sleep(step.backoff_seconds * 2 ** (attempts - 1))

    def _perform(self, step: Step) -> str:
        lake = self._lake
        if step.kind == "check":
            from mlake.quality.api import Quality

            assert step.table is not None and step.suite is not None
            result = Quality(lake).check(step.table, step.suite, save=False, engine=step.engine)  # type: ignore[arg-type]
            if not result.passed:
                raise _CheckFailed(f"{len(result.failures)} check(s) failed on {step.table}")
            return f"{len(result.results)} checks passed on {step.table}"
        if step.kind == "monitor":
            from mlake.monitor.monitors import Monitoring

            assert step.monitor is not None
            watched = Monitoring(lake).run(step.monitor)  # type: ignore[arg-type]
            summary = f"monitor {step.monitor}: {watched.status} over {watched.rows} row(s) (run {watched.run_id})"
            if not watched.passed:
                kinds = sorted({v.check for v in watched.violations})
                raise _CheckFailed(f"{summary}: {len(watched.violations)} violation(s) ({', '.join(kinds)})")
            return summary
        if step.kind == "recipe":
            from mlake.processing.api import Recipes

            assert step.recipe is not None and step.output is not None
            run = Recipes(lake).run(step.recipe, step.output, version=step.version, engine=step.engine)
            return f"recipe {run.recipe} v{run.version} wrote {run.rows} rows to {run.table}"
        if step.kind == "maintain":
            reports = lake.storage.apply(step.table)
            return "\n".join(r.summary() for r in reports) or "no table to maintain"
        if step.kind == "sql":
            assert step.sql is not None
            rows = lake.engine.query(step.sql).to_pylist()
            return json.dumps(rows[:5], default=str)
        assert step.function is not None
        module_name, _, attr = step.function.partition(":")
        module = importlib.import_module(module_name)
        fn: Any = getattr(module, attr)
        if step.engine == "ray":
            from mlake.engines.ray import run_function

            principal = lake.access.principal
            shipped = None if module_name.split(".")[0] == "mlake" else module
            return str(
                run_function(
                    _python_step_task,
                    fn,
                    lake.settings.model_dump(mode="json"),
                    None if principal is None else principal.name,
                    step.model_dump(),
                    module_by_value=shipped,
                )
            )
        out = fn(lake, step)
        return "" if out is None else str(out)

    def _cached(self, pipeline: str, step: Step, inputs: dict[str, int | None]) -> bool:
        """The step succeeded before with the same input snapshots (and has inputs to compare)."""
        if not inputs or any(v is None for v in inputs.values()):
            return False
        with self._db.connect() as conn:
            last = conn.execute(
                sa.select(step_runs_table.c.inputs)
                .where(
                    (step_runs_table.c.pipeline == pipeline)
                    & (step_runs_table.c.step == step.name)
                    & (step_runs_table.c.status == "succeeded")
                )
                .order_by(step_runs_table.c.id.desc())
                .limit(1)
            ).scalar()
        return last is not None and json.loads(last) == inputs

    def _record(self, run_id: int, pipeline: str, s: StepRun) -> None:
        with self._db.begin() as conn:
            conn.execute(
                step_runs_table.insert().values(
                    run_id=run_id,
                    pipeline=pipeline,
                    step=s.step,
                    status=s.status,
                    inputs=json.dumps(s.inputs),
                    outputs=json.dumps(s.outputs),
                    attempts=s.attempts,
                    started_at=_now(),
                    finished_at=_now(),
                    log=s.log,
                    error=s.error,
                )
            )

    def _beat(self, run_id: int, worker: str) -> None:
        with self._db.begin() as conn:
            conn.execute(
                runs_table.update()
                .where((runs_table.c.id == run_id) & (runs_table.c.worker == worker))
                .values(heartbeat_at=_now())
            )

    def _snapshot(self, table: str) -> int | None:
        name = TableName.parse(table)
        if not self._lake.table_exists(name):
            return None
        snap = self._lake.iceberg_table(name).current_snapshot()
        return snap.snapshot_id if snap else None


class _CheckFailed(PipelineError):
    """A check step's suite failed: not retried, its dependants stop."""


def _python_step_task(fn: Any, settings: dict[str, Any], principal: str | None, step: dict[str, Any]) -> str:
    """A python step in a Ray worker: it opens the lake from the driver's settings and calls the step's
    function with the same actor's handle (so its reads and writes are governed as in the worker)."""
    import mlake

    with mlake.connect(**settings) as lake:
        actor = lake if principal is None else lake.as_principal(principal)
        out = fn(actor, Step(**step))
    return "" if out is None else str(out)


class Worker:
    """Executes triggered runs (polls triggers, requeues runs of dead workers, claims and runs) and, with
    ``deliveries``, runs the lake's managed stream deliveries it holds a lease on
    (:mod:`mlake.streams.managed`)."""

    def __init__(
        self, lake: LakeHandle, name: str, *, lease_seconds: float = 300.0, deliveries: bool = True
    ) -> None:
        self.pipelines = Pipelines(lake)
        self.name = name
        self.lease_seconds = lease_seconds
        self.deliveries: DeliverySupervisor | None = None
        if deliveries:
            from mlake.streams.managed import DeliverySupervisor, ManagedStore
            from mlake.streams.metastore import DeliveryRegistry

            db = lake._core.metadata_engine
            self.deliveries = DeliverySupervisor(
                cast("WorkerLake", lake), ManagedStore(db), DeliveryRegistry(db), name
            )

    def run_once(self) -> list[int]:
        """One round: the ids of the runs this worker executed (managed deliveries are started or stopped
        first, and keep running on their threads until :meth:`close`)."""
        if self.deliveries is not None:
            self.deliveries.tick()
        self.pipelines.poll_triggers()
        self.pipelines.requeue_stale(self.lease_seconds)
        done = []
        for run_id in self.pipelines.pending():
            if self.pipelines.claim(run_id, self.name):
                self.pipelines.execute(run_id, self.name, heartbeat_every=self.lease_seconds / 3)
                done.append(run_id)
        return done

    def run_forever(self, interval: float = 5.0, stop: Any = None) -> None:
        """Rounds every ``interval`` seconds until ``stop`` (a threading.Event) is set; the managed
        deliveries' leases are renewed on their own thread meanwhile, even during a long pipeline run."""
        if self.deliveries is not None:
            self.deliveries.start(interval)
        try:
            while stop is None or not stop.is_set():
                self.run_once()
                if stop is not None:
                    stop.wait(interval)
                else:
                    time.sleep(interval)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the managed deliveries running here (each writes what it buffered) and free their leases."""
        if self.deliveries is not None:
            self.deliveries.close()
