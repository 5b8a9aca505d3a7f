"""The training-data loader: exactly once per epoch across ranks × workers, deterministic shuffles, the
file cache, the governed paths, and the same reads as the SQL engine after schema changes."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlake
from mlake.errors import PermissionDeniedError
from mlake.lake import Lake
from mlake.loader import Loader, LoaderCache

RANKS, WORKERS = 4, 2


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    with mlake.connect(tmp_path_factory.mktemp("loader") / "lake", threads=2, user="tester") as lake:
        yield lake


def make_table(lake: Lake, parts: list[int]) -> str:
    """A table of ``sum(parts)`` rows with ids 0.. , one append (one data file) per part."""
    name = f"ml.t_{uuid.uuid4().hex[:8]}"
    start = 0
    for i, rows in enumerate(parts):
        ids = np.arange(start, start + rows, dtype=np.int64)
        data = pa.table({"id": ids, "x": ids.astype(np.float32) / 2, "label": (ids % 3).astype(np.int32)})
        if i == 0:
            lake.create_table(name, data)
        else:
            lake.table(name).append(data)
        start += rows
    return name


def ids_of(loader: Loader) -> list[int]:
    return [int(i) for batch in loader for i in batch["id"]]  # type: ignore[index]


def shard_loaders(lake: Lake, name: str, **options: object) -> list[Loader]:
    return [
        lake.table(name).loader(rank=r, world_size=RANKS, worker=w, num_workers=WORKERS, **options)  # type: ignore[arg-type]
        for r, w in itertools.product(range(RANKS), range(WORKERS))
    ]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.integers(1, 300), min_size=1, max_size=10),
    batch_size=st.integers(1, 97),
    shuffle=st.booleans(),
    epoch=st.integers(0, 3),
    drop_last=st.just(False),
)
def test_every_row_exactly_once_per_epoch_across_ranks_and_workers(
    shared: Lake, parts: list[int], batch_size: int, shuffle: bool, epoch: int, drop_last: bool
) -> None:
    name = make_table(shared, parts)
    seen: list[int] = []
    for loader in shard_loaders(shared, name, batch_size=batch_size, shuffle=shuffle, seed=11, drop_last=drop_last):
        loader.set_epoch(epoch)
        batches = list(loader)
        assert all(len(b["id"]) == batch_size for b in batches[:-1])  # type: ignore[index]
        seen += [int(i) for b in batches for i in b["id"]]  # type: ignore[index]
    assert sorted(seen) == list(range(sum(parts)))


def test_same_seed_same_order_other_epoch_or_seed_other_order(shared: Lake) -> None:
    name = make_table(shared, [700, 500, 900, 300])
    table = shared.table(name)
    first = table.loader(batch_size=64, shuffle=True, seed=3, shuffle_buffer=256)
    again = table.loader(batch_size=64, shuffle=True, seed=3, shuffle_buffer=256)
    order = ids_of(first)
    assert ids_of(again) == order
    assert sorted(order) == list(range(2400)) and order != sorted(order)
    first.set_epoch(1)
    assert ids_of(first) != order
    again.set_epoch(1)
    assert ids_of(again) == ids_of(first)
    assert ids_of(table.loader(batch_size=64, shuffle=True, seed=4, shuffle_buffer=256)) != order
    # rows are shuffled within the pieces too, not only the order of the pieces
    head = order[:64]
    assert head != sorted(head) and max(head) - min(head) > 64


def test_second_epoch_reads_from_the_cache_and_the_cache_stays_bounded(shared: Lake, tmp_path: Path) -> None:
    name = make_table(shared, [5000, 5000, 5000])
    table = shared.table(name)
    sizes = [t.file.file_size_in_bytes for t in table.iceberg.scan().plan_files()]
    roomy = LoaderCache(tmp_path / "roomy", max_bytes=10 * sum(sizes))
    loader = table.loader(batch_size=1000, cache=roomy)
    in_order = table.to_arrow().column("id").to_pylist()  # unshuffled: the order the SQL engine reads
    assert ids_of(loader) == in_order
    assert (roomy.stats.misses, roomy.stats.hits) == (3, 0)
    loader.set_epoch(1)
    assert ids_of(loader) == in_order
    assert (roomy.stats.misses, roomy.stats.hits) == (3, 3)
    assert roomy.stats.bytes_read_locally == sum(sizes)

    tight = LoaderCache(tmp_path / "tight", max_bytes=int(max(sizes) * 1.5))
    small = table.loader(batch_size=1000, cache=tight, read_threads=1)
    for epoch in range(2):
        small.set_epoch(epoch)
        assert ids_of(small) == in_order
        assert tight.size_bytes() <= tight.max_bytes
    assert tight.stats.evictions >= 2 and len(tight.entries()) == 1


def test_arrow_batches_columns_and_results(shared: Lake) -> None:
    name = make_table(shared, [100, 150])
    loader = shared.table(name).loader(batch_size=40, columns=["label", "id"], format="arrow")
    batches = list(loader)
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert batches[0].schema.names == ["label", "id"] and [b.num_rows for b in batches] == [40] * 6 + [10]
    result = shared.sql(f"select id, x * 2 as y from {name} where id % 5 = 0")
    rows = pa.Table.from_batches(list(result.loader(batch_size=7, format="arrow")))
    assert rows.sort_by("id").equals(result.to_arrow().sort_by("id"))
    assert result.loader().path == "governed-sql"


def test_reads_like_sql_after_renames_added_columns_and_deletes(lake: Lake) -> None:
    table = lake.create_table("ml.evolving", pa.table({"id": [1, 2, 3], "v": [1, 2, 3]}))
    table.rename_column("v", "value")
    table.add_columns({"extra": "string"})
    table.widen_column("value", "long")
    table.append(pa.table({"id": [4], "value": [2**40], "extra": ["new"]}))
    loader = table.loader(batch_size=2, format="arrow")
    assert loader.path == "files"
    got = pa.Table.from_batches(list(loader))
    assert got.to_pylist() == table.to_arrow().to_pylist()
    table.delete("id = 2")  # position deletes: read through the SQL engine
    after = table.loader(batch_size=2, format="arrow")
    assert pa.Table.from_batches(list(after)).sort_by("id").to_pylist() == table.to_arrow().sort_by("id").to_pylist()


def test_training_set_loader_gives_its_rows(lake: Lake) -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    lake.features.create_group(
        "spend", entities={"customer_id": "long"}, event_time="ts", features={"amount": "double"}, online=False
    )
    lake.features.write("spend", {"customer_id": [1, 2, 3], "ts": [t0] * 3, "amount": [1.0, 2.0, 3.0]})
    entities = {"customer_id": [1, 2, 3, 1], "when": [t0 + timedelta(days=1)] * 4, "label": [0, 1, 0, 1]}
    ts = lake.features.training_set(entities, ["spend:amount"], name="spend-ts")
    rows = pa.Table.from_batches(list(ts.loader(batch_size=3, format="arrow")))
    assert rows.equals(ts.to_arrow().combine_chunks()) or rows.to_pylist() == ts.to_arrow().to_pylist()
    again = lake.features.load_training_set("spend-ts").loader(batch_size=3)
    assert again.plan.files[0].uri == ts.loader().plan.files[0].uri  # the spilled copy is reused


def test_principals_get_what_their_grants_allow(lake: Lake) -> None:
    lake.create_table("hr.people", pa.table({"id": [1, 2, 3, 4], "salary": [10.0, 20.0, 30.0, 40.0]}))
    gov = lake.governance
    for who in ("nobody", "reader", "masked"):
        gov.create_principal(who)
    gov.grant("reader", "select", "hr.people")
    gov.grant("masked", "select", "hr.people")
    gov.add_column_mask("hr.people", "salary", "masked", "null")
    gov.add_row_filter("hr.people", "masked", "id <= 2")

    with pytest.raises(PermissionDeniedError):
        lake.as_principal("nobody").table("hr.people").loader()
    with pytest.raises(PermissionDeniedError):
        lake.as_principal("nobody").loader("hr.people")

    reader = lake.as_principal("reader").table("hr.people").loader(batch_size=10, format="arrow")
    assert reader.path == "files"
    assert pa.Table.from_batches(list(reader)).column("salary").to_pylist() == [10.0, 20.0, 30.0, 40.0]

    masked = lake.as_principal("masked").table("hr.people").loader(batch_size=10, format="arrow")
    assert masked.path == "governed-sql"
    rows = pa.Table.from_batches(list(masked)).to_pylist()
    assert sorted(r["id"] for r in rows) == [1, 2] and all(r["salary"] is None for r in rows)
    events = lake.governance.audit_events(principal="nobody")
    assert any(e.action == "table.load" and e.outcome != "ok" for e in events)


def test_spilled_results_are_reused_only_when_they_are_the_same_rows(lake: Lake) -> None:
    lake.create_table("ml.small", pa.table({"id": list(range(10))}))
    same = [lake.sql("select id from ml.small where id < 5").loader() for _ in range(2)]
    assert same[0].plan.files[0].uri == same[1].plan.files[0].uri
    with_params = [lake.sql("select id from ml.small where id < ?", params=[n]).loader() for n in (3, 7)]
    assert [p.num_rows for p in with_params] == [3, 7]
    volatile = [lake.sql("select id, random() as r from ml.small").loader() for _ in range(2)]
    assert volatile[0].plan.files[0].uri != volatile[1].plan.files[0].uri
    lake.table("ml.small").append(pa.table({"id": [1]}))  # a new snapshot: the same SQL spills again
    assert lake.sql("select id from ml.small where id < 5").loader().num_rows == 6


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.integers(1, 200), min_size=1, max_size=9),
    batch_size=st.integers(1, 64),
    shuffle=st.booleans(),
    even=st.sampled_from(["drop", "pad"]),
)
def test_even_shards_give_every_rank_the_same_steps(
    shared: Lake, parts: list[int], batch_size: int, shuffle: bool, even: str
) -> None:
    """DistributedDataParallel hangs when one rank takes fewer steps: with ``even`` every rank × worker
    yields the same rows (hence batches); "drop" reads each row at most once, "pad" every row at least
    once."""
    name = make_table(shared, parts)
    loaders = shard_loaders(shared, name, batch_size=batch_size, shuffle=shuffle, seed=3, even=even)
    per_shard = []
    for loader in loaders:
        loader.set_epoch(1)
        per_shard.append([[int(i) for i in b["id"]] for b in loader])  # type: ignore[index]
    sizes = {sum(len(b) for b in batches) for batches in per_shard}
    steps = {len(batches) for batches in per_shard}
    assert len(sizes) == 1 and len(steps) == 1
    seen = [i for batches in per_shard for b in batches for i in b]
    own_counts = [sum(p.rows for p in loader.pieces()) for loader in loaders]
    if even == "drop":
        assert sizes == {min(own_counts)} and len(seen) == len(set(seen))
    else:
        assert sizes == {max(own_counts)} and set(seen) == set(range(sum(parts)))
