"""REST: health, who am I, which areas this server has."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from mlake import __version__
from mlake.lake import Lake
from mlake.server.extensions import load_areas
from mlake.server.state import principal_lake, state_of

router = APIRouter(tags=["server"])


@router.get("/health", summary="Liveness (no token needed)")
def health(request: Request) -> dict[str, Any]:
    st = state_of(request)
    return {"status": "ok", "version": __version__, "auth": st.settings.auth}


@router.get("/me", summary="The caller and what it may do")
def me(lake: Annotated[Lake, Depends(principal_lake)]) -> dict[str, Any]:
    return lake.me().to_dict()


@router.get("/areas", summary="The areas (parts of mlake) this server offers")
def areas() -> list[dict[str, Any]]:
    return [{"name": a.name, "nav": [n.title for n in a.nav]} for a in load_areas()]
