"""The feature store: feature groups, a bitemporal offline store, point-in-time correct training sets,
online stores (SQLite, Redis), materialization, discovery and skew checks. Use it as ``lake.features``."""
