"""mlake: a local-first data lake for machine-learning projects.

``lake = mlake.connect()`` opens the embedded lake in ``./.mlake``; everything else hangs off ``lake``.
"""

from __future__ import annotations

from mlake.errors import MlakeError
from mlake.lake import Lake, connect
from mlake.results import Result
from mlake.settings import Settings
from mlake.tables.table import Table

__version__ = "0.1.0"

__all__ = ["Lake", "MlakeError", "Result", "Settings", "Table", "__version__", "connect"]
