"""Upload folders under ``<home>/tmp/uploads``: one per request, held by a lock while it is in use.

A request holds an exclusive ``flock`` on its folder's lock file from the first byte received until the
ingest is done; the operating system releases it when the process dies. A folder whose lock can be taken
therefore belongs to nobody — a server killed mid-upload left it — and :func:`sweep_uploads` removes it.
The server sweeps at start and before each upload, so a crashed upload costs disk space only until then.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from mlake.errors import ValidationError

_LOCK = ".lock"


def uploads_root(home: Path) -> Path:
    return home / "tmp" / "uploads"


@contextmanager
def upload_folder(home: Path) -> Iterator[Path]:
    """A fresh folder for one upload, locked while the caller uses it and removed afterwards."""
    folder = uploads_root(home) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


class _Reads(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Writes(Protocol):
    def write(self, data: bytes, /) -> object: ...


def copy_upload(source: _Reads, target: _Writes, total: int = 0, limit: int = 2 * 1024**3) -> int:
    """Copy an uploaded file in 1 MiB chunks; ``total`` is what the request sent before. Refused (with
    what to do instead) once the request passes ``limit`` bytes; returns the new total."""
    while chunk := source.read(1 << 20):
        total += len(chunk)
        if total > limit:
            raise ValidationError(
                f"Upload larger than {limit // 1024**3} GiB",
                hint="load large files with the CLI: mlake ingest PATH --into TABLE",
            )
        target.write(chunk)
    return total


def sweep_uploads(home: Path) -> int:
    """Remove the upload folders no live request holds; returns how many were removed."""
    root = uploads_root(home)
    if not root.is_dir():
        return 0
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        try:
            fd = os.open(folder / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError:
            continue  # removed meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a request is using it
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed
