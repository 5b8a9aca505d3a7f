"""SQLite online store: the embedded default, one file in the lake's home.

One table keyed by (group, entity key) with the newer-wins rule in the upsert's ``WHERE`` clause, so
the rule holds inside SQLite's own transaction whatever the order or concurrency of writers. Each thread
gets its own connection (WAL mode lets readers run while a writer commits).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from mlake.errors import ConfigError
from mlake.features.online.base import OnlineRecord, OnlineStoreError, StoredValue

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (
    group_name TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    write_time INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (group_name, entity_key)
) WITHOUT ROWID
"""
_UPSERT = """
INSERT INTO online_features (group_name, entity_key, event_time, write_time, payload) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (group_name, entity_key) DO UPDATE SET
    event_time = excluded.event_time, write_time = excluded.write_time, payload = excluded.payload
WHERE excluded.event_time > online_features.event_time
   OR (excluded.event_time = online_features.event_time AND excluded.write_time >= online_features.write_time)
"""
_REPLACE = """
INSERT INTO online_features (group_name, entity_key, event_time, write_time, payload) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (group_name, entity_key) DO UPDATE SET
    event_time = excluded.event_time, write_time = excluded.write_time, payload = excluded.payload
WHERE online_features.write_time <= ?
"""
_DELETE = "DELETE FROM online_features WHERE group_name = ? AND entity_key = ? AND write_time <= ?"
_MAX_PARAMS = 900


class SqliteOnlineStore:
    """Online features in a SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connection().execute(_SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> SqliteOnlineStore:
        """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``."""
        if not url.lower().startswith("sqlite:///"):
            raise ConfigError(
                f"Cannot read the online store URL {url!r}",
                hint="use sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        return cls(url[len("sqlite:///") :])

    @property
    def identity(self) -> str:
        return f"sqlite:///{self.path}"

    def _connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute("PRAGMA cache_size=-65536")  # 64 MB page cache: bulk upserts stay in memory
            except sqlite3.Error as exc:
                raise OnlineStoreError(f"Cannot open the online store {self.path}: {exc}") from exc
            self._local.con = con
            with self._lock:
                self._connections.append(con)
        return con

    def upsert(self, group: str, records: Sequence[OnlineRecord]) -> int:
        if not records:
            return 0
        con = self._connection()
        try:
            con.execute("BEGIN IMMEDIATE")
            before = con.total_changes
            con.executemany(_UPSERT, [(group, *r) for r in records])
            changed = con.total_changes - before
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise OnlineStoreError(f"Writing to the online store {self.path} failed: {exc}") from exc
        return changed

    def reconcile(
        self, group: str, records: Sequence[OnlineRecord], deleted: Sequence[str], written_up_to_us: int
    ) -> int:
        if not records and not deleted:
            return 0
        con = self._connection()
        try:
            con.execute("BEGIN IMMEDIATE")
            before = con.total_changes
            con.executemany(_REPLACE, [(group, *r, written_up_to_us) for r in records])
            con.executemany(_DELETE, [(group, key, written_up_to_us) for key in deleted])
            changed = con.total_changes - before
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise OnlineStoreError(f"Writing to the online store {self.path} failed: {exc}") from exc
        return changed

    def read(self, group: str, keys: Sequence[str]) -> list[StoredValue | None]:
        con = self._connection()
        if len(keys) == 1:
            row = con.execute(
                "SELECT event_time, write_time, payload FROM online_features WHERE group_name = ? AND entity_key = ?",
                (group, keys[0]),
            ).fetchone()
            return [StoredValue(*row) if row else None]
        found: dict[str, StoredValue] = {}
        for start in range(0, len(keys), _MAX_PARAMS):
            chunk = list(dict.fromkeys(keys[start : start + _MAX_PARAMS]))
            marks = ", ".join("?" * len(chunk))
            for key, et, wt, payload in con.execute(
                "SELECT entity_key, event_time, write_time, payload FROM online_features "
                f"WHERE group_name = ? AND entity_key IN ({marks})",
                (group, *chunk),
            ):
                found[key] = StoredValue(et, wt, payload)
        return [found.get(k) for k in keys]

    def keys(self, group: str) -> Iterator[str]:
        cursor = self._connection().execute("SELECT entity_key FROM online_features WHERE group_name = ?", (group,))
        while rows := cursor.fetchmany(10_000):
            yield from (r[0] for r in rows)

    def count(self, group: str) -> int:
        row = (
            self._connection().execute("SELECT count(*) FROM online_features WHERE group_name = ?", (group,)).fetchone()
        )
        return int(row[0]) if row else 0

    def drop_group(self, group: str) -> None:
        con = self._connection()
        con.execute("DELETE FROM online_features WHERE group_name = ?", (group,))

    def close(self) -> None:
        with self._lock:
            for con in self._connections:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()
