"""Every consumer's lag over time, as sampled from ``lake.streams.status`` while someone watches.

The backends keep only a consumer group's *latest* checkpoint, so a past lag cannot be read back from the
stream the way throughput can (:meth:`~mlake.streams.lake_streams.LakeStreams.throughput`). Studio
therefore records each status it computes for a stream page and draws the samples: the chart covers the
time the page (anyone's, for the same viewer) has been open, at most ``keep`` samples.

Samples are kept per (viewer, stream) and only ever added from a status the viewer was allowed to
compute, so a viewer never sees figures computed with someone else's grants (a delivery's lag depends on
whether the viewer may read its table).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlake.streams.lake_streams import StreamStatus


@dataclass(frozen=True, slots=True)
class LagSample:
    at: datetime
    lags: dict[str, tuple[int, float]]
    """``"group:NAME"`` / ``"delivery:NAME"`` / ``"query:NAME"`` -> (lag in records, lag in seconds)."""


class LagHistory:
    """A bounded in-memory history of lag samples per (viewer, stream); thread-safe."""

    def __init__(self, keep: int = 480, min_seconds: float = 1.0) -> None:
        self._keep = keep
        self._min_seconds = min_seconds
        self._samples: dict[tuple[str, str], deque[LagSample]] = {}
        self._lock = threading.Lock()

    def record(self, viewer: str, status: StreamStatus) -> list[LagSample]:
        """Add the lags of ``status`` (unless the last sample is under ``min_seconds`` old) and return the
        viewer's samples of that stream, oldest first."""
        lags = {f"group:{g.name}": (g.lag_records, g.lag_seconds) for g in status.groups}
        lags |= {f"delivery:{d.name}": (d.lag.lag_records, d.lag.lag_seconds) for d in status.deliveries}
        lags |= {f"query:{q.name}": (q.lag.lag_records, q.lag.lag_seconds) for q in status.queries}
        key = (viewer, status.stream.name)
        with self._lock:
            samples = self._samples.setdefault(key, deque(maxlen=self._keep))
            if not samples or (status.at - samples[-1].at).total_seconds() >= self._min_seconds:
                samples.append(LagSample(status.at, lags))
            return list(samples)

    def forget(self, stream: str) -> None:
        """Drop every viewer's samples of ``stream`` (it was deleted)."""
        with self._lock:
            for key in [k for k in self._samples if k[1] == stream]:
                del self._samples[key]


def consumers(samples: list[LagSample]) -> list[str]:
    """Every consumer that appears in ``samples``, in order of first appearance."""
    seen: dict[str, None] = {}
    for s in samples:
        for name in s.lags:
            seen.setdefault(name, None)
    return list(seen)


def lag_at_commits(commits: list[tuple[int, dict[int, int]]], arrivals: dict[int, list[tuple[int, int]]]) -> list[int]:
    """A delivery's lag in records just after each of its commits: the records that had arrived by the
    commit's time (``ts <= t_us``) and lay beyond its delivered position in their partition.

    ``commits``: (commit time in µs, partition -> last delivered sequence) in commit order; ``arrivals``:
    partition -> (sequence, arrival µs) of the records after the smallest delivered position, in order."""
    out = []
    for t_us, positions in commits:
        lag = 0
        for p, records in arrivals.items():
            done = positions.get(p, -1)
            lag += sum(1 for seq, ts in records if seq > done and ts <= t_us)
        out.append(lag)
    return out
