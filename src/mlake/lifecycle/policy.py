"""What a lifecycle policy says, and how a table's effective policy is put together.

A policy is a set of rules, each optional. A table's effective policy takes each rule from the first
place that sets it: the caller's explicit options, the table's policy, its namespace's policy, then
:data:`DEFAULTS` (what ``mlake maintain`` has always done: expire snapshots older than 7 days beyond the
last 5, compact, remove orphans older than an hour). Retention and tiering happen only when a policy
asks for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlake.maintenance import parse_duration


class LifecyclePolicy(BaseModel):
    """The rules of one table or namespace (None: not set here, taken from the next level)."""

    model_config = ConfigDict(extra="forbid")

    expire_older_than: str | None = Field(default=None, description="Expire snapshots older than this, e.g. 30d.")
    retain_last: int | None = Field(default=None, ge=1, le=100_000, description="Always keep this many snapshots.")
    retention_days: float | None = Field(default=None, gt=0, description="Delete rows older than this many days.")
    time_column: str | None = Field(
        default=None, max_length=200, description="The column retention and tiering age rows by."
    )
    compact: bool | None = Field(default=None, description="Rewrite small files into bigger ones.")
    target_file_bytes: int | None = Field(default=None, ge=1 << 10, le=1 << 34)
    tier_after_days: float | None = Field(
        default=None, gt=0, description="Move files whose rows are all older than this."
    )
    tier_location: str | None = Field(default=None, max_length=2000, description="A colder folder or bucket prefix.")
    tier_zstd_level: int | None = Field(default=None, ge=1, le=22, description="zstd level of tiered files.")
    metadata_versions_kept: int | None = Field(
        default=None, ge=1, le=10_000, description="Keep this many old metadata files (Iceberg keeps 100)."
    )
    remove_orphans: bool | None = Field(default=None, description="Delete files no snapshot references.")
    orphan_grace: str | None = Field(default=None, description="Leave orphans younger than this (in-flight writes).")

    @field_validator("expire_older_than", "orphan_grace")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> LifecyclePolicy:
        if self.tier_location is not None and not self.tier_location.strip():
            raise ValueError("tier_location is empty")
        return self

    def set_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def over(self, base: LifecyclePolicy) -> LifecyclePolicy:
        """This policy's rules, and ``base``'s where this one sets none."""
        return LifecyclePolicy(**(base.set_fields() | self.set_fields()))

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.set_fields().items()) or "(no rules)"


DEFAULTS = LifecyclePolicy(expire_older_than="7d", retain_last=5, compact=True, remove_orphans=True, orphan_grace="1h")
DEFAULT_TIER_ZSTD_LEVEL = 15


class StoredPolicy(BaseModel):
    """A policy as stored for a table or namespace, with who set it and when."""

    scope: str
    kind: str  # table | namespace
    policy: LifecyclePolicy
    set_by: str
    set_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredPolicy:
        return cls.model_validate(data)
