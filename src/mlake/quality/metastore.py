"""Quality's own table in the control-plane database (migration area ``quality``): stored check suites.

Listed in :data:`mlake.metastore.MIGRATION_MODULES`, so ``migrate()`` applies it; what the table
is for is described in :mod:`mlake.quality.store`.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

suites_table = sa.Table(
    "mlake_quality_suites",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(400), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("yaml", sa.Text, nullable=False),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_passed", sa.Boolean, nullable=True),
    sa.Column("last_result", sa.Text, nullable=True),  # JSON: the run's to_dict() without samples, + actor
    sa.UniqueConstraint("table_name", "name", name="uq_mlake_quality_suites_table_name"),
)

MIGRATIONS = [Migration("quality", 1, "stored check suites with their last results", create_tables(suites_table))]
