"""Object tables: files (images, text, audio, anything) stored in the warehouse, one row per object.

``lake.objects.add("photos/**/*.jpg", into="raw.photos")`` copies each file to
``<table location>/objects/<sha256>`` through the table's pyiceberg FileIO (so a local and an ``s3://``
warehouse work alike) and appends one row per file through :meth:`mlake.tables.table.Table.append`, the
commit choke point (lineage, grants, audit). Identical content is stored once: a second file with the
same hash gets its own row pointing at the first copy, with ``duplicate_of`` set. A file that claims a
type it does not hold (a garbled image) gets a row with an ``error`` reason; the batch goes on.

Reading (:meth:`LakeObjects.open`) finds the row through the table's governed query, so a principal
needs ``select`` on the object table to read an object's bytes.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from mlake.errors import NotFoundError, ObjectError, PermissionDeniedError, ValidationError
from mlake.objects.metadata import extract, thumbnail
from mlake.objects.models import ObjectInfo
from mlake.tables.lineage import LineageInput

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

    from mlake.lake import Lake
    from mlake.results import Result

OBJECT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("uri", pa.string()),
        pa.field("copied", pa.bool_()),
        pa.field("size", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("media_type", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("format", pa.string()),
        pa.field("text_length", pa.int64()),
        pa.field("line_count", pa.int64()),
        pa.field("duration_s", pa.float64()),
        pa.field("sample_rate", pa.int32()),
        pa.field("label", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("error", pa.string()),
        pa.field("added_at", pa.timestamp("us", tz="UTC")),
    ]
)
OBJECT_COLUMNS = tuple(OBJECT_SCHEMA.names)
_ID = re.compile(r"^[0-9a-f]{16}$")
LabelFrom = Literal["folder"] | None


@dataclass
class AddReport:
    """What :meth:`LakeObjects.add` did: rows written, bytes stored, duplicates and bad files."""

    table: str
    files_seen: int = 0
    rows_written: int = 0
    bytes_stored: int = 0
    already_present: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(path, id of the object whose content it repeats)"""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason)"""

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "files_seen": self.files_seen,
            "rows_written": self.rows_written,
            "bytes_stored": self.bytes_stored,
            "already_present": self.already_present,
            "duplicates": [list(d) for d in self.duplicates],
            "errors": [list(e) for e in self.errors],
        }


def object_id(path: str, sha256: str) -> str:
    """A stable id: the same file with the same content added twice is the same object."""
    return hashlib.sha256(f"{path}\0{sha256}".encode()).hexdigest()[:16]


def check_id(object_id: str) -> str:
    if not _ID.match(object_id):
        raise ObjectError(f"Object id {object_id!r} is malformed", hint="ids are 16 lowercase hex digits")
    return object_id


def _check_name(text: str) -> None:
    """A file name the operating system can take (a NUL byte makes every path call raise ValueError)."""
    if "\x00" in text or not text.strip():
        raise ValidationError(f"{text!r} is not a usable file name or pattern", hint="give a path or a glob")


def find_files(pattern: str | Path | Sequence[str | Path]) -> list[Path]:
    """The files a glob, a folder (all files below it) or a list of those names, sorted."""
    items = [pattern] if isinstance(pattern, str | Path) else list(pattern)
    out: set[Path] = set()
    for item in items:
        text = str(item)
        _check_name(text)
        try:
            path = Path(text).expanduser()
        except RuntimeError as exc:  # "~someone" for a user this machine does not know
            raise ObjectError(f"Cannot expand {text!r}: {exc}", hint="give a full path") from exc
        if path.is_dir():
            out.update(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            out.add(path)
        else:
            out.update(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    if not out:
        raise ObjectError(f"No files match {items!r}", hint="check the path or glob (use ** for subfolders)")
    return sorted(p.resolve() for p in out)


def require_within(pattern: str | Sequence[str], roots: Sequence[str | Path]) -> None:
    """Refuse a pattern naming server files outside ``roots``, whoever asks.

    Over REST the files are the *server's*: even a superuser's remote call may only name the folders the
    lake's owner opened (``ingest_allowed`` and the uploads folder), so no remote caller walks the server's
    home or root folder (``~`` is not expanded: it is a plain relative name here)."""
    items = [pattern] if isinstance(pattern, str) else list(pattern)
    bases = [Path(str(r)).expanduser().resolve() for r in roots if "://" not in str(r)]
    for text in items:
        _check_name(text)
        base = Path(text)
        while any(ch in base.name for ch in "*?[") and base != base.parent:
            base = base.parent  # a glob: the folder it searches
        if not any(base.resolve().is_relative_to(root) for root in bases):
            raise PermissionDeniedError(
                f"{text!r} is outside the folders this server lets remote callers read",
                hint="upload the files, or ask the lake's owner to add their folder to ingest_allowed",
            )


def read_manifest(manifest: str | Path) -> dict[str, str]:
    """Labels by file: a CSV with ``path,label`` columns, a JSON object ``{path: label}`` or a JSON list
    of ``{"path": ..., "label": ...}``. Paths match by full path, by relative path suffix or by name."""
    path = Path(manifest)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ObjectError(f"Cannot read manifest {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            items = data.items() if isinstance(data, dict) else ((d["path"], d["label"]) for d in data)
            return {str(k): str(v) for k, v in items}
        rows = list(csv.DictReader(text.splitlines()))
        return {r["path"]: r["label"] for r in rows}
    except (KeyError, TypeError, ValueError) as exc:
        raise ObjectError(
            f"Manifest {path} is not a path→label mapping ({exc})",
            hint="use a CSV with path,label columns or a JSON object {path: label}",
        ) from exc


def _label_for(file: Path, labels: dict[str, str]) -> str | None:
    text = file.as_posix()
    for key, label in labels.items():
        if text == key or text.endswith("/" + key.lstrip("./")) or file.name == key:
            return label
    return None


class LakeObjects:
    """The objects area of a lake (``lake.objects``)."""

    def __init__(self, lake: Lake, require_source: Callable[[Sequence[str | Path] | str | Path], None]) -> None:
        self._lake = lake
        self._require_source = require_source

    # --- writing ----------------------------------------------------------------------------------

    def add(
        self,
        pattern: str | Path | Sequence[str | Path],
        into: str,
        *,
        copy: bool = True,
        label_from: LabelFrom = None,
        manifest: str | Path | None = None,
    ) -> AddReport:
        """Add the files ``pattern`` names to object table ``into`` (created when missing).

        ``copy=False`` references the files where they are instead of copying them. ``label_from="folder"``
        labels each file with its folder's name; ``manifest`` gives labels from a CSV/JSON file."""
        lake = self._lake
        with lake.audited("objects.add", [into], str(pattern)[:500]):
            self._require_source(pattern if isinstance(pattern, str | Path) else list(pattern))
            if label_from not in (None, "folder"):
                raise ValidationError(f"label_from={label_from!r} is unknown", hint='use "folder" or a manifest')
            files = find_files(pattern)
            labels = read_manifest(manifest) if manifest is not None else {}
            table = lake.table(into)
            if not lake.table_exists(into):
                lake.create_table(into, schema=OBJECT_SCHEMA, exist_ok=True)
            elif not set(OBJECT_COLUMNS) <= set(table.columns):
                missing = sorted(set(OBJECT_COLUMNS) - set(table.columns))
                raise ObjectError(
                    f"Table {into} is not an object table (it lacks {missing})",
                    hint="add objects into a new table",
                )
            iceberg = lake.iceberg_table(into)
            io, location = iceberg.io, iceberg.location().rstrip("/")
            known_ids, by_hash = self._known(into)
            report = AddReport(table=str(table.name), files_seen=len(files))
            rows: list[dict[str, Any]] = []
            now = datetime.now(UTC)
            with lake.progress.task(f"Adding objects to {table.name}", total=len(files), unit="files") as task:
                for file in files:
                    row = self._one(file, io, location, copy, known_ids, by_hash, report, now)
                    if row is not None:
                        if label_from == "folder":
                            row["label"] = file.parent.name
                        if labels:
                            row["label"] = _label_for(file, labels) or row["label"]
                        rows.append(row)
                    task.advance()
            if rows:
                table.append(
                    pa.Table.from_pylist(rows, schema=OBJECT_SCHEMA),
                    command=f"objects add {pattern} into {table.name}",
                    inputs=[LineageInput("file", str(pattern), f"{len(files)} files")],
                )
            report.rows_written = len(rows)
            return report

    def _known(self, name: str) -> tuple[set[str], dict[str, tuple[str, str]]]:
        """Ids already in the table, and for each content hash the (id, uri) of its stored copy."""
        existing = self._lake.table(name).to_arrow(columns=["id", "sha256", "uri", "copied", "duplicate_of"])
        by_hash: dict[str, tuple[str, str]] = {}
        for r in existing.to_pylist():
            if r["copied"] and not r["duplicate_of"] and r["sha256"]:
                by_hash.setdefault(r["sha256"], (r["id"], r["uri"]))
        return set(existing.column("id").to_pylist()), by_hash

    def _one(
        self,
        file: Path,
        io: FileIO,
        location: str,
        copy: bool,
        known_ids: set[str],
        by_hash: dict[str, tuple[str, str]],
        report: AddReport,
        now: datetime,
    ) -> dict[str, Any] | None:
        path = str(file)
        try:
            data = file.read_bytes()
        except OSError as exc:
            report.errors.append((path, f"unreadable file: {exc}"))
            return _row(object_id(path, ""), path, None, False, None, None, None, now, error=str(exc))
        sha = hashlib.sha256(data).hexdigest()
        oid = object_id(path, sha)
        if oid in known_ids:
            report.already_present += 1
            return None
        known_ids.add(oid)
        meta = extract(path, data)
        if meta.error:
            report.errors.append((path, meta.error))
        duplicate_of = None
        if copy and sha in by_hash:
            duplicate_of, uri = by_hash[sha]
            report.duplicates.append((path, duplicate_of))
        elif copy:
            uri = f"{location}/objects/{sha}"
            with io.new_output(uri).create(overwrite=True) as out:
                out.write(data)
            report.bytes_stored += len(data)
            by_hash[sha] = (oid, uri)
        else:
            uri = file.as_uri()
        row = _row(oid, path, uri, copy, len(data), sha, meta.media_type, now, error=meta.error)
        row.update(
            width=meta.width,
            height=meta.height,
            format=meta.format,
            text_length=meta.text_length,
            line_count=meta.line_count,
            duration_s=meta.duration_s,
            sample_rate=meta.sample_rate,
            duplicate_of=duplicate_of,
        )
        return row

    # --- reading ----------------------------------------------------------------------------------

    def list(self, table: str, *, limit: int | None = 100, where: str | None = None) -> Result:
        """The object table's rows (governed as any table read)."""
        return self._lake.table(table).query(list(OBJECT_COLUMNS), where, limit=limit, order_by="path")

    def get(self, table: str, object_id: str) -> ObjectInfo:
        """One object's row; NotFoundError when the table has no such id."""
        rows = self._lake.table(table).query(list(OBJECT_COLUMNS), f"id = '{check_id(object_id)}'").to_pylist()
        if not rows:
            raise NotFoundError(f"Object {object_id} is not in {table}", hint=f"`mlake objects list {table}`")
        return ObjectInfo.from_dict(rows[0])

    def open(self, table: str, object_id: str) -> bytes:
        """An object's bytes; the caller needs ``select`` on the object table."""
        _, chunks = self.stream(table, object_id)
        return b"".join(chunks)

    def stream(self, table: str, object_id: str, chunk_size: int = 1 << 20) -> tuple[ObjectInfo, Iterator[bytes]]:
        """An object's row and its bytes in chunks (for serving large objects without holding them).

        The row is looked up (and access checked) now, before the first chunk is asked for."""
        row = self.get(table, object_id)
        if not row.uri:
            raise NotFoundError(f"Object {object_id} in {table} has no stored content ({row.error})")
        with self._lake.audited("objects.read", [table], object_id):
            stream = self._lake.iceberg_table(table).io.new_input(row.uri).open()

        def chunks() -> Iterator[bytes]:
            with stream:
                while block := stream.read(chunk_size):
                    yield block

        return row, chunks()

    read = open

    def thumbnail(self, table: str, object_id: str, size: int = 256) -> bytes:
        """A PNG thumbnail of an image object, cached by content hash under the lake's home."""
        row = self.get(table, object_id)
        if not str(row.media_type).startswith("image/") or row.error:
            raise ObjectError(f"Object {object_id} in {table} is not a readable image", hint="open it instead")
        if not 16 <= size <= 1024:
            raise ValidationError(f"Thumbnail size {size} is out of range", hint="use 16 to 1024 pixels")
        cache = self._lake.settings.home / "cache" / "thumbnails" / f"{row.sha256}-{size}.png"
        if cache.exists():
            return cache.read_bytes()
        png = thumbnail(self.open(table, object_id), size)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_bytes(png)
        tmp.replace(cache)
        return png


def _row(
    oid: str,
    path: str,
    uri: str | None,
    copied: bool,
    size: int | None,
    sha: str | None,
    media_type: str | None,
    now: datetime,
    *,
    error: str | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(OBJECT_COLUMNS)
    row.update(
        id=oid,
        path=path,
        uri=uri,
        copied=copied,
        size=size,
        sha256=sha,
        media_type=media_type,
        error=error,
        added_at=now,
    )
    return row
