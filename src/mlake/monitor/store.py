"""Monitors and their runs in the control-plane database (migration area ``monitor``).

A monitor is small, edited configuration — a name, a target table, the stored baseline (a
:class:`~mlake.monitor.baseline.DriftBaseline` as JSON, plus the model-quality and bias figures of the
baseline data), what to check and where to alert — so it lives beside dashboards and suites, not in an
Iceberg table. Each run leaves a record here (when, which snapshot, how many rows and violations, whether
the webhook answered); the violations themselves are lake data, one row each in
``mlake.monitor_violations`` (see :mod:`mlake.monitor.monitors`).
"""

from __future__ import annotations

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

monitors_table = sa.Table(
    "mlake_monitors",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("target", sa.String(400), nullable=False, index=True),
    sa.Column("config", sa.Text, nullable=False),  # JSON: MonitorConfig.to_dict()
    sa.Column("baseline", sa.Text, nullable=False),  # JSON: DriftBaseline.to_json()
    sa.Column("baseline_metrics", sa.Text, nullable=False),  # JSON: model quality and bias of the baseline data
    sa.Column("baseline_source", sa.Text, nullable=False),  # table@snapshot the baseline was computed from
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_snapshot_id", sa.BigInteger, nullable=True),  # the target snapshot the last run saw
    sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
)

runs_table = sa.Table(
    "mlake_monitor_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("monitor", sa.String(200), nullable=False, index=True),
    sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("snapshot_id", sa.BigInteger, nullable=True),
    sa.Column("since_snapshot_id", sa.BigInteger, nullable=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("violations", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # ok | violations | no_data
    sa.Column("alert", sa.Text, nullable=True),  # the webhook's outcome, when one was called
    sa.Column("summary", sa.Text, nullable=False),  # JSON: drift scores, quality and bias figures of the run
)

MIGRATIONS = [Migration("monitor", 1, "monitors and their run records", create_tables(monitors_table, runs_table))]
