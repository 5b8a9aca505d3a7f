"""``mlake monitor create|run|status|report|list``: thin over ``lake.monitoring``; ``run`` exits 1 on violations."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from mlake.cli.context import console, state
from mlake.cli.render import print_json, rich_table
from mlake.errors import ValidationError

if TYPE_CHECKING:  # the monitor area imports pyiceberg and pandas: `mlake --help` must stay quick
    from mlake.monitor.monitors import MonitorRun

app = typer.Typer(
    help="Monitors: drift, data quality, model quality and bias drift against a baseline.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="The monitor's name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _violation_rows(violations: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    def num(v: Any) -> str:
        return "" if v is None else f"{v:.4g}"

    return [(v["check"], v["feature"], num(v["statistic"]), num(v["threshold"]), v["detail"]) for v in violations]


@app.command()
def create(
    name: NameArg,
    target: Annotated[str, typer.Option(help="The table to watch.")],
    baseline: Annotated[str | None, typer.Option(help="The baseline table (default: the target).")] = None,
    snapshot: Annotated[int | None, typer.Option(help="The baseline table's snapshot (default: current).")] = None,
    column: Annotated[list[str] | None, typer.Option(help="A feature to watch (repeat; default: all).")] = None,
    rows: Annotated[str, typer.Option(help="new (since the last run), all, or window.")] = "new",
    time_column: Annotated[str | None, typer.Option(help="With --rows window: the time column.")] = None,
    window_seconds: Annotated[float | None, typer.Option(help="With --rows window: its length.")] = None,
    label: Annotated[str | None, typer.Option(help="The ground-truth column (enables model quality).")] = None,
    predicted: Annotated[str | None, typer.Option(help="The prediction column.")] = None,
    label_table: Annotated[str | None, typer.Option(help="A table holding the labels, joined by --key.")] = None,
    key: Annotated[str | None, typer.Option(help="The join key of --label-table.")] = None,
    positive: Annotated[list[str] | None, typer.Option(help="A positive label value (repeat).")] = None,
    regression: Annotated[bool, typer.Option(help="The model is a regression.")] = False,
    webhook: Annotated[str | None, typer.Option(help="POST a JSON summary here when a run finds violations.")] = None,
    replace: Annotated[bool, typer.Option(help="Redefine an existing monitor.")] = False,
) -> None:
    """Compute the baseline and store the monitor."""
    from mlake.monitor.checks import Labels, MonitorConfig

    labels = None
    if label or predicted:
        values = tuple(json.loads(v) if v.lstrip("-").isdigit() else v for v in positive or []) or None
        labels = Labels(
            label or "",
            predicted or "",
            table=label_table,
            key=key,
            problem="regression" if regression else "classification",
            positive_values=values,
        )
    config = MonitorConfig(
        rows=rows, time_column=time_column, window_seconds=window_seconds, labels=labels, webhook=webhook
    )
    m = state.lake().monitoring.create(
        name,
        target=target,
        baseline=baseline,
        baseline_snapshot_id=snapshot,
        config=config,
        columns=column,
        replace=replace,
    )
    console.print(
        f"[green]monitor {escape(m.name)}[/green] on {m.target}: baseline {m.baseline_source}, "
        f"{len(m.baseline.columns)} features"
    )


@app.command()
def run(
    name: Annotated[str | None, typer.Argument(help="The monitor's name (or --due).")] = None,
    due: Annotated[bool, typer.Option("--due", help="Run every monitor whose target has new data.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a monitor once (or every due one); exit code 1 when a run finds violations."""
    monitoring = state.lake().monitoring
    if (name is None) == (not due):
        raise ValidationError("give a monitor's name or --due, not both", hint="mlake monitor run churn")
    runs = monitoring.run_due() if due else [monitoring.run(name or "")]
    if due and not as_json:
        console.print(f"{len(runs)} monitor(s) had new data")
    for r in runs:
        _show_run(r, as_json)
    if any(r.violations for r in runs):
        raise typer.Exit(1)


@app.command()
def watch(
    interval: Annotated[float, typer.Option(help="Seconds between looks at the targets.")] = 60.0,
    times: Annotated[int | None, typer.Option(help="Stop after this many looks (default: never).")] = None,
) -> None:
    """Run monitors whenever their target gets new data (a simple scheduler; cron + `run --due` works too)."""
    looks = 0
    while times is None or looks < times:
        for r in state.lake().monitoring.run_due():
            _show_run(r, False)
        looks += 1
        if times is None or looks < times:
            time.sleep(interval)


def _show_run(r: MonitorRun, as_json: bool) -> None:
    if as_json:
        print_json(r.to_dict())
    else:
        console.print(
            f"[bold]{escape(r.monitor)}[/bold] run {r.run_id[:12]}: {r.rows:,} rows, {r.status}"
            + (f", alert {escape(r.alert)}" if r.alert else "")
        )
        if r.violations:
            rows = _violation_rows([v.to_dict() for v in r.violations])
            console.print(rich_table(["check", "feature", "statistic", "threshold", "detail"], rows))


@app.command()
def status(name: NameArg, as_json: JsonOpt = False) -> None:
    """The monitor, its recent runs and the violations of the last run that had any."""
    monitoring = state.lake().monitoring
    m = monitoring.get(name)
    runs = monitoring.runs(name, limit=10)
    last_bad = next((r for r in runs if r.status == "violations"), None)
    violations = monitoring.violations(name, last_bad.run_id).to_pylist() if last_bad else []
    if as_json:
        print_json({"monitor": m.to_dict(), "runs": [r.to_dict() for r in runs], "violations": violations})
        return
    console.print(f"[bold]{escape(m.name)}[/bold] on {m.target} · baseline {m.baseline_source} · rows {m.config.rows}")
    run_rows = [
        (
            r.run_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.run_id[:12],
            f"{r.rows:,}",
            r.status,
            str(r.summary.get("violation_count", 0)),
        )
        for r in runs
    ]
    console.print(rich_table(["run at", "run", "rows", "status", "violations"], run_rows, title="recent runs"))
    if violations:
        shown = [{"check": v["check_name"], **v} for v in violations]
        console.print(
            rich_table(
                ["check", "feature", "statistic", "threshold", "detail"],
                _violation_rows(shown),
                title=f"violations of run {last_bad.run_id[:12] if last_bad else ''}",
            )
        )


@app.command()
def report(
    name: NameArg,
    html: Annotated[Path, typer.Option("--html", help="Write the self-contained HTML report to this file")],
    runs: Annotated[int, typer.Option(help="How many recent runs the report covers", min=1)] = 50,
) -> None:
    """Write the monitor's report — charts of every series with its threshold, drift per feature, the
    violations and the runs — as one HTML file with no external assets."""
    from mlake.monitor.html import monitor_report_html

    page = monitor_report_html(state.lake().monitoring, name, runs=runs)
    html.write_text(page, encoding="utf-8")
    console.print(f"Wrote the report of monitor [bold]{escape(name)}[/bold] to {escape(str(html))}")


@app.command("list")
def list_monitors(as_json: JsonOpt = False) -> None:
    """The monitors whose target you may read."""
    monitors = state.lake().monitoring.list()
    if as_json:
        print_json([m.to_dict() for m in monitors])
        return
    rows = [
        (
            m.name,
            m.target,
            m.config.rows,
            m.baseline_source,
            m.last_run_at.strftime("%Y-%m-%d %H:%M:%S") if m.last_run_at else "never",
        )
        for m in monitors
    ]
    console.print(rich_table(["monitor", "target", "rows", "baseline", "last run"], rows))
