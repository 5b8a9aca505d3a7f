"""The pictures of a stream's page: throughput over time (read from the stream) and every consumer's
lag over the samples Studio took (:mod:`mlake.streams.lag_history`), drawn with mlake's chart kit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mlake import charts
from mlake.streams.lag_history import LagSample, consumers
from mlake.streams.lake_streams import Throughput


def throughput_svg(t: Throughput, *, width: float = 640, height: float = 110) -> str:
    """One bar per bucket: records per second, with the bucket's time and count as its title."""
    titles = [
        f"{t.bucket_start(i):%H:%M:%S}–{t.bucket_start(i + 1):%H:%M:%S} UTC: {c:,} records, "
        f"{c / t.bucket_seconds:,.2f}/s"
        for i, c in enumerate(t.counts)
    ]
    last = t.bucket_start(len(t.counts))
    return charts.bars(
        t.rates,
        titles,
        width=width,
        height=height,
        axis=(f"{t.start:%H:%M} UTC", f"{last:%H:%M:%S} UTC"),
        cls="chart s-throughput",
        label=f"records per second of stream {t.stream}, {len(t.counts)} buckets",
    )


def lag_series(samples: list[LagSample]) -> dict[str, list[int | None]]:
    """Per consumer, its lag in records at each sample (None before it appeared or after it went)."""
    out: dict[str, list[int | None]] = {}
    for name in consumers(samples):
        out[name] = [s.lags[name][0] if name in s.lags else None for s in samples]
    return out


@dataclass(frozen=True, slots=True)
class LagPoint:
    at: datetime
    records: int
    source: str  # "sampled" (a status Studio drew) or "commit" (read back from a delivery's snapshot)


def lag_points(
    samples: list[LagSample], commits: Mapping[str, list[tuple[datetime, int]]] | None = None
) -> dict[str, list[LagPoint]]:
    """Per consumer, its lag points in time order: the viewer's samples, and for deliveries also the lag
    after each commit (``LakeStreams.delivery_lag``), so a delivery's chart has a history on first sight."""
    out: dict[str, list[LagPoint]] = {name: [] for name in consumers(samples)}
    for s in samples:
        for name, (records, _) in s.lags.items():
            out[name].append(LagPoint(s.at, records, "sampled"))
    for name, history in (commits or {}).items():
        out.setdefault(name, []).extend(LagPoint(at, n, "commit") for at, n in history)
    return {name: sorted(points, key=lambda p: p.at) for name, points in out.items() if points}


def lag_svgs(
    samples: list[LagSample],
    commits: Mapping[str, list[tuple[datetime, int]]] | None = None,
    *,
    width: float = 300,
    height: float = 56,
) -> list[tuple[str, str, str]]:
    """(consumer, caption, chart) per consumer: its lag in records over its points (:func:`lag_points`),
    from zero; the caption gives the newest and the largest lag, which the small chart has no axis for."""
    out = []
    for name, points in lag_points(samples, commits).items():
        titles = [f"{p.at:%H:%M:%S} UTC · {name}: {p.records:,} records behind ({p.source})" for p in points]
        svg = charts.line(
            [float(p.records) for p in points],
            titles=titles,
            width=width,
            height=height,
            from_zero=True,
            area=True,
            cls="chart s-lag",
            label=f"lag of {name} over {len(points)} points",
        )
        caption = f"now {points[-1].records:,} records behind · peak {max(p.records for p in points):,}"
        out.append((name, caption, svg))
    return out
