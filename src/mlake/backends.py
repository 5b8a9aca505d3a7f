"""The backend registry: engines, online stores and streams, chosen by a type name or a URL scheme.

Every kind of backend is a small protocol with several implementations. Which one a lake uses is a
setting (``engine = "duckdb"``, ``online_url = "redis://..."``), never a code change, so the choice is
a lookup here: built-in backends are listed below, third-party ones come from the entry-point groups
``mlake.engines``, ``mlake.online_stores`` and ``mlake.streams`` (each entry names a factory; its
:class:`Backend` description comes from the factory's ``backend`` attribute when it has one).

A backend declares what it supports (``capabilities``) instead of raising surprise
``NotImplementedError``s, and its module is imported only when it is used: choosing Redis must not
make the embedded lake import a Redis client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Literal

from mlake.errors import ConfigError

Kind = Literal["engine", "online_store", "stream", "compute"]

_GROUPS: dict[Kind, str] = {
    "engine": "mlake.engines",
    "online_store": "mlake.online_stores",
    "stream": "mlake.streams",
    "compute": "mlake.compute",
}
_SETTING: dict[Kind, str] = {
    "engine": "engine",
    "online_store": "online_url",
    "stream": "stream_url",
    "compute": "the engine argument of a recipe run",
}


@dataclass(frozen=True)
class Backend:
    """One implementation of a backend kind."""

    kind: Kind
    name: str
    factory: str  # "module:attribute", imported on first use
    schemes: tuple[str, ...] = ()  # URL schemes that choose it
    capabilities: frozenset[str] = field(default_factory=frozenset)
    description: str = ""

    def load(self) -> Callable[..., Any]:
        module, _, attr = self.factory.partition(":")
        try:
            target: Any = import_module(module)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"The {self.kind.replace('_', ' ')} backend {self.name!r} cannot be loaded: {exc}",
                hint="install the extra it needs, e.g. pip install 'mlake[redis]'",
            ) from exc
        return target  # type: ignore[no-any-return]

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


BUILTIN: tuple[Backend, ...] = (
    Backend(
        "engine",
        "duckdb",
        "mlake.sql:SqlEngine",
        capabilities=frozenset({"sql", "time_travel", "secure_views", "spill_to_disk"}),
        description="DuckDB in process: reads Iceberg scans as Arrow, spills beyond the memory limit",
    ),
    Backend(
        "compute",
        "duckdb",
        "mlake.engines.partitioned:DuckDBCompute",
        capabilities=frozenset({"partitioned", "in_process"}),
        description="partitioned jobs (recipes) in process with DuckDB (the default)",
    ),
    Backend(
        "compute",
        "ray",
        "mlake.engines.ray:RayCompute",
        capabilities=frozenset({"partitioned", "distributed", "key_partitions"}),
        description="partitioned jobs on Ray: a DuckDB task per data file or key-hash partition (mlake[ray])",
    ),
    Backend(
        "online_store",
        "sqlite",
        "mlake.features.online.sqlite:SqliteOnlineStore.from_url",
        schemes=("sqlite",),
        capabilities=frozenset({"reconcile", "keys", "newer_wins", "durable"}),
        description="a SQLite file in the lake's home (the default)",
    ),
    Backend(
        "online_store",
        "redis",
        "mlake.features.online.redis:RedisOnlineStore",
        schemes=("redis", "rediss", "unix"),
        capabilities=frozenset({"reconcile", "keys", "newer_wins", "shared"}),
        description="Redis for teams: several servers share one store",
    ),
    Backend(
        "stream",
        "log",
        "mlake.streams.log:LogBackend.from_url",
        schemes=("file",),
        capabilities=frozenset({"durable", "contiguous_sequences", "multi_process_writers"}),
        description="the embedded durable log: segment files in a folder (the default, in the lake's home)",
    ),
    Backend(
        "stream",
        "nats",
        "mlake.streams.nats:NatsBackend",
        schemes=("nats", "tls"),
        capabilities=frozenset({"durable", "shared"}),
        description="NATS JetStream: a stream per mlake stream, a subject per partition",
    ),
    Backend(
        "stream",
        "redis",
        "mlake.streams.redis:RedisBackend",
        schemes=("redis", "rediss"),
        capabilities=frozenset({"shared"}),
        description="Redis Streams: a Redis stream per partition",
    ),
)


def backends(kind: Kind) -> dict[str, Backend]:
    """Every backend of ``kind``: the built-in ones, then those of installed packages' entry points."""
    found = {b.name: b for b in BUILTIN if b.kind == kind}
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group=_GROUPS[kind]):
            if ep.name not in found:
                found[ep.name] = Backend(kind, ep.name, ep.value.replace(" ", ""))
    except Exception:  # a broken third-party distribution must not stop the built-in backends
        pass
    return found


def backend_named(kind: Kind, name: str) -> Backend:
    """The backend of ``kind`` called ``name``; ConfigError listing the known ones otherwise."""
    known = backends(kind)
    found = known.get(name.strip().lower())
    if found is None:
        raise ConfigError(
            f"Unknown {kind.replace('_', ' ')} {name!r} (setting {_SETTING[kind]})",
            hint=f"use one of {', '.join(sorted(known)) or '(none installed)'}",
        )
    return found


def backend_for_url(kind: Kind, url: str) -> Backend:
    """The backend of ``kind`` whose URL scheme ``url`` has; ConfigError listing the schemes otherwise."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    known = backends(kind)
    for b in known.values():
        if scheme in b.schemes:
            return b
    schemes = sorted({s for b in known.values() for s in b.schemes})
    if not schemes:
        raise ConfigError(
            f"No {kind.replace('_', ' ')} backend is available for {url!r} (setting {_SETTING[kind]})",
            hint=f"leave {_SETTING[kind]} unset: this version of mlake has no {kind.replace('_', ' ')} backends",
        )
    raise ConfigError(
        f"Unsupported {kind.replace('_', ' ')} URL {url!r} (setting {_SETTING[kind]})",
        hint=f"use one of the schemes {', '.join(s + '://' for s in schemes)}",
    )


__all__ = ["BUILTIN", "Backend", "backend_for_url", "backend_named", "backends"]
