"""``mlake pipelines ...`` and ``mlake worker``: thin over ``lake.pipelines``."""

from __future__ import annotations

import threading
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from mlake.cli.context import console, state
from mlake.cli.render import print_json, rich_table

app = typer.Typer(
    help="Pipelines: DAGs of checks, recipes, SQL and Python steps; runs and triggers.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("save")
def save(path: Annotated[Path, typer.Argument(help="A pipeline YAML file.", exists=True, dir_okay=False)]) -> None:
    """Save (or replace) a pipeline from YAML."""
    p = state.lake().pipelines.save(path.read_text())
    console.print(f"Saved pipeline [bold]{p.name}[/bold] ({len(p.steps)} steps)")


@app.command("run")
def run(name: Annotated[str, typer.Argument(help="The pipeline.")], as_json: JsonOpt = False) -> None:
    """Run a pipeline now, here; steps whose inputs did not change are skipped."""
    result = state.lake().pipelines.run(name)
    _show(result, as_json)


@app.command("schedule")
def schedule(
    name: Annotated[str, typer.Argument(help="The pipeline.")],
    cron: Annotated[str, typer.Argument(help="When, as five cron fields in UTC, e.g. '0 3 * * *'.")],
) -> None:
    """Run a pipeline on a schedule (a worker starts the runs)."""
    p = state.lake().pipelines.schedule(name, cron)
    console.print(f"Scheduled [bold]{p.name}[/bold]: " + ", ".join(t.cron for t in p.triggers if t.cron))


@app.command("status")
def status(run_id: Annotated[int, typer.Argument(help="A run id.")], as_json: JsonOpt = False) -> None:
    """A run's status and its steps."""
    _show(state.lake().pipelines.status(run_id), as_json)


@app.command("logs")
def logs(run_id: Annotated[int, typer.Argument(help="A run id.")]) -> None:
    """Each step's log and error of a run."""
    for s in state.lake().pipelines.status(run_id).steps:
        console.print(f"[bold]{s.step}[/bold] {s.status}")
        if s.log:
            console.print(s.log, markup=False)
        if s.error:
            console.print(s.error, markup=False, style="red")


@app.command("runs")
def runs(name: Annotated[str, typer.Argument(help="The pipeline.")], as_json: JsonOpt = False) -> None:
    """The pipeline's runs."""
    found = state.lake().pipelines.runs(name)
    if as_json:
        print_json([asdict(r) for r in found])
        return
    console.print(
        rich_table(["id", "status", "trigger", "worker"], [[r.id, r.status, r.trigger, r.worker] for r in found])
    )


def _show(result: object, as_json: bool) -> None:
    data = asdict(result)  # type: ignore[call-overload]
    if as_json:
        print_json(data)
        return
    console.print(f"Run {data['id']} of {data['pipeline']}: [bold]{data['status']}[/bold]")
    console.print(
        rich_table(["step", "status", "error"], [[s["step"], s["status"], s["error"] or ""] for s in data["steps"]])
    )


def worker(
    name: Annotated[str, typer.Option(help="This worker's name (unique among workers).")] = "worker",
    interval: Annotated[float, typer.Option(help="Seconds between rounds.")] = 5.0,
    once: Annotated[bool, typer.Option(help="One round, then exit.")] = False,
) -> None:
    """Execute triggered pipeline runs and run managed stream deliveries (several workers never run the
    same run twice, nor the same delivery at once)."""
    from mlake.pipelines.service import Worker

    w = Worker(state.lake(), name)
    if once:
        console.print(f"Executed runs: {w.run_once()}")
        return
    w.run_forever(interval, threading.Event())
