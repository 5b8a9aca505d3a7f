"""Pipelines' tables in the control-plane database (migration area ``pipelines``): definitions, runs
(with the worker that claimed each and its heartbeat) and step runs (status, snapshots, log)."""

from __future__ import annotations

import sqlalchemy as sa

from mlake.metastore import Migration, create_tables, metadata

pipelines_table = sa.Table(
    "mlake_pipelines",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("yaml", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

runs_table = sa.Table(
    "mlake_pipeline_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(200), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),  # pending running succeeded failed
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("trigger_key", sa.String(600), nullable=True, unique=True),  # one run per new snapshot
    sa.Column("worker", sa.String(200), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

step_runs_table = sa.Table(
    "mlake_pipeline_step_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("mlake_pipeline_runs.id"), nullable=False, index=True),
    sa.Column("pipeline", sa.String(200), nullable=False),
    sa.Column("step", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # succeeded failed cached stopped
    sa.Column("inputs", sa.Text, nullable=False),  # JSON {table: snapshot}
    sa.Column("outputs", sa.Text, nullable=True),  # JSON {table: snapshot}
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("log", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_mlake_pipeline_step_runs_cache", "pipeline", "step", "status"),
)

MIGRATIONS = [
    Migration(
        "pipelines", 1, "pipelines, runs and step runs", create_tables(pipelines_table, runs_table, step_runs_table)
    )
]
