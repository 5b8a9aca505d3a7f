"""The feature store's own tables in the control-plane database (migration area ``features``).

Feature data itself lives in Iceberg tables (offline) and the online store; these tables hold what
describes it: groups and their features, which snapshot each online store has caught up to, and the
saved training sets with the exact snapshots they read.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

groups_table = sa.Table(
    "mlake_feature_groups",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("entities", sa.Text, nullable=False),  # JSON: [[name, type], ...]
    sa.Column("event_time", sa.String(200), nullable=False),
    sa.Column("ttl_seconds", sa.Float, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("tags", sa.Text, nullable=False, default="{}"),  # JSON object
    sa.Column("online", sa.Boolean, nullable=False, default=True),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

features_table = sa.Table(
    "mlake_features",
    metadata,
    sa.Column("group_name", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("dtype", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("added_in_version", sa.Integer, nullable=False),
)

materializations_table = sa.Table(
    "mlake_feature_materializations",
    metadata,
    sa.Column("group_name", sa.String(128), primary_key=True),
    sa.Column("store", sa.String(400), primary_key=True),  # the online store's identity (URL without secrets)
    sa.Column("snapshot_id", sa.BigInteger, nullable=False),
    sa.Column("rows_read", sa.BigInteger, nullable=False),
    sa.Column("entities_written", sa.BigInteger, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

training_sets_table = sa.Table(
    "mlake_training_sets",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=True, index=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("spec", sa.Text, nullable=False),  # JSON: features, entity columns, as_of
    sa.Column("entities", sa.Text, nullable=False),  # JSON: where the entity rows come from, pinned
    sa.Column("snapshots", sa.Text, nullable=False),  # JSON: {"features.<group>": snapshot_id}
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

training_set_groups_table = sa.Table(
    "mlake_training_set_groups",
    metadata,
    sa.Column("training_set_id", sa.String(32), primary_key=True),
    sa.Column("group_name", sa.String(128), primary_key=True, index=True),
)

MIGRATIONS = [
    Migration(
        "features",
        1,
        "feature groups, features, materializations, training sets",
        create_tables(
            groups_table, features_table, materializations_table, training_sets_table, training_set_groups_table
        ),
    )
]
