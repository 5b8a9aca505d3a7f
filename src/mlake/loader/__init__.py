"""The training-data loader: tables, query results and training sets as batches for training loops.

``lake.table("ns.t").loader(batch_size=1024, shuffle=True, seed=7)``, ``lake.sql(...).loader(...)`` and
``training_set.loader(...)`` all give one :class:`Loader`: sharded by rank and DataLoader worker (every
row exactly once per epoch), shuffled deterministically (by row group, then through a row buffer),
prefetched in background threads, and reading data files through a bounded local cache so that later
epochs read locally. :mod:`mlake.loader.torch` adapts it to PyTorch; anything else (JAX, scikit-learn's
``partial_fit``) iterates it directly. Which governed path a loader reads through is described in
:mod:`mlake.loader.build`.
"""

from __future__ import annotations

from mlake.loader.build import build_loader
from mlake.loader.cache import CacheStats, LoaderCache
from mlake.loader.stream import Loader, Shard

__all__ = ["CacheStats", "Loader", "LoaderCache", "Shard", "build_loader"]
