"""A bias report as self-contained HTML: every metric with its confidence interval drawn as a bar.

Used by ``mlake bias report --html``, ``POST /api/v1/bias/report`` with ``format="html"`` and Studio's bias
page (which embeds :func:`metric_rows_svg`). No script, no external file: the page opens anywhere.
"""

from __future__ import annotations

import math
from html import escape

from mlake.bias.charts import facet_chart, metric_chart
from mlake.bias.report import BiasReport, MetricResult

WIDTH, HEIGHT, PAD = 260, 22, 8


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def ci_bar(m: MetricResult) -> str:
    """An inline SVG: the interval as a line, the value as a dot, the ideal value as a tick.

    The scale is centred on the ideal value and wide enough for the value and the interval (at least
    ±0.1), so "how far from fair, and how sure" reads at a glance."""
    points = [v for v in (m.value, m.ci.low if m.ci else None, m.ci.high if m.ci else None) if _finite(v)]
    if not points:
        return (
            f'<svg class="ci-bar" width="{WIDTH}" height="{HEIGHT}" role="img">'
            f'<text x="{PAD}" y="15" fill="#667085" font-size="11">undefined</text></svg>'
        )
    span = max(0.1, *(abs(float(v) - m.ideal) for v in points)) * 1.1  # type: ignore[arg-type]

    def x(v: float) -> float:
        return PAD + (v - (m.ideal - span)) / (2 * span) * (WIDTH - 2 * PAD)

    mid = HEIGHT / 2
    parts = [
        f'<svg class="ci-bar" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(m.code)}">',
        f'<line x1="{PAD}" y1="{mid}" x2="{WIDTH - PAD}" y2="{mid}" stroke="#e4e7ec"/>',
        f'<line x1="{x(m.ideal):.1f}" y1="3" x2="{x(m.ideal):.1f}" y2="{HEIGHT - 3}" '
        'stroke="#98a2b3" stroke-dasharray="2 2"/>',
    ]
    if m.ci is not None and _finite(m.ci.low) and _finite(m.ci.high):
        lo, hi = x(float(m.ci.low)), x(float(m.ci.high))  # type: ignore[arg-type]
        parts.append(
            f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" stroke="#2e90fa" '
            'stroke-width="4" stroke-linecap="round"/>'
        )
    if _finite(m.value):
        parts.append(f'<circle cx="{x(m.value):.1f}" cy="{mid}" r="4.5" fill="#1b1f29"/>')
    parts.append("</svg>")
    return "".join(parts)


def _num(v: float | None) -> str:
    return "—" if v is None else ("∞" if v == math.inf else "−∞" if v == -math.inf else "nan" if v != v else f"{v:.4g}")


def metric_rows_svg(report: BiasReport) -> str:
    """The metrics table (code, name, value, interval, CI bar), as HTML for embedding."""
    rows = []
    for m in report.metrics:
        ci = f"[{_num(m.ci.low)}, {_num(m.ci.high)}]" if m.ci else ""
        rows.append(
            f"<tr><td><b>{escape(m.code)}</b></td><td>{escape(m.name)}</td><td>{escape(m.stage)}</td>"
            f'<td class="num">{_num(m.value)}</td><td class="num">{ci}</td><td class="num">{_num(m.ideal)}</td>'
            f"<td>{ci_bar(m)}</td></tr>"
        )
    head = (
        "<tr><th>Metric</th><th>Name</th><th>Stage</th><th>Value</th><th>Interval</th><th>Ideal</th>"
        "<th>Value, interval and ideal</th></tr>"
    )
    return f'<table class="bias-metrics"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def report_html(report: BiasReport, title: str = "Bias report") -> str:
    """A complete HTML page of the report: groups, metrics with CI bars, warnings."""
    groups = "".join(
        f"<tr><td>{escape(g.facet)}</td><td class='num'>{g.rows:,}</td><td class='num'>{g.label_positive:,}</td>"
        f"<td class='num'>{'' if g.predicted_positive is None else f'{g.predicted_positive:,}'}</td></tr>"
        for g in report.groups
    )
    warnings = "".join(f"<li><b>{escape(w.code)}</b>: {escape(w.message)}</li>" for w in report.warnings)
    predicted = f" · predicted {escape(report.predicted_label)}" if report.predicted_label else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;color:#1b1f29;margin:24px;max-width:1100px}}
table{{border-collapse:collapse;margin:12px 0}}
td,th{{padding:4px 10px;border-bottom:1px solid #e4e7ec;text-align:left}}
.num{{text-align:right;font-variant-numeric:tabular-nums}} .muted{{color:#667085}}</style></head><body>
<h1>{escape(title)}</h1>
<p class="muted">facet {escape(report.facet)} · label {escape(report.label)}{predicted} · {report.rows:,} rows
({report.rows_excluded:,} left out). Dot: the value; blue bar: its bootstrap interval; dashed line: the ideal value.</p>
<h2>Groups</h2><table><thead><tr><th>Group</th><th>Rows</th><th>Label positive</th><th>Predicted positive</th></tr>
</thead><tbody>{groups}</tbody></table>
<h2>Positive rates per facet</h2><p class="muted">Bar and dot: the rate; whisker: its Wilson 95% interval;
facet d's green band: four fifths to five fourths of facet a's rate (dashed).</p>{facet_chart(report)}
<h2>Metrics against their acceptable band</h2><p class="muted">Bar from the ideal value (dashed) to the value;
whisker: the bootstrap interval; green: the acceptable band; red: outside it.</p>{metric_chart(report)}
<h2>Metrics</h2>{metric_rows_svg(report)}
{f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else ""}
</body></html>"""
