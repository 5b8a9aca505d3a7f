"""The loader as a PyTorch ``IterableDataset``.

Use it with ``DataLoader(dataset, batch_size=None, num_workers=n)``: the loader already makes batches
(``batch_size=None`` turns off PyTorch's own batching), and each DataLoader worker reads its own shard
(found with ``torch.utils.data.get_worker_info``), so the workers of all ranks together read every row
exactly once per epoch. Call :meth:`IterableDataset.set_epoch` before each epoch when shuffling.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.utils.data

from mlake.loader.stream import Loader


class IterableDataset(torch.utils.data.IterableDataset[dict[str, torch.Tensor]]):
    """Batches of ``loader`` as dicts of tensors (numeric columns; others are left out)."""

    def __init__(self, loader: Loader) -> None:
        super().__init__()
        if loader.format != "numpy":
            from mlake.errors import ValidationError

            raise ValidationError(
                "The PyTorch adapter needs a loader of numpy batches", hint="make the loader with format='numpy'"
            )
        self.loader = loader

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for batch in self.loader:
            assert isinstance(batch, dict)
            yield {name: _tensor(values) for name, values in batch.items() if values.dtype.kind in "biuf"}

    def __len__(self) -> int:
        """Batches per epoch in this process's shard, estimated from rows (for progress bars)."""
        shard = self.loader.shard()
        rows = sum(p.rows for p in self.loader.pieces(shard))
        full, rest = divmod(rows, self.loader.batch_size)
        return full + (1 if rest and not self.loader.drop_last else 0)


def _tensor(values: np.ndarray[Any, Any]) -> torch.Tensor:
    # Arrow hands out read-only views; torch wants memory it may write.
    return torch.from_numpy(values if values.flags.writeable else values.copy())
