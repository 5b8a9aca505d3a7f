"""Counts the attacks the security suite makes, per route, so a run states how much it tried."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class AttemptLog:
    total: int = 0
    held: int = 0
    routes: Counter[str] = field(default_factory=Counter)

    def record(self, route: str, held: bool) -> None:
        self.total += 1
        self.held += int(held)
        self.routes[route] += 1

    def by_route(self) -> str:
        return ", ".join(f"{route}: {n}" for route, n in sorted(self.routes.items()))


ATTEMPTS = AttemptLog()
