"""``remote.storage``: storage usage, lifecycle policies and runs of :mod:`mlake.lifecycle` on a server.

The same calls and return types as :class:`~mlake.lifecycle.service.LakeStorage`; results travel as
their ``to_dict()`` and are rebuilt here. The server applies the access rules to the caller.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from mlake.lifecycle import (
    LifecyclePolicy,
    LifecycleReport,
    SnapshotPin,
    StorageReport,
    StoredPolicy,
    UsagePoint,
)
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


def _params(**values: Any) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, TableName) else v for k, v in values.items() if v is not None}


class RemoteStorage:
    """``remote.storage``: storage usage and its growth, lifecycle policies, and applying them."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def usage(
        self, table: str | TableName | None = None, namespace: str | None = None, *, record: bool = False
    ) -> StorageReport:
        """Storage of one table, a namespace's tables, or every table the caller may see."""
        params = _params(table=table, namespace=namespace, record=record)
        return StorageReport.from_dict(self._lake._json("GET", "/storage/usage", params=params))

    def history(
        self, table: str | TableName | None = None, namespace: str | None = None, *, limit: int = 10_000
    ) -> builtins.list[UsagePoint]:
        """Recorded measurements (oldest first)."""
        params = _params(table=table, namespace=namespace, limit=limit)
        return [UsagePoint.from_dict(p) for p in self._lake._json("GET", "/storage/history", params=params)]

    def set_policy(
        self, scope: str, policy: LifecyclePolicy | dict[str, Any] | None = None, **rules: Any
    ) -> StoredPolicy:
        """Set the lifecycle policy of a table (``ns.table``) or a namespace (``ns``)."""
        given = policy.set_fields() if isinstance(policy, LifecyclePolicy) else dict(policy or {})
        body = {"scope": scope, "policy": given | rules}
        return StoredPolicy.from_dict(self._lake._json("PUT", "/storage/policy", json=body))

    def get_policy(self, scope: str) -> StoredPolicy | None:
        found = self._lake._json("GET", "/storage/policy", params={"scope": scope})
        return StoredPolicy.from_dict(found) if found is not None else None

    def policies(self) -> builtins.list[StoredPolicy]:
        return [StoredPolicy.from_dict(p) for p in self._lake._json("GET", "/storage/policies")]

    def remove_policy(self, scope: str) -> None:
        self._lake._json("POST", "/storage/policy/remove", json={"scope": scope})

    def effective_policy(self, table: str | TableName) -> LifecyclePolicy:
        """The rules a run applies to ``table``."""
        return LifecyclePolicy(**self._lake._json("GET", "/storage/effective-policy", params={"table": str(table)}))

    def pins(self, table: str | TableName) -> builtins.list[SnapshotPin]:
        return [SnapshotPin(**p) for p in self._lake._json("GET", "/storage/pins", params={"table": str(table)})]

    def pin(self, table: str | TableName, tag: str, snapshot_id: int | None = None) -> SnapshotPin:
        """Tag a snapshot (the current one by default) so that no expiry removes it."""
        body = {"table": str(table), "tag": tag, "snapshot_id": snapshot_id}
        return SnapshotPin(**self._lake._json("POST", "/storage/pins", json=body))

    def unpin(self, table: str | TableName, tag: str) -> None:
        self._lake._json("POST", "/storage/pins/remove", json={"table": str(table), "tag": tag})

    def apply(
        self,
        table: str | TableName | None = None,
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        **overrides: Any,
    ) -> builtins.list[LifecycleReport]:
        """Apply lifecycle policies on the server (``dry_run``: report what would be done)."""
        body = {
            "table": str(table) if table is not None else None,
            "namespace": namespace,
            "dry_run": dry_run,
            "overrides": overrides,
        }
        return [LifecycleReport.from_dict(r) for r in self._lake._json("POST", "/storage/apply", json=body)]
