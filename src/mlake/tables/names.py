"""Table names: ``namespace.table``, checked once at the edge so the rest of the code can trust them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlake.errors import ValidationError

_PART = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_QUERY_START = re.compile(r"^\s*(\(|select\b|with\b|from\b|values\b)", re.IGNORECASE)
QUARANTINE_SUFFIX = "__quarantine"


def is_query(text: object) -> bool:
    """Whether text given where a table or a query is accepted is a query (it starts as one) rather than
    a table name."""
    return isinstance(text, str) and bool(_QUERY_START.match(text))


@dataclass(frozen=True, order=True)
class TableName:
    """A table's full name. Names are lower-case, as in most SQL engines, so ``Shop.Orders`` is
    ``shop.orders`` everywhere (SQL, CLI, REST) and never two different tables."""

    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str | TableName) -> TableName:
        if isinstance(text, TableName):
            return text
        cleaned = text.strip().replace('"', "").lower()
        parts = cleaned.split(".")
        if len(parts) != 2:
            raise ValidationError(
                f"Table name {text!r} must have the form namespace.table",
                hint="for example shop.orders",
            )
        ns, name = parts
        check_part(ns, "namespace", text)
        check_part(name, "table", text)
        return cls(ns, name)

    @property
    def identifier(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def quarantine(self) -> TableName:
        return TableName(self.namespace, self.name + QUARANTINE_SUFFIX)

    @property
    def is_quarantine(self) -> bool:
        return self.name.endswith(QUARANTINE_SUFFIX)

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"


def check_part(part: str, what: str, original: str | None = None) -> str:
    if not _PART.match(part):
        where = f" in {original!r}" if original and original != part else ""
        raise ValidationError(
            f"Invalid {what} name {part!r}{where}",
            hint="use lower-case letters, digits and underscores, starting with a letter or underscore",
        )
    return part
