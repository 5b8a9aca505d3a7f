"""Lifecycle policies in the control-plane database, beside the Iceberg catalog (migration area ``lifecycle``).

One row per scope: a table (``ns.table``) or a whole namespace (``ns``). The policy itself is JSON (the
fields of :class:`mlake.lifecycle.policy.LifecyclePolicy` that were set), so adding a rule later needs no
migration.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

policies_table = sa.Table(
    "mlake_lifecycle_policies",
    metadata,
    sa.Column("scope", sa.String(400), primary_key=True),  # "ns.table" or "ns"
    sa.Column("kind", sa.String(16), nullable=False),  # table | namespace
    sa.Column("policy", sa.Text, nullable=False),  # JSON of the fields set
    sa.Column("set_by", sa.String(200), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)

MIGRATIONS = [Migration("lifecycle", 1, "lifecycle policies per table or namespace", create_tables(policies_table))]
