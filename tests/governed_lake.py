"""A small lake with principals, roles, grants, a row filter and column masks (governance and server tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

import mlake
from mlake.lake import Lake


@dataclass
class Governed:
    lake: Lake
    admin_token: str
    analyst_token: str
    outsider_token: str


CUSTOMERS = pa.table(
    {
        "customer_id": [1, 2, 3, 4, 5, 6],
        "email": ["ann@example.com", "bob@example.com", None, "dee@example.com", "eve@example.com", "fay@example.com"],
        "country": ["DE", "FR", "DE", "NL", "DE", "FR"],
        "age": [31, 45, 27, 62, 38, 50],
    }
)
ORDERS = pa.table({"order_id": [10, 11, 12, 13], "customer_id": [1, 2, 3, 5], "amount": [20.0, 35.5, 12.25, 99.0]})
SECRETS = pa.table({"k": ["launch"], "v": ["2027-01-01"]})


def build_governed_lake(home: Path) -> Governed:
    lake = mlake.connect(home, threads=2, user="owner")
    lake.create_table("shop.customers", CUSTOMERS, tags={"pii": "true"}, description="Customers (PII)")
    lake.create_table("shop.orders", ORDERS, tags={"pii": "false"}, description="Orders")
    lake.create_table("vault.secrets", SECRETS, description="Not for analysts")
    gov = lake.governance
    gov.create_role("analyst", "reads non-PII data; PII masked and filtered")
    gov.create_principal("root", superuser=True)
    gov.create_principal("bob", roles=["analyst"])
    gov.create_principal("alice")
    gov.grant("analyst", "select", "tag:pii=false")
    gov.grant("analyst", "select", "shop.customers")
    gov.add_row_filter("shop.customers", "analyst", "country = 'DE'")
    gov.add_column_mask("shop.customers", "email", "analyst", "email")
    gov.add_column_mask("shop.customers", "age", "analyst", "round(age, -1)")
    _, admin = gov.create_token("root", "tests")
    _, analyst = gov.create_token("bob", "tests")
    _, outsider = gov.create_token("alice", "tests")
    return Governed(lake, admin, analyst, outsider)
