"""Access: who acts on a lake, and the few checks every path crosses.

Every :class:`~mlake.lake.Lake` carries one :class:`Access`. The lake's owner (the embedded, single-user
lake; the CLI on the lake's machine) holds an *owner* access: every check passes and nothing is audited.
``lake.as_principal(p)`` gives the same lake with a *principal's* access: the policy is resolved from the
principal's grants, row filters and masks **on every operation** (cached only while nothing in access
control changes, so a revoked grant or a new mask applies to the next read of every handle), every
check is denied by default, and every operation is written to the audit log.

The checks sit at the choke points that every path already crosses, not in per-method overrides:

- loading a table's metadata (:meth:`require_visible`: any attribute of a table needs some grant on it),
- building the SQL view a table is read through (the engine asks :meth:`require` and
  :meth:`secure_view`),
- committing a write (:meth:`require` with ``insert`` or ``alter``),
- listing and searching the catalog (:meth:`visible`),
- reading online features (the feature store asks :meth:`require` for the group's table).

A new method of a lake object is therefore governed the day it is written, as long as it reaches
tables through those points; ``tests/governance/test_introspection.py`` walks every public method and
property to prove it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol

from mlake.errors import MlakeError, PermissionDeniedError
from mlake.governance.model import Principal, Privilege
from mlake.governance.policy import AccessPolicy, TableAccess, TableFacts
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from mlake.governance.audit import AuditLog

_FULL = frozenset({"select", "insert", "alter", "admin"})


class PolicySource(Protocol):
    """Where a principal's current policy comes from (the lake's :class:`~mlake.governance.service.Governance`)."""

    def policy_for(self, principal: Principal) -> AccessPolicy: ...


class Access:
    """One actor's access to a lake: the owner's (trusted) or a principal's (checked and audited)."""

    def __init__(
        self,
        principal: Principal | None = None,
        *,
        policies: PolicySource | None = None,
        audit_log: AuditLog | None = None,
        facts: Callable[[TableName], TableFacts] | None = None,
        client: str | None = None,
    ) -> None:
        if principal is not None and (policies is None or audit_log is None or facts is None):
            raise ValueError("a principal's access needs a policy source, an audit log and a facts loader")
        self.principal = principal
        self.client = client
        self._policies = policies
        self._audit_log = audit_log
        self._facts = facts
        self._local = threading.local()

    # --- who ----------------------------------------------------------------------------------------

    @property
    def governed(self) -> bool:
        """True for a principal's access: checks apply and operations are audited."""
        return self.principal is not None

    @property
    def superuser(self) -> bool:
        return self.principal is None or self.principal.superuser

    @property
    def name(self) -> str | None:
        return self.principal.name if self.principal is not None else None

    @property
    def policy(self) -> AccessPolicy | None:
        """The principal's policy as access control stands now (None for the owner).

        Resolved on every operation — within one operation (see :meth:`operation`) it is looked up once —
        so that a handle made before a grant was revoked or a mask added obeys the change."""
        if self.principal is None:
            return None
        cached = getattr(self._local, "policy", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        assert self._policies is not None
        return self._policies.policy_for(self.principal)

    # --- table facts --------------------------------------------------------------------------------

    def facts(self, name: TableName) -> TableFacts:
        """Owner, tags and columns of a table (NotFoundError when it does not exist); cached per operation."""
        assert self._facts is not None
        name = TableName.parse(name)
        cache: dict[TableName, TableFacts] | None = getattr(self._local, "facts", None)
        if cache is not None and name in cache:
            return cache[name]
        found = self._facts(name)
        if cache is not None:
            cache[name] = found
        return found

    @contextmanager
    def operation(self) -> Iterator[None]:
        """Within the block the policy and each table's facts are looked up once (a query binds a table
        three or four times: facts, snapshot, view)."""
        outer = getattr(self._local, "facts", None)
        if outer is None and self.principal is not None:
            self._local.facts = {}
            self._local.policy = None
            self._local.policy = self.policy
        try:
            yield
        finally:
            if outer is None:
                self._local.facts = None
                self._local.policy = None

    # --- checks ---------------------------------------------------------------------------------------

    def table(self, name: TableName) -> TableAccess:
        """Everything this actor may do with and see of a table (everything, for the owner)."""
        policy = self.policy
        if policy is None:
            return TableAccess(set(_FULL), None)
        return policy.access(self.facts(name))

    def can(self, privilege: Privilege, name: TableName) -> bool:
        """Whether the privilege is held; False as well when the table does not exist."""
        policy = self.policy
        if policy is None:
            return True
        try:
            return policy.can(privilege, self.facts(name))
        except MlakeError:
            return False

    def require(self, privilege: Privilege, name: TableName) -> TableAccess:
        """The actor's access to ``name``, or PermissionDeniedError (NotFoundError if it does not exist)."""
        policy = self.policy
        if policy is None:
            return TableAccess(set(_FULL), None)
        if not policy.superuser:
            # a table the principal holds no grant on reads the same as one that does not exist: "no SELECT
            # grant" for one and "does not exist" for the other would answer the probe
            self.require_visible(name)
        return policy.require(privilege, self.facts(name))

    def visible(self, name: TableName) -> bool:
        """Whether the actor may know that ``name`` exists: some grant on it (read, write or ownership)."""
        policy = self.policy
        if policy is None or policy.superuser:
            return True
        try:
            access = policy.access(self.facts(name))
        except MlakeError:
            return False
        return access.can_read or bool(access.privileges)

    def require_visible(self, name: TableName) -> None:
        """Refuse a table the actor holds no grant on, with the same words whether or not it exists, so
        that probing names teaches a principal nothing."""
        if not self.visible(name):
            raise PermissionDeniedError(
                f"Principal {self.name!r} has no grant on table {name} (or it does not exist)",
                hint=f"ask an admin: mlake access grant select {name} {self.name}",
            )

    def can_on_namespace(self, privilege: Privilege, namespace: str) -> bool:
        policy = self.policy
        return policy is None or policy.can_on_namespace(privilege, namespace)

    def require_namespace(self, privilege: Privilege, namespace: str) -> None:
        policy = self.policy
        if policy is not None:
            policy.require_namespace(privilege, namespace)

    def require_superuser(self, what: str) -> None:
        policy = self.policy
        if policy is not None:
            policy.require_superuser(what)

    # --- streams (securables that are not tables: ``stream:NAME`` scopes) ----------------------------

    def can_stream(self, privilege: Privilege, stream: str) -> bool:
        policy = self.policy
        return policy is None or policy.can_on_stream(privilege, stream)

    def sees_stream(self, stream: str) -> bool:
        policy = self.policy
        return policy is None or policy.sees_stream(stream)

    def require_stream(self, privilege: Privilege, stream: str) -> None:
        """``select`` (read) / ``insert`` (write) / ``alter`` on a stream, or PermissionDeniedError with the
        same words whether or not the stream exists; ``*`` asks for the privilege on every stream."""
        policy = self.policy
        if policy is not None:
            policy.require_stream(privilege, stream)

    def require_owner(self, what: str) -> None:
        """Plumbing that bypasses access control (the raw catalog, the metadata database) is the owner's."""
        if self.principal is not None:
            raise PermissionDeniedError(
                f"{what} is the lake owner's: principal {self.principal.name!r} reaches the lake through its API",
                hint="use the lake's methods (tables, SQL, features, quality), which apply your grants",
            )

    def secure_view(
        self, name: TableName, base_ref: str, *, read: tuple[tuple[str, str, int], ...] | None = None
    ) -> tuple[str, str] | None:
        """``(fingerprint, SELECT ...)`` of the view the actor reads ``base_ref`` through, or None when it
        sees the table as it is. ``read``: the columns (name, type, field id) of the schema ``base_ref``
        has, when not the current one (time travel)."""
        policy = self.policy
        if policy is None:
            return None
        return policy.secure_view(self.facts(name).reading(read), base_ref)

    # --- audit ----------------------------------------------------------------------------------------

    def audit(
        self,
        action: str,
        tables: Sequence[str],
        detail: str | None,
        outcome: str,
        message: str | None,
        started: float | None,
    ) -> None:
        if self.principal is None or self._audit_log is None:
            return
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        self._audit_log.record(
            principal=self.principal.name,
            action=action,
            tables=list(dict.fromkeys(tables)),
            detail=detail,
            outcome=outcome,  # type: ignore[arg-type]
            message=message,
            client=self.client,
            duration_ms=duration,
        )

    def audited(self, action: str, tables: Sequence[str], detail: str | None = None) -> AbstractContextManager[Any]:
        """``with access.audited("table.append", [t]): ...`` records the block's outcome for a principal.

        The block is one operation: policy and facts are resolved once inside it."""
        if self.principal is None:
            return nullcontext()
        return _Audited(self, action, list(tables), detail)

    def flush_audit(self) -> None:
        if self._audit_log is not None:
            self._audit_log.flush()


class _Audited:
    def __init__(self, access: Access, action: str, tables: list[str], detail: str | None) -> None:
        self.access, self.action, self.tables, self.detail = access, action, tables, detail
        self.started = time.perf_counter()
        self._op = access.operation()

    def __enter__(self) -> _Audited:
        self._op.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from mlake.governance.sandbox import SandboxError

        self._op.__exit__(exc_type, exc, tb)
        a = self.access
        if exc is None:
            a.audit(self.action, self.tables, self.detail, "ok", None, self.started)
        elif isinstance(exc, PermissionDeniedError | SandboxError):
            a.audit(self.action, self.tables, self.detail, "denied", exc.message, self.started)
        elif isinstance(exc, MlakeError):
            a.audit(self.action, self.tables, self.detail, "error", exc.message, self.started)
        else:
            a.audit(self.action, self.tables, self.detail, "error", type(exc).__name__, self.started)


OWNER = Access()
"""The owner's access, shared by every embedded lake: nothing to check, nothing to audit."""
