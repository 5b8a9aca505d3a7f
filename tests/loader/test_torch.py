"""The PyTorch adapter: a DataLoader with two worker processes reads every row once and trains a model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlake.lake import Lake

torch = pytest.importorskip("torch")


@pytest.mark.slow
def test_dataloader_with_two_workers_trains_a_linear_model(lake: Lake) -> None:
    from torch.utils.data import DataLoader

    from mlake.loader.torch import IterableDataset

    rng = np.random.default_rng(0)
    weights = np.array([1.5, -2.0, 0.5], dtype=np.float32)
    for part in range(4):  # four data files, so both workers have pieces
        x = rng.normal(size=(2000, 3)).astype(np.float32)
        y = x @ weights + np.float32(0.3) + rng.normal(scale=0.01, size=2000).astype(np.float32)
        data = pa.table(
            {"id": np.arange(part * 2000, (part + 1) * 2000), **{f"x{i}": x[:, i] for i in range(3)}, "y": y}
        )
        if part == 0:
            lake.create_table("ml.linear", data)
        else:
            lake.table("ml.linear").append(data)

    dataset = IterableDataset(lake.table("ml.linear").loader(batch_size=256, shuffle=True, seed=1))
    batches = DataLoader(dataset, batch_size=None, num_workers=2)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for epoch in range(3):
        dataset.set_epoch(epoch)
        seen = []
        for batch in batches:
            features = torch.stack([batch["x0"], batch["x1"], batch["x2"]], dim=1)
            loss = torch.nn.functional.mse_loss(model(features).squeeze(1), batch["y"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            seen.append(batch["id"])
        assert sorted(torch.cat(seen).tolist()) == list(range(8000))  # each row once across the workers
    assert losses[-1] < losses[0] / 100
    assert np.allclose(model.weight.detach().numpy()[0], weights, atol=0.05)
