"""Deliveries run by the long-running worker (``mlake worker``), not by a process someone keeps open.

``lake.streams.manage(stream, into, ...)`` saves a delivery's definition in the lake's metadata database;
every ``mlake worker`` runs a :class:`DeliverySupervisor` that, on each round, takes a *lease* on the
managed deliveries nobody holds (one ``UPDATE ... WHERE`` lease expired or free: atomic on SQLite and
PostgreSQL), runs each leased one on a thread, renews its leases from a heartbeat thread, and stops a
delivery whose definition was removed or whose lease another worker took over after it expired.

Exactly once does not rest on the lease: a delivery commits its stream position with its data as a
compare-and-set (:mod:`mlake.streams.delivery`), so even two workers running the same delivery after a
lease expired mid-flush cannot write a record twice; the lease keeps them from doing the work twice.

A managed delivery runs with the grants of the principal who made it (none: the lake's owner), so
managing a delivery gives nobody more than running it by hand would. A Python ``transform`` cannot be
stored; SQL transforms (``transform_sql``) can.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from mlake.errors import MlakeError, NotFoundError
from mlake.streams.delivery import BufferHints
from mlake.streams.metastore import DeliveryRegistry, managed_table

_NOT_SPEC = ("stream", "name", "principal", "worker", "lease_until")


@dataclass(frozen=True, slots=True)
class ManagedDelivery:
    """A delivery the worker runs: its target, options and who holds it now."""

    stream: str
    name: str
    into: str | None
    feature_group: str | None = None
    changes_of: str | None = None
    error_table: str | None = None
    hints: dict[str, float] = field(default_factory=dict)
    """``max_records``, ``max_bytes``, ``max_seconds`` (see :class:`~mlake.streams.delivery.BufferHints`)."""
    options: dict[str, Any] = field(default_factory=dict)
    """``transform_sql``, ``time_fields``, ``partition_by``, ``max_record_bytes``."""
    principal: str | None = None
    """Whose grants it runs with (None: the lake's owner)."""
    worker: str | None = None
    lease_until: datetime | None = None

    def spec(self) -> str:
        """The definition as stored (what a worker compares to see that it changed)."""
        data = {k: v for k, v in asdict(self).items() if k not in _NOT_SPEC}
        return json.dumps(data, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of REST and the remote client (``lease_until`` as ISO text)."""
        out = asdict(self)
        out["lease_until"] = self.lease_until.isoformat() if self.lease_until is not None else None
        return out

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> ManagedDelivery:
        lease = body.get("lease_until")
        return cls(**{**body, "lease_until": datetime.fromisoformat(lease) if lease else None})

    def buffer_hints(self) -> BufferHints:
        return BufferHints(
            max_records=int(self.hints.get("max_records", 10_000)),
            max_bytes=int(self.hints.get("max_bytes", 8 * 1024 * 1024)),
            max_seconds=float(self.hints.get("max_seconds", 1.0)),
        )


class ManagedStore:
    """The managed deliveries in the metadata database, with their leases."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def save(self, delivery: ManagedDelivery) -> None:
        key = _key(delivery.stream, delivery.name)
        values = {"spec": delivery.spec(), "principal": delivery.principal}
        with self._engine.begin() as conn:
            if conn.execute(sa.select(managed_table.c.name).where(key)).first() is None:
                conn.execute(
                    managed_table.insert().values(
                        stream=delivery.stream, name=delivery.name, created_at=_now(), **values
                    )
                )
            else:  # a changed definition: the worker holding it restarts it on its next round
                conn.execute(managed_table.update().where(key).values(worker=None, lease_until=None, **values))

    def remove(self, stream: str, name: str) -> None:
        with self._engine.begin() as conn:
            if conn.execute(managed_table.delete().where(_key(stream, name))).rowcount == 0:
                raise NotFoundError(
                    f"No managed delivery {name!r} of stream {stream!r}",
                    hint="list them with lake.streams.managed() or `mlake streams managed`",
                )

    def list(self) -> list[ManagedDelivery]:
        query = sa.select(managed_table).order_by(managed_table.c.stream, managed_table.c.name)
        with self._engine.connect() as conn:
            return [_from_row(r) for r in conn.execute(query)]

    def get(self, stream: str, name: str) -> ManagedDelivery | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(managed_table).where(_key(stream, name))).first()
        return None if row is None else _from_row(row)

    def claim(self, stream: str, name: str, worker: str, lease: timedelta) -> bool:
        """Take (or keep) the lease when it is free, expired or this worker's; True when taken."""
        now = _now()
        free = (
            managed_table.c.worker.is_(None) | (managed_table.c.worker == worker) | (managed_table.c.lease_until < now)
        )
        with self._engine.begin() as conn:
            result = conn.execute(
                managed_table.update().where(_key(stream, name) & free).values(worker=worker, lease_until=now + lease)
            )
        return result.rowcount == 1

    def renew(self, stream: str, name: str, worker: str, lease: timedelta) -> bool:
        """Extend this worker's lease; False when it is no longer this worker's (or the delivery is gone)."""
        with self._engine.begin() as conn:
            result = conn.execute(
                managed_table.update()
                .where(_key(stream, name) & (managed_table.c.worker == worker))
                .values(lease_until=_now() + lease)
            )
        return result.rowcount == 1

    def release(self, stream: str, name: str, worker: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                managed_table.update()
                .where(_key(stream, name) & (managed_table.c.worker == worker))
                .values(worker=None, lease_until=None)
            )


class WorkerLake(Protocol):
    """What the supervisor needs of the lake: its streams, and becoming a delivery's principal."""

    @property
    def streams(self) -> Any: ...

    def as_principal(self, name: str) -> Any: ...


@dataclass
class _Running:
    thread: threading.Thread
    stop: threading.Event
    spec: str
    error: list[str] = field(default_factory=list)


class DeliverySupervisor:
    """Runs the managed deliveries this worker holds a lease on (module doc)."""

    def __init__(
        self,
        lake: WorkerLake,
        store: ManagedStore,
        registry: DeliveryRegistry,
        worker: str,
        *,
        lease_seconds: float = 30.0,
    ) -> None:
        self.lake = lake
        self.store = store
        self.registry = registry
        self.worker = worker
        self.lease = timedelta(seconds=lease_seconds)
        self._running: dict[tuple[str, str], _Running] = {}
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._closing = threading.Event()

    def running(self) -> list[tuple[str, str]]:
        """(stream, name) of the deliveries running here now."""
        with self._lock:
            return sorted(k for k, r in self._running.items() if r.thread.is_alive())

    def tick(self) -> list[tuple[str, str]]:
        """One round: stop what is gone or lost, start what can be claimed; returns what runs here."""
        with self._lock:
            wanted = {(d.stream, d.name): d for d in self.store.list()}
            for key, run in list(self._running.items()):
                spec = wanted.get(key)
                lost = spec is None or spec.spec() != run.spec or not run.thread.is_alive()
                if not lost:
                    lost = not self.store.renew(*key, self.worker, self.lease)
                if lost:
                    self._stop(key, run)
            for key, spec in wanted.items():
                if key not in self._running and self.store.claim(*key, self.worker, self.lease):
                    self._start(spec)
            return sorted(self._running)

    def start(self, interval: float = 5.0) -> None:
        """Tick now and then every ``interval`` seconds on a thread (leases renewed even while the worker
        is busy running a pipeline), until :meth:`close`."""
        self.tick()

        def beat() -> None:
            while not self._closing.wait(interval):
                try:
                    self.tick()
                except Exception:
                    continue

        self._heartbeat = threading.Thread(target=beat, name=f"mlake-deliveries-{self.worker}", daemon=True)
        self._heartbeat.start()

    def close(self) -> None:
        """Stop every delivery here (each writes what it buffered) and give up the leases."""
        self._closing.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        with self._lock:
            for key, run in list(self._running.items()):
                self._stop(key, run)

    def _start(self, spec: ManagedDelivery) -> None:
        key = (spec.stream, spec.name)
        stop = threading.Event()
        run = _Running(threading.Thread(), stop, spec.spec())

        def deliver() -> None:
            try:
                handle = self.lake if spec.principal is None else self.lake.as_principal(spec.principal)
                delivery = handle.streams.delivery(
                    spec.stream,
                    spec.into,
                    feature_group=spec.feature_group,
                    name=spec.name,
                    hints=spec.buffer_hints(),
                    error_table=spec.error_table,
                    changes_of=spec.changes_of,
                    **spec.options,
                )
                delivery.run(stop=stop)
            except Exception as exc:
                message = exc.message if isinstance(exc, MlakeError) else f"{type(exc).__name__}: {exc}"
                run.error.append(message)
                self.registry.failed(spec.stream, spec.name, f"managed by worker {self.worker}: {message}")

        run.thread = threading.Thread(target=deliver, name=f"mlake-delivery-{spec.stream}-{spec.name}", daemon=True)
        self._running[key] = run
        run.thread.start()

    def _stop(self, key: tuple[str, str], run: _Running) -> None:
        run.stop.set()
        run.thread.join()
        del self._running[key]
        self.store.release(*key, self.worker)


def _key(stream: str, name: str) -> Any:
    return (managed_table.c.stream == stream) & (managed_table.c.name == name)


def _from_row(row: Any) -> ManagedDelivery:
    data = json.loads(row.spec)
    lease = row.lease_until
    if lease is not None and lease.tzinfo is None:  # SQLite hands back naive datetimes, written in UTC
        lease = lease.replace(tzinfo=UTC)
    return ManagedDelivery(
        stream=row.stream, name=row.name, principal=row.principal, worker=row.worker, lease_until=lease, **data
    )


def _now() -> datetime:
    return datetime.now(UTC)
