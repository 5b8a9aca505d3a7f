"""The ``mlake`` command's entry point: the catalog commands' fast path, else the Typer app.

This module stays light (no Typer, rich or lake imports at module level): the ``mlake`` script imports it
on every run, and ``mlake tables list`` must not pay for what it does not use. The Typer app is in
:mod:`mlake.cli.app`; ``from mlake.cli.main import app`` still works (loaded on first use).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not `from typing import ...`: typing alone costs tens of ms to compile
if TYPE_CHECKING:
    from typing import Any


def run() -> None:
    """Entry point: a read-only catalog command is answered from the catalog files (:mod:`mlake.cli.fast`);
    any other command, option or situation runs the Typer app (:func:`mlake.cli.app.run`)."""
    from mlake.cli import fast

    if fast.run(sys.argv[1:]):
        return
    from mlake.cli.app import run as run_app

    run_app()


def __getattr__(name: str) -> Any:
    """``app`` and the other names of :mod:`mlake.cli.app`, imported on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    from mlake.cli import app as app_module

    return getattr(app_module, name)


if __name__ == "__main__":
    run()
