"""Saved queries and dashboards: a query with its chart, pinned to pages that refresh.

A dashboard stores only SQL and chart settings, never data: each viewer's refresh runs the queries as
that viewer, so a shared dashboard shows everyone what their own grants, masks and filters allow.
"""

from __future__ import annotations

from mlake.dashboards.store import Dashboard, DashboardStore, SavedQuery, Tile

__all__ = ["Dashboard", "DashboardStore", "SavedQuery", "Tile"]
