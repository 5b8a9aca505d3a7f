"""The offline store: one Iceberg table per feature group, bitemporal.

Each row holds the entity key(s), the event time (when the value became true), the feature values and
a ``write_time`` (when the store learned it). Keeping both times is what lets a training set ask "what
did we know at time T" (``as_of``) and what makes late-arriving data and backfills harmless: nothing is
ever updated in place, a correction is a new row with a later write time.

Writes come from a data frame (Arrow, pandas, polars, a list of dicts), an mlake table, or a SQL query,
and always run through DuckDB into Parquet files committed as one Iceberg snapshot, so a write of any
size streams with bounded memory. Within one write, several rows for the same entity and event time
are reduced to the last one in the input's order (for SQL without ORDER BY: the order DuckDB yields).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from mlake.errors import ValidationError
from mlake.features.groups import WRITE_TIME, FeatureGroup
from mlake.results import Result, translate_duckdb_error
from mlake.tables.lineage import LineageInput
from mlake.tables.names import TableName, is_query
from mlake.tables.types import quote_ident, quote_literal

if TYPE_CHECKING:
    from mlake.lake import Lake
    from mlake.tables.table import Table

_ROW = "__mlake_input_row"
_clock_lock = threading.Lock()
_last_write_time = datetime(1970, 1, 1, tzinfo=UTC)


def next_write_time() -> datetime:
    """Now, in microseconds, strictly later than any write time this process handed out before.

    Two writes of one process therefore never share a write time, which keeps "the later write wins"
    well defined even for writes in the same microsecond.
    """
    global _last_write_time
    with _clock_lock:
        now = datetime.now(UTC)
        if now <= _last_write_time:
            now = _last_write_time + timedelta(microseconds=1)
        _last_write_time = now
        return now


@dataclass(frozen=True)
class WriteSummary:
    """What one write to a feature group did."""

    group: str
    rows_written: int
    snapshot_id: int | None
    write_time: datetime
    online_entities: int | None = None  # entities upserted online (None when the group is offline only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "rows_written": self.rows_written,
            "snapshot_id": self.snapshot_id,
            "write_time": self.write_time.isoformat(),
            "online_entities": self.online_entities,
        }


def ensure_offline_table(lake: Lake, group: FeatureGroup) -> Table:
    """Create the group's Iceberg table if it is missing."""
    name = group.table_name
    if lake.table_exists(name):
        return lake.table(name)
    return lake.create_table(
        name,
        schema=group.offline_schema(),
        description=f"Offline store of feature group {group.name}"
        + (f": {group.description}" if group.description else ""),
        owner=group.owner,
        tags={"feature_group": group.name, **group.tags},
        exist_ok=True,
    )


def source_relation(lake: Lake, source: Any, *, number_rows: bool = True) -> Result:
    """Any accepted source as a lazy result on its own DuckDB cursor, with its lineage inputs.

    A data frame gets a row-number column (``number_rows``) so that "last row wins" has a meaning."""
    if isinstance(source, Result):
        return source
    if isinstance(source, str) and is_query(source):
        return lake.sql(source)
    from mlake.tables.table import Table

    if isinstance(source, str | TableName | Table):
        name = source.name if isinstance(source, Table) else TableName.parse(source)
        if not lake.table_exists(name):
            raise lake.not_found(name)
        table = lake.table(name)
        snap = table.iceberg.current_snapshot()
        snapshot_id = snap.snapshot_id if snap else None
        result = table.query(snapshot_id=snapshot_id)
        result.lineage_inputs.append(LineageInput("table", str(name), snapshot_id=snapshot_id))
        return result
    from mlake.tables.frames import to_arrow

    data = to_arrow(source)
    if data.num_columns == 0:
        raise ValidationError(f"The {type(source).__name__} given has no columns")
    if number_rows:
        data = data.append_column(_ROW, pa.array(range(data.num_rows), pa.int64()))
    cursor = lake.engine.connection.cursor()
    view = f"__mlake_features_in_{uuid.uuid4().hex}"
    try:
        cursor.register(view, data)
    except duckdb.Error as exc:
        raise translate_duckdb_error(exc) from exc
    relation = cursor.sql(f"SELECT * FROM {quote_ident(view)}")
    inputs = [LineageInput("dataframe", type(source).__name__, f"{data.num_rows} rows")]
    return Result(relation, f"<{type(source).__name__} of {data.num_rows} rows>", inputs, keepalive=cursor, lake=lake)


def _column_map(group: FeatureGroup, columns: list[str]) -> dict[str, str]:
    """Group column -> source column (matched case-insensitively, as SQL does); raise on bad input."""
    by_lower = {c.lower(): c for c in columns if c != _ROW}
    mapping: dict[str, str] = {}
    missing = []
    for name in [*group.key_names, group.event_time]:
        if name.lower() in by_lower:
            mapping[name] = by_lower[name.lower()]
        else:
            missing.append(name)
    if missing:
        raise ValidationError(
            f"Data for feature group {group.name!r} lacks column(s) {', '.join(missing)}",
            hint=f"it needs the entity key(s) {', '.join(group.key_names)} and the event time {group.event_time!r}",
        )
    for f in group.features:
        if f.name.lower() in by_lower:
            mapping[f.name] = by_lower[f.name.lower()]
    known = {c.lower() for c in mapping} | {WRITE_TIME}
    unknown = [c for c in by_lower.values() if c.lower() not in known]
    if unknown:
        raise ValidationError(
            f"Data for feature group {group.name!r} has column(s) that are not its features: {', '.join(unknown)}",
            hint="add them first with lake.features.add_features(...) (or `mlake features add`), or leave them out",
        )
    if WRITE_TIME in {c.lower() for c in by_lower.values()}:
        raise ValidationError(
            f"Data for feature group {group.name!r} has a {WRITE_TIME!r} column",
            hint="the store sets the write time itself (when it learned the values); drop that column",
        )
    if not any(f.name in mapping for f in group.features):
        raise ValidationError(f"Data for feature group {group.name!r} has none of its features")
    return mapping


def write_features(lake: Lake, group: FeatureGroup, source: Any) -> tuple[WriteSummary, list[LineageInput]]:
    """Append ``source`` to the group's offline table as one snapshot; see the module docstring."""
    from mlake.features.types import arrow_type
    from mlake.sql import save_result
    from mlake.tables.types import duckdb_type

    ensure_offline_table(lake, group)
    result = source_relation(lake, source)
    mapping = _column_map(group, result.columns)
    rel = result.relation
    cursor = result._keepalive
    src = f"__mlake_features_src_{uuid.uuid4().hex}"
    rel.to_view(src, replace=True)
    try:
        checks = ", ".join(
            f"count(*) FILTER (WHERE {quote_ident(mapping[c])} IS NULL)" for c in [*group.key_names, group.event_time]
        )
        try:
            counts = cursor.execute(f"SELECT {checks} FROM {quote_ident(src)}").fetchall()[0]
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, result.sql) from exc
        bad = [(c, n) for c, n in zip([*group.key_names, group.event_time], counts or (), strict=True) if n]
        if bad:
            raise ValidationError(
                f"Data for feature group {group.name!r} has nulls in " + ", ".join(f"{c} ({n} row(s))" for c, n in bad),
                hint="every row needs its entity key(s) and event time; filter those rows out first",
            )
        write_time = next_write_time()

        def cast(column: str, dtype: str) -> str:
            target = duckdb_type(_iceberg(arrow_type(dtype)))
            return f"CAST({quote_ident(mapping[column])} AS {target}) AS {quote_ident(column)}"

        select = [cast(k.name, k.dtype) for k in group.entities]
        select.append(
            f"CAST({quote_ident(mapping[group.event_time])} AS TIMESTAMPTZ) AS {quote_ident(group.event_time)}"
        )
        select += [cast(f.name, f.dtype) for f in group.features if f.name in mapping]
        select.append(f"TIMESTAMPTZ {quote_literal(write_time.isoformat())} AS {WRITE_TIME}")
        partition = ", ".join(quote_ident(mapping[c]) for c in [*group.key_names, group.event_time])
        order = quote_ident(_ROW) if _ROW in result.columns else "__mlake_seq"
        inner = (
            f"(SELECT * FROM {quote_ident(src)})"
            if _ROW in result.columns
            else f"(SELECT *, row_number() OVER () AS __mlake_seq FROM {quote_ident(src)})"
        )
        sql = (
            f"SELECT {', '.join(select)} FROM {inner} "
            f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {order} DESC) = 1"
        )
        try:
            final = cursor.sql(sql)
        except duckdb.Error as exc:
            raise translate_duckdb_error(exc, result.sql) from exc
        described = f"features write {group.name} from {result.sql[:300]}"
        table = save_result(
            Result(final, described, result.lineage_inputs, keepalive=cursor, lake=lake),
            str(group.table_name),
            mode="append",
        )
    finally:
        try:
            cursor.execute(f"DROP VIEW IF EXISTS {quote_ident(src)}")
        except duckdb.Error:
            pass
    last = lake._core.lineage_store.writes(str(table.name), limit=1)
    rows = last[0].rows_written if last else 0
    snapshot_id = last[0].snapshot_id if last else None
    return WriteSummary(group.name, rows, snapshot_id, write_time), list(result.lineage_inputs)


def _iceberg(dtype: pa.DataType) -> Any:
    from mlake.tables.frames import iceberg_type_of

    return iceberg_type_of(dtype)
