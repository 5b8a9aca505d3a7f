"""REST: upload files into a table (CSV, Parquet, JSON/JSONL), with quarantine of bad rows."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile

from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.server.state import principal_lake
from mlake.server.uploads import copy_upload, sweep_uploads, upload_folder
from mlake.tables.names import TableName

Lk = Annotated[Lake, Depends(principal_lake)]
MAX_UPLOAD_BYTES = 2 * 1024**3
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def router() -> APIRouter:
    r = APIRouter(tags=["ingest"])

    @r.post("/ingest", status_code=201, summary="Upload files into a table")
    def ingest(
        lake: Lk,
        files: Annotated[list[UploadFile], File(description="One or more CSV, Parquet, JSON or JSONL files.")],
        table: Annotated[str, Form(max_length=260, description="namespace.table to load into.")],
        mode: Annotated[Literal["append", "overwrite"], Form()] = "append",
        format: Annotated[Literal["csv", "tsv", "parquet", "json", "jsonl"] | None, Form()] = None,
        description: Annotated[str | None, Form(max_length=2000)] = None,
        source: Annotated[str | None, Form(max_length=200, description="A registered source (lake.sources).")] = None,
    ) -> dict[str, Any]:
        name = TableName.parse(table)
        sweep_uploads(lake.settings.home)  # folders of uploads a killed server left behind
        with upload_folder(lake.settings.home) as folder:
            paths = []
            total = 0
            for i, f in enumerate(files):
                base = _SAFE.sub("_", (f.filename or f"upload-{i}").rsplit("/", 1)[-1]).lstrip(".") or f"upload-{i}"
                path = folder / f"{i:03d}-{base}"
                with path.open("wb") as out:
                    total = copy_upload(f.file, out, total, MAX_UPLOAD_BYTES)
                paths.append(str(path))
            if not paths:
                raise ValidationError("No file was uploaded")
            options: dict[str, Any] = {"mode": mode}
            if format:
                options["format"] = format
            if description:
                options["description"] = description
            report = lake.ingest(paths, into=str(name), source=source, **options)
        out_report = report.to_dict()
        out_report["summary"] = report.summary()
        return out_report

    return r
