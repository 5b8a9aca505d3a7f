"""Studio: the Bias page — a form (table or SQL, facet, label, predicted label) and the report: positive
rates per facet with their intervals, every metric against its acceptable band with its bootstrap
interval, and the metrics table; computed as the viewer through ``lake.bias.report`` (a table the viewer
may not read is refused like anywhere else; a row filter applies).

With an attributions table (the ``<into>_global`` table ``lake.bias.explain(..., into=...)`` writes:
``feature``, ``mean_abs``), the page also draws mean |SHAP| per feature, read as the viewer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from mlake.bias.charts import attribution_chart, facet_chart, metric_chart
from mlake.bias.html import metric_rows_svg
from mlake.errors import MlakeError, ValidationError
from mlake.lake import Lake
from mlake.server.state import principal_lake
from mlake.server.studio.render import render

router = APIRouter(include_in_schema=False)
Lk = Annotated[Lake, Depends(principal_lake)]
Text = Annotated[str | None, Query(max_length=100_000)]
Many = Annotated[list[str] | None, Query(max_length=100)]
STUDIO_RESAMPLES = 300  # enough for a 95% interval to two digits, quick enough for a page


@router.get("/bias", response_class=HTMLResponse)
def bias_page(
    request: Request,
    lake: Lk,
    source: Text = None,
    facet: Text = None,
    facet_value: Many = None,
    label: Text = None,
    positive: Many = None,
    predicted: Text = None,
    predicted_threshold: Annotated[str | None, Query(max_length=50)] = None,
    attributions: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    form = {
        "source": source or "",
        "facet": facet or "",
        "facet_value": ", ".join(facet_value or []),
        "label": label or "",
        "positive": ", ".join(positive or []),
        "predicted": predicted or "",
        "predicted_threshold": "" if predicted_threshold is None else predicted_threshold,
        "attributions": attributions or "",
    }
    report = table_html = facets_svg = metrics_svg = attributions_svg = error = attributions_error = None
    if source and facet and label:
        try:
            threshold = _number(predicted_threshold)
            report = lake.bias.report(
                source,
                facet=facet,
                facet_values=_split(facet_value),
                label=label,
                positive_values=_split(positive),
                predicted=predicted or None,
                predicted_threshold=threshold,
                resamples=STUDIO_RESAMPLES,
            )
            table_html = Markup(metric_rows_svg(report))  # built from escaped text and numbers only
            facets_svg = Markup(facet_chart(report))  # the chart kit escapes every text
            metrics_svg = Markup(metric_chart(report))
        except MlakeError as exc:
            error = str(exc)
    if attributions and attributions.strip():
        try:
            attributions_svg = Markup(attribution_chart(_importance(lake, attributions.strip())))
        except MlakeError as exc:
            attributions_error = str(exc)
    return render(
        request,
        "bias/page.html",
        title="Bias",
        form=form,
        report=report,
        table_html=table_html,
        facets_svg=facets_svg,
        metrics_svg=metrics_svg,
        attributions_svg=attributions_svg,
        attributions_error=attributions_error,
        error=error,
    )


def _importance(lake: Lake, table: str) -> dict[str, float]:
    """Mean |SHAP| by feature from an attributions table, read as the viewer."""
    rows = lake.table(table).query(columns=["feature", "mean_abs"]).to_arrow().to_pylist()
    if not rows:
        raise ValidationError(f"the attributions table {table} is empty", hint="run lake.bias.explain(..., into=...)")
    return {str(r["feature"]): float(r["mean_abs"]) for r in rows if r["mean_abs"] is not None}


def _number(text: str | None) -> float | None:
    """The form's threshold field: empty means none."""
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise ValidationError(f"the prediction threshold {text!r} is not a number", hint="e.g. 0.5") from exc


def _split(values: list[str] | None) -> list[str] | None:
    """Values from repeated parameters or one comma-separated field."""
    out = [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]
    return out or None
