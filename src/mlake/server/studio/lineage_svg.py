"""A lineage graph as an SVG picture, laid out in columns by distance from the table (no JavaScript).

The layout is this module's; the picture is drawn with :mod:`mlake.charts`' parts (escaped texts, the
``<svg>`` element)."""

from __future__ import annotations

from mlake.charts import esc, svg, text
from mlake.tables.lineage import LineageGraph

COL_W, NODE_W, NODE_H, ROW_H, PAD = 260, 210, 44, 64, 24
_KIND_LABEL = {
    "table": "table",
    "file": "file",
    "url": "url",
    "database": "database",
    "dataframe": "data frame",
    "query": "query",
}


def _short(text: str, n: int = 30) -> str:
    text = text.rsplit("/", 1)[-1] if "/" in text and not text.startswith("http") else text
    return text if len(text) <= n else "…" + text[-(n - 1) :]


def lineage_svg(graph: LineageGraph) -> str:
    """Sources on the left, the table in the middle, consumers on the right; tables link to their pages."""
    columns: dict[str, int] = {f"table:{graph.table}": 0}
    labels: dict[str, tuple[str, str]] = {f"table:{graph.table}": ("table", graph.table)}
    edges: set[tuple[str, str]] = set()
    for e in graph.upstream:
        if e.source.kind == "query":
            continue  # the SQL text of a write is shown in History, not as a node
        src = f"{e.source.kind}:{e.source.ref}"
        dst = f"table:{e.target}"
        columns.setdefault(dst, -(e.depth - 1))
        columns.setdefault(src, -e.depth)
        labels.setdefault(src, (e.source.kind, e.source.ref))
        labels.setdefault(dst, ("table", e.target))
        edges.add((src, dst))
    for e in graph.downstream:
        src = f"table:{e.source.ref}"
        dst = f"table:{e.target}"
        columns.setdefault(src, e.depth - 1)
        columns.setdefault(dst, e.depth)
        labels.setdefault(src, ("table", e.source.ref))
        labels.setdefault(dst, ("table", e.target))
        edges.add((src, dst))
    by_col: dict[int, list[str]] = {}
    for key, col in sorted(columns.items(), key=lambda kv: (kv[1], kv[0])):
        by_col.setdefault(col, []).append(key)
    min_col = min(by_col)
    rows = max(len(v) for v in by_col.values())
    width = (max(by_col) - min_col + 1) * COL_W + PAD * 2 - (COL_W - NODE_W)
    height = rows * ROW_H + PAD * 2 - (ROW_H - NODE_H)
    pos: dict[str, tuple[float, float]] = {}
    for col, keys in by_col.items():
        offset = (rows - len(keys)) * ROW_H / 2
        for i, key in enumerate(keys):
            pos[key] = (PAD + (col - min_col) * COL_W, PAD + offset + i * ROW_H)
    parts = []
    for src, dst in sorted(edges):
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        mid = (sx + tx) / 2
        parts.append(
            f'<path class="edge" d="M{sx},{sy} C{mid},{sy} {mid},{ty} {tx - 6},{ty}" marker-end="url(#arrow)"/>'
        )
    parts.append(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>'
    )
    for key, (x, y) in pos.items():
        kind, ref = labels[key]
        focus = key == f"table:{graph.table}"
        cls = "node focus" if focus else f"node {kind}"
        body = (
            f'<rect class="{cls}" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            + text(x + 12, y + 16, _KIND_LABEL.get(kind, kind), cls="kind")
            + text(x + 12, y + 33, _short(ref), cls="label")
            + f"<title>{esc(kind)}: {esc(ref)}</title>"
        )
        if kind == "table" and not focus:
            body = f'<a href="/tables/{esc(ref)}?tab=lineage">{body}</a>'
        parts.append(f"<g>{body}</g>")
    return svg(parts, width, height, cls="lineage", label=f"Lineage of {graph.table}", xmlns=True)
