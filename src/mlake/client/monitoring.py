"""``remote.monitoring``: monitors of :mod:`mlake.monitor` on an mlake server.

The same calls and return types as :class:`~mlake.monitor.monitors.Monitoring`: monitors travel with
their baseline and are rebuilt as :class:`~mlake.monitor.monitors.Monitor`, runs as
:class:`~mlake.monitor.monitors.MonitorRun`, violations as an Arrow table. The server applies the
caller's grants (a monitor whose target the caller may not read in full does not exist for it). A
``model`` (for attribution drift) is a Python object and stays in process: create such monitors and run
them with ``lake.monitoring`` beside the lake.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import pyarrow as pa

from mlake.monitor.checks import MonitorConfig
from mlake.monitor.monitors import Monitor, MonitorRun

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


def _at(now: datetime | None) -> dict[str, str]:
    return {"now": (now if now.tzinfo else now.replace(tzinfo=UTC)).isoformat()} if now is not None else {}


class RemoteMonitoring:
    """Create, list, run monitors on the server and read their runs and violations."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _path(self, name: str) -> str:
        return f"/monitors/{quote(name, safe='')}"

    def create(
        self,
        name: str,
        *,
        target: str,
        baseline: str | None = None,
        baseline_snapshot_id: int | None = None,
        config: MonitorConfig | None = None,
        columns: builtins.list[str] | None = None,
        categorical: builtins.list[str] | None = None,
        replace: bool = False,
    ) -> Monitor:
        """Compute the baseline on the server and store the monitor (see ``Monitoring.create``)."""
        body = {
            "name": name,
            "target": target,
            "baseline": baseline,
            "baseline_snapshot_id": baseline_snapshot_id,
            "config": (config or MonitorConfig()).to_dict(),
            "columns": columns,
            "categorical": categorical,
            "replace": replace,
        }
        made = self._lake._json("POST", "/monitors", json=body)
        return self.get(made["name"])

    def get(self, name: str) -> Monitor:
        return Monitor.from_wire(self._lake._json("GET", f"{self._path(name)}/definition"))

    def list(self) -> builtins.list[Monitor]:
        """The monitors whose target the caller may read."""
        return [self.get(m["name"]) for m in self._lake._json("GET", "/monitors")]

    def delete(self, name: str) -> None:
        self._lake._json("DELETE", self._path(name))

    def run(self, name: str, *, now: datetime | None = None) -> MonitorRun:
        """Check the target's new rows against the baseline, on the server; stored and alerted there."""
        return MonitorRun.from_dict(self._lake._json("POST", f"{self._path(name)}/run", params=_at(now)))

    def due(self) -> builtins.list[Monitor]:
        return [Monitor.from_wire(m) for m in self._lake._json("GET", "/monitoring/due")]

    def run_due(self, *, now: datetime | None = None) -> builtins.list[MonitorRun]:
        return [MonitorRun.from_dict(r) for r in self._lake._json("POST", "/monitoring/run-due", params=_at(now))]

    def runs(self, name: str, limit: int = 50) -> builtins.list[MonitorRun]:
        """The monitor's run records, newest first."""
        found = self._lake._json("GET", f"{self._path(name)}/runs", params={"limit": limit})
        return [MonitorRun.from_dict(r) for r in found]

    def violations(self, name: str, run_id: str | None = None) -> pa.Table:
        import pyarrow.ipc as ipc

        params = {"format": "arrow"} | ({"run_id": run_id} if run_id else {})
        body = self._lake.request("GET", f"{self._path(name)}/violations", params=params).content
        return ipc.open_stream(body).read_all()
