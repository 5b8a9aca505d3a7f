"""Two small hooks the core uses instead of printing or calling other areas directly.

- :class:`Progress` reports long work. The core calls it; the CLI installs a rich progress bar, while
  the server and tests keep the silent default.
- :class:`EventBus` lets areas react to what happens elsewhere (a write to a table, a query run)
  without the core importing them: the audit log, quality gates and pipelines subscribe to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class ProgressTask(Protocol):
    def advance(self, amount: float = 1) -> None: ...

    def update(
        self, *, completed: float | None = None, total: float | None = None, description: str | None = None
    ) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: float | None = None, unit: str = "") -> Any:
        """A context manager yielding a :class:`ProgressTask`."""
        ...


class _SilentTask:
    def advance(self, amount: float = 1) -> None:
        pass

    def update(
        self, *, completed: float | None = None, total: float | None = None, description: str | None = None
    ) -> None:
        pass


class SilentProgress:
    """The default: long work reports to nobody."""

    @contextmanager
    def task(self, description: str, total: float | None = None, unit: str = "") -> Iterator[ProgressTask]:
        yield _SilentTask()


Handler = Callable[[str, Any], None]


class EventBus:
    """Synchronous publish/subscribe by event name (``"table.write"``, ``"sql.query"`` ...).

    A handler that raises does not stop the others nor the action that emitted the event: events
    report what happened, they do not veto it (gates are explicit arguments, not events).
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self.errors: list[tuple[str, Exception]] = []

    def subscribe(self, event: str, handler: Handler) -> Callable[[], None]:
        self._handlers[event].append(handler)
        return lambda: self._handlers[event].remove(handler)

    def emit(self, event: str, payload: Any) -> None:
        for handler in list(self._handlers.get(event, ())) + list(self._handlers.get("*", ())):
            try:
                handler(event, payload)
            except Exception as exc:  # a broken subscriber must not break a write
                self.errors.append((event, exc))
