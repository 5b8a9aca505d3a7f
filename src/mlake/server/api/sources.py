"""REST: the source registry — where data came from, under which license and terms — and provenance.

Every route is one call on ``lake.sources`` of the caller's governed lake, so the rules of
:mod:`mlake.sources.registry` hold: registering and removing sources is a superuser's, attaching needs
``insert`` on the table (detaching ``alter``), provenance and use checks need ``select`` on each table
asked about (a table the caller may not see is refused with the same message as a missing one).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from mlake.lake import Lake
from mlake.server.state import principal_lake

Lk = Annotated[Lake, Depends(principal_lake)]
SourceName = Annotated[str, Path(max_length=128, description="A registered source's name.")]
TableText = Annotated[str, Field(max_length=260)]


class SourceIn(BaseModel):
    name: str = Field(max_length=128)
    kind: str = Field(max_length=32, description="public, purchased, internal or generated.")
    provider: str | None = Field(default=None, max_length=500)
    license: str | None = Field(default=None, max_length=500)
    terms_url: str | None = Field(default=None, max_length=2000)
    allowed_uses: list[Annotated[str, Field(max_length=128)]] | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=500)
    acquired: date | None = None
    expires: date | None = None
    personal_data: bool = False
    description: str | None = Field(default=None, max_length=10_000)
    replace: bool = False


class TableIn(BaseModel):
    table: TableText


class TablesIn(BaseModel):
    tables: list[TableText] = Field(min_length=1, max_length=1000)


class UseIn(TablesIn):
    use: str = Field(max_length=128, examples=["model_training"])
    override: str | None = Field(default=None, max_length=2000, description="Why the use is allowed anyway.")
    what: str = Field(default="this data", max_length=500)


router = APIRouter(tags=["sources"])


@router.get("/sources", summary="Registered sources")
def list_sources(lake: Lk) -> list[dict[str, Any]]:
    return [s.to_dict() for s in lake.sources.list()]


@router.post("/sources", status_code=201, summary="Register a source (superusers)")
def register_source(body: SourceIn, lake: Lk) -> dict[str, Any]:
    values = body.model_dump(exclude={"name"})
    return lake.sources.register(body.name, **values).to_dict()


@router.get("/sources/{name}", summary="A registered source")
def get_source(name: SourceName, lake: Lk) -> dict[str, Any]:
    return lake.sources.get(name).to_dict()


@router.delete("/sources/{name}", status_code=204, summary="Forget a source (superusers; none attached)")
def remove_source(name: SourceName, lake: Lk) -> None:
    lake.sources.remove(name)


@router.post("/sources/{name}/attach", status_code=204, summary="Record that a table's rows come from a source")
def attach_source(name: SourceName, body: TableIn, lake: Lk) -> None:
    lake.sources.attach(body.table, name)


@router.post("/sources/{name}/detach", status_code=204, summary="Forget that a table's rows come from a source")
def detach_source(name: SourceName, body: TableIn, lake: Lk) -> None:
    lake.sources.detach(body.table, name)


@router.post("/sources/provenance", summary="Every source some tables derive from, through their lineage")
def provenance(body: TablesIn, lake: Lk) -> dict[str, Any]:
    return lake.sources.provenance(body.tables).to_dict()


@router.post("/sources/require-use", summary="Refuse a use that a source's terms forbid (or record an override)")
def require_use(body: UseIn, lake: Lk) -> dict[str, Any]:
    found = lake.sources.require_use(body.tables, body.use, override=body.override, what=body.what)
    return found.to_dict()
