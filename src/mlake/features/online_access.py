"""Online reads through a reader's masks and row filters.

A group's online store holds the latest row of each entity, stored on the feature store's behalf. A
reader whose offline table access is masked or filtered gets those values with the SQL its offline
view uses: each stored row is rebuilt as an offline row (keys, event time, features, write time) and
run through the reader's masks and filters in DuckDB, so a masked feature is served masked and a row the
filter hides is reported ``missing`` — as if the store had no value, which is what the reader may know.
(Offline, the same filter may leave an older visible row to match; online only the latest row exists.)
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from mlake.errors import ValidationError
from mlake.features.groups import WRITE_TIME
from mlake.features.lookup import GroupPlan, GroupPolicy
from mlake.results import translate_duckdb_error
from mlake.tables.types import quote_ident

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlake.governance.policy import TableAccess

_ROW = "__mlake_entity"


def group_policy(
    access: TableAccess,
    event_time: str,
    full: Callable[[], GroupPlan],
    connection: Callable[[], duckdb.DuckDBPyConnection],
) -> GroupPolicy:
    """The :class:`GroupPolicy` of a reader with ``access`` to a group's offline table (whose event-time
    column is ``event_time``). ``full``: the plan of every feature of the group (masks and filters may use
    any); ``connection``: the DuckDB database to run them in."""

    def rows(gp: GroupPlan, entities: list[dict[str, Any]], stored: list[Any]) -> dict[int, dict[str, Any]]:
        return _visible_rows(gp, full(), access, entities, stored, connection())

    return GroupPolicy(rows, access.columns is None or event_time in access.columns)


def _visible_rows(
    gp: GroupPlan,
    full: GroupPlan,
    access: TableAccess,
    entities: list[dict[str, Any]],
    stored: list[Any],
    connection: duckdb.DuckDBPyConnection,
) -> dict[int, dict[str, Any]]:
    """The stored rows rebuilt as offline rows, run through the masks and filters: entity index -> row."""
    group = gp.group
    present = [i for i, r in enumerate(stored) if r is not None]
    if not present:
        return {}
    names, decoders = list(full.features), full.decoders
    schema = group.offline_schema()
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    for i in present:
        record = stored[i]
        payload = json.loads(record.payload)
        for k in group.key_names:
            columns[k].append(entities[i][k])
        columns[group.event_time].append(datetime.fromtimestamp(record.event_time_us / 1_000_000, UTC))
        columns[WRITE_TIME].append(datetime.fromtimestamp(record.write_time_us / 1_000_000, UTC))
        for name, decode in zip(names, decoders, strict=True):
            value = payload.get(name)
            columns[name].append(None if value is None else decode(value))
    arrays = [_typed(columns[f.name], f.type, f.name) for f in schema]
    rows = pa.Table.from_arrays([*arrays, pa.array(present, pa.int64())], names=[*schema.names, _ROW])
    wanted = [group.event_time, *names]
    select = [_ROW] + [
        f"{access.masks[c]} AS {quote_ident(c)}" if c in access.masks else quote_ident(c) for c in wanted
    ]
    view = f"__mlake_online_{uuid.uuid4().hex}"
    sql = f"SELECT {', '.join(select)} FROM {quote_ident(view)}"
    if access.filters:
        sql += " WHERE " + " AND ".join(f"({f})" for f in access.filters)
    cursor = connection.cursor()
    try:
        cursor.register(view, rows)
        out = cursor.sql(sql).to_arrow_table().to_pylist()
    except duckdb.Error as exc:  # a mask or filter that cannot run over the served row
        raise translate_duckdb_error(exc, sql) from exc
    finally:
        cursor.close()
    return {int(r.pop(_ROW)): r for r in out}


def _typed(values: list[Any], dtype: pa.DataType, column: str) -> pa.Array:
    """Values as an Arrow column of the offline type (entity keys may come as text, e.g. from a URL)."""
    try:
        return pa.array(values, dtype)
    except (pa.ArrowException, OverflowError, ValueError, TypeError):
        try:
            return pa.array([None if v is None else str(v) for v in values], pa.string()).cast(dtype)
        except (pa.ArrowException, OverflowError, ValueError, TypeError) as exc:
            raise ValidationError(f"Cannot read the values given for {column!r} as {dtype}") from exc
