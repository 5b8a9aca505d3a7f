"""The ``mlake`` Typer app: global options, error handling, and the command list.

:func:`mlake.cli.main.run` (the ``mlake`` command) answers the read-only catalog commands without it (see
:mod:`mlake.cli.fast`) and imports this module for everything else."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlake.cli import access as access_cli
from mlake.cli import bias as bias_cli
from mlake.cli import features as features_cli
from mlake.cli import ingest as ingest_cli
from mlake.cli import label as label_cli
from mlake.cli import monitor as monitor_cli
from mlake.cli import objects as objects_cli
from mlake.cli import pipelines as pipelines_cli
from mlake.cli import quality as quality_cli
from mlake.cli import recipes as recipes_cli
from mlake.cli import serve as serve_cli
from mlake.cli import sources as sources_cli
from mlake.cli import sql as sql_cli
from mlake.cli import storage as storage_cli
from mlake.cli import streams as streams_cli
from mlake.cli import tables as tables_cli
from mlake.cli.context import console, err_console, state
from mlake.cli.render import print_error
from mlake.errors import MlakeError

app = typer.Typer(
    name="mlake",
    help="mlake — a local-first data lake for machine-learning projects.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from mlake import __version__

        console.print(f"mlake {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    home: Annotated[Path | None, typer.Option(envvar="MLAKE_HOME", help="Lake home folder (default ./.mlake).")] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    state.close()  # a fresh lake per invocation, also when the app is invoked in-process repeatedly
    state.home = home
    state.debug = debug
    state.quiet = quiet


@app.command()
def init() -> None:
    """Create the lake (catalog, warehouse) and show where it lives."""
    lake = state.lake()
    s = lake.settings.redacted()
    console.print(f"[green]lake ready[/green] at {lake.settings.home}")
    for key in ("catalog_url", "warehouse", "online_url"):
        console.print(f"  {key}: {s.get(key) or '(default)'}")


app.command("ingest")(ingest_cli.ingest)
app.command("sql")(sql_cli.sql)
app.add_typer(tables_cli.app, name="tables")
app.add_typer(features_cli.app, name="features")
app.command("lineage")(tables_cli.lineage)
app.command("maintain")(storage_cli.maintain)
app.add_typer(storage_cli.app, name="storage")
app.command("serve")(serve_cli.serve)
app.add_typer(access_cli.app, name="access")
app.add_typer(sources_cli.app, name="sources")
app.command("profile")(quality_cli.profile)
app.command("check")(quality_cli.check)
app.command("suggest")(quality_cli.suggest)
app.command("report")(quality_cli.report)
app.add_typer(quality_cli.app, name="quality")
app.add_typer(recipes_cli.app, name="recipes")
app.add_typer(pipelines_cli.app, name="pipelines")
app.command("worker")(pipelines_cli.worker)
app.add_typer(monitor_cli.app, name="monitor")
app.add_typer(bias_cli.app, name="bias")
app.add_typer(streams_cli.app, name="streams")
app.add_typer(objects_cli.app, name="objects")
app.add_typer(label_cli.app, name="label")


@app.command()
def demo(
    serve: Annotated[bool, typer.Option(help="Open Studio on the demo lake afterwards.")] = False,
    port: Annotated[int, typer.Option(help="Studio's port with --serve.")] = 8642,
    rows: Annotated[int, typer.Option(help="Customers to generate (orders and events scale with it).")] = 5000,
) -> None:
    """Build a lake from a realistic sample dataset (generated, deterministic) and show what to try next."""
    from mlake.demo import build_demo, next_steps

    lake = state.lake()
    summary = build_demo(lake, customers=rows)
    for line in summary:
        console.print(line)
    console.print(next_steps(lake))
    if serve:
        serve_cli.run_server("127.0.0.1", port, auth=False)


def run() -> None:
    """The Typer CLI: errors become one red line (tracebacks with --debug) and a non-zero exit code."""
    try:
        # Without standalone mode click returns the code of a `typer.Exit` instead of raising it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except MlakeError as exc:
        if state.debug:
            traceback.print_exc()
        print_error(exc)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if state.debug:
            traceback.print_exc()
        err_console.print(f"[red]internal error:[/red] {escape(f'{type(exc).__name__}: {exc}')}")
        err_console.print("[dim]this is a bug in mlake; run again with --debug for the traceback[/dim]")
        sys.exit(2)
    finally:
        state.close()
