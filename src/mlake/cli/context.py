"""Shared state of one CLI invocation: global options and the lake they open."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

if TYPE_CHECKING:
    from mlake.lake import Lake


def _width(stream: TextIO) -> int | None:
    """None (the terminal's width) on a terminal; else ``$COLUMNS`` or no practical limit. Rich assumes 80
    columns when output is not a terminal, which folds table cells a few characters a line and breaks
    commands in two in a log or a pipe, where nothing needs the lines short."""
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError):
        pass
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else UNLIMITED_WIDTH


UNLIMITED_WIDTH = 10_000
console = Console(highlight=False, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))


@dataclass
class CliState:
    home: Path | None = None
    debug: bool = False
    quiet: bool = False
    _lake: Lake | None = field(default=None, repr=False)

    def lake(self) -> Lake:
        """Open the lake once per command, with a rich progress bar unless --quiet."""
        if self._lake is None:
            from mlake.cli.progress import RichProgress
            from mlake.events import SilentProgress
            from mlake.lake import Lake  # imported here: `mlake --help` need not load the lake's dependencies
            from mlake.settings import load_settings

            progress = SilentProgress() if self.quiet else RichProgress(err_console)
            self._lake = Lake(load_settings(self.home), progress=progress)
        return self._lake

    def close(self) -> None:
        if self._lake is not None:
            self._lake.close()
            self._lake = None


state = CliState()
