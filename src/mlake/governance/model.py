"""The nouns of access control: principals, roles, grants, row filters, column masks, audit events.

Rules, in one place (every face and read path applies the same ones through :mod:`mlake.governance.policy`):

- A *principal* is a user or a service account. It authenticates with API tokens. A *superuser*
  principal may do anything and sees data unfiltered and unmasked.
- A *role* groups grants; principals are members of roles. Every principal is a member of the built-in
  role ``public``, so a grant to ``public`` is a grant to everyone.
- A *grant* gives one privilege on one scope: the whole lake (``*``), a namespace (``shop``), a table
  (``shop.orders``), one column of a table (``shop.orders.amount``), every table carrying a tag
  (``tag:pii=false``; ``tag:gold`` matches the tag whatever its value), or a stream (``stream:clicks``;
  ``stream:*`` is every stream). Grants only add: a principal holds the union of its own grants and its
  roles' grants.
- Privileges: ``select`` reads, ``insert`` appends (ingest, append, upsert, INSERT INTO), ``alter``
  changes a table (metadata, schema, overwrite, delete, rollback, drop) or creates tables in a
  namespace, ``admin`` implies all of them. The owner of a table (its ``owner`` property names the
  principal or one of its roles) holds ``admin`` on it. On a stream, ``read`` (an alias of ``select``)
  reads, describes and follows it, ``write`` (an alias of ``insert``) puts records, ``alter`` deletes it
  (and, on ``stream:*``, creates streams); the principal that creates a stream is granted ``admin`` on it.
  A grant on the whole lake covers streams too.
- *Row filters* and *column masks* restrict: every filter that applies to a principal (its own and its
  roles') must hold for a row to be visible (they are AND-ed), and a column with any applying mask is
  masked. More roles can add grants but never lift a filter or a mask.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from mlake.errors import ValidationError
from mlake.tables.names import TableName

PRIVILEGES = ("select", "insert", "alter", "admin")
Privilege = Literal["select", "insert", "alter", "admin"]
PrincipalKind = Literal["user", "service"]
PUBLIC_ROLE = "public"
PRIVILEGE_ALIASES = {"read": "select", "write": "insert"}
"""Words that read better for streams: ``grant(role, "write", "stream:clicks")`` stores ``insert``."""
_NAME = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
_STREAM = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")  # as mlake.streams.base (the ground cannot import an area)


def check_name(name: str, what: str = "principal") -> str:
    """Principal and role names: lower-case letters, digits, ``_ . -``, starting with a letter."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"Invalid {what} name {name!r}",
            hint="use lower-case letters, digits, '_', '.' or '-', starting with a letter (at most 64 characters)",
        )
    return name


def check_privilege(privilege: str) -> Privilege:
    p = privilege.strip().lower() if isinstance(privilege, str) else privilege
    p = PRIVILEGE_ALIASES.get(p, p)
    if p not in PRIVILEGES:
        raise ValidationError(
            f"Unknown privilege {privilege!r}",
            hint=f"use one of {', '.join(PRIVILEGES)} (or, for streams, read and write)",
        )
    return p  # type: ignore[return-value]


@dataclass(frozen=True)
class Scope:
    """What a grant covers. ``kind`` is lake, namespace, table, column, tag or stream."""

    kind: Literal["lake", "namespace", "table", "column", "tag", "stream"]
    target: str  # "*", "shop", "shop.orders", "shop.orders", "pii=false"
    column: str | None = None

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``*``, ``shop``, ``shop.orders``, ``shop.orders.amount``, ``tag:pii=false``, ``tag:gold``,
        ``stream:clicks`` or ``stream:*``."""
        raw = text.strip() if isinstance(text, str) else ""
        if raw == "*":
            return cls("lake", "*")
        if raw.lower().startswith("stream:"):
            stream = raw[7:].strip()
            if stream != "*" and not _STREAM.match(stream):
                raise ValidationError(
                    f"Invalid stream scope {text!r}",
                    hint="write stream:NAME (lower-case letters, digits, '_' and '-') or stream:* for every stream",
                )
            return cls("stream", stream)
        if raw.lower().startswith("tag:"):
            tag = raw[4:].strip()
            key, _, value = tag.partition("=")
            if not key or not re.fullmatch(r"[A-Za-z0-9_.\-]+", key):
                raise ValidationError(f"Invalid tag scope {text!r}", hint="write tag:key=value or tag:key")
            return cls("tag", f"{key}={value}" if "=" in tag else key)
        parts = raw.lower().split(".")
        if len(parts) == 1 and parts[0]:
            TableName.parse(f"{parts[0]}.x")  # validates the namespace part
            return cls("namespace", parts[0])
        if len(parts) == 2:
            return cls("table", str(TableName.parse(raw)))
        if len(parts) == 3 and re.fullmatch(r"[a-z_][a-z0-9_]*", parts[2]):
            return cls("column", str(TableName.parse(".".join(parts[:2]))), parts[2])
        raise ValidationError(
            f"Cannot read {text!r} as a grant scope",
            hint="use *, a namespace (shop), a table (shop.orders), a column (shop.orders.amount) or tag:key=value",
        )

    def __str__(self) -> str:
        if self.kind in ("tag", "stream"):
            return f"{self.kind}:{self.target}"
        if self.kind == "column":
            return f"{self.target}.{self.column}"
        return self.target

    def covers_table(self, table: TableName, tags: dict[str, str]) -> bool:
        """Whether this (non-column) scope covers every column of ``table``."""
        if self.kind == "lake":
            return True
        if self.kind == "namespace":
            return self.target == table.namespace
        if self.kind == "table":
            return self.target == str(table)
        if self.kind == "tag":
            key, eq, value = self.target.partition("=")
            return key in tags and (not eq or tags[key] == value)
        return False

    def covers_stream(self, stream: str) -> bool:
        """Whether this scope covers the stream named ``stream`` (``*``: every stream's scope)."""
        if self.kind == "lake":
            return True
        return self.kind == "stream" and self.target in ("*", stream)


@dataclass(frozen=True)
class Principal:
    name: str
    kind: PrincipalKind = "user"
    superuser: bool = False
    display_name: str | None = None
    roles: tuple[str, ...] = ()
    created_at: datetime | None = None
    disabled: bool = False

    @property
    def grantees(self) -> tuple[str, ...]:
        """The names whose grants, filters and masks apply to this principal."""
        return (self.name, *self.roles, PUBLIC_ROLE)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["roles"] = list(self.roles)
        d["created_at"] = self.created_at.isoformat() if self.created_at else None
        return d


@dataclass(frozen=True)
class Role:
    name: str
    description: str | None = None
    members: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "members": list(self.members)}


@dataclass(frozen=True)
class Grant:
    id: int
    grantee: str
    privilege: Privilege
    scope: Scope
    granted_by: str
    granted_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "grantee": self.grantee,
            "privilege": self.privilege,
            "scope": str(self.scope),
            "scope_kind": self.scope.kind,
            "granted_by": self.granted_by,
            "granted_at": self.granted_at.isoformat(),
        }


@dataclass(frozen=True)
class Identity:
    """Who acts, and the grants that apply to it (what ``GET /api/v1/me`` answers)."""

    principal: Principal
    grants: list[Grant] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.principal.to_dict(), "grants": [g.to_dict() for g in self.grants]}


@dataclass(frozen=True)
class RowFilter:
    """Rows of ``table`` that ``grantee`` may see: those where ``predicate`` (SQL) holds.

    ``${principal}`` in the predicate stands for the reading principal's name, as a string literal.
    """

    id: int
    table: str
    grantee: str
    predicate: str
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ColumnMask:
    """What ``grantee`` sees instead of ``table.column``: a named mask or a SQL expression over the column."""

    id: int
    table: str
    column: str
    grantee: str
    mask: str
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    principal: str
    description: str | None
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "principal": self.principal,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked": self.revoked,
        }


Outcome = Literal["ok", "denied", "error"]


@dataclass
class AuditEvent:
    """One thing a principal did or tried: who, what, when, on which tables, with what outcome."""

    principal: str
    action: str
    at: datetime
    tables: list[str] = field(default_factory=list)
    detail: str | None = None  # query text, arguments
    outcome: Outcome = "ok"
    message: str | None = None  # the error message when refused or failed
    client: str | None = None  # the remote address, or "embedded"
    duration_ms: float | None = None
    event_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        return d
