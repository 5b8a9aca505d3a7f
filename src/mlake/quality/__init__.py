"""Data quality: profiles, checks, suggested checks, gates, metric history with anomaly detection,
quality dimensions, the ML readiness report, annotator agreement and reports.

Use it through ``lake.quality`` (:class:`mlake.quality.api.Quality`); check types can be built in
Python too: ``Suite([NotNull("customer_id"), Unique("order_id"), InRange("amount", min=0)])``.
"""

from mlake.quality.checks import (
    CustomSql,
    Distribution,
    Freshness,
    InRange,
    InSet,
    NotNull,
    References,
    Regex,
    RowCount,
    SchemaContract,
    TypeCheck,
    Unique,
)
from mlake.quality.history import AnomalyRules
from mlake.quality.suite import Suite

__all__ = [
    "AnomalyRules",
    "CustomSql",
    "Distribution",
    "Freshness",
    "InRange",
    "InSet",
    "NotNull",
    "References",
    "Regex",
    "RowCount",
    "SchemaContract",
    "Suite",
    "TypeCheck",
    "Unique",
]
