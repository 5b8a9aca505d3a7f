"""Serving features over HTTP (FastAPI): online values for one or many entities, as JSON.

:func:`router` holds the serving routes (paths under ``/features``) once, for two apps (a face, so it lives
with the server):

- mlake's server (``mlake serve``) mounts them under ``/api/v1`` with the caller's governed lake, so
  tokens, grants, column masks, row filters and the audit log apply (see :mod:`mlake.features.store`);
- :func:`create_app` wraps them in an app of their own for ``mlake features serve``: a small process a
  model server can call, over the lake as it is — **no access control**, so bind it to loopback or a
  private network (``mlake serve`` serves the same endpoint with tokens).

Both answer the same paths with the same JSON, and errors as the same JSON problems
(``{code, message, hint, status}``)::

    POST /api/v1/features/online  {"features": ["customer_orders:spend_30d"], "entities": [{"customer_id": 7}]}
    -> {"features": ["spend_30d"], "results": [{"entity": {...}, "values": {...}, "statuses": {...},
        "event_times": {...}}]}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from mlake.features.lookup import OnlineFeatures
    from mlake.lake import Lake

MAX_ENTITIES = 10_000
API_PREFIX = "/api/v1"


class OnlineRequest(BaseModel):
    """Which features, for which entities (each a dict of entity key columns)."""

    features: list[Annotated[str, Field(max_length=300)]] = Field(
        min_length=1,
        max_length=1000,
        description='Features as "group:feature", or "group:*" for all of a group\'s features.',
        examples=[["customer_orders:spend_30d", "customer_clicks:*"]],
    )
    entities: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ENTITIES,
        description='Entities by their key columns, e.g. {"customer_id": 7}.',
        examples=[[{"customer_id": 7}]],
    )
    now: datetime | None = Field(default=None, description="The time TTLs are judged at (default: now).")
    request: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=MAX_ENTITIES,
        description="Request-time values, one object per entity in the same order: the features of groups "
        "defined by a recipe are computed from them with the group's fitted recipe.",
    )


class OnlineResult(BaseModel):
    entity: dict[str, Any] = Field(description="The entity as asked for.")
    values: dict[str, Any] = Field(description="Value per feature (output name); null when missing or expired.")
    statuses: dict[str, Literal["present", "missing", "expired"]] = Field(
        description="present: the latest value (may be null); missing: no value for this entity; "
        "expired: the latest value is older than the group's TTL (the same rule as training sets)."
    )
    event_times: dict[str, str | None] = Field(description="Per group: the event time of the values served.")


class OnlineResponse(BaseModel):
    features: list[str] = Field(description="Output names, in the order asked (group__feature on a clash).")
    results: list[OnlineResult] = Field(description="One per entity, in the order asked.")


def _json(value: Any) -> Any:
    from mlake.server.rows import json_value

    return json_value(value)


def online_json(result: OnlineFeatures) -> bytes:
    """The response body, built directly (the hot path: no model validation on the way out)."""
    body = result.to_dict()
    try:
        return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError):  # times, decimals, bytes, NaN: made JSON the way the rest of the API does
        return json.dumps(_json(body), separators=(",", ":")).encode()


def router(lake_of: Callable[..., Lake]) -> APIRouter:
    """The serving routes; ``lake_of`` is the FastAPI dependency that gives a request its lake."""
    # Module annotations are strings here (PEP 563): the lake comes as a default, not an annotated alias.
    lake_dependency = Depends(lake_of)
    api = APIRouter(prefix="/features", tags=["features"])

    @api.post(
        "/online",
        summary="Online feature values for one or many entities",
        response_model=OnlineResponse,
        responses={200: {"description": "Values, a status per value, and the event time of each group's values."}},
    )
    def online_features(body: OnlineRequest, lake: Any = lake_dependency) -> Response:
        """The latest value of each feature for each entity, with a status (present / missing / expired).

        Through mlake's server the caller needs SELECT on each group's offline table (`features.<group>`)
        and its columns; column masks are applied to the values and an entity hidden by a row filter is
        reported `missing`."""
        result = lake.features.get_online_features(body.entities, body.features, now=body.now, request=body.request)
        return Response(online_json(result), media_type="application/json")

    @api.get("/groups", summary="Feature groups")
    def list_groups(lake: Any = lake_dependency) -> list[dict[str, Any]]:
        """Every group the caller may see (through mlake's server: those whose offline table it may read)."""
        return [g.to_dict() for g in lake.features.groups()]

    @api.get("/groups/{name}", summary="Describe a feature group")
    def describe_group(
        name: Annotated[str, Path(max_length=128, description="The group's name.")],
        lake: Any = lake_dependency,
        statistics: bool = True,
        distributions: bool = False,
    ) -> JSONResponse:
        """Schema, statistics (and with `distributions=true` a histogram or top values per feature),
        entity keys, TTL, lineage, the training sets using it and the state of the online store."""
        info = lake.features.describe(name, statistics=statistics, distributions=distributions)
        return JSONResponse(_json(info.to_dict()))

    @api.get("/search", summary="Search feature groups and features")
    def search_features(
        lake: Any = lake_dependency,
        q: Annotated[str | None, Query(max_length=200, description="Words in names and descriptions.")] = None,
        tag: Annotated[str | None, Query(max_length=200, description="key or key=value.")] = None,
        owner: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[dict[str, Any]]:
        """Groups and features matching every filter given, best matches first."""
        return [h.to_dict() for h in lake.features.search(q, tag=tag, owner=owner)]

    return api


def create_app(lake: Lake) -> FastAPI:
    """A standalone app serving only features (``mlake features serve``); no access control."""
    from mlake.server.errors import install_error_handlers

    app = FastAPI(title="mlake feature serving", version="1", openapi_url=f"{API_PREFIX}/openapi.json")
    install_error_handlers(app)

    def this_lake() -> Lake:
        return lake

    app.include_router(router(this_lake), prefix=API_PREFIX)

    @app.get(f"{API_PREFIX}/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
