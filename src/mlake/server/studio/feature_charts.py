"""Small SVG charts of feature distributions, drawn on the server (no JavaScript, no inline styles).

Input is what :func:`mlake.features.search.distributions` returns per column: a histogram
(``{"kind": "histogram", "bins": [{"upper", "count"}]}``) or top values (``{"kind": "top", ...}``).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any


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
        return '<span class="muted small">no values</span>'
    bins = dist["bins"]
    peak = max(b["count"] for b in bins) or 1
    label_h = 14 if axis else 0
    plot_h = height - label_h
    band = width / len(bins)
    gap = 1 if band > 3 else 0
    is_time = isinstance(bins[0]["upper"], str)
    fmt = _when if is_time else short_number
    parts = [
        f'<svg class="chart spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="distribution over {len(bins)} bins">'
    ]
    parts.append(f'<line class="base" x1="0" x2="{width}" y1="{plot_h - 0.5}" y2="{plot_h - 0.5}"/>')
    lower: Any = dist.get("min")
    for i, b in enumerate(bins):
        h = 0.0 if b["count"] == 0 else max(1.5, (plot_h - 2) * b["count"] / peak)
        x = i * band
        upper = dist["max"] if i == len(bins) - 1 and dist.get("max") is not None else b["upper"]
        if dist.get("discrete"):
            what = fmt(b["upper"])
        else:
            what = f"≤ {fmt(upper)}" if lower is None else f"{fmt(lower)} – {fmt(upper)}"
        parts.append(
            f'<rect class="bar" x="{x + gap / 2:.2f}" y="{plot_h - 1 - h:.2f}" width="{max(band - gap, 0.8):.2f}" '
            f'height="{h:.2f}" rx="1"><title>{escape(what)}: {b["count"]:,}</title></rect>'
        )
        lower = b["upper"]
    if axis:
        first = fmt(dist["min"] if dist.get("min") is not None else bins[0]["upper"])
        last = fmt(dist["max"] if dist.get("max") is not None else bins[-1]["upper"])
        parts.append(f'<text x="0" y="{height - 2}">{escape(first)}</text>')
        parts.append(f'<text x="{width}" y="{height - 2}" text-anchor="end">{escape(last)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def top_values_svg(dist: dict[str, Any] | None, *, width: int = 180, row: int = 13, rows: int = 4) -> str:
    """Horizontal bars of the most frequent values (with the share of the rest)."""
    if not dist or dist.get("kind") != "top" or not dist.get("values"):
        return '<span class="muted small">no values</span>'
    values = dist["values"][:rows]
    total = sum(v["count"] for v in dist["values"]) + int(dist.get("other") or 0)
    peak = max(v["count"] for v in values) or 1
    label_w = 70
    height = row * len(values) + 2
    parts = [
        f'<svg class="chart spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="most frequent values">'
    ]
    for i, v in enumerate(values):
        y = i * row + 1
        text = "null" if v["value"] is None else str(v["value"])
        text = text if len(text) <= 11 else text[:10] + "…"
        w = max(1.5, (width - label_w - 34) * v["count"] / peak)
        share = v["count"] / total if total else 0
        parts.append(
            f"<g><title>{escape(str(v['value']))}: {v['count']:,} ({share:.0%})</title>"
            f'<text x="0" y="{y + row - 3}">{escape(text)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{w:.2f}" height="{row - 4}" rx="1"/>'
            f'<text x="{label_w + w + 4:.2f}" y="{y + row - 3}">{share:.0%}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def distribution_svg(dist: dict[str, Any] | None) -> str:
    if dist and dist.get("kind") == "top":
        return top_values_svg(dist)
    return histogram_svg(dist)
