"""``remote.dashboards``: saved queries and dashboards of :mod:`mlake.dashboards` on an mlake server.

The same calls and return types as ``lake.dashboards`` (:class:`~mlake.dashboards.store.DashboardStore`
bound to the caller): queries and dashboards travel as their ``to_dict()`` and are rebuilt with
``from_dict()``. The server binds the store to the principal of the token, so what the caller saves it
owns, and it sees only the queries whose SQL reads tables it may read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlake.dashboards.store import Dashboard, SavedQuery, check_chart

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


class RemoteDashboards:
    """Saved queries (SQL with a chart) and dashboards of them, on the server."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    # --- saved queries ----------------------------------------------------------------------------

    def save_query(self, name: str, sql: str, chart: dict[str, Any] | None = None) -> SavedQuery:
        """Save a query with its chart; the caller owns it."""
        body = {"name": name, "sql": sql, "chart": check_chart(chart)}
        return SavedQuery.from_dict(self._lake._json("POST", "/queries", json=body))

    def query(self, query_id: int) -> SavedQuery:
        return SavedQuery.from_dict(self._lake._json("GET", f"/queries/{int(query_id)}"))

    def queries(self) -> list[SavedQuery]:
        return [SavedQuery.from_dict(q) for q in self._lake._json("GET", "/queries")]

    def update_query(
        self,
        query_id: int,
        *,
        name: str | None = None,
        sql: str | None = None,
        chart: dict[str, Any] | None = None,
    ) -> SavedQuery:
        body = {"name": name, "sql": sql, "chart": check_chart(chart) if chart is not None else None}
        return SavedQuery.from_dict(self._lake._json("PATCH", f"/queries/{int(query_id)}", json=body))

    def delete_query(self, query_id: int) -> None:
        self._lake._json("DELETE", f"/queries/{int(query_id)}")

    # --- dashboards -------------------------------------------------------------------------------

    def create_dashboard(self, name: str, description: str | None = None, refresh_seconds: int = 60) -> Dashboard:
        body = {"name": name, "description": description, "refresh_seconds": refresh_seconds}
        return Dashboard.from_dict(self._lake._json("POST", "/dashboards", json=body))

    def dashboards(self) -> list[Dashboard]:
        return [Dashboard.from_dict(d) for d in self._lake._json("GET", "/dashboards")]

    def dashboard(self, dashboard_id: int) -> Dashboard:
        return Dashboard.from_dict(self._lake._json("GET", f"/dashboards/{int(dashboard_id)}"))

    def update_dashboard(
        self,
        dashboard_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        refresh_seconds: int | None = None,
    ) -> Dashboard:
        body = {"name": name, "description": description, "refresh_seconds": refresh_seconds}
        return Dashboard.from_dict(self._lake._json("PATCH", f"/dashboards/{int(dashboard_id)}", json=body))

    def delete_dashboard(self, dashboard_id: int) -> None:
        self._lake._json("DELETE", f"/dashboards/{int(dashboard_id)}")

    def pin(self, dashboard_id: int, query_id: int, width: int = 1) -> Dashboard:
        """Add a saved query's chart to a dashboard (at the end)."""
        body = {"query_id": query_id, "width": width}
        return Dashboard.from_dict(self._lake._json("POST", f"/dashboards/{int(dashboard_id)}/tiles", json=body))

    def unpin(self, dashboard_id: int, tile_id: int) -> Dashboard:
        path = f"/dashboards/{int(dashboard_id)}/tiles/{int(tile_id)}"
        return Dashboard.from_dict(self._lake._json("DELETE", path))
