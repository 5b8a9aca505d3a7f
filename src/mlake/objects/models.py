"""The typed values of the objects area, shared by the core, REST and the remote client."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ObjectInfo:
    """One object's row of an object table: where its bytes are, what they are, what was read from them.

    The fields are the object table's columns (:data:`mlake.objects.service.OBJECT_SCHEMA`), in order."""

    id: str
    path: str | None = None
    """Where the file was added from."""
    uri: str | None = None
    """Where its bytes are (None when they could not be stored; see ``error``)."""
    copied: bool | None = None
    """Whether the bytes were copied into the warehouse (else the file is referenced where it was)."""
    size: int | None = None
    sha256: str | None = None
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    text_length: int | None = None
    line_count: int | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    label: str | None = None
    duplicate_of: str | None = None
    """The id of an object with the same content added before, if any."""
    error: str | None = None
    """Why the file could not be read or stored."""
    added_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as a dict (REST serves it as JSON, ``added_at`` as ISO text)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> ObjectInfo:
        """From a row of the table (a dict of its columns) or its JSON form."""
        values: dict[str, Any] = {f.name: row.get(f.name) for f in fields(cls)}
        if isinstance(values["added_at"], str):
            values["added_at"] = datetime.fromisoformat(values["added_at"])
        return cls(**values)
