"""Studio: the Bias page — a form (table or SQL, facet, label, predicted label) and the report: positive
rates per facet with their intervals, every metric against its acceptable band with its bootstrap
interval, and the metrics table; computed as the viewer through ``lake.bias.report`` (a table the viewer
may not read is refused like anywhere else; a row filter applies).

Facet d may span several columns (an intersectional facet: rows meeting every condition): the form has a
row per facet column, each with values or a numeric threshold, and an "Add a facet column" button that
submits the form and gets it back with one more row — rendered on the server, no script.

With an attributions table (the ``<into>_global`` table ``lake.bias.explain(..., into=...)`` writes:
``feature``, ``mean_abs``), the page also draws mean |SHAP| per feature, read as the viewer."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from mlake.bias.charts import attribution_chart, facet_chart, metric_chart
from mlake.bias.html import metric_rows_svg
from mlake.bias.spec import Condition, Facet
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
    facet: Many = None,
    facet_value: Many = None,
    facet_threshold: Many = None,
    add_facet: Annotated[str | None, Query(max_length=10)] = None,
    label: Text = None,
    positive: Many = None,
    label_threshold: Annotated[str | None, Query(max_length=50)] = None,
    predicted: Text = None,
    predicted_threshold: Annotated[str | None, Query(max_length=50)] = None,
    attributions: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    rows = _facet_rows(facet, facet_value, facet_threshold)
    shown = [r for r in rows if any(r.values())] or [_EMPTY_ROW]
    if add_facet and len(shown) < MAX_FACET_COLUMNS:
        shown.append(_EMPTY_ROW)
    form = {
        "source": source or "",
        "facets": shown,
        "label": label or "",
        "positive": ", ".join(positive or []),
        "label_threshold": label_threshold or "",
        "predicted": predicted or "",
        "predicted_threshold": "" if predicted_threshold is None else predicted_threshold,
        "attributions": attributions or "",
    }
    report = table_html = facets_svg = metrics_svg = attributions_svg = error = attributions_error = None
    if source and label and any(r["column"] for r in rows) and not add_facet:
        try:
            report = lake.bias.report(
                source,
                facet=_facet(rows),
                label=label,
                positive_values=_split(positive),
                label_threshold=_number(label_threshold, "label threshold"),
                predicted=predicted or None,
                predicted_threshold=_number(predicted_threshold, "prediction threshold"),
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


MAX_FACET_COLUMNS = 8
_EMPTY_ROW = {"column": "", "values": "", "threshold": ""}


def _facet_rows(
    columns: list[str] | None, values: list[str] | None, thresholds: list[str] | None
) -> list[dict[str, str]]:
    """The form's facet rows: the i-th ``facet``, ``facet_value`` and ``facet_threshold`` fields belong
    together (the form sends every row's fields, empty ones too). With one facet column, every
    ``facet_value`` parameter is one of its values (a link may repeat it)."""
    columns = [c.strip() for c in columns or []]
    values = values or []
    thresholds = thresholds or []
    if len(columns) <= 1:
        return [
            {
                "column": columns[0] if columns else "",
                "values": ", ".join(v.strip() for v in values if v.strip()),
                "threshold": next((t.strip() for t in thresholds if t.strip()), ""),
            }
        ]
    return [
        {
            "column": c,
            "values": values[i].strip() if i < len(values) else "",
            "threshold": thresholds[i].strip() if i < len(thresholds) else "",
        }
        for i, c in enumerate(columns)
    ]


def _facet(rows: list[dict[str, str]]) -> Facet:
    """Facet d from the form's rows: each row with a column is one condition (values, or a number the
    values must exceed); several rows are an intersectional facet."""
    conditions = []
    for row in rows:
        if not row["column"]:
            continue
        threshold = _number(row["threshold"], f"facet threshold of {row['column']!r}")
        values = _split([row["values"]])
        if threshold is not None and values is not None:
            raise ValidationError(
                f"the facet column {row['column']!r} has both values and a threshold",
                hint="give values (e.g. Female) or a threshold (e.g. 40 for values above 40)",
            )
        if threshold is None and values is None:
            raise ValidationError(
                f"the facet column {row['column']!r} needs values or a threshold",
                hint="e.g. Female, or 40 for values above 40",
            )
        conditions.append(Condition(row["column"], tuple(values) if values is not None else None, threshold))
    return Facet(tuple(conditions))


def _importance(lake: Lake, table: str) -> dict[str, float]:
    """Mean |SHAP| by feature from an attributions table, read as the viewer."""
    rows = lake.table(table).query(columns=["feature", "mean_abs"]).to_arrow().to_pylist()
    if not rows:
        raise ValidationError(f"the attributions table {table} is empty", hint="run lake.bias.explain(..., into=...)")
    return {str(r["feature"]): float(r["mean_abs"]) for r in rows if r["mean_abs"] is not None}


def _number(text: str | None, what: str) -> float | None:
    """A threshold field of the form: empty means none."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise ValidationError(f"the {what} {text!r} is not a number", hint="e.g. 0.5 or 40") from exc
    if not math.isfinite(value):
        raise ValidationError(f"the {what} must be a finite number, not {text!r}")
    return value


def _split(values: list[str] | None) -> list[str] | None:
    """Values from repeated parameters or one comma-separated field."""
    out = [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]
    return out or None
