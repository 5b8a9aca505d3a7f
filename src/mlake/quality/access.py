"""Quality on a principal's lake (``lake.as_principal(p).quality``): what is read, kept and shown.

A principal measures the table *as it may see it*: profiles and checks read its secure view (hidden
columns left out, masks applied, row filters in force) and the SQL they run is sandboxed (see
:meth:`mlake.sql.SqlEngine.internal_cursor`). Beyond that, quality keeps figures for others — the metric
history (``mlake.quality_metrics``) and the last result of each stored suite — and those describe the
*whole* table. Hence these rules, applied by :class:`~mlake.quality.api.Quality` and
:class:`~mlake.quality.store.SuiteStore`:

- A run is **kept** only when its caller reads the whole table (no row filter, mask or hidden column):
  a restricted principal's figures describe its view, and mixed into the table's series they would
  look like anomalies. Kept runs are written by mlake on the caller's behalf (the caller needs no grant
  on ``mlake.quality_metrics``) and name it as their actor. Query profiles are kept for superusers only.
- Kept figures are **shown** under the same rule: to principals who may read the whole table. Others
  are told why and can still run their own measurements.
- Stored suites are table metadata, like a description: whoever may read the table sees and runs them;
  their owner, principals with ``alter`` on the table, and superusers change or delete them.
- Every measurement and change is written to the audit log (actions ``quality.*``).

A lake that is not a principal's (the embedded, single-user lake) is its own keeper: every rule holds
trivially.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from mlake.errors import PermissionDeniedError
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.lake import Lake


def governed(lake: Lake) -> Lake | None:
    """The lake when a principal acts on it, or None for the owner's lake."""
    return lake if lake.access.governed else None


def audited(lake: Lake, action: str, tables: list[str], detail: str | None = None) -> AbstractContextManager[Any]:
    """Records the outcome of the block in the audit log when a principal acts."""
    return lake.access.audited(action, tables, detail)


def metadata_cache(lake: Lake) -> AbstractContextManager[Any]:
    """Within the block, a principal's checks look the policy and each table's metadata up once."""
    return lake.access.operation()


def require_read(lake: Lake, table: str | TableName) -> None:
    """Refuse (PermissionDeniedError) an actor without select on ``table``; NotFoundError if it is gone."""
    name = TableName.parse(table)
    lake.access.require_visible(name)
    lake.access.require("select", name)


def restriction(lake: Lake, table: str | TableName) -> str | None:
    """Why the caller does not see the whole table (for messages), or None when it does."""
    if not lake.access.governed:
        return None
    access = lake.access.require("select", TableName.parse(table))
    reasons = []
    if access.filters:
        reasons.append("a row filter")
    if access.masks:
        reasons.append("a column mask")
    if access.columns is not None:
        reasons.append("a column grant")
    return " and ".join(reasons) or None


def system(lake: Lake) -> Lake:
    """The lake that keeps quality's records (a principal's records are kept in the owner's lake)."""
    return lake._system()


def keeper(lake: Lake, table: str | None) -> Lake | None:
    """The lake that keeps and reads metric history for this caller and target (a table, or None for a
    query), or None when the caller's figures must not be kept nor the kept ones shown to it."""
    if not lake.access.governed:
        return lake
    if table is None:
        return lake._system() if lake.access.superuser else None
    return None if restriction(lake, table) else lake._system()


def require_whole(lake: Lake, table: str, what: str) -> Lake:
    """The keeper for ``table``, or PermissionDeniedError saying why the caller may not see ``what``."""
    found = keeper(lake, table)
    if found is None:
        who = lake.access.name or "?"
        why = restriction(lake, table) or "a restriction"
        verb = "apply" if " and " in why else "applies"
        raise PermissionDeniedError(
            f"The {what} of {table} describes the whole table, but {why} {verb} to principal {who!r}",
            hint="profile or check the table to measure what you may see (such runs are not kept)",
        )
    return found


def may_change(lake: Lake, owner: str, table: str) -> bool:
    """Whether the caller may change or delete something ``owner`` made for ``table`` (a stored suite)."""
    if lake.access.superuser or lake.access.name == owner:
        return True
    return lake.access.can("alter", TableName.parse(table))


def readable(lake: Lake, table: str) -> bool:
    """Whether the caller may read ``table`` (False as well when it no longer exists)."""
    if not lake.access.governed:
        return lake.table_exists(table)
    return lake.access.can("select", TableName.parse(table))


def actor(lake: Lake) -> str:
    return lake.settings.user
