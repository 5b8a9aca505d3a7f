"""A small lake with known data behind every chart of the monitoring, bias and stream pages (used by the
chart unit tests and the Chromium tests): a monitor with a clean run, a drifted run and a worse-accuracy
run; a table for bias reports; a SHAP attributions table; and two streams with a delivery and a group."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from mlake.lake import Lake
from tests.monitor.test_monitors import BASELINE_ROWS, CONFIG, append, scored

MONITOR = "shop-model"
ATTRIBUTIONS = "ml.explained_global"
STREAM, VAULT = "clicks", "vault"
CLICKS = 40  # records put to STREAM, in 4 batches a little apart


def applicants(n: int = 400) -> pa.Table:
    rng = np.random.default_rng(0)
    sex = rng.choice(["Female", "Male"], n)
    hired = (rng.random(n) < np.where(sex == "Female", 0.3, 0.5)).astype(int)
    score = np.clip(0.4 * hired + rng.normal(0.3, 0.2, n), 0, 1)
    return pa.table({"sex": sex, "hired": hired, "score": score})


def build_monitor(lake: Lake) -> None:
    """Baseline of 5,000 rows; runs: clean, amount shifted (drift), predictions worse (model quality)."""
    features, truth = scored(0, BASELINE_ROWS, 0)
    lake.create_table("shop.scored", features)
    lake.create_table("shop.truth", truth)
    lake.monitoring.create(MONITOR, target="shop.scored", config=CONFIG)
    append(lake, 1)
    lake.monitoring.run(MONITOR)
    append(lake, 7, shift=10.0)
    lake.monitoring.run(MONITOR)
    append(lake, 5, flip=0.3)
    lake.monitoring.run(MONITOR)


def build_bias(lake: Lake) -> None:
    lake.create_table("hr.applicants", applicants())
    lake.create_table(
        ATTRIBUTIONS,
        pa.table({"feature": ["amount", "age", "region"], "mean_abs": [0.31, 0.12, 0.02], "rank": [1, 2, 3]}),
    )


def build_streams(lake: Lake) -> None:
    lake.streams.create(STREAM, partitions=2)
    for b in range(4):
        lake.streams.put_batch(STREAM, [(f"u{i % 5}", {"user": f"u{i % 5}", "n": b * 10 + i}) for i in range(10)])
        time.sleep(0.05)
    lake.streams.delivery(STREAM, "raw.clicks").run(idle_timeout=0.2)
    group = lake.streams.group(STREAM, "scorer")
    group.poll(limit=15)
    group.commit()
    lake.streams.create(VAULT)
    lake.streams.put(VAULT, {"secret": "zebra-4242"}, key="k")
