"""Table metadata, parsed once per metadata file.

Every governed read checks the table's owner, tags and columns, then binds a view to its current
snapshot: without a cache each request parses the table's metadata JSON several times. Iceberg
metadata files are immutable — a commit writes a new file and moves the catalog's pointer — so a
parsed table keyed by its metadata location can never be stale: each load asks the catalog for the
current location (one indexed query) and parses only when it changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table as IcebergTable
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlake.tables.names import TableName

_SIZE = 512


class MetadataCache:
    """An LRU of parsed tables by metadata location, shared by all principals of one lake."""

    def __init__(self) -> None:
        self._tables: OrderedDict[str, IcebergTable] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, catalog: SqlCatalog, name: TableName) -> IcebergTable:
        """The table at its current metadata; NoSuchTableError when it does not exist."""
        stmt = select(IcebergTables.metadata_location).where(
            IcebergTables.catalog_name == catalog.name,
            IcebergTables.table_namespace == name.namespace,
            IcebergTables.table_name == name.name,
        )
        type_filter = catalog._iceberg_type_filter() if hasattr(catalog, "_iceberg_type_filter") else None
        if type_filter is not None:
            stmt = stmt.where(type_filter)
        with Session(catalog.engine) as session:
            location = session.scalar(stmt)
        if not location:
            raise NoSuchTableError(f"Table does not exist: {name}")
        with self._lock:
            cached = self._tables.get(location)
            if cached is not None:
                self._tables.move_to_end(location)
                return cached
        table = catalog.load_table(name.identifier)
        with self._lock:
            self._tables[table.metadata_location] = table
            while len(self._tables) > _SIZE:
                self._tables.popitem(last=False)
        return table
