"""Change data capture from PostgreSQL into a stream, and its delivery into a table that mirrors the source.

**Capture** (:class:`PostgresCapture`). PostgreSQL's logical decoding (``wal_level=logical``) with the
built-in ``pgoutput`` plugin, read over SQL (``pg_logical_slot_peek_binary_changes``), so no replication
connection is needed. ``start`` creates a publication for the source tables and a replication slot, then
puts an initial snapshot of the tables (one ``r`` record per row) into the stream; ``poll`` puts the
changes committed since (``c`` insert, ``u`` update, ``d`` delete, ``t`` truncate), each transaction
whole and in commit order, and then moves the slot past them. Rolled-back transactions never reach the
slot. The snapshot is taken after the slot was made, so every change after it is replayed on top of it;
applying changes per key in order makes snapshot plus changes converge to the source exactly.

A capture killed between putting changes and moving the slot puts them again when restarted: each change
carries its commit position (``lsn``) and its index in the transaction, and the delivery skips what it
already applied. A capture killed in the middle of the snapshot takes it again (its rows are upserts).
The publication's comment records that the snapshot is complete.

**Delivery** (:class:`ChangeDelivery`). A :class:`~mlake.streams.delivery.Delivery` whose buffer is a
batch of changes: the final state of each key in the batch is applied to the table in one commit
(:meth:`mlake.tables.table.Table.apply_changes`: delete the keys, add their new rows), with the stream
position and the last applied source position in the snapshot summary, so a delivery killed at any
moment and restarted neither loses nor repeats a change.

A CDC stream has one partition: commit order across keys is the stream's order.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import ValidationError
from mlake.streams.base import StreamError, check_stream_name
from mlake.streams.delivery import Delivery, DeliveryStats, position_is, position_json, summary_value
from mlake.streams.models import PutRecord, Record
from mlake.streams.service import Streams

if TYPE_CHECKING:
    import psycopg

CDC_PREFIX = "mlake.cdc."
SNAPSHOT_DONE = "mlake: snapshot complete"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


# --- capture ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Relation:
    schema: str
    name: str
    columns: list[tuple[str, int, bool]]  # name, type oid, part of the key

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


class PostgresCapture:
    """Captures the changes of PostgreSQL tables into a stream (see the module doc)."""

    def __init__(self, url: str, tables: list[str], streams: Streams, stream: str, *, name: str | None = None) -> None:
        self.url = url
        self.tables = [_qualified(t) for t in tables]
        if not self.tables:
            raise ValidationError("A capture needs at least one source table", hint="e.g. tables=['public.orders']")
        self.streams = streams
        self.stream = check_stream_name(stream)
        self.name = check_stream_name(name or stream, "capture").replace("-", "_")
        self.slot = f"mlake_{self.name}"
        self.publication = f"mlake_{self.name}"
        self._conn: psycopg.Connection[Any] | None = None
        self._types: dict[int, str] = {}
        self._relations: dict[int, _Relation] = {}

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> int:
        """Make the stream, publication and slot if missing, and take the snapshot unless it is complete.

        Returns the number of snapshot rows put (0 when the snapshot was complete already)."""
        if self.stream not in self.streams.list_streams():
            self.streams.create(self.stream, partitions=1)
        elif self.streams.describe(self.stream).partitions != 1:
            raise ValidationError(
                f"Stream {self.stream!r} has more than one partition; change data capture needs one",
                hint="commit order across keys is kept only within a partition: create it with partitions=1",
            )
        conn = self._connection()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = %s",
                [self.publication],
            )
            found = cur.fetchone()
            if found is None:
                cur.execute(f"CREATE PUBLICATION {self.publication} FOR TABLE {', '.join(self.tables)}")
            cur.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [self.slot])
            if cur.fetchone() is None:
                cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [self.slot])
        if found is not None and found[0] == SNAPSHOT_DONE:
            return 0
        put = self._snapshot()
        with conn.cursor() as cur:
            cur.execute(f"COMMENT ON PUBLICATION {self.publication} IS '{SNAPSHOT_DONE}'")
        return put

    def poll(self, *, max_changes: int = 10_000) -> int:
        """Put the changes committed since the last poll (whole transactions); returns how many."""
        conn = self._connection()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes(%s, NULL, %s, "
                "'proto_version', '1', 'publication_names', %s)",
                [self.slot, max_changes, self.publication],
            )
            rows = cur.fetchall()
        changes, end_lsn = self._decode(bytes(data) for _, data in rows)
        if changes:
            self._put(changes)
        if end_lsn is not None:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", [self.slot, _lsn_text(end_lsn)])
        return len(changes)

    def drop(self) -> None:
        """Remove the slot and the publication from the source (the stream stays)."""
        conn = self._connection()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                [self.slot],
            )
            cur.execute(f"DROP PUBLICATION IF EXISTS {self.publication}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> PostgresCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            import psycopg

            self._conn = psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
            with self._conn.cursor() as cur:
                cur.execute("SHOW wal_level")
                level = cur.fetchone()
                if level is None or level[0] != "logical":
                    raise StreamError(
                        f"PostgreSQL at {_redacted(self.url)} has wal_level={level[0] if level else '?'}, "
                        "not logical: it cannot decode changes",
                        hint="ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL "
                        "(scripts/services.sh does it on the test server)",
                    )
                cur.execute("SELECT oid, typname FROM pg_type")
                self._types = {int(oid): str(name) for oid, name in cur.fetchall()}
        return self._conn

    def _snapshot(self) -> int:
        """Every row of every source table, as text (the form pgoutput sends), in one consistent read."""
        conn = self._connection()
        put = 0
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for table in self.tables:
                schema, name = table.split(".")
                cur.execute(
                    "SELECT a.attname, a.atttypid, coalesce(a.attnum = ANY(i.indkey), false) "
                    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
                    "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
                    "ORDER BY a.attnum",
                    [schema, name],
                )
                relation = _Relation(schema, name, [(str(n), int(t), bool(k)) for n, t, k in cur.fetchall()])
                if not any(k for _, _, k in relation.columns):
                    raise ValidationError(
                        f"Table {table} has no primary key: its changes cannot be applied by key",
                        hint="add a primary key to the source table",
                    )
                columns = ", ".join(f'"{c}"::text' for c, _, _ in relation.columns)
                cur.execute(f"SELECT {columns} FROM {table}")
                batch: list[dict[str, Any]] = []
                for row in cur:
                    batch.append(self._change("r", relation, list(row), 0, 0))
                    if len(batch) >= 1000:
                        self._put(batch)
                        put += len(batch)
                        batch = []
                if batch:
                    self._put(batch)
                    put += len(batch)
        return put

    def _change(self, op: str, relation: _Relation, values: list[str | None], lsn: int, index: int) -> dict[str, Any]:
        types = {c: self._types.get(t, "text") for c, t, _ in relation.columns}
        row = {c: v for (c, _, _), v in zip(relation.columns, values, strict=True)}
        return {
            "op": op,
            "table": relation.qualified,
            "lsn": lsn,
            "index": index,
            "key": [c for c, _, k in relation.columns if k],
            "types": types,
            "row": row,
        }

    def _put(self, changes: list[dict[str, Any]]) -> None:
        result = self.streams.put_batch(self.stream, [PutRecord(_key_text(c), c) for c in changes])
        if not result.ok:
            first = result[result.failed_indices[0]]
            raise StreamError(
                f"{result.failed_count} change(s) could not be put into stream {self.stream!r}: {first.error}",
                hint="the slot was not moved: the next poll puts them again",
            )

    def _decode(self, messages: Any) -> tuple[list[dict[str, Any]], int | None]:
        """pgoutput (protocol 1) messages -> change records, and the end of the last whole transaction."""
        changes: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        end_lsn: int | None = None
        commit_lsn = 0
        for msg in messages:
            kind = msg[:1]
            if kind == b"B":
                (commit_lsn,) = struct.unpack_from(">Q", msg, 1)
                pending = []
            elif kind == b"C":
                _, _, end, _ = struct.unpack_from(">bQQq", msg, 1)
                changes.extend(pending)
                pending = []
                end_lsn = end
            elif kind == b"R":
                relid, relation = _relation(msg)
                self._relations[relid] = relation
            elif kind in (b"I", b"U", b"D"):
                (relid,) = struct.unpack_from(">I", msg, 1)
                relation = self._relations[relid]
                pos = 5
                old: list[str | None] | None = None
                if kind != b"I" and msg[pos : pos + 1] in (b"K", b"O"):
                    old, pos = _tuple(msg, pos + 1)
                new: list[str | None] | None = None
                if kind != b"D":
                    assert msg[pos : pos + 1] == b"N"
                    new, pos = _tuple(msg, pos + 1)
                if kind == b"D":
                    assert old is not None
                    pending.append(self._change("d", relation, old, commit_lsn, len(pending)))
                    continue
                assert new is not None
                if old is not None:  # the key changed: the old key's row is gone
                    pending.append(self._change("d", relation, old, commit_lsn, len(pending)))
                pending.append(self._change("c" if kind == b"I" else "u", relation, new, commit_lsn, len(pending)))
            elif kind == b"T":
                (count, _options) = struct.unpack_from(">Ib", msg, 1)
                for i in range(count):
                    (relid,) = struct.unpack_from(">I", msg, 6 + 4 * i)
                    relation = self._relations[relid]
                    change = self._change("t", relation, [None] * len(relation.columns), commit_lsn, len(pending))
                    pending.append(change)
        return changes, end_lsn


def _relation(msg: bytes) -> tuple[int, _Relation]:
    (relid,) = struct.unpack_from(">I", msg, 1)
    pos = 5
    schema, pos = _cstring(msg, pos)
    name, pos = _cstring(msg, pos)
    pos += 1  # replica identity setting
    (count,) = struct.unpack_from(">h", msg, pos)
    pos += 2
    columns: list[tuple[str, int, bool]] = []
    for _ in range(count):
        flags = msg[pos]
        column, pos = _cstring(msg, pos + 1)
        oid, _typmod = struct.unpack_from(">Ii", msg, pos)
        pos += 8
        columns.append((column, oid, bool(flags & 1)))
    return relid, _Relation(schema, name, columns)


def _tuple(msg: bytes, pos: int) -> tuple[list[str | None], int]:
    (count,) = struct.unpack_from(">h", msg, pos)
    pos += 2
    values: list[str | None] = []
    for _ in range(count):
        kind = msg[pos : pos + 1]
        pos += 1
        if kind == b"t":
            (length,) = struct.unpack_from(">i", msg, pos)
            values.append(msg[pos + 4 : pos + 4 + length].decode())
            pos += 4 + length
        elif kind == b"n":
            values.append(None)
        else:  # 'u': an unchanged TOASTed value pgoutput does not send
            raise StreamError(
                "A change left out an unchanged large (TOASTed) value",
                hint="ALTER TABLE … REPLICA IDENTITY FULL on the source table so that updates carry every value",
            )
    return values, pos


def _cstring(msg: bytes, pos: int) -> tuple[str, int]:
    end = msg.index(b"\0", pos)
    return msg[pos:end].decode(), end + 1


def _lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _qualified(table: str) -> str:
    parts = table.split(".")
    if len(parts) == 1:
        parts = ["public", *parts]
    if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
        raise ValidationError(f"Cannot capture {table!r}", hint="name a source table as schema.table or table")
    return ".".join(parts)


def _key_text(change: dict[str, Any]) -> str:
    key = json.dumps([change["row"].get(k) for k in change["key"]], separators=(",", ":"))
    text = f"{change['table']}:{key}"
    return text if len(text) <= 256 else text[:200] + str(hash(text))


def _redacted(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


# --- delivery ---------------------------------------------------------------------------------------


class ChangeDelivery(Delivery):
    """Applies the changes of one source table from a CDC stream to a lake table (see the module doc)."""

    def __init__(self, *args: Any, source_table: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.transform is not None or self.transform_sql is not None or self.time_fields:
            raise ValidationError(
                "A delivery of changes applies them as they are: it takes no transform or time fields",
                hint="transform the mirror table with SQL afterwards, or deliver the stream a second time",
            )
        self.source_table = _qualified(source_table)
        self.cdc_key = f"{CDC_PREFIX}{self.name}"

    def applied(self) -> tuple[int, int]:
        """The last source position (commit LSN, index in its transaction) applied to the table."""
        if not self.lake.table_exists(self.table_name):
            return (-1, -1)
        return _applied(self.lake.table(self.table_name).iceberg, self.cdc_key)

    def _flush(self, records: list[Record], committed: dict[int, int], stats: DeliveryStats) -> None:
        reached = dict(committed)
        for r in records:
            reached[r.partition] = max(reached.get(r.partition, -1), r.sequence)
        table = self.lake.table(self.table_name) if self.lake.table_exists(self.table_name) else None
        applied = _applied(table.iceberg, self.cdc_key) if table is not None else (-1, -1)
        final: dict[tuple[Any, ...], dict[str, Any] | None] = {}
        truncated = False
        key: list[str] = []
        types: dict[str, str] = {}
        errors: list[tuple[Record, str]] = []
        for r in records:
            try:
                change = json.loads(r.data)
                op = change["op"]
                if change["table"] != self.source_table:
                    continue
                position = (int(change["lsn"]), int(change["index"]))
                if op != "r" and position <= applied:
                    continue  # put twice by a capture restarted before it moved its slot
                key, types = list(change["key"]), dict(change["types"])
                if op != "r":
                    applied = position
                if op == "t":
                    truncated, final = True, {}
                    continue
                row = {c: _value(v, types[c]) for c, v in change["row"].items()}
                final[tuple(row[k] for k in key)] = None if op == "d" else row
            except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                errors.append((r, f"not a change record of mlake.streams.cdc: {type(exc).__name__}: {exc}"))
        if errors:
            self._write_errors(errors, reached)
        rows = [row for row in final.values() if row is not None]
        deleted = [k for k, row in final.items() if row is None]
        if table is None and (rows or deleted or truncated) and types:
            table = self.lake.create_table(self.table_name, schema=_arrow_schema(types), exist_ok=True)
        if table is not None:
            data = pa.Table.from_pylist(rows, schema=_arrow_schema(types)) if types else table.schema.as_arrow()
            if not types:
                data = data.empty_table()
            table.apply_changes(
                data,
                key or [f.name for f in table.schema.as_arrow()][:1],
                delete_keys=deleted,
                delete_all=truncated,
                command=f"apply changes of {self.source_table} from stream {self.stream}",
                properties={self.key: position_json(reached), self.cdc_key: json.dumps(list(applied))},
                precondition=position_is(self.key, dict(committed), self.table_name),
            )
        self._flushed(stats, committed, reached if table is not None else None, len(records), len(rows), len(errors))


def _applied(table: Any, key: str) -> tuple[int, int]:
    raw = summary_value(table, key)
    if raw is None:
        return (-1, -1)
    lsn, index = json.loads(raw)
    return int(lsn), int(index)


_ARROW: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "numeric": pa.decimal128(38, 9),
}


def _arrow_schema(types: dict[str, str]) -> pa.Schema:
    """PostgreSQL types as Arrow types (anything else is kept as its text)."""
    return pa.schema([pa.field(c, _ARROW.get(t, pa.string())) for c, t in types.items()])


def _value(text: str | None, pg_type: str) -> Any:
    """A value as pgoutput writes it (text) -> the Python value of its Arrow column."""
    if text is None:
        return None
    if pg_type in ("int2", "int4", "int8"):
        return int(text)
    if pg_type in ("float4", "float8"):
        return float(text)
    if pg_type == "bool":
        return text in ("t", "true")  # pgoutput writes t, a ::text cast true
    if pg_type == "numeric":
        return Decimal(text)
    if pg_type == "date":
        return date.fromisoformat(text)
    if pg_type in ("timestamp", "timestamptz"):
        moment = datetime.fromisoformat(_iso(text))
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return text


def _iso(text: str) -> str:
    """PostgreSQL's ``2026-12-02 08:00:00.5+01`` as ISO 8601 that Python reads."""
    match = re.match(r"^(.*[+-]\d\d)$", text)
    return f"{match.group(1)}:00" if match else text
