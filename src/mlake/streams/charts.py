"""The pictures of a stream's page: throughput over time (read from the stream) and every consumer's
lag over the samples Studio took (:mod:`mlake.streams.lag_history`), drawn with mlake's chart kit."""

from __future__ import annotations

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


def lag_svgs(samples: list[LagSample], *, width: float = 300, height: float = 56) -> list[tuple[str, str, str]]:
    """(consumer, caption, chart) per consumer: its lag in records over the samples, from zero; the caption
    gives the newest and the largest lag, which the small chart has no axis for."""
    out = []
    for name, values in lag_series(samples).items():
        titles = [
            f"{s.at:%H:%M:%S} UTC · {name}: " + ("—" if v is None else f"{v:,} records, {s.lags[name][1]:.1f} s behind")
            for s, v in zip(samples, values, strict=True)
        ]
        points: list[float | None] = [None if v is None else float(v) for v in values]
        svg = charts.line(
            points,
            titles=titles,
            width=width,
            height=height,
            from_zero=True,
            area=True,
            cls="chart s-lag",
            label=f"lag of {name} over {len(samples)} samples",
        )
        known = [v for v in values if v is not None]
        caption = f"now {known[-1]:,} records behind · peak {max(known):,}" if known else ""
        out.append((name, caption, svg))
    return out
