"""Access control: principals and tokens, grants, row filters, column masks, sandboxed SQL, audit log.

``lake.governance`` administers it; ``lake.as_principal(p)`` gives the lake as a principal may see it.
See :mod:`mlake.governance.model` for the rules.
"""

from __future__ import annotations

from mlake.governance.model import PRIVILEGES, AuditEvent, ColumnMask, Grant, Principal, Role, RowFilter, Scope
from mlake.governance.sandbox import QueryLimitError, SandboxError, SandboxLimits
from mlake.governance.tokens import AuthenticationError

__all__ = [
    "PRIVILEGES",
    "AuditEvent",
    "AuthenticationError",
    "ColumnMask",
    "Grant",
    "Principal",
    "QueryLimitError",
    "Role",
    "RowFilter",
    "SandboxError",
    "SandboxLimits",
    "Scope",
]
