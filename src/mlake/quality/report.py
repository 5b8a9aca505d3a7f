"""Quality reports: one self-contained HTML page (inline CSS and SVG charts, no scripts, no CDN) and JSON.

The fragments (``profile_html``, ``checks_html`` ...) are what notebooks show and what a web page can
embed; ``QualityReport.to_html()`` puts them on one page: overview and quality dimensions, check
results, anomalies and metric history, missing values and correlations, one card per column with its
histogram or top values, and the ML readiness report when a target is given.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlake import charts
from mlake.errors import ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

    from mlake.quality.dimensions import QualityDimensions
    from mlake.quality.history import Anomaly
    from mlake.quality.profile import ColumnProfile, Matrix, Profile
    from mlake.quality.readiness import ReadinessReport
    from mlake.quality.suggest import SuggestedSuite
    from mlake.quality.suite import SuiteResult

BAD = charts.BAD
WARN = "#d69a1e"
GOOD = "#2e9e5b"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7fb}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #dfe3ec;padding-bottom:4px}
h3{font-size:14px;margin:0 0 6px}
.sub{color:#667085}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.grid.hist{grid-template-columns:repeat(auto-fill,minmax(250px,1fr))}
.card{background:#fff;border:1px solid #e3e7ef;border-radius:8px;padding:12px}
table.mq{border-collapse:collapse;width:100%;font-size:13px}
table.mq td,table.mq th{border-bottom:1px solid #eef0f5;padding:3px 6px;text-align:left;vertical-align:top}
table.mq th{color:#475467;font-weight:600}
.kpis{display:flex;flex-wrap:wrap;gap:10px}
.kpi{background:#fff;border:1px solid #e3e7ef;border-radius:8px;padding:8px 14px;min-width:120px}
.kpi b{display:block;font-size:18px}
.pass{color:#2e9e5b;font-weight:600}.fail{color:#d64545;font-weight:600}.warn{color:#b7791f;font-weight:600}
.tag{display:inline-block;background:#eef2ff;color:#3730a3;border-radius:4px;padding:0 5px;margin-right:3px;
font-size:12px}
code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#fff;border:1px solid #e3e7ef;border-radius:8px;padding:10px;overflow:auto}
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.{digits}g}" if abs(value) < 1e15 else f"{value:.3e}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


# --- fragments ------------------------------------------------------------------------------------------


def heatmap_html(m: Matrix, diverging: bool = True, cell: int = 22) -> str:
    """A profile's matrix (correlations, joint nulls) as a heatmap."""
    return charts.heatmap(m.columns, m.values, diverging=diverging, cell=cell, value_text=fmt)


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="mq"><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>'


def column_card(c: ColumnProfile) -> str:
    facts: list[tuple[str, str]] = [
        ("type", f"{esc(c.type)} <span class='tag'>{esc(c.kind)}</span>"),
        ("nulls", f"{c.nulls:,} ({pct(c.null_rate)})"),
        ("distinct", f"{fmt(c.distinct)}{'' if c.distinct_exact else ' ≈'}"),
    ]
    if c.empty:
        facts.append(("empty strings", f"{c.empty:,}"))
    if c.whitespace:
        facts.append(("space-padded", f"{c.whitespace:,}"))
    if c.kind in ("numeric", "temporal"):
        facts += [("min", esc(fmt(c.min))), ("max", esc(fmt(c.max)))]
    if c.kind == "numeric":
        facts += [
            ("mean ± std", f"{fmt(c.mean)} ± {fmt(c.std)}"),
            (
                "median [q1, q3]",
                f"{fmt(c.quantiles.get('0.5'))} [{fmt(c.quantiles.get('0.25'))}, {fmt(c.quantiles.get('0.75'))}]",
            ),
            ("zeros / negatives", f"{fmt(c.zeros)} / {fmt(c.negatives)}"),
            ("skewness", fmt(c.skewness)),
            ("outliers IQR / robust", f"{fmt(c.outliers_iqr)} / {fmt(c.outliers_robust)}"),
        ]
        if c.nan or c.infinite:
            facts.append(("NaN / ∞", f"{c.nan:,} / {c.infinite:,}"))
    if c.length_mean is not None:
        facts.append(("length min/mean/max", f"{fmt(c.length_min)} / {fmt(c.length_mean, 3)} / {fmt(c.length_max)}"))
    found = {k: v for k, v in c.patterns.items() if v}
    if found:
        facts.append(("patterns", ", ".join(f"{esc(k)} {v:,}" for k, v in found.items())))
    if c.true_count is not None:
        facts.append(("true", f"{c.true_count:,}"))
    chart = ""
    if c.histogram and len(c.histogram) > 1 and not (c.top_values and (c.distinct or 0) <= 12):
        chart = charts.histogram(
            [b.count for b in c.histogram],
            [f"[{fmt(b.low)}, {fmt(b.high)}): {b.count:,}" for b in c.histogram],
            label=f"histogram of {c.name}",
            fluid=True,
            stretch=True,  # the bars stretch to the card's width (no text to distort)
        )
    elif c.top_values:
        chart = charts.hbars([(str(v), float(n)) for v, n in c.top_values[:10]], label=f"top values of {c.name}")
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    return f'<div class="card"><h3>{esc(c.name)}</h3>{chart}<table class="mq">{rows}</table></div>'


def profile_html(p: Profile) -> str:
    kpis = [
        ("rows", f"{p.rows:,}"),
        ("columns", str(len(p.columns))),
        ("missing cells", f"{p.missing_cells:,}"),
        ("duplicate rows", f"{p.duplicate_rows:,}"),
    ]
    if p.duplicate_keys is not None:
        kpis.append((f"duplicate keys ({', '.join(p.key)})", f"{p.duplicate_keys:,}"))
    if p.freshness and p.freshness.newest is not None:
        kpis.append((f"newest {p.freshness.column}", fmt(p.freshness.newest)))
    kpi_html = "".join(f'<div class="kpi"><span class="sub">{esc(k)}</span><b>{esc(v)}</b></div>' for k, v in kpis)
    cards = "".join(column_card(c) for c in p.columns)
    note = f"<p class='sub'>{esc(p.source)} · {p.queries} quer(ies) · {p.seconds:.2f}s</p>"
    return f'<div class="mlake-profile"><div class="kpis">{kpi_html}</div>{note}<div class="grid">{cards}</div></div>'


def missing_html(p: Profile) -> str:
    with_nulls = sorted((c for c in p.columns if c.nulls or c.empty), key=lambda c: -(c.nulls + (c.empty or 0)))
    if not with_nulls:
        return "<p>No missing values.</p>"
    shares = [(c.name, (c.nulls + (c.empty or 0)) / p.rows) for c in with_nulls[:25]]
    bars = charts.hbars(shares, value_text=pct, width=460, fill=BAD, label="share missing")
    heat = ""
    if p.missing is not None and len(p.missing.columns) > 1:
        heat = "<h3>Missing together (rows where both are null)</h3>" + heatmap_html(p.missing, diverging=False)
    first = f'<div class="card"><h3>Share missing (null or empty)</h3>{bars}</div>'
    second = f'<div class="card">{heat}</div>' if heat else ""
    return f'<div class="grid">{first}{second}</div>'


def checks_html(r: SuiteResult) -> str:
    rows = []
    for c in r.results:
        status = f"<span class='{c.status}'>{c.status}</span>"
        sample = ""
        if c.samples:
            sample = (
                "<details><summary>failing rows</summary><pre>"
                + esc(json.dumps(c.to_dict()["samples"], indent=1, default=str)[:4000])
                + "</pre></details>"
            )
        rows.append(
            [status, esc(c.check), esc(c.severity), esc(f"{c.metric} = {fmt(c.value)}"), esc(c.message) + sample]
        )
    return _table(["status", "check", "severity", "metric", "result"], rows)


def dimensions_html(d: QualityDimensions) -> str:
    rows = []
    for s in d.scores:
        if s.score is None:
            score = "<span class='sub'>not measured</span>"
        else:
            color = GOOD if s.score >= 0.99 else (WARN if s.score >= 0.9 else BAD)
            score = f"<b style='color:{color}'>{s.score:.2%}</b>"
        rows.append([esc(s.dimension.replace("_", " ")), score, esc(s.metric), esc(s.detail)])
    return _table(["dimension", "score", "metric", "why"], rows)


def anomalies_html(anomalies: list[Anomaly]) -> str:
    if not anomalies:
        return "<p>No anomalies in the newest run.</p>"
    rows = [[esc(a.column or "(table)"), esc(a.metric), esc(a.rule), esc(a.message)] for a in anomalies]
    return _table(["column", "metric", "rule", "what changed"], rows)


HISTORY_METRICS = ("rows", "duplicate_rate", "missing_cell_rate", "null_rate", "mean", "empty_rate", "outlier_rate")


def history_html(history: pa.Table, anomalies: list[Anomaly], limit: int = 36) -> str:
    """Sparklines of the main profile metrics over runs (anomalous series first, marked in red)."""
    if history.num_rows == 0:
        return "<p>No history yet: each profile run adds one point.</p>"
    series: dict[tuple[str, str], list[tuple[datetime, float | None]]] = {}
    runs = set()
    for row in history.to_pylist():
        if row["kind"] != "profile":
            continue
        runs.add(row["run_id"])
        series.setdefault((row["column_name"], row["metric"]), []).append((row["run_at"], row["value"]))
    flagged = {(a.column, a.metric) for a in anomalies}
    shown = [k for k in series if k in flagged or k[1] in HISTORY_METRICS]
    shown.sort(
        key=lambda k: (k not in flagged, k[0] != "", HISTORY_METRICS.index(k[1]) if k[1] in HISTORY_METRICS else 0, k)
    )
    cards = []
    for key in shown[:limit]:
        pts = sorted(series[key], key=lambda p: p[0])
        values = [v for _, v in pts]
        marks = {len(values) - 1} if key in flagged else set()
        name = f"{key[0] or 'table'} · {key[1]}"
        style = f" style='border-color:{BAD}'" if key in flagged else ""
        cards.append(
            f"<div class='card'{style}><h3>{esc(name)}</h3>{charts.line(values, marks=marks, label=name)}"
            f"<div class='sub'>latest {esc(fmt(values[-1]))}</div></div>"
        )
    more = f"<p class='sub'>{len(shown) - limit} more series in the JSON report.</p>" if len(shown) > limit else ""
    return f"<p class='sub'>{len(runs)} profile run(s)</p><div class='grid hist'>{''.join(cards)}</div>{more}"


def readiness_html(r: ReadinessReport) -> str:
    base = r.baseline
    parts = [
        _table(
            ["", ""],
            [
                ["task", esc(r.task)],
                ["rows (sampled)", f"{r.rows:,} ({r.sample_rows:,})"],
                ["features (dimensions)", f"{len(r.features)} ({r.encoded_dimensions})"],
                [
                    "baseline",
                    esc(
                        f"{base['model']}: {base['metric']} {base['score']:.3f} ± {base['std']:.3f} "
                        f"({base['folds']}-fold CV); trivial model {base['trivial_score']:.3f}"
                    ),
                ],
                ["anomalous rows", esc(f"{r.anomalies['share']:.2%} (Isolation Forest)")],
                ["duplicate rows", esc(f"{r.duplicates['rows']:,} ({r.duplicates['rate']:.2%})")],
            ],
        )
    ]
    if r.warnings:
        parts.append("<ul>" + "".join(f"<li class='warn'>{esc(w)}</li>" for w in r.warnings) + "</ul>")
    dist = r.target_distribution
    if "counts" in dist:
        parts.append(
            "<h3>Target classes</h3>"
            + charts.hbars([(k, float(v)) for k, v in dist["counts"].items()][:20], label="target classes")
        )
    if r.feature_power:
        parts.append(
            f"<h3>Prediction power of each feature alone ({esc(r.feature_power[0].metric)})</h3>"
            + charts.hbars(
                [(f.feature + (" ⚠" if f.leakage else ""), f.score) for f in r.feature_power[:25]],
                width=460,
                label="prediction power",
            )
        )
    advice = [
        [("✔" if a.ok else "✘"), esc(a.rule), f"{a.actual:,.0f}", f"{a.required:,.0f}", esc(a.note)]
        for a in r.sample_size
    ]
    if advice:
        parts.append("<h3>Sample size</h3>" + _table(["", "rule", "have", "need", "note"], advice))
    curve = r.learning_curve
    if curve.get("scores"):
        parts.append(
            f"<h3>Learning curve ({esc(curve['metric'])})</h3>"
            + charts.line(curve["scores"], width=300, height=60, label="learning curve")
            + f"<p>{esc(curve.get('advice', ''))}</p>"
        )
    return "".join(parts)


@dataclass
class QualityReport:
    """Everything mlake knows about one table's quality, for a page or a program."""

    title: str
    profile: Profile
    dimensions: QualityDimensions | None = None
    checks: SuiteResult | None = None
    anomalies: list[Anomaly] = field(default_factory=list)
    history: pa.Table | None = None
    readiness: ReadinessReport | None = None
    suggested: SuggestedSuite | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "profile": self.profile.to_dict(),
            "dimensions": self.dimensions.to_dict() if self.dimensions else None,
            "checks": self.checks.to_dict() if self.checks else None,
            "anomalies": [a.to_dict() for a in self.anomalies],
            "readiness": self.readiness.to_dict() if self.readiness else None,
            "suggested_suite": self.suggested.to_dict() if self.suggested else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_html(self) -> str:
        p = self.profile
        sections = [
            f"<h1>{esc(self.title)}</h1>"
            f"<p class='sub'>{esc(p.source)} · generated {self.created_at:%Y-%m-%d %H:%M} UTC</p>"
        ]
        if self.dimensions:
            sections.append(f"<h2>Quality dimensions</h2>{dimensions_html(self.dimensions)}")
        if self.checks:
            verdict = "<span class='pass'>passed</span>" if self.checks.passed else "<span class='fail'>failed</span>"
            sections.append(f"<h2>Checks — {esc(self.checks.suite)} {verdict}</h2>{checks_html(self.checks)}")
        sections.append(f"<h2>Anomalies</h2>{anomalies_html(self.anomalies)}")
        if self.history is not None:
            sections.append(f"<h2>Metric history</h2>{history_html(self.history, self.anomalies)}")
        if self.readiness:
            sections.append(
                f"<h2>ML readiness — target {esc(self.readiness.target)}</h2>{readiness_html(self.readiness)}"
            )
        sections.append(f"<h2>Missing values</h2>{missing_html(p)}")
        if p.correlations is not None:
            sections.append(f"<h2>Correlations (Pearson)</h2><div class='card'>{heatmap_html(p.correlations)}</div>")
        sections.append(f"<h2>Columns</h2>{profile_html(p)}")
        if self.suggested:
            sections.append(f"<h2>Suggested checks</h2><pre>{esc(self.suggested.yaml)}</pre>")
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{esc(self.title)}</title>"
            f"<style>{CSS}</style></head><body><main>{''.join(sections)}</main></body></html>"
        )

    def save(self, path: str | Path) -> Path:
        """Write HTML (``.html``) or JSON (``.json``)."""
        path = Path(path)
        if path.suffix.lower() in (".html", ".htm"):
            path.write_text(self.to_html(), encoding="utf-8")
        elif path.suffix.lower() == ".json":
            path.write_text(self.to_json(), encoding="utf-8")
        else:
            raise ValidationError(f"Cannot tell the report format of {path}", hint="name it .html or .json")
        return path

    def _repr_html_(self) -> str:
        return f"<style>{CSS}</style>" + self.to_html().split("<main>", 1)[1].split("</main>", 1)[0]
