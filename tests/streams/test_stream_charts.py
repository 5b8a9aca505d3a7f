"""The numbers behind a stream's pictures: throughput per time bucket equals pandas over the records'
arrival times, and lag samples keep each consumer's lag per viewer."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pandas as pd
import pytest

from mlake.errors import ValidationError
from mlake.lake import Lake
from mlake.streams import Position
from mlake.streams.charts import lag_series, lag_svgs, throughput_svg
from mlake.streams.lag_history import LagHistory


def test_throughput_per_bucket_equals_pandas(lake: Lake) -> None:
    lake.streams.create("tp", partitions=3)
    for b in range(6):
        lake.streams.put_batch("tp", [(f"k{i}", {"b": b, "i": i}) for i in range(5 * (b + 1))])
        time.sleep(0.3)
    t = lake.streams.throughput("tp", window=timedelta(seconds=4), buckets=8)
    stamps = [
        r.timestamp_us for p in range(3) for r in lake.streams.read("tp", p, Position.oldest(), limit=1000).records
    ]
    start_us = int(t.start.timestamp() * 1_000_000)
    edges = [start_us + i * t.bucket_seconds * 1_000_000 for i in range(9)]
    expected = pd.cut(pd.Series(stamps), bins=edges, right=False).value_counts(sort=False).tolist()
    assert t.counts == expected and sum(t.counts) == 5 * (1 + 2 + 3 + 4 + 5 + 6) and not t.capped
    assert t.rates == pytest.approx([c / t.bucket_seconds for c in expected])
    svg = throughput_svg(t)
    assert svg.count('<rect class="bar"') == 8
    quiet = lake.streams.throughput("tp", window=timedelta(seconds=4), buckets=4, end=t.start)
    assert quiet.counts == [0, 0, 0, 0]
    with pytest.raises(ValidationError):
        lake.streams.throughput("tp", buckets=0)


def test_lag_samples_per_viewer_and_consumer(lake: Lake) -> None:
    lake.streams.create("lagged")
    lake.streams.put_batch("lagged", [("k", {"n": i}) for i in range(12)])
    group = lake.streams.group("lagged", "g")
    history = LagHistory(min_seconds=0.0)
    assert history.record("ada", lake.streams.status("lagged"))[0].lags == {}  # a group exists once it commits
    group.poll(limit=5)
    group.commit()
    history.record("ada", lake.streams.status("lagged"))
    group.poll(limit=3)
    group.commit()
    samples = history.record("ada", lake.streams.status("lagged"))[1:]
    assert lag_series(samples) == {"group:g": [7, 4]}
    assert samples[-1].lags["group:g"][1] > 0  # the oldest unread record's age, in seconds
    bob = history.record("bob", lake.streams.status("lagged"))
    assert len(bob) == 1 and bob[0].lags["group:g"][0] == 4  # a new viewer starts its own history
    assert len(history.record("bob", lake.streams.status("lagged"))) == 2  # bob's own samples only
    ((name, caption, svg),) = lag_svgs(samples)
    assert name == "group:g" and svg.count('<circle class="dot"') == 2 and caption == "now 4 records behind · peak 7"
    slow = LagHistory(min_seconds=3600)
    slow.record("ada", lake.streams.status("lagged"))
    assert len(slow.record("ada", lake.streams.status("lagged"))) == 1  # too soon for a new sample
    history.forget("lagged")
    assert len(history.record("ada", lake.streams.status("lagged"))) == 1


def test_delivery_lag_after_each_commit_equals_pandas(lake: Lake) -> None:
    from mlake.streams.charts import lag_points
    from mlake.streams.delivery import BufferHints

    lake.streams.create("dl", partitions=2)
    lake.streams.put_batch("dl", [(f"k{i}", {"i": i}) for i in range(10)])
    lake.streams.delivery("dl", "raw.dl", hints=BufferHints(max_records=4)).run(idle_timeout=0.3)
    lake.streams.put_batch("dl", [(f"k{i}", {"i": i}) for i in range(10, 15)])
    time.sleep(0.05)
    history = lake.streams.delivery_lag("dl", "dl")
    lake.streams.delivery("dl", "raw.dl", hints=BufferHints(max_records=4)).run(idle_timeout=0.3)
    history_after = lake.streams.delivery_lag("dl", "dl")

    records = pd.DataFrame(
        [
            {"partition": p, "sequence": r.sequence, "ts": r.timestamp_us}
            for p in range(2)
            for r in lake.streams.read("dl", p, Position.oldest(), limit=1000).records
        ]
    )
    iceberg = lake.table("raw.dl").iceberg
    commits = [
        (s.timestamp_ms * 1000, json.loads(s.summary.additional_properties["mlake.delivery.dl"]))
        for s in sorted(iceberg.metadata.snapshots, key=lambda s: s.timestamp_ms)
        if s.summary and "mlake.delivery.dl" in s.summary.additional_properties
    ]
    expected = []
    for t_us, positions in commits:
        done = records["partition"].map(lambda p, pos=positions: int(pos.get(str(p), -1)))
        expected.append(int(((records["sequence"] > done) & (records["ts"] <= t_us)).sum()))
    assert len(commits) >= 3  # 10 records in buffers of at most 4
    assert [n for _, n in history_after] == expected
    assert expected[-1] == 0 and max(expected) > 0  # a commit left records behind; the last caught up
    assert [n for _, n in history] == expected[: len(history)]
    assert lake.table("raw.dl").count() == 15
    points = lag_points([], {"delivery:dl": history_after})["delivery:dl"]
    assert [p.records for p in points] == expected and {p.source for p in points} == {"commit"}
    with pytest.raises(ValidationError):
        lake.streams.delivery_lag("dl", "nope")
