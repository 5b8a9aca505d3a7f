"""Shared parameter types: ids and snapshot ids within what the databases can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

MAX_ID = 2**62
RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="A record id.")]
SnapshotQuery = Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1, description="An Iceberg snapshot id.")]
SnapshotField = Annotated[int, Field(ge=-(2**63), le=2**63 - 1, description="An Iceberg snapshot id.")]
IdField = Annotated[int, Field(ge=1, le=MAX_ID)]
