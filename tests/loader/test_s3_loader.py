"""The loader over an s3:// warehouse (moto's S3 server on loopback): data files are cached by default,
so the second epoch reads no object from the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlake.lake import Lake
from tests.tables.test_object_store import s3_lake  # noqa: F401 - the fixture

pytest.importorskip("moto.server")


@pytest.mark.slow
def test_s3_tables_are_cached_locally_by_default(s3_lake: Lake, tmp_path: Path) -> None:  # noqa: F811
    lake = s3_lake
    for part in range(3):
        ids = np.arange(part * 1000, (part + 1) * 1000)
        data = pa.table({"id": ids, "x": ids.astype(np.float32)})
        if part == 0:
            lake.create_table("ml.remote", data)
        else:
            lake.table("ml.remote").append(data)
    loader = lake.table("ml.remote").loader(batch_size=500, shuffle=True, seed=2)
    assert loader.path == "files" and all(f.uri.startswith("s3://") for f in loader.plan.files)
    assert loader.cache is not None and loader.cache.root.is_relative_to(lake.settings.home)
    first = [int(i) for b in loader for i in b["id"]]  # type: ignore[index]
    assert sorted(first) == list(range(3000))
    assert (loader.cache.stats.misses, loader.cache.stats.hits) == (3, 0)
    again = [int(i) for b in loader for i in b["id"]]  # type: ignore[index]
    assert again == first and loader.cache.stats.hits == 3 and loader.cache.stats.misses == 3
    nocache = lake.table("ml.remote").loader(batch_size=500, cache=False)
    assert nocache.cache is None and sum(len(b["id"]) for b in nocache) == 3000  # type: ignore[index]
