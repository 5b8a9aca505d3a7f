"""mlake's own metadata in the control-plane database, beside the Iceberg catalog.

Tables are declared with SQLAlchemy Core so the same code runs on SQLite and PostgreSQL. Schema changes
go through numbered migrations, grouped by *area* (``lake``, ``quality``, ``features`` ...) so that each
part of mlake owns its migrations without renumbering the others'. A migration runs once per database;
the ``mlake_migrations`` table records which ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mlake.errors import ConfigError

metadata = sa.MetaData()

migrations_table = sa.Table(
    "mlake_migrations",
    metadata,
    sa.Column("area", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

# --- area "lake": writes, lineage, ingest log, watermarks -------------------------------------------

writes_table = sa.Table(
    "mlake_writes",
    metadata,
    sa.Column("write_id", sa.String(64), primary_key=True),
    sa.Column("table_name", sa.String(400), nullable=False, index=True),
    sa.Column("snapshot_id", sa.BigInteger, nullable=True),
    sa.Column("operation", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("rows_written", sa.BigInteger, nullable=False, default=0),
    sa.Column("rows_quarantined", sa.BigInteger, nullable=False, default=0),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

lineage_inputs_table = sa.Table(
    "mlake_lineage_inputs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("write_id", sa.String(64), sa.ForeignKey("mlake_writes.write_id"), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),  # file | url | database | table | dataframe | query
    sa.Column("ref", sa.Text, nullable=False),  # path, URL, redacted DB URL, or table name
    sa.Column("detail", sa.Text, nullable=True),  # content hash, SQL text, ...
    sa.Column("snapshot_id", sa.BigInteger, nullable=True),  # for kind == "table"
    sa.Column("table_ref", sa.String(400), nullable=True, index=True),  # table name, for downstream lookups
)

ingest_log_table = sa.Table(
    "mlake_ingest_log",
    metadata,
    sa.Column("content_hash", sa.String(64), primary_key=True),
    sa.Column("table_name", sa.String(400), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("write_id", sa.String(64), nullable=False),
    sa.Column("rows_written", sa.BigInteger, nullable=False),
    sa.Column("rows_quarantined", sa.BigInteger, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

watermarks_table = sa.Table(
    "mlake_watermarks",
    metadata,
    sa.Column("source_key", sa.String(128), primary_key=True),
    sa.Column("table_name", sa.String(400), nullable=False),
    sa.Column("column_name", sa.String(200), nullable=False),
    sa.Column("value", sa.Text, nullable=True),  # JSON-encoded watermark value
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Migration:
    area: str
    version: int
    name: str
    apply: Callable[[Connection], None]


def create_tables(*tables: sa.Table) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        for table in tables:
            table.create(conn, checkfirst=True)

    return run


MIGRATIONS: list[Migration] = [
    Migration(
        "lake",
        1,
        "writes, lineage, ingest log, watermarks",
        create_tables(writes_table, lineage_inputs_table, ingest_log_table, watermarks_table),
    ),
]


# The modules whose ``MIGRATIONS`` list the control-plane database's tables, in the order they apply.
# Listed here rather than registered by import side effects, so that opening a lake imports no area
# and a new area's tables are one line away.
MIGRATION_MODULES: tuple[str, ...] = (
    "mlake.metastore",
    "mlake.dashboards.store",
    "mlake.features.metastore",
    "mlake.governance.store",
    "mlake.monitor.store",
    "mlake.quality.metastore",
    "mlake.sources.metastore",
    "mlake.processing.metastore",
    "mlake.pipelines.metastore",
    "mlake.streams.metastore",
    "mlake.labeling.projects",
    "mlake.lifecycle.metastore",
)


def all_migrations() -> list[Migration]:
    """Every migration of every module in :data:`MIGRATION_MODULES`, in (area, version) order."""
    from importlib import import_module

    found: list[Migration] = []
    for module in MIGRATION_MODULES:
        found.extend(import_module(module).MIGRATIONS)
    return sorted(found, key=lambda m: (m.area != "lake", m.area, m.version))


def migrate(engine: Engine) -> list[Migration]:
    """Apply every migration not yet recorded, in (area, version) order; return those applied.

    Several processes may open a new lake at once; a migration whose record another process inserted
    first is skipped rather than failed.
    """
    applied: list[Migration] = []
    try:
        with engine.begin() as conn:
            migrations_table.create(conn, checkfirst=True)
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise ConfigError(
            f"Cannot open the catalog database {engine.url.render_as_string(hide_password=True)}: {reason}",
            hint="check MLAKE_CATALOG_URL and that the database server is running",
        ) from exc
    except sa.exc.SQLAlchemyError:
        pass  # another process created it at the same moment
    with engine.connect() as conn:
        done = {(r.area, r.version) for r in conn.execute(sa.select(migrations_table))}
    for m in all_migrations():
        if (m.area, m.version) in done:
            continue
        try:
            with engine.begin() as conn:
                m.apply(conn)
                conn.execute(
                    migrations_table.insert().values(
                        area=m.area, version=m.version, name=m.name, applied_at=datetime.now(UTC)
                    )
                )
            applied.append(m)
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
            # Another process may have applied it at the same moment; only that is forgiven.
            with engine.connect() as conn:
                recorded = conn.execute(
                    sa.select(migrations_table.c.version).where(
                        (migrations_table.c.area == m.area) & (migrations_table.c.version == m.version)
                    )
                ).first()
            if recorded is None:
                raise
    return applied
