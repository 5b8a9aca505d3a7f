"""The deliveries of streams, known to the lake: which stream feeds which table, and how it last went.

A delivery's position lives in its table (the snapshot summary), so this registry is not needed for
exactly-once; it is what ``status`` reads to find a stream's deliveries in any process (the CLI, the
server), and where a delivery leaves its last error for an operator to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

deliveries_table = sa.Table(
    "mlake_stream_deliveries",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("table_name", sa.String(400), nullable=False),
    sa.Column("error_table", sa.String(400), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False, default="delivery"),  # delivery | query
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_flush_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
)

managed_table = sa.Table(
    "mlake_stream_managed",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),  # JSON: target and options (mlake.streams.managed)
    sa.Column("principal", sa.String(200), nullable=True),  # who made it: its grants apply when it runs
    sa.Column("worker", sa.String(200), nullable=True),  # the worker holding the lease
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

MIGRATIONS = [
    Migration("streams", 1, "deliveries and streaming queries of streams into tables", create_tables(deliveries_table)),
    Migration("streams", 2, "deliveries run by the long-running worker", create_tables(managed_table)),
]


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """A registered delivery (or streaming query, ``kind`` "query"): from ``stream`` into ``table`` (bad
    records into ``error_table``; none for a query)."""

    stream: str
    name: str
    table: str
    error_table: str
    created_at: datetime
    last_flush_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    kind: str = "delivery"


class DeliveryRegistry:
    """Deliveries in the lake's metadata database (one row per stream and delivery name)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def register(self, stream: str, name: str, table: str, error_table: str, kind: str = "delivery") -> None:
        """Record (or re-point) a delivery; its history of flushes and errors is kept."""
        key = (deliveries_table.c.stream == stream) & (deliveries_table.c.name == name)
        with self._engine.begin() as conn:
            found = conn.execute(sa.select(deliveries_table.c.name).where(key)).first()
            if found is None:
                conn.execute(
                    deliveries_table.insert().values(
                        stream=stream,
                        name=name,
                        table_name=table,
                        error_table=error_table,
                        kind=kind,
                        created_at=_now(),
                    )
                )
            else:
                values = {"table_name": table, "error_table": error_table, "kind": kind}
                conn.execute(deliveries_table.update().where(key).values(**values))

    def flushed(self, stream: str, name: str) -> None:
        self._update(stream, name, last_flush_at=_now())

    def failed(self, stream: str, name: str, message: str) -> None:
        self._update(stream, name, last_error=message[:4000], last_error_at=_now())

    def deliveries(self, stream: str) -> list[DeliveryInfo]:
        query = sa.select(deliveries_table).where(deliveries_table.c.stream == stream).order_by(deliveries_table.c.name)
        with self._engine.connect() as conn:
            return [
                DeliveryInfo(
                    r.stream,
                    r.name,
                    r.table_name,
                    r.error_table,
                    _aware(r.created_at) or _now(),
                    _aware(r.last_flush_at),
                    r.last_error,
                    _aware(r.last_error_at),
                    r.kind,
                )
                for r in conn.execute(query)
            ]

    def forget(self, stream: str) -> None:
        """A deleted stream's deliveries (their tables stay)."""
        with self._engine.begin() as conn:
            conn.execute(deliveries_table.delete().where(deliveries_table.c.stream == stream))

    def _update(self, stream: str, name: str, **values: object) -> None:
        key = (deliveries_table.c.stream == stream) & (deliveries_table.c.name == name)
        with self._engine.begin() as conn:
            conn.execute(deliveries_table.update().where(key).values(**values))


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
