"""REST: ``POST /bias/report`` — Clarify's bias metrics with confidence intervals, as the caller may read.

A facet is one column (``facet`` with ``facet_values`` or ``facet_threshold``) or, intersectional, a list
of conditions (``facets``) that must all hold. Thin over ``lake.bias.report`` of the caller's lake: a
table the caller has no grant on is refused (403 or 404, as for any read), and a row filter or mask
applies to the rows the report is computed from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from mlake.bias.html import report_html
from mlake.bias.spec import Facet, Scalar
from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.server.state import principal_lake

router = APIRouter(tags=["monitoring"])
Lk = Annotated[Lake, Depends(principal_lake)]
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
Values = Annotated[list[Scalar] | None, Field(default=None, max_length=1000)]


class FacetConditionIn(BaseModel):
    column: str = Field(min_length=1, max_length=200)
    values: Values = None
    threshold: float | None = Field(default=None, description="Values greater than this are in the group.")


class BiasReportIn(BaseModel):
    source: str = Field(min_length=1, max_length=100_000, description="A table name or a SQL query.")
    facet: str | None = Field(
        default=None, max_length=200, description="The sensitive column (with facet_values or facet_threshold)."
    )
    facet_values: Values = None
    facet_threshold: float | None = None
    facets: list[FacetConditionIn] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Instead of facet: an intersectional facet, the rows meeting every condition "
        '(e.g. [{"column": "sex", "values": ["Female"]}, {"column": "age", "threshold": 40}]).',
    )
    label: str = Field(max_length=200, description="The label column.")
    positive_values: Values = None
    label_threshold: float | None = None
    predicted: str | None = Field(default=None, max_length=200, description="The predicted label or score column.")
    predicted_threshold: float | None = None
    metrics: list[str] | None = Field(default=None, max_length=50)
    resamples: int = Field(default=1000, ge=0, le=5000)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    snapshot_id: int | None = None
    seed: int | None = Field(default=0, description="The bootstrap's seed (null: a fresh one each time).")
    format: Literal["json", "html"] = Field(default="json", description="html: a self-contained page with CI bars.")


@router.post("/bias/report", summary="A bias report of a table or query", response_model=None)
def bias_report(body: BiasReportIn, lake: Lk) -> dict[str, Any] | HTMLResponse:
    args = body.model_dump(exclude={"format", "facets"})
    if body.facets is not None:
        if body.facet is not None:
            raise ValidationError("give either facets or facet, not both", hint="put every condition in facets")
        args["facet"] = Facet.from_dicts([c.model_dump() for c in body.facets])
    elif body.facet is None:
        raise ValidationError("a bias report needs facet or facets", hint='e.g. "facet": "sex"')
    report = lake.bias.report(**args)
    if body.format == "html":
        page = report_html(report, f"Bias report: {body.source[:200]}")
        return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP})
    return report.to_dict()
