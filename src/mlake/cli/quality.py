"""``mlake profile``, ``mlake check``, ``mlake suggest``, ``mlake report`` and ``mlake quality ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from mlake.cli.context import console, state
from mlake.cli.render import print_json, rich_table
from mlake.errors import ValidationError
from mlake.tables.names import TableName

app = typer.Typer(help="Metric history, anomalies, ML readiness and annotator agreement.", no_args_is_help=True)

TableArg = Annotated[str, typer.Argument(help="A table (shop.orders) or a SQL query in quotes.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SnapshotOpt = Annotated[int | None, typer.Option("--snapshot", help="Measure this snapshot of the table.")]
EngineOpt = Annotated[str, typer.Option(help="duckdb (in process) or ray (a table's data files over Ray tasks).")]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.2%}"


def profile(
    table: TableArg,
    snapshot: SnapshotOpt = None,
    key: Annotated[list[str] | None, typer.Option(help="Key column(s): duplicate keys are counted.")] = None,
    exact: Annotated[bool, typer.Option(help="Count distinct values exactly for every column.")] = False,
    save: Annotated[bool, typer.Option(help="Keep the metrics in the history.")] = True,
    engine: EngineOpt = "duckdb",
    as_json: JsonOpt = False,
) -> None:
    """Profile a table, snapshot or query: per-column statistics in a few scans."""
    p = state.lake().quality.profile(
        table, snapshot_id=snapshot, key=key or (), exact_distinct=exact, save=save, engine=engine
    )
    if as_json:
        print_json(p.to_dict())
        return
    head = f"[bold]{p.source}[/bold]  {p.rows:,} rows · {len(p.columns)} columns · {p.duplicate_rows:,} duplicate rows"
    if p.duplicate_keys is not None:
        head += f" · {p.duplicate_keys:,} duplicate keys"
    if p.freshness and p.freshness.newest is not None:
        head += f" · newest {p.freshness.column} {p.freshness.newest}"
    console.print(head)
    rows = []
    for c in p.columns:
        top = ", ".join(f"{v}" for v, _ in c.top_values[:3])
        stats = ""
        if c.kind == "numeric":
            stats = f"{c.min} … {c.max}, mean {c.mean:.4g}" if c.mean is not None else ""
        elif c.kind == "temporal":
            stats = f"{c.min} … {c.max}"
        elif c.kind == "string" and c.length_mean is not None:
            pattern = c.dominant_pattern()
            stats = f"len {c.length_min}–{c.length_max}" + (f", {pattern}" if pattern else "")
        distinct = f"{c.distinct:,}" + ("" if c.distinct_exact else " ≈") if c.distinct is not None else ""
        rows.append((c.name, c.type, _pct(c.null_rate), distinct, stats, top))
    console.print(rich_table(["column", "type", "nulls", "distinct", "range", "top values"], rows))
    console.print(f"[dim]{p.queries} query(ies), {p.seconds:.2f}s — `mlake report ... -o report.html` for charts[/dim]")


SuiteOpt = Annotated[
    str, typer.Option("--suite", "-s", help="A suite file (YAML), or the name of a suite stored for the table.")
]


def _suite(lake: Any, table: str, suite: str) -> Any:
    """A suite file when one exists at that path, else the table's stored suite of that name."""
    from mlake.quality.source import is_table_name

    path = Path(suite)
    named = bool(suite.strip()) and path.suffix.lower() not in (".yaml", ".yml") and is_table_name(table)
    if not path.is_file() and not named:
        raise ValidationError(f"Suite file {suite} does not exist")
    return lake.quality.resolve_suite(table, suite)


def check(
    table: TableArg,
    suite: SuiteOpt,
    snapshot: SnapshotOpt = None,
    samples: Annotated[int, typer.Option(help="Failing rows to show per check.")] = 3,
    save: Annotated[bool, typer.Option(help="Keep the results in the history.")] = True,
    engine: EngineOpt = "duckdb",
    as_json: JsonOpt = False,
) -> None:
    """Run a suite of checks (a file or a stored suite); exits with 1 when a check of severity error fails.

    A stored suite's kept run becomes its last result, as in Studio."""
    lake = state.lake()
    result = lake.quality.check(
        table, _suite(lake, table, suite), snapshot_id=snapshot, save=save, sample_rows=samples, engine=engine
    )
    if as_json:
        print_json(result.to_dict())
    else:
        style = {"pass": "green", "fail": "red", "warn": "yellow"}
        rows = [
            (Text(r.status, style=style[r.status]), r.check, r.severity, f"{r.metric} = {r.value}", r.message)
            for r in result.results
        ]
        console.print(rich_table(["status", "check", "severity", "metric", "result"], rows, title=result.suite))
        for r in result.results:
            if r.samples and not r.passed:
                console.print(f"[dim]failing rows of {r.check}:[/dim]")
                for s in r.to_dict()["samples"]:
                    console.print(f"  {json.dumps(s, default=str)}", markup=False)
        verdict = "[green]passed[/green]" if result.passed else "[red]failed[/red]"
        console.print(f"{verdict} — {result.rows:,} rows, {result.scans} scan(s), {result.seconds:.2f}s")
    if not result.passed:
        raise typer.Exit(1)


def suggest(
    table: TableArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the suite here (YAML).")] = None,
) -> None:
    """Suggest checks from a profile, as a YAML suite to edit and keep."""
    suggestion = state.lake().quality.suggest(table)
    if output is None:
        console.print(suggestion.yaml, markup=False, highlight=False)
        return
    suggestion.save(output)
    console.print(f"wrote {len(suggestion.suite.checks)} suggested check(s) to {output}")


def report(
    table: TableArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="report.html or report.json")],
    target: Annotated[str | None, typer.Option(help="Label column: add the ML readiness report.")] = None,
    suite: Annotated[
        str | None, typer.Option("--suite", "-s", help="Also run this suite (a file or a stored suite's name).")
    ] = None,
    key: Annotated[list[str] | None, typer.Option(help="Key column(s).")] = None,
    max_age: Annotated[str | None, typer.Option(help="Expected freshness, e.g. 1d (scores timeliness).")] = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Write a self-contained HTML (or JSON) quality report: profile, dimensions, checks, history, readiness."""
    if output.suffix.lower() not in (".html", ".htm", ".json"):
        raise ValidationError(f"Cannot tell the report format of {output}", hint="name it .html or .json")
    lake = state.lake()
    chosen = _suite(lake, table, suite) if suite is not None else None
    r = lake.quality.report(
        table, output, target=target, suite=chosen, key=key or (), max_age=max_age, snapshot_id=snapshot
    )
    overall = r.dimensions.overall if r.dimensions else None
    console.print(f"wrote {output} — overall quality {_pct(overall)}, {len(r.anomalies)} anomaly(ies)")


@app.command("suites")
def suites(
    table: Annotated[str | None, typer.Argument(help="Only this table's suites.")] = None,
    failing: Annotated[bool, typer.Option(help="Only suites whose last run failed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stored suites (kept per table, shared with Studio and the REST API) and their last results."""
    store = state.lake().quality.suites
    found = store.failing() if failing else store.list(table)
    if table is not None and failing:
        found = [s for s in found if s.table == str(TableName.parse(table))]
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    rows = []
    for s in found:
        last = (
            Text("never run")
            if s.last_run_at is None
            else (Text("passed", style="green") if s.last_passed else Text("failed", style="red"))
        )
        when = "" if s.last_run_at is None else s.last_run_at.strftime("%Y-%m-%d %H:%M")
        failed = ", ".join(str(r.get("check")) for r in s.failing[:3])
        rows.append((s.table, s.name, s.check_count, s.owner, last, when, failed))
    console.print(rich_table(["table", "suite", "checks", "owner", "last run", "at", "failing"], rows))


@app.command("store-suite")
def store_suite(
    table: Annotated[str, typer.Argument(help="The table the suite checks.")],
    name: Annotated[str, typer.Argument(help="The suite's name.")],
    file: Annotated[Path, typer.Argument(help="The suite (YAML).", exists=True, dir_okay=False)],
) -> None:
    """Store a suite for a table (or replace its checks), so that Studio, the REST API and `mlake check -s NAME`
    run the same checks."""
    stored = state.lake().quality.suites.save(table, name, file.read_text())
    console.print(f"stored suite {stored.name!r} for {stored.table} ({stored.check_count} check(s))")


@app.command("delete-suite")
def delete_suite(
    table: Annotated[str, typer.Argument(help="The table.")],
    name: Annotated[str, typer.Argument(help="The suite's name.")],
) -> None:
    """Delete a stored suite."""
    state.lake().quality.suites.delete(table, name)
    console.print(f"deleted suite {name!r} of {table}")


@app.command("history")
def history(
    table: TableArg,
    metric: Annotated[str | None, typer.Option(help="Only this metric (e.g. null_rate).")] = None,
    column: Annotated[str | None, typer.Option(help="Only this column.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored quality metrics of a table across runs."""
    data = state.lake().quality.history(table, metric=metric, column=column)
    if as_json:
        print_json(data.to_pylist())
        return
    cols = ["run_at", "kind", "column_name", "metric", "value", "passed"]
    console.print(rich_table(cols, [[r[c] for c in cols] for r in data.to_pylist()[-200:]]))


@app.command("anomalies")
def anomalies(
    table: TableArg,
    all_runs: Annotated[bool, typer.Option("--all", help="Look at every run, not only the newest.")] = False,
    z: Annotated[float, typer.Option(help="z-score threshold.")] = 4.0,
    seasonal: Annotated[int | None, typer.Option(help="Season length in runs (e.g. 7 for daily runs).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Metrics that jumped compared with earlier runs."""
    found = state.lake().quality.anomalies(table, all_runs=all_runs, z=z, seasonal_period=seasonal)
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    if not found:
        console.print("no anomalies")
        return
    console.print(rich_table(["run", "rule", "what changed"], [(a.run_at, a.rule, a.message) for a in found]))


@app.command("readiness")
def readiness(
    table: TableArg,
    target: Annotated[str, typer.Option(help="The label column to predict.")],
    data_kind: Annotated[str, typer.Option(help="tabular, timeseries, image, document or sentiment.")] = "tabular",
    series: Annotated[str | None, typer.Option(help="Series id column (time series).")] = None,
    text: Annotated[str | None, typer.Option(help="Text column (sentiment analysis).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The ML readiness report: balance, baseline, feature power and leakage, anomalies, sample size."""
    r = state.lake().quality.readiness(table, target, data_kind=data_kind, series=series, text=text)
    if as_json:
        print_json(r.to_dict())
        return
    b = r.baseline
    console.print(
        f"[bold]{r.source}[/bold] → {r.target} ({r.task}): {b['model']} {b['metric']} {b['score']:.3f} ± {b['std']:.3f}"
        f" (trivial {b['trivial_score']:.3f}); {r.anomalies['share']:.1%} anomalous rows"
    )
    console.print(
        rich_table(
            ["feature", r.feature_power[0].metric if r.feature_power else "score", "leakage"],
            [(f.feature, f"{f.score:.3f}", "possible: check" if f.leakage else "") for f in r.feature_power],
        )
    )
    console.print(
        rich_table(
            ["", "sample-size rule", "have", "need"],
            [("✔" if a.ok else "✘", a.rule, f"{a.actual:,.0f}", f"{a.required:,.0f}") for a in r.sample_size],
        )
    )
    if r.learning_curve.get("advice"):
        console.print(f"learning curve: {r.learning_curve['advice']}", markup=False)
    for w in r.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")


@app.command("agreement")
def agreement(
    table: TableArg,
    item: Annotated[str, typer.Option(help="Item id column.")] = "item",
    rater: Annotated[str, typer.Option(help="Annotator column.")] = "annotator",
    label: Annotated[str, typer.Option(help="Label column.")] = "label",
    level: Annotated[str, typer.Option(help="nominal (categories), ordinal, interval or ratio.")] = "nominal",
    as_json: JsonOpt = False,
) -> None:
    """Annotator agreement: Krippendorff's alpha, Fleiss' kappa, Cronbach's alpha, majority vote."""
    r = state.lake().quality.agreement(table, item=item, rater=rater, label=label, level=level)
    if as_json:
        print_json(r.to_dict())
        return

    def f(v: Any) -> str:
        return "—" if v is None else f"{v:.3f}"

    rows = [
        ("items / annotators / ratings", f"{r.items:,} / {r.annotators:,} / {r.ratings:,}"),
        (f"Krippendorff's alpha ({r.level})", f(r.krippendorff_alpha)),
        ("Fleiss' kappa", f(r.fleiss_kappa)),
        ("Cronbach's alpha", f(r.cronbach_alpha)),
        ("mean per-item agreement", f(r.mean_item_agreement)),
        ("items below 60% agreement", f"{len(r.low_agreement()):,}"),
    ]
    console.print(rich_table(["statistic", "value"], rows))
    for note in r.notes:
        console.print(note, style="dim", markup=False)
