"""``remote.objects``: object tables on an mlake server, with the calls of
:class:`~mlake.objects.service.LakeObjects` over ``/api/v1/objects``.

``add`` names files on the *server* (within its ``ingest_allowed`` folders), as the server reads them;
``list`` is a SQL result read through the server's governed SQL; bytes are streamed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from mlake.client.tables import RemoteResult
from mlake.objects.models import ObjectInfo
from mlake.objects.service import OBJECT_COLUMNS, AddReport, check_id
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


class RemoteObjects:
    """The objects area of a remote lake (``remote.objects``)."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def _path(self, table: str, object_id: str) -> str:
        return f"/objects/{quote(str(TableName.parse(table)), safe='')}/{check_id(object_id)}"

    def add(
        self,
        pattern: str | Path | Sequence[str | Path],
        into: str,
        *,
        copy: bool = True,
        label_from: Literal["folder"] | None = None,
        manifest: str | Path | None = None,
    ) -> AddReport:
        """Add files on the server to object table ``into``; see :meth:`LakeObjects.add`."""
        patterns = [str(pattern)] if isinstance(pattern, str | Path) else [str(p) for p in pattern]
        body = {
            "pattern": patterns,
            "into": into,
            "copy": copy,
            "label_from": label_from,
            "manifest": None if manifest is None else str(manifest),
        }
        out = self._lake._json("POST", "/objects/add", json=body)
        return AddReport(
            table=out["table"],
            files_seen=out["files_seen"],
            rows_written=out["rows_written"],
            bytes_stored=out["bytes_stored"],
            already_present=out["already_present"],
            duplicates=[(a, b) for a, b in out["duplicates"]],
            errors=[(a, b) for a, b in out["errors"]],
        )

    def list(self, table: str, *, limit: int | None = 100, where: str | None = None) -> RemoteResult:
        """The object table's rows, as a result of the server's governed SQL."""
        name = TableName.parse(table)
        sql = f"SELECT {', '.join(OBJECT_COLUMNS)} FROM {name}"
        if where:
            sql += f" WHERE {where}"
        sql += " ORDER BY path"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return RemoteResult(self._lake, sql)

    def get(self, table: str, object_id: str) -> ObjectInfo:
        """One object's row."""
        return ObjectInfo.from_dict(self._lake._json("GET", self._path(table, object_id) + "/info"))

    def open(self, table: str, object_id: str) -> bytes:
        """An object's bytes."""
        return self._lake.request("GET", self._path(table, object_id)).content

    read = open

    def stream(self, table: str, object_id: str, chunk_size: int = 1 << 20) -> tuple[ObjectInfo, Iterator[bytes]]:
        """An object's row, and its bytes in chunks as the server sends them."""
        row = self.get(table, object_id)
        path = self._path(table, object_id)

        def chunks() -> Iterator[bytes]:
            with self._lake.stream("GET", path) as response:
                yield from response.iter_bytes(chunk_size)

        return row, chunks()

    def thumbnail(self, table: str, object_id: str, size: int = 256) -> bytes:
        """A PNG thumbnail of an image object."""
        return self._lake.request("GET", self._path(table, object_id) + "/thumbnail", params={"size": size}).content
