"""The REST API reference, rendered from the OpenAPI document by Studio (no CDN-hosted Swagger UI)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mlake.server.studio.render import render

_METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_schema_name(schema.get('items'))}]"
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    return str(schema.get("type", "object"))


def operations(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Operations grouped by tag, each with its parameters and request body, in document order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = (op.get("requestBody") or {}).get("content", {})
            media = next(iter(body), None)
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _schema_name(p.get("schema")),
                            "description": p.get("description") or (p.get("schema") or {}).get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _schema_name(body[media].get("schema")) if media else None,
                    "media": media,
                }
            )
    return groups


def router(prefix: str) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get(f"{prefix}/docs", response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        doc = request.app.openapi()
        schemas = doc.get("components", {}).get("schemas", {})
        return render(
            request,
            "api_docs.html",
            title="REST API",
            doc=doc,
            groups=operations(doc),
            schemas=schemas,
            prefix=prefix,
            tag_docs={t["name"]: t.get("description", "") for t in doc.get("tags", [])},
        )

    return r
