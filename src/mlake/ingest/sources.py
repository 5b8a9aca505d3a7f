"""Where ingested data comes from: a file, a folder, a glob, or an http(s) URL.

Every source resolves to local files with a content hash (xxh3-128, fast enough to hash a 1 GB file in
well under a second), which keys the ingest log: the same content is not ingested twice.
URLs are downloaded to the lake's temp folder, hashed on the way, and removed afterwards.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import xxhash

from mlake.errors import IngestError, ValidationError
from mlake.events import Progress

FORMATS = ("csv", "tsv", "parquet", "json", "jsonl")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One file to ingest: where it is on disk, what the user called it, and its content hash."""

    path: Path
    display: str  # the path or URL the user gave, for reports and lineage
    kind: str  # "file" or "url"
    format: str
    content_hash: str
    size: int


def detect_format(name: str) -> str | None:
    lower = name.lower().split("?", 1)[0]
    for suffix in (".gz", ".zst", ".bz2"):
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
    return _EXTENSIONS.get(Path(lower).suffix)


def hash_file(path: Path) -> str:
    h = xxhash.xxh3_128()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _check_readable(path: Path, display: str) -> int:
    try:
        with path.open("rb") as f:
            f.read(1)
        return path.stat().st_size
    except FileNotFoundError as exc:
        raise IngestError(f"Cannot read {display}: no such file", hint="check the path") from exc
    except IsADirectoryError as exc:  # pragma: no cover - folders are expanded before this
        raise IngestError(f"Cannot read {display}: it is a folder") from exc
    except PermissionError as exc:
        raise IngestError(f"Cannot read {display}: permission denied", hint="check the file's permissions") from exc
    except OSError as exc:
        raise IngestError(f"Cannot read {display}: {exc.strerror or exc}") from exc


def _expand(item: str) -> list[tuple[Path, str]]:
    """Local paths for one source item (a file, a folder, or a glob)."""
    if any(ch in item for ch in "*?["):
        matches = sorted(p for p in glob.glob(os.path.expanduser(item), recursive=True) if Path(p).is_file())
        if not matches:
            raise IngestError(f"No files match {item!r}", hint="check the pattern; ** matches sub-folders")
        return [(Path(p), p) for p in matches]
    path = Path(os.path.expanduser(item))
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and detect_format(p.name) and not p.name.startswith(".")
        )
        if not files:
            raise IngestError(
                f"Folder {item} holds no files mlake can read",
                hint="supported: .csv .tsv .parquet .json .jsonl (optionally .gz)",
            )
        return [(p, str(p)) for p in files]
    return [(path, item)]


@contextmanager
def resolve_sources(
    source: str | Path | Sequence[str | Path],
    format: str | None,
    temp_dir: Path,
    progress: Progress,
) -> Iterator[list[SourceFile]]:
    """Resolve sources to hashed local files; downloaded files are removed on exit."""
    items = [str(source)] if isinstance(source, str | Path) else [str(s) for s in source]
    if not items:
        raise ValidationError("Nothing to ingest: no source given")
    if format is not None and format not in FORMATS:
        raise ValidationError(f"Unknown format {format!r}", hint=f"use one of {', '.join(FORMATS)}")
    downloads: list[Path] = []
    files: list[SourceFile] = []
    try:
        for item in items:
            if item.startswith(("http://", "https://")):
                path, digest, size = _download(item, temp_dir, progress)
                downloads.append(path)
                fmt = format or detect_format(item) or "csv"
                files.append(SourceFile(path, item, "url", fmt, digest, size))
                continue
            for path, display in _expand(item):
                size = _check_readable(path, display)
                detected = format or detect_format(path.name)
                if detected is None:
                    raise IngestError(
                        f"Cannot tell the format of {display} from its name",
                        hint="pass format='csv' (or --format csv) explicitly",
                    )
                files.append(SourceFile(path, display, "file", detected, hash_file(path), size))
        yield files
    finally:
        for p in downloads:
            p.unlink(missing_ok=True)


def _download(url: str, temp_dir: Path, progress: Progress) -> tuple[Path, str, int]:
    import httpx

    temp_dir.mkdir(parents=True, exist_ok=True)
    suffix = "".join(Path(url.split("?", 1)[0]).suffixes[-2:])
    fd, name = tempfile.mkstemp(prefix="download-", suffix=suffix, dir=temp_dir)
    path = Path(name)
    h = xxhash.xxh3_128()
    size = 0
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.stream("GET", url, follow_redirects=True, timeout=httpx.Timeout(30.0, read=300.0)) as resp,
        ):
            if resp.status_code >= 400:
                raise IngestError(
                    f"Cannot download {url}: HTTP {resp.status_code} {resp.reason_phrase}",
                    hint="check the URL and that the server is reachable",
                )
            total = int(resp.headers.get("content-length", 0)) or None
            with progress.task(f"download {url}", total=total, unit="bytes") as task:
                for chunk in resp.iter_bytes(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
                    task.advance(len(chunk))
    except httpx.HTTPError as exc:
        path.unlink(missing_ok=True)
        raise IngestError(f"Cannot download {url}: {exc}", hint="check the URL and the network") from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, h.hexdigest(), size
