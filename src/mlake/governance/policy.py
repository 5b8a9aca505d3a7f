"""One principal's effective access: what it may do to a table, and what it sees of it.

An :class:`AccessPolicy` is resolved once from the principal's grants, row filters and column masks
(its own, its roles', and the ``public`` role's) and then answers every check in memory. The rules are
those of :mod:`mlake.governance.model`. :meth:`AccessPolicy.secure_view` turns them into the SQL of the
view the principal reads a table through: hidden columns left out, masked columns replaced by their
mask, and every row filter in the WHERE clause. All read paths (SQL, previews, exports, training sets,
REST, Studio) read tables through such views, so they all obey the same rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from mlake.errors import PermissionDeniedError, ValidationError
from mlake.governance.model import ColumnMask, Grant, Principal, Privilege, RowFilter
from mlake.governance.sandbox import SqlSandbox
from mlake.tables.names import TableName
from mlake.tables.types import quote_ident, quote_literal

_IMPLIED: dict[str, set[str]] = {
    "select": {"select", "admin"},
    "insert": {"insert", "admin"},
    "alter": {"alter", "admin"},
    "admin": {"admin"},
}

_STREAM_WORDS = {"select": "read", "insert": "write", "alter": "alter", "admin": "admin"}

_STRING_TYPES = ("VARCHAR", "STRING", "TEXT", "UUID")


def named_mask(mask: str, column: str, duckdb_type: str) -> str | None:
    """The SQL of a built-in mask over ``column``, or None when ``mask`` is not a built-in name.

    - ``null``: always NULL; ``redact``: ``'***'`` for text, NULL otherwise;
    - ``hash``: an MD5 pseudonym (equal values stay equal, so joins and counts still work);
    - ``email``: the part before ``@`` hidden; ``last4``: all but the last four characters hidden;
    - ``year``: dates and timestamps truncated to the year.
    """
    col = quote_ident(column)
    is_text = duckdb_type.upper().startswith(_STRING_TYPES)
    as_text = f"CAST({col} AS VARCHAR)"
    masks = {
        "null": f"CAST(NULL AS {duckdb_type})",
        "redact": f"CASE WHEN {col} IS NULL THEN NULL ELSE '***' END" if is_text else f"CAST(NULL AS {duckdb_type})",
        "hash": f"md5({as_text})",
        "email": f"regexp_replace({as_text}, '^[^@]*', '***')",
        "last4": f"CASE WHEN length({as_text}) > 4 THEN repeat('*', length({as_text}) - 4) || right({as_text}, 4) "
        f"ELSE {as_text} END",
        "year": f"date_trunc('year', {col})",
    }
    return masks.get(mask.strip().lower())


MASK_NAMES = ("null", "redact", "hash", "email", "last4", "year")


@dataclass(frozen=True)
class TableFacts:
    """What the policy needs to know about a table: its name, owner, tags and columns (name, DuckDB type).

    ``columns`` are those of the schema being read — the current one, or the one a snapshot was written
    with when reading back in time — and ``field_ids`` their Iceberg field ids. Grants, masks and filters
    name columns as they are now (``current_ids``: name -> field id); ``names_ever`` holds every
    (name, field id) a column of the table ever had. With them a mask follows its column through renames
    and into old snapshots, and a column the current schema no longer has is left out for a principal
    with restrictions on the table. Facts without field ids fall back to matching by name.
    """

    name: TableName
    owner: str | None
    tags: dict[str, str]
    columns: tuple[tuple[str, str], ...]
    field_ids: tuple[int, ...] = ()
    current_ids: tuple[tuple[str, int], ...] = ()
    names_ever: tuple[tuple[str, int], ...] = ()

    def reading(self, columns: tuple[tuple[str, str, int], ...] | None) -> TableFacts:
        """These facts for reading ``columns`` (name, DuckDB type, field id) — a snapshot's schema."""
        if columns is None:
            return self
        return replace(self, columns=tuple((n, t) for n, t, _ in columns), field_ids=tuple(i for _, _, i in columns))

    def ids_named(self, column: str, *, ever: bool) -> set[int]:
        """Field ids of the column named ``column`` now (and, with ``ever``, at any time before)."""
        ids = {fid for n, fid in self.current_ids if n == column}
        if ever:
            ids |= {fid for n, fid in self.names_ever if n == column}
        return ids

    def stable_id(self, column: str) -> set[int]:
        """The field id of ``column`` when that name and that field were only ever each other's, else
        nothing: a column grant names a column, and a rename (or a swap of two names) must not carry the
        grant over to another column. Conservative: a renamed column needs its grant given again."""
        now = self.ids_named(column, ever=False)
        if not self.names_ever:
            return now
        ever = {fid for n, fid in self.names_ever if n == column}
        if len(now) != 1 or ever != now:
            return set()
        (fid,) = now
        return now if {n for n, f in self.names_ever if f == fid} == {column} else set()

    def columns_with_ids(self, ids: set[int], *, name: str | None = None) -> list[str]:
        """Columns read whose field id is in ``ids`` (by ``name`` when the facts carry no field ids)."""
        if not self.field_ids:
            return [c for c, _ in self.columns if c == name]
        return [c for (c, _), fid in zip(self.columns, self.field_ids, strict=True) if fid in ids]

    def unknown_columns(self) -> list[str]:
        """Columns read that the current schema no longer has (dropped since the snapshot was written)."""
        if not self.field_ids or not self.current_ids:
            return []
        known = {fid for _, fid in self.current_ids}
        return [c for (c, _), fid in zip(self.columns, self.field_ids, strict=True) if fid not in known]


@dataclass
class TableAccess:
    """A principal's access to one table."""

    privileges: set[str]
    columns: list[str] | None  # readable columns when only some are granted; None: all
    filters: list[str] = field(default_factory=list)  # SQL predicates, AND-ed
    masks: dict[str, str] = field(default_factory=dict)  # column -> SQL expression

    @property
    def can_read(self) -> bool:
        return "select" in self.privileges or "admin" in self.privileges or bool(self.columns)

    @property
    def restricted(self) -> bool:
        return self.columns is not None or bool(self.filters) or bool(self.masks)


class AccessPolicy:
    """The resolved access of one principal."""

    def __init__(
        self,
        principal: Principal,
        grants: Sequence[Grant],
        filters: Sequence[RowFilter],
        masks: Sequence[ColumnMask],
        sandbox: SqlSandbox,
    ) -> None:
        self.principal = principal
        self.grants = list(grants)
        self.filters = list(filters)
        self.masks = list(masks)
        self._sandbox = sandbox
        # Rendered (and sandbox-checked) filters and masks: parsing SQL costs ~1 ms, and a policy is
        # rebuilt whenever access control changes, so its renderings never go stale.
        self._rendered: dict[tuple[str, ...], str] = {}

    @property
    def superuser(self) -> bool:
        return self.principal.superuser

    # --- privileges -----------------------------------------------------------------------------

    def _owns(self, facts: TableFacts) -> bool:
        return bool(facts.owner) and facts.owner in (self.principal.name, *self.principal.roles)

    def access(self, facts: TableFacts) -> TableAccess:
        """Everything this principal may do with and see of one table."""
        if self.superuser:
            return TableAccess({"select", "insert", "alter", "admin"}, None)
        base = facts.name
        if base.is_quarantine:
            base = TableName(base.namespace, base.name[: -len("__quarantine")])
        privileges: set[str] = {"admin"} if self._owns(facts) else set()
        columns: set[str] = set()
        for g in self.grants:
            if g.scope.kind == "column":
                if g.scope.target == str(base) and g.privilege == "select":
                    columns.add(g.scope.column or "")
            elif g.scope.covers_table(base, facts.tags):
                privileges.add(g.privilege)
        if "admin" in privileges:
            privileges |= {"select", "insert", "alter"}
        names = [c for c, _ in facts.columns]
        readable: list[str] | None = None
        if "select" not in privileges and columns:
            granted = set().union(*(facts.stable_id(c) for c in columns))
            by_id = set().union(*(set(facts.columns_with_ids(granted, name=c)) for c in columns))
            readable = [c for c in names if c in by_id]
        access = TableAccess(privileges, readable)
        if facts.name.is_quarantine:
            # Quarantined rows are raw source records: they would leak what masks and filters hide.
            base_rules = any(f.table == str(base) for f in self.filters) or any(
                m.table == str(base) for m in self.masks
            )
            if base_rules and "alter" not in privileges:
                access.privileges.discard("select")
                access.columns = None
            return access
        types = dict(facts.columns)
        for f in self.filters:
            if f.table == str(facts.name):
                access.filters.append(self.render_filter(f.predicate))
        own_first = sorted(self.masks, key=lambda m: (m.grantee != self.principal.name, m.id))
        masked_here = False
        for m in own_first:
            if m.table != str(facts.name):
                continue
            masked_here = True
            # By field id: the column the mask was made for, under whatever name it has in the schema read.
            for c in facts.columns_with_ids(facts.ids_named(m.column, ever=True), name=m.column):
                if c not in access.masks:
                    access.masks[c] = self.render_mask(m.mask, m.column, types[c], read_as=c)
        unknown = facts.unknown_columns()
        if unknown and (masked_here or access.filters or access.columns is not None):
            # A column the policy cannot place (dropped since) is denied to a restricted principal.
            keep = access.columns if access.columns is not None else names
            access.columns = [c for c in keep if c not in unknown]
        return access

    def can(self, privilege: Privilege, facts: TableFacts) -> bool:
        access = self.access(facts)
        if privilege == "select":
            return access.can_read
        return bool(access.privileges & _IMPLIED[privilege])

    def require(self, privilege: Privilege, facts: TableFacts) -> TableAccess:
        access = self.access(facts)
        allowed = access.can_read if privilege == "select" else bool(access.privileges & _IMPLIED[privilege])
        if not allowed:
            raise PermissionDeniedError(
                f"Principal {self.principal.name!r} has no {privilege.upper()} grant on table {facts.name}",
                hint=f"ask an admin: mlake access grant {privilege} {facts.name} {self.principal.name}",
            )
        return access

    def can_on_namespace(self, privilege: Privilege, namespace: str) -> bool:
        """Grants on the whole lake or the namespace (creating tables needs ``alter`` there)."""
        if self.superuser:
            return True
        return any(
            g.privilege in _IMPLIED[privilege]
            and (g.scope.kind == "lake" or (g.scope.kind == "namespace" and g.scope.target == namespace))
            for g in self.grants
        )

    def require_namespace(self, privilege: Privilege, namespace: str) -> None:
        if not self.can_on_namespace(privilege, namespace):
            raise PermissionDeniedError(
                f"Principal {self.principal.name!r} has no {privilege.upper()} grant on namespace {namespace}",
                hint=f"ask an admin: mlake access grant {privilege} {namespace} {self.principal.name}",
            )

    def can_on_stream(self, privilege: Privilege, stream: str) -> bool:
        """Grants on the stream, on every stream (``stream:*``) or on the whole lake; ``stream`` ``*`` asks
        for a grant on every stream (creating streams needs ``alter`` there)."""
        if self.superuser:
            return True
        implied = _IMPLIED[privilege]
        return any(g.privilege in implied and g.scope.covers_stream(stream) for g in self.grants)

    def sees_stream(self, stream: str) -> bool:
        """Whether the principal holds any grant on the stream (it may then know that it exists)."""
        return self.superuser or any(g.scope.covers_stream(stream) for g in self.grants)

    def require_stream(self, privilege: Privilege, stream: str) -> None:
        """Refuse with the same words whether or not the stream exists: probing names teaches nothing."""
        if not self.can_on_stream(privilege, stream):
            what = "every stream" if stream == "*" else f"stream {stream!r} (or it does not exist)"
            raise PermissionDeniedError(
                f"Principal {self.principal.name!r} has no {_STREAM_WORDS[privilege]} grant on {what}",
                hint=f"ask an admin: mlake access grant {_STREAM_WORDS[privilege]} stream:{stream} "
                f"{self.principal.name}",
            )

    def require_superuser(self, what: str) -> None:
        if not self.superuser:
            raise PermissionDeniedError(
                f"Only superusers may {what}; principal {self.principal.name!r} is not one",
                hint="ask a superuser to do it",
            )

    # --- rendering ----------------------------------------------------------------------------------

    def render_filter(self, predicate: str) -> str:
        key = ("filter", predicate)
        cached = self._rendered.get(key)
        if cached is None:
            cached = predicate.replace("${principal}", quote_literal(self.principal.name))
            self._sandbox.check_expression(cached, "row filter")
            self._rendered[key] = cached
        return cached

    def render_mask(self, mask: str, column: str, duckdb_type: str, *, read_as: str | None = None) -> str:
        """The SQL of ``mask`` made for ``column``, over the column named ``read_as`` in the schema read
        (a renamed column, or an old snapshot's name for it)."""
        read_as = read_as or column
        key = ("mask", mask, column, duckdb_type, read_as)
        cached = self._rendered.get(key)
        if cached is None:
            cached = named_mask(mask, read_as, duckdb_type)
            if cached is None:
                self._sandbox.check_expression(mask, "column mask")
                cached = mask
                if read_as != column:  # the expression names the column as it was: bind that name to it
                    cached = f"list_transform([{quote_ident(read_as)}], lambda {quote_ident(column)}: {mask})[1]"
            self._rendered[key] = cached
        return cached

    def secure_view(self, facts: TableFacts, base_ref: str) -> tuple[str, str] | None:
        """``(fingerprint, SELECT ...)`` of the view this principal reads ``base_ref`` through, or None
        when it sees the table as it is (no hidden columns, masks or filters)."""
        access = self.require("select", facts)
        if not access.restricted:
            return None
        names = [c for c, _ in facts.columns]
        visible = access.columns if access.columns is not None else names
        if not visible:
            raise PermissionDeniedError(f"Principal {self.principal.name!r} may read no column of {facts.name}")
        select = ", ".join(
            f"{access.masks[c]} AS {quote_ident(c)}" if c in access.masks else quote_ident(c) for c in visible
        )
        sql = f"SELECT {select} FROM {base_ref}"
        if access.filters:
            sql += " WHERE " + " AND ".join(f"({f})" for f in access.filters)
        return hashlib.sha1(sql.encode()).hexdigest()[:12], sql


def check_mask_definition(mask: str, sandbox: SqlSandbox) -> None:
    """Refuse a mask that is neither a built-in name nor a plain SQL expression."""
    if mask.strip().lower() in MASK_NAMES:
        return
    try:
        sandbox.check_expression(mask, "column mask")
    except Exception as exc:
        raise ValidationError(
            f"Cannot use {mask!r} as a column mask: {exc}",
            hint=f"use one of {', '.join(MASK_NAMES)} or a SQL expression over the column, e.g. round(age, -1)",
        ) from exc
