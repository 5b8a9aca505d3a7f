"""mlake's one chart kit: small inline SVG charts drawn on the server (no JavaScript, no inline styles).

Studio pages and the self-contained quality report draw with these functions, so a chart looks and
behaves the same everywhere. Every shape carries a class (``bar``, ``line``, ``dot``, ``mark`` ...) for
a page's stylesheet *and* a presentation attribute (``fill="…"``) so a chart shown without the
stylesheet (a saved report, a notebook) still has its colours — stylesheet rules override presentation
attributes. Every text is escaped. Room for labels is worked out from their length, so axis labels,
value labels and rotated column names are never clipped by the picture's edge.

- :func:`bars` / :func:`histogram`: vertical bars (a histogram adds the two ends of its axis);
- :func:`hbars`: labelled horizontal bars (top values, shares, scores);
- :func:`line`: a line over a series, with hover titles, marked points (anomalies, violations), and
  optionally a threshold line or an acceptable band behind it;
- :func:`threshold_bars`: labelled horizontal bars, each with its own threshold tick (drift per feature);
- :func:`interval_rows`: one row per estimate: a bar from a reference, its confidence interval as a
  whisker and the acceptable band behind it (bias metrics, rates per group);
- :func:`heatmap`: a square matrix (correlations, joint nulls);
- :func:`meter` / :func:`diverging_meter`: a share or a correlation as a thin bar;
- :func:`svg`, :func:`text`, :func:`esc`: the parts, for pictures that are no chart (the lineage graph).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ACCENT = "#2f6fed"
BAD = "#d64545"
MUTED = "#98a2b3"
GOOD_BAND = "#12b76a"
EMPTY = "#eee"
CHAR_WIDTH = 0.6  # a character's width, in font sizes: what labels are measured with

NO_VALUES = '<span class="muted small">no values</span>'


def _finite(v: float | None) -> bool:
    return v is not None and v == v and v not in (float("inf"), float("-inf"))


def esc(value: Any) -> str:
    return html.escape(str(value))


def clip(label: str, chars: int) -> str:
    """``label`` cut to ``chars`` characters, with an ellipsis when cut."""
    return label if len(label) <= chars else label[: max(chars - 1, 0)] + "…"


def text_width(label: str, font_size: float) -> float:
    return len(label) * font_size * CHAR_WIDTH


def text(x: float, y: float, label: str, *, anchor: str = "start", cls: str | None = None, **attrs: Any) -> str:
    """A text element; ``label`` is escaped."""
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    klass = f' class="{esc(cls)}"' if cls else ""
    where = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return f'<text{klass} x="{x:.2f}" y="{y:.2f}"{where}{extra}>{esc(label)}</text>'


def svg(
    parts: Iterable[str],
    width: float,
    height: float,
    *,
    cls: str | None = None,
    label: str | None = None,
    fluid: bool = False,
    stretch: bool = False,
    sized: bool = True,
    max_width: float | None = None,
    xmlns: bool = False,
) -> str:
    """The ``<svg>`` element around ``parts``.

    ``fluid``: as wide as its container (``width="100%"``); ``stretch``: the drawing stretches with it
    (for shapes without text); ``sized``: width and height attributes are written (a stylesheet may size
    it otherwise); ``max_width``: at most that wide (a scaled chart stays readable); ``label``: the
    accessible name (without one the picture is decorative, hidden from screen readers)."""
    attrs = [f'class="{esc(cls)}"'] if cls else []
    if xmlns:
        attrs.append('xmlns="http://www.w3.org/2000/svg"')
    if fluid:
        attrs.append('width="100%"')
        if sized and max_width is None:
            attrs.append(f'height="{height:g}"')
    elif sized:
        attrs.append(f'width="{width:g}" height="{height:g}"')
    attrs.append(f'viewBox="0 0 {width:g} {height:g}"')
    if stretch:
        attrs.append('preserveAspectRatio="none"')
    if max_width is not None:
        attrs.append(f'style="max-width:{max_width:g}px;height:auto"')
    attrs.append(f'role="img" aria-label="{esc(label)}"' if label is not None else 'aria-hidden="true"')
    return f"<svg {' '.join(attrs)}>{''.join(parts)}</svg>"


# --- bars -----------------------------------------------------------------------------------------------


def bars(
    values: Sequence[float],
    titles: Sequence[str],
    *,
    width: float = 320,
    height: float = 90,
    classes: Sequence[str] | None = None,
    axis: tuple[str, str] | None = None,
    font_size: float = 10,
    min_height: float = 1.5,
    rx: float = 1,
    baseline: bool = True,
    cls: str | None = None,
    label: str = "bar chart",
    fluid: bool = False,
    stretch: bool = False,
    sized: bool = True,
) -> str:
    """Vertical bars, one per value, each with a hover title; a value above zero stays visible
    (``min_height``). ``axis``: the labels of the two ends, written under the bars (first left-aligned,
    last right-aligned, so neither leaves the picture). ``classes``: an extra class per bar (``tail``)."""
    if not values:
        return ""
    peak = max(values) or 1
    label_h = font_size + 4 if axis else 0
    plot_h = height - label_h
    band = width / len(values)
    gap = 1.0 if band > 3 else 0.0
    parts = []
    if baseline:
        y0 = f"{plot_h - 0.5:.2f}"
        parts.append(f'<line class="base" x1="0" x2="{width:g}" y1="{y0}" y2="{y0}" stroke="{MUTED}"/>')
    for i, (value, title) in enumerate(zip(values, titles, strict=True)):
        h = 0.0 if value <= 0 else max(min_height, (plot_h - 1) * value / peak)
        klass = "bar" + (f" {classes[i]}" if classes and classes[i] else "")
        parts.append(
            f'<rect class="{klass}" x="{i * band + gap / 2:.2f}" y="{plot_h - 1 - h:.2f}" '
            f'width="{max(band - gap, 0.8):.2f}" height="{h:.2f}" rx="{rx:g}" fill="{ACCENT}">'
            f"<title>{esc(title)}</title></rect>"
        )
    if axis:
        parts.append(text(0, height - 3, axis[0], font_size=f"{font_size:g}"))
        parts.append(text(width, height - 3, axis[1], anchor="end", font_size=f"{font_size:g}"))
    return svg(parts, width, height, cls=cls, label=label, fluid=fluid, stretch=stretch and not axis, sized=sized)


def histogram(
    counts: Sequence[int],
    titles: Sequence[str],
    *,
    low: str | None = None,
    high: str | None = None,
    **options: Any,
) -> str:
    """Bars of a histogram's bins (``titles``: each bin's range and count); ``low`` and ``high`` label
    the ends of the axis."""
    axis = (low or "", high or "") if low is not None or high is not None else None
    options.setdefault("label", f"histogram over {len(counts)} bins")
    return bars([float(c) for c in counts], titles, axis=axis, **options)


def hbars(
    items: Sequence[tuple[str, float]],
    *,
    value_text: Callable[[float], str] = lambda v: f"{v:,.4g}",
    titles: Sequence[str] | None = None,
    width: float = 320,
    row: float = 16,
    label_chars: int = 18,
    font_size: float = 11,
    fill: str = ACCENT,
    cls: str | None = None,
    label: str = "bar chart",
) -> str:
    """Labelled horizontal bars, the value written after each. The label column is as wide as the
    longest label (cut to ``label_chars``) and the bars leave room for the longest value text."""
    if not items:
        return ""
    values = [value_text(v) for _, v in items]
    value_w = max(text_width(s, font_size) for s in values) + 6
    # labels are cut further when the picture is too narrow for them, the values and a bar
    fits = int((width - value_w - 16) / (font_size * CHAR_WIDTH))
    shown = [clip(name, max(min(label_chars, fits), 3)) for name, _ in items]
    label_w = max(text_width(s, font_size) for s in shown) + 6
    width = max(width, label_w + value_w + 10)  # never narrower than what it must write
    room = width - label_w - value_w
    peak = max(v for _, v in items) or 1
    parts = []
    for i, ((name, v), short, written) in enumerate(zip(items, shown, values, strict=True)):
        y = i * row
        w = max(room * max(v, 0) / peak, 1.5 if v > 0 else 0.0)
        title = titles[i] if titles else f"{name}: {written}"
        parts.append(
            f"<g><title>{esc(title)}</title>"
            + text(label_w - 4, y + row - 4, short, anchor="end", font_size=f"{font_size:g}")
            + f'<rect class="bar" x="{label_w:.2f}" y="{y + 2:.2f}" width="{w:.2f}" height="{row - 4:g}" rx="1" '
            f'fill="{fill}"/>' + text(label_w + w + 4, y + row - 4, written, font_size=f"{font_size:g}") + "</g>"
        )
    return svg(parts, width, row * len(items) + 2, cls=cls, label=label)


@dataclass(frozen=True)
class Gauge:
    """One row of :func:`threshold_bars`: a value, its threshold and whether it crossed it."""

    label: str
    value: float | None
    threshold: float | None
    flagged: bool
    title: str


def threshold_bars(
    rows: Sequence[Gauge],
    *,
    value_text: Callable[[float], str] = lambda v: f"{v:,.3g}",
    width: float = 420,
    row: float = 18,
    label_chars: int = 22,
    font_size: float = 11,
    cls: str | None = None,
    label: str = "bars with thresholds",
) -> str:
    """Labelled horizontal bars on one scale from zero, each with a dashed tick at its own threshold; a
    flagged row's bar is red (class ``bar bad``). Rows without a value keep their label and draw no bar."""
    if not rows:
        return ""
    shown = [clip(r.label, label_chars) for r in rows]
    written = ["—" if r.value is None or not _finite(r.value) else value_text(r.value) for r in rows]
    label_w = max(text_width(s, font_size) for s in shown) + 6
    value_w = max(text_width(s, font_size) for s in written) + 8
    width = max(width, label_w + value_w + 60)
    room = width - label_w - value_w
    peak = max(
        [max(r.value, 0.0) for r in rows if r.value is not None and _finite(r.value)]
        + [max(r.threshold, 0.0) for r in rows if r.threshold is not None and _finite(r.threshold)]
        + [1e-12]
    )
    parts = []
    for i, (r, short, value) in enumerate(zip(rows, shown, written, strict=True)):
        y = i * row
        parts.append(f'<g class="gauge"><title>{esc(r.title)}</title>')
        parts.append(text(label_w - 4, y + row - 5, short, anchor="end", font_size=f"{font_size:g}"))
        end = label_w
        if r.value is not None and _finite(r.value):
            w = max(room * max(r.value, 0.0) / peak, 1.5 if r.value > 0 else 0.0)
            klass, fill = ("bar bad", BAD) if r.flagged else ("bar", ACCENT)
            parts.append(
                f'<rect class="{klass}" x="{label_w:.2f}" y="{y + 3:.2f}" width="{w:.2f}" height="{row - 6:g}" '
                f'rx="1" fill="{fill}"/>'
            )
            end = label_w + w
        if r.threshold is not None and _finite(r.threshold):
            tx = f"{label_w + room * max(r.threshold, 0.0) / peak:.2f}"
            parts.append(
                f'<line class="threshold" x1="{tx}" x2="{tx}" y1="{y + 1:.2f}" y2="{y + row - 1:.2f}" '
                f'stroke="{BAD if r.flagged else MUTED}" stroke-width="1.5" stroke-dasharray="2 2"/>'
            )
            end = max(end, float(tx))
        parts.append(text(end + 4, y + row - 5, value, font_size=f"{font_size:g}"))
        parts.append("</g>")
    return svg(parts, width, row * len(rows) + 2, cls=cls, label=label)


@dataclass(frozen=True)
class Interval:
    """One row of :func:`interval_rows`: an estimate, its confidence interval, a reference (the ideal
    value, or the other group's) and the acceptable band (None: no band)."""

    label: str
    value: float | None
    low: float | None
    high: float | None
    reference: float | None
    band: tuple[float, float] | None
    title: str

    @property
    def outside(self) -> bool:
        """The value lies outside its acceptable band."""
        if self.band is None or self.value is None or not _finite(self.value):
            return False
        return not min(self.band) <= self.value <= max(self.band)


def interval_rows(
    rows: Sequence[Interval],
    *,
    domain: tuple[float, float] | None = None,
    value_text: Callable[[float], str] = lambda v: f"{v:,.3g}",
    width: float = 520,
    row: float = 22,
    label_chars: int = 26,
    font_size: float = 11,
    min_span: float = 0.1,
    cls: str | None = None,
    label: str = "estimates with intervals",
) -> str:
    """One row per estimate: the acceptable band shaded green (``band``), the reference as a dashed tick
    (``ref``), a bar from the reference to the value (``bar``; ``bar bad`` in red outside the band), the
    interval as a whisker with caps (``ci``) and the value as a dot. With ``domain`` every row shares that
    scale (rates in [0, 1]); without, each row is centred on its reference and wide enough for its value,
    interval and band (at least ±``min_span``) — metrics of different ranges side by side."""
    if not rows:
        return ""
    shown = [clip(r.label, label_chars) for r in rows]
    written = ["undefined" if r.value is None or not _finite(r.value) else value_text(r.value) for r in rows]
    label_w = max(text_width(s, font_size) for s in shown) + 8
    value_w = max(text_width(s, font_size) for s in written) + 10
    width = max(width, label_w + value_w + 80)
    x0, x1 = label_w + 4, width - value_w - 4
    parts = []
    for i, (r, short, value) in enumerate(zip(rows, shown, written, strict=True)):
        top, mid = i * row, i * row + row / 2
        known = [v for v in (r.value, r.low, r.high, *(r.band or ())) if v is not None and _finite(v)]
        if domain is not None:
            lo, hi = domain
        else:
            centre = r.reference if r.reference is not None else (known[0] if known else 0.0)
            half = max([min_span] + [abs(v - centre) for v in known]) * 1.1
            lo, hi = centre - half, centre + half
        span = (hi - lo) or 1.0

        def x(v: float, lo: float = lo, span: float = span) -> float:
            return x0 + (min(max(v, lo), lo + span) - lo) / span * (x1 - x0)

        parts.append(f'<g class="interval{" outside" if r.outside else ""}"><title>{esc(r.title)}</title>')
        parts.append(text(label_w, top + row / 2 + font_size / 2 - 1, short, anchor="end", font_size=f"{font_size:g}"))
        parts.append(
            f'<line class="track" x1="{x0:.2f}" x2="{x1:.2f}" y1="{mid:.2f}" y2="{mid:.2f}" stroke="{EMPTY}"/>'
        )
        if r.band is not None and all(_finite(v) for v in r.band):
            bl, bh = x(min(r.band)), x(max(r.band))
            parts.append(
                f'<rect class="band" x="{bl:.2f}" y="{top + 2:.2f}" width="{max(bh - bl, 0.5):.2f}" '
                f'height="{row - 4:g}" fill="{GOOD_BAND}" fill-opacity="0.15"/>'
            )
        if r.reference is not None and _finite(r.reference):
            rx_ = f"{x(r.reference):.2f}"
            parts.append(
                f'<line class="ref" x1="{rx_}" x2="{rx_}" y1="{top + 2:.2f}" y2="{top + row - 2:.2f}" '
                f'stroke="{MUTED}" stroke-dasharray="2 2"/>'
            )
        end = x1
        if r.value is not None and _finite(r.value):
            start = x(r.reference if r.reference is not None and _finite(r.reference) else lo)
            vx = x(r.value)
            klass, fill = ("bar bad", BAD) if r.outside else ("bar", ACCENT)
            parts.append(
                f'<rect class="{klass}" x="{min(start, vx):.2f}" y="{mid - 4:.2f}" '
                f'width="{max(abs(vx - start), 1.0):.2f}" height="8" fill="{fill}" fill-opacity="0.55"/>'
            )
            if r.low is not None and r.high is not None and _finite(r.low) and _finite(r.high):
                cl, ch = x(r.low), x(r.high)
                parts.append(
                    f'<path class="ci" d="M{cl:.2f},{mid - 5:.2f}v10M{cl:.2f},{mid:.2f}H{ch:.2f}'
                    f'M{ch:.2f},{mid - 5:.2f}v10" stroke="#1b1f29" stroke-width="1.3" fill="none"/>'
                )
            parts.append(f'<circle class="dot" cx="{vx:.2f}" cy="{mid:.2f}" r="3.2" fill="#1b1f29"/>')
        parts.append(text(end + 6, top + row / 2 + font_size / 2 - 1, value, font_size=f"{font_size:g}"))
        parts.append("</g>")
    return svg(parts, width, row * len(rows) + 2, cls=cls, label=label)


# --- lines ----------------------------------------------------------------------------------------------


def line(
    values: Sequence[float | None],
    *,
    titles: Sequence[str] | None = None,
    marks: Iterable[int] = (),
    width: float = 220,
    height: float = 44,
    pad: float = 4,
    area: bool = False,
    from_zero: bool = False,
    max_dots: int = 40,
    cls: str | None = None,
    label: str = "line chart",
    sized: bool = True,
    threshold: float | None = None,
    band: tuple[float, float] | None = None,
) -> str:
    """A line over a series (None: no value at that index). ``marks`` (indexes) are drawn as red dots;
    with ``titles`` every point gets a hover dot (visible up to ``max_dots`` points, and the last one).
    ``from_zero``: the value axis starts at zero at most (rates); ``area``: the area under it is filled.
    ``threshold``: a dashed red line at that value; ``band``: the acceptable range, shaded green — both
    are kept inside the value axis, so a series far from its limit still shows where the limit is."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return ""
    marked = set(marks)
    limits = [v for v in ((threshold,) + (band or ())) if v is not None and _finite(v)]
    lo = min([v for _, v in points] + limits)
    hi = max([v for _, v in points] + limits)
    if from_zero:
        lo = min(lo, 0.0)
    span = hi - lo
    if span <= 1e-9 * max(abs(lo), abs(hi), 1e-12):  # constant, up to floating-point noise
        lo, span = lo - 1.0, 2.0
    n = len(values)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return height - pad - (v - lo) / span * (height - 2 * pad)

    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
    parts = []
    if band is not None and all(_finite(v) for v in band):
        top, bottom = y(max(band)), y(min(band))
        parts.append(
            f'<rect class="band" x="{pad:g}" y="{top:.1f}" width="{width - 2 * pad:g}" height="{bottom - top:.1f}" '
            f'fill="{GOOD_BAND}" fill-opacity="0.12"/>'
        )
    if threshold is not None and _finite(threshold):
        ty = f"{y(threshold):.1f}"
        parts.append(
            f'<line class="threshold" x1="{pad:g}" x2="{width - pad:g}" y1="{ty}" y2="{ty}" stroke="{BAD}" '
            f'stroke-dasharray="4 3"><title>threshold {threshold:,.4g}</title></line>'
        )
    if area:
        base = height - pad
        parts.append(
            f'<polygon class="area" points="{x(points[0][0]):.1f},{base:g} {path} {x(points[-1][0]):.1f},{base:g}" '
            f'fill="{ACCENT}" fill-opacity="0.15"/>'
        )
    parts.append(f'<polyline class="line" points="{path}" fill="none" stroke="{ACCENT}" stroke-width="1.5"/>')
    last = points[-1][0]
    for i, v in points:
        if i in marked:
            klass, r, color = "dot mark", 3.2, BAD
        elif titles is not None or len(points) == 1:
            klass, r, color = ("dot" if n <= max_dots or i == last else "dot hidden"), 2.2, ACCENT
        else:
            continue
        title = f"<title>{esc(titles[i])}</title>" if titles is not None else ""
        parts.append(
            f'<circle class="{klass}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="{r:g}" fill="{color}">{title}</circle>'
        )
    return svg(parts, width, height, cls=cls, label=label, sized=sized)


# --- matrices -------------------------------------------------------------------------------------------


def heatmap(
    names: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    diverging: bool = True,
    cell: float = 22,
    label_w: float = 120,
    label_chars: int = 18,
    font_size: float = 10,
    value_text: Callable[[float | None], str] = lambda v: "—" if v is None else f"{v:,.4g}",
    cls: str | None = None,
    label: str = "heatmap",
) -> str:
    """A square matrix: blue for positive, red for negative (``diverging``), or shades of red scaled to
    the largest value. Row names on the left; column names written up and to the right at 60°, with room
    beyond the last column for the longest of them. Scaled to its container (at most twice its size)."""
    n = len(names)
    if n == 0:
        return ""
    shown = [clip(name, label_chars) for name in names]
    longest = max(text_width(s, font_size) for s in shown)
    right = max(longest * 0.5 + 6, cell)  # the horizontal extent of a label rotated by 60°
    size = label_w + n * cell
    peak = max((abs(v) for row in values for v in row if v is not None), default=1.0) or 1.0
    parts = []
    for i, name in enumerate(names):
        parts.append(
            text(label_w - 4, label_w + i * cell + cell - 5, shown[i], anchor="end", font_size=f"{font_size:g}")
        )
        parts.append(
            f'<text transform="translate({label_w + i * cell + cell - 5:g},{label_w - 4:g}) rotate(-60)" '
            f'font-size="{font_size:g}">{esc(shown[i])}</text>'
        )
        for j, v in enumerate(values[i]):
            if v is None:
                color = EMPTY
            elif diverging:
                a = max(-1.0, min(1.0, v))
                color = f"rgba(47,111,237,{a:.2f})" if a >= 0 else f"rgba(214,69,69,{-a:.2f})"
            else:
                color = f"rgba(214,69,69,{v / peak:.2f})"
            parts.append(
                f'<rect class="cell" x="{label_w + j * cell:g}" y="{label_w + i * cell:g}" width="{cell - 1:g}" '
                f'height="{cell - 1:g}" fill="{color}"><title>{esc(name)} × {esc(names[j])}: '
                f"{esc(value_text(v))}</title></rect>"
            )
    full = size + right
    return svg(parts, full, size, cls=cls, label=label, fluid=True, max_width=2 * full)


# --- meters ---------------------------------------------------------------------------------------------


def meter(share: float | None, tone: str = "") -> str:
    """A thin bar showing a share (0..1); ``tone`` is a class (``warn``, ``bad``)."""
    w = 0.0 if share is None else max(0.0, min(1.0, share)) * 100
    fill = BAD if tone == "bad" else ACCENT
    return svg(
        [
            f'<rect class="track" width="100" height="6" rx="3" fill="{EMPTY}"/>',
            f'<rect class="fill" width="{w:.2f}" height="6" rx="3" fill="{fill}"/>',
        ],
        100,
        6,
        cls=f"q-meter {tone}".strip(),
        stretch=True,
        sized=False,
    )


def diverging_meter(r: float) -> str:
    """A bar from the middle: right for a positive correlation, left for a negative one."""
    w = max(-1.0, min(1.0, r)) * 50
    x = 50 if w >= 0 else 50 + w
    tone, color = ("pos", ACCENT) if w >= 0 else ("neg", BAD)
    return svg(
        [
            f'<rect class="track" width="100" height="6" rx="3" fill="{EMPTY}"/>',
            f'<rect class="fill {tone}" x="{x:.2f}" width="{abs(w):.2f}" height="6" rx="1" fill="{color}"/>',
            f'<rect class="mid" x="49.6" width="0.8" height="6" fill="{MUTED}"/>',
        ],
        100,
        6,
        cls="q-meter diverging",
        stretch=True,
        sized=False,
    )
