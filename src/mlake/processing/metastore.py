"""Processing's table in the control-plane database (migration area ``processing``): recipe versions.

Every save of a recipe is a new version (its YAML); running a version fits it and keeps the fitted
parameters on that version, so serving and later runs apply exactly what the first run learned.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

recipes_table = sa.Table(
    "mlake_recipes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("source", sa.String(400), nullable=True),
    sa.Column("yaml", sa.Text, nullable=False),
    sa.Column("fitted", sa.Text, nullable=True),  # JSON: the fitted recipe (steps and parameters)
    sa.Column("fitted_on", sa.Text, nullable=True),  # JSON: the table snapshots it was fitted on
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_mlake_recipes_name_version"),
)

MIGRATIONS = [Migration("processing", 1, "recipe versions with their fitted parameters", create_tables(recipes_table))]
