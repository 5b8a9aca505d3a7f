"""Sources and licenses: where a table's data came from and what its terms allow; see :mod:`mlake.sources.registry`."""

from __future__ import annotations

from mlake.sources.registry import Provenance, Source, SourceRegistry, SourceUse

__all__ = ["Provenance", "Source", "SourceRegistry", "SourceUse"]
