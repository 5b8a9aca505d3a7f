"""Storage usage and lifecycle policies (retention, tiering, compaction, expiry); see :mod:`mlake.lifecycle.service`."""

from __future__ import annotations

from mlake.lifecycle.policy import LifecyclePolicy, StoredPolicy
from mlake.lifecycle.service import LakeStorage, LifecycleAction, LifecycleReport, SnapshotPin
from mlake.lifecycle.usage import NamespaceUsage, StorageReport, TableUsage, UsagePoint

__all__ = [
    "LakeStorage",
    "LifecycleAction",
    "LifecyclePolicy",
    "LifecycleReport",
    "NamespaceUsage",
    "SnapshotPin",
    "StorageReport",
    "StoredPolicy",
    "TableUsage",
    "UsagePoint",
]
