"""The source registry's tables in the control-plane database (migration area ``sources``).

``mlake_sources`` holds one row per registered source (its terms as columns, lists as JSON);
``mlake_table_sources`` says which sources a table's rows were loaded from — written when an ingest
names its source, or by :meth:`mlake.sources.SourceRegistry.attach`. Tables derived from other tables
inherit their sources through lineage, so only the tables data enters the lake by are recorded here.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

sources_table = sa.Table(
    "mlake_sources",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # public | purchased | internal | generated
    sa.Column("provider", sa.String(400), nullable=True),
    sa.Column("license", sa.String(400), nullable=True),  # an SPDX id or free text
    sa.Column("terms_url", sa.Text, nullable=True),
    sa.Column("allowed_uses", sa.Text, nullable=True),  # JSON list; NULL: no restriction recorded
    sa.Column("contact", sa.String(400), nullable=True),
    sa.Column("acquired", sa.Date, nullable=True),
    sa.Column("expires", sa.Date, nullable=True),
    sa.Column("personal_data", sa.Boolean, nullable=False, default=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

table_sources_table = sa.Table(
    "mlake_table_sources",
    metadata,
    sa.Column("table_name", sa.String(400), primary_key=True),
    sa.Column("source_name", sa.String(128), primary_key=True, index=True),
    sa.Column("attached_by", sa.String(200), nullable=False),
    sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
)

MIGRATIONS = [
    Migration(
        "sources", 1, "sources and the tables loaded from them", create_tables(sources_table, table_sources_table)
    )
]
