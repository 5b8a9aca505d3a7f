"""Shared state of one CLI invocation: global options and the lake they open."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from mlake.lake import Lake

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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
