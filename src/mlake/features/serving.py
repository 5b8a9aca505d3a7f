"""Serving features over HTTP (FastAPI): online values for one or many entities, as JSON.

``router(lake)`` is a self-contained ``APIRouter`` (paths under ``/features``) that the main mlake server
mounts under ``/api``; ``create_app(lake)`` wraps it in an app of its own for ``mlake features serve``,
so a model server can fetch features without the rest of mlake's server. Errors are JSON problems with
mlake's stable error codes.

    POST /api/features/online  {"features": ["customer_orders:spend_30d"], "entities": [{"customer_id": 7}]}
    -> {"features": [...], "results": [{"entity": {...}, "values": {...}, "statuses": {...}, ...}]}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mlake.errors import MlakeError

if TYPE_CHECKING:
    from mlake.features.store import FeatureStore
    from mlake.lake import Lake


class OnlineRequest(BaseModel):
    """Which features, for which entities (each a dict of entity key columns)."""

    features: list[str] = Field(min_length=1, examples=[["customer_orders:spend_30d"]])
    entities: list[dict[str, Any]] = Field(min_length=1, max_length=10_000, examples=[[{"customer_id": 7}]])


def _store(request: Request) -> FeatureStore:
    lake: Lake = request.state.mlake_features_lake
    return lake.features


def _problem(exc: MlakeError) -> HTTPException:
    return HTTPException(status_code=exc.http_status, detail=exc.to_dict())


async def online_features(body: OnlineRequest, store: FeatureStore = Depends(_store)) -> JSONResponse:
    """Latest values, a status per value (present / missing / expired) and the values' event times."""
    try:
        result = store.get_online_features(body.entities, body.features)
    except MlakeError as exc:
        raise _problem(exc) from exc
    return JSONResponse(result.to_dict())


async def list_groups(store: FeatureStore = Depends(_store)) -> JSONResponse:
    return JSONResponse([g.to_dict() for g in store.groups()])


def describe_group(name: str, statistics: bool = False, store: FeatureStore = Depends(_store)) -> JSONResponse:
    try:
        info = store.describe(name, statistics=statistics)
    except MlakeError as exc:
        raise _problem(exc) from exc
    import json

    return JSONResponse(json.loads(json.dumps(info, default=str)))


def search_features(
    q: str | None = None, tag: str | None = None, owner: str | None = None, store: FeatureStore = Depends(_store)
) -> JSONResponse:
    return JSONResponse([h.to_dict() for h in store.search(q, tag=tag, owner=owner)])


def router(lake: Lake) -> APIRouter:
    """The feature-serving routes, bound to ``lake``."""

    def bind_lake(request: Request) -> None:
        request.state.mlake_features_lake = lake

    api = APIRouter(prefix="/features", tags=["features"], dependencies=[Depends(bind_lake)])
    api.add_api_route("/online", online_features, methods=["POST"], summary="Online feature values")
    api.add_api_route("/groups", list_groups, methods=["GET"], summary="Feature groups")
    api.add_api_route("/groups/{name}", describe_group, methods=["GET"], summary="One feature group")
    api.add_api_route("/search", search_features, methods=["GET"], summary="Search groups and features")
    return api


def create_app(lake: Lake) -> FastAPI:
    """A standalone app serving only features (``mlake features serve``), under ``/api`` like the main server."""
    app = FastAPI(title="mlake feature serving", version="1")
    app.include_router(router(lake), prefix="/api")

    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/health", health, methods=["GET"])
    return app
