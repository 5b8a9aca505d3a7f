"""Feature distributions as small charts of :mod:`mlake.charts` (no JavaScript, no inline styles).

Input is what :func:`mlake.features.search.distributions` returns per column: a histogram
(``{"kind": "histogram", "bins": [{"upper", "count"}]}``) or top values (``{"kind": "top", ...}``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlake import charts


def short_number(value: Any) -> str:
    """1234567 -> 1.2M; 0.000123 -> 1.23e-04; dates stay dates."""
    if isinstance(value, str):
        return value[:10] if len(value) >= 10 and value[4:5] == "-" else value
    if not isinstance(value, int | float):
        return str(value)
    a = abs(value)
    if a >= 1e9:
        return f"{value / 1e9:.1f}B"
    if a >= 1e6:
        return f"{value / 1e6:.1f}M"
    if a >= 1e4:
        return f"{value / 1e3:.0f}k"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))  # below 10,000: a year or an id, never "2,009"
    if a < 1e-3:
        return f"{value:.2e}"
    return f"{value:.3g}" if a < 10 else f"{value:.1f}"


def _when(value: Any) -> str:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return short_number(value)


def histogram_svg(dist: dict[str, Any] | None, *, width: int = 180, height: int = 40, axis: bool = False) -> str:
    """Bars of a histogram; each bar's tooltip tells its range and count. ``axis`` adds the two ends."""
    if not dist or dist.get("kind") != "histogram" or not dist.get("bins"):
        return charts.NO_VALUES
    bins = dist["bins"]
    fmt = _when if isinstance(bins[0]["upper"], str) else short_number
    titles = []
    lower: Any = dist.get("min")
    for i, b in enumerate(bins):
        upper = dist["max"] if i == len(bins) - 1 and dist.get("max") is not None else b["upper"]
        if dist.get("discrete"):
            what = fmt(b["upper"])
        else:
            what = f"≤ {fmt(upper)}" if lower is None else f"{fmt(lower)} – {fmt(upper)}"
        titles.append(f"{what}: {b['count']:,}")
        lower = b["upper"]
    ends: dict[str, str] = {}
    if axis:
        ends["low"] = fmt(dist["min"] if dist.get("min") is not None else bins[0]["upper"])
        ends["high"] = fmt(dist["max"] if dist.get("max") is not None else bins[-1]["upper"])
    return charts.histogram(
        [b["count"] for b in bins],
        titles,
        width=width,
        height=height,
        cls="chart spark",
        label=f"distribution over {len(bins)} bins",
        **ends,
    )


def top_values_svg(dist: dict[str, Any] | None, *, width: int = 180, row: int = 13, rows: int = 4) -> str:
    """Horizontal bars of the most frequent values (with the share of the rest)."""
    if not dist or dist.get("kind") != "top" or not dist.get("values"):
        return charts.NO_VALUES
    values = dist["values"][:rows]
    total = sum(v["count"] for v in dist["values"]) + int(dist.get("other") or 0)

    def share(count: float) -> str:
        return f"{count / total if total else 0:.0%}"

    return charts.hbars(
        [("null" if v["value"] is None else str(v["value"]), float(v["count"])) for v in values],
        titles=[f"{v['value']}: {v['count']:,} ({share(v['count'])})" for v in values],
        value_text=share,
        width=width,
        row=row,
        label_chars=11,
        font_size=10,
        cls="chart spark",
        label="most frequent values",
    )


def distribution_svg(dist: dict[str, Any] | None) -> str:
    if dist and dist.get("kind") == "top":
        return top_values_svg(dist)
    return histogram_svg(dist)
