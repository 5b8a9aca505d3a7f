"""``mlake bias report``: Clarify's bias metrics with confidence intervals, thin over ``lake.bias``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlake.cli.context import console, state
from mlake.cli.render import print_json, rich_table

app = typer.Typer(
    help="Bias reports: SageMaker Clarify's metrics with bootstrap confidence intervals.", no_args_is_help=True
)


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.4g}"


@app.command()
def report(
    source: Annotated[str, typer.Argument(help="A table (hr.applicants) or a SQL query in quotes.")],
    facet: Annotated[
        list[str],
        typer.Option(
            help="The sensitive column (with --facet-value or --facet-threshold), or a condition COL=V1,V2 or "
            "COL>T; repeat for an intersectional facet: --facet sex=Female --facet age>40 (all must hold)."
        ),
    ],
    label: Annotated[str, typer.Option(help="The label (observed outcome) column.")],
    facet_value: Annotated[list[str] | None, typer.Option(help="A value of the facet group d (repeat).")] = None,
    facet_threshold: Annotated[
        float | None, typer.Option(help="Facet group d: values above this (with one bare --facet COLUMN).")
    ] = None,
    positive: Annotated[list[str] | None, typer.Option(help="A positive label value (repeat).")] = None,
    label_threshold: Annotated[float | None, typer.Option(help="Positive label: values above this.")] = None,
    predicted: Annotated[str | None, typer.Option(help="The predicted label or score column.")] = None,
    predicted_threshold: Annotated[float | None, typer.Option(help="Positive prediction: a score above this.")] = None,
    metric: Annotated[list[str] | None, typer.Option(help="Only this metric (repeat), e.g. DPL.")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals (0: none).")] = 1000,
    snapshot: Annotated[int | None, typer.Option(help="Report on this snapshot of the table.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    html: Annotated[Path | None, typer.Option(help="Also write a self-contained HTML report here.")] = None,
) -> None:
    """Every Clarify metric the columns allow, with its 95% interval and the group sizes."""
    from mlake.bias.api import facet_from_options

    r = state.lake().bias.report(
        source,
        facet=facet_from_options(facet, facet_value, facet_threshold),
        label=label,
        positive_values=positive,
        label_threshold=label_threshold,
        predicted=predicted,
        predicted_threshold=predicted_threshold,
        metrics=metric,
        resamples=resamples,
        snapshot_id=snapshot,
    )
    if html is not None:
        from mlake.bias.html import report_html  # pandas and the bias core: only when a report is written

        html.write_text(report_html(r, f"Bias report: {source}"), encoding="utf-8")
    if as_json:
        print_json(r.to_dict())
        return
    console.print(
        f"[bold]bias of {escape(r.facet)}[/bold] · label {escape(r.label)}"
        + (f" · predicted {escape(r.predicted_label)}" if r.predicted_label else "")
        + f" · {r.rows:,} rows ({r.rows_excluded:,} left out)"
    )
    sizes = [
        (
            g.facet,
            f"{g.rows:,}",
            f"{g.label_positive:,}",
            "" if g.predicted_positive is None else f"{g.predicted_positive:,}",
        )
        for g in r.groups
    ]
    console.print(rich_table(["group", "rows", "label +", "predicted +"], sizes))
    rows = [
        (
            m.code,
            m.name,
            m.stage,
            _num(m.value),
            _num(m.ci.low) if m.ci else "",
            _num(m.ci.high) if m.ci else "",
            _num(m.ideal),
            m.note or "",
        )
        for m in r.metrics
    ]
    console.print(rich_table(["metric", "name", "stage", "value", "CI low", "CI high", "ideal", "note"], rows))
    for w in r.warnings:
        console.print(f"[yellow]warning[/yellow] {escape(w.code)}: {escape(w.message)}")
