"""The flowchart as one self-contained HTML page: inline SVG laid out by :mod:`.layout`, inline
CSS, no script and nothing fetched from the network, so it opens offline and prints (landscape,
scaled to the page width). With a learner, nodes are coloured by status and also say it in
words, so a greyscale print keeps the meaning.
"""

from __future__ import annotations

import textwrap
from html import escape

from stackrules.maps.flowchart import STATUS_WORDS, STATUSES, Flowchart, FlowEdge, FlowNode
from stackrules.maps.layout import Box, layout

NODE_WIDTH = 200.0
LINE = 14.0
PAD = 8.0
TITLE_CHARS = 32
TITLE_LINES = 3
MARGIN = 16.0

KIND_WORDS = {
    "credential": "credential",
    "item": "item (course, module, badge…)",
    "equivalency": "equivalency or transfer line",
    "selector": "requirement group (selector)",
    "competency": "competency at a level",
}

CSS = """
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 24px;
       color: #1a1a1a; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { margin: 0 0 12px; color: #444; font-size: 13px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 12px; margin: 0 0 12px;
          padding: 8px 10px; border: 1px solid #ccc; border-radius: 6px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.legend svg { flex: none; }
figure { margin: 0; overflow-x: auto; }
svg text { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; }
.node .label { font-size: 11.5px; font-weight: bold; }
.node .title { font-size: 10.5px; fill: #333; }
.node .status { font-size: 10px; font-style: italic; fill: #111; }
.node rect, .node polygon { stroke: #555; stroke-width: 1.2; }
.node.credential rect { stroke: #283593; stroke-width: 2.2; }
.node.selector rect { stroke-dasharray: 5 3; }
.node.competency rect { stroke: #00796b; stroke-dasharray: 2 2; }
.credential .shape { fill: #e8eaf6; } .item .shape { fill: #ffffff; }
.equivalency .shape { fill: #f3e5f5; } .selector .shape { fill: #fafafa; }
.competency .shape { fill: #e0f2f1; }
.held .shape { fill: #a5d6a7; } .earned .shape { fill: #90caf9; }
.in-progress .shape { fill: #ffcc80; } .remaining .shape { fill: #ffffff; }
.remaining rect, .remaining polygon { stroke: #9e9e9e; }
.edge { fill: none; stroke: #616161; stroke-width: 1.2; }
.edge.ladders-into { stroke: #283593; stroke-width: 2.2; }
.edge.from, .edge.grants { stroke: #8e24aa; }
.edge.from { stroke-dasharray: 6 3; }
.edge.matches, .edge.teaches { stroke: #9e9e9e; stroke-dasharray: 2 3; }
footer { margin-top: 12px; font-size: 11px; color: #555; }
@page { size: landscape; margin: 10mm; }
@media print {
  body { margin: 0; }
  .legend { break-inside: avoid; }
  figure { overflow: visible; }
  figure svg { width: 100%; height: auto; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _lines(node: FlowNode) -> list[str]:
    lines = textwrap.wrap(node.title, TITLE_CHARS) if node.title else []
    if len(lines) > TITLE_LINES:
        lines = [*lines[: TITLE_LINES - 1], lines[TITLE_LINES - 1][: TITLE_CHARS - 1] + "…"]
    return lines


def _size(node: FlowNode) -> tuple[float, float]:
    count = 1 + len(_lines(node)) + (1 if node.status else 0)
    return NODE_WIDTH, count * LINE + 2 * PAD


def _shape(node: FlowNode, box: Box) -> str:
    left, top = box.x - box.width / 2, box.y
    if node.kind == "equivalency":
        cut = 10.0
        right, bottom = left + box.width, top + box.height
        mid = top + box.height / 2
        points = [
            (left + cut, top),
            (right - cut, top),
            (right, mid),
            (right - cut, bottom),
            (left + cut, bottom),
            (left, mid),
        ]
        text = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        return f'<polygon class="shape" points="{text}"/>'
    radius = {"credential": 12.0, "competency": box.height / 2}.get(node.kind, 3.0)
    return (
        f'<rect class="shape" x="{left:.1f}" y="{top:.1f}" width="{box.width:.1f}" '
        f'height="{box.height:.1f}" rx="{radius:.1f}"/>'
    )


def _node_svg(node: FlowNode, box: Box) -> str:
    classes = " ".join(c for c in ("node", node.kind, node.status or "") if c)
    tooltip = " — ".join(x for x in (node.label, node.title, node.source) if x)
    parts = [
        f'<g class="{classes}" data-key="{escape(node.key)}">',
        f"<title>{escape(tooltip)}</title>",
        _shape(node, box),
    ]
    y = box.y + PAD + LINE - 3
    parts.append(
        f'<text class="label" x="{box.x:.1f}" y="{y:.1f}" text-anchor="middle">'
        f"{escape(node.label)}</text>"
    )
    for line in _lines(node):
        y += LINE
        parts.append(
            f'<text class="title" x="{box.x:.1f}" y="{y:.1f}" text-anchor="middle">'
            f"{escape(line)}</text>"
        )
    if node.status:
        y += LINE
        parts.append(
            f'<text class="status" x="{box.x:.1f}" y="{y:.1f}" text-anchor="middle">'
            f"{escape(node.status)}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _path(points: list[tuple[float, float]]) -> str:
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    px, py = x0, y0
    for x, y in rest:
        my = (py + y) / 2
        d.append(f"C{px:.1f},{my:.1f} {x:.1f},{my:.1f} {x:.1f},{y:.1f}")
        px, py = x, y
    return " ".join(d)


def _edge_svg(edge: FlowEdge, points: list[tuple[float, float]], chart: Flowchart) -> str:
    source, target = chart.nodes[edge.source], chart.nodes[edge.target]
    words = (
        f"{source.label} → {target.label} ({edge.kind}{': ' + edge.label if edge.label else ''})"
    )
    return (
        f'<path class="edge {edge.kind}" d="{_path(points)}" marker-end="url(#arrow)">'
        f"<title>{escape(words)}</title></path>"
    )


def _legend(chart: Flowchart) -> str:
    items = []
    kinds = sorted({n.kind for n in chart.nodes.values()}, key=list(KIND_WORDS).index)
    for kind in kinds:
        sample = FlowNode("legend", kind, "", "")
        items.append(
            f'<span><svg width="34" height="18" viewBox="0 0 34 18"><g class="node {kind}">'
            f"{_shape(sample, Box(17, 1, 32, 16))}</g></svg>{escape(KIND_WORDS[kind])}</span>"
        )
    if chart.learner is not None:
        counts = chart.status_counts()
        swatch = _shape(FlowNode("", "item", "", ""), Box(17, 1, 32, 16))
        for status in STATUSES:
            items.append(
                f'<span class="status-key"><svg width="34" height="18" viewBox="0 0 34 18">'
                f'<g class="node item {status}">{swatch}'
                f"</g></svg>{escape(STATUS_WORDS[status])} ({counts[status]})</span>"
            )
    return '<div class="legend" role="list">' + "".join(items) + "</div>"


def _chart_svg(chart: Flowchart, namespace: str = "") -> str:
    """The laid-out chart as one `<svg>` element (styled by `CSS`, given by its page, or by
    the `<style>` that `namespace` is placed before in a standalone SVG file)."""
    keys = list(chart.nodes)
    sizes = {k: _size(chart.nodes[k]) for k in keys}
    placed = layout(keys, sizes, [(e.source, e.target) for e in chart.edges])
    width, height = placed.width + 2 * MARGIN, placed.height + 2 * MARGIN
    boxes = {k: Box(b.x + MARGIN, b.y + MARGIN, b.width, b.height) for k, b in placed.boxes.items()}
    shifted = {k: [(x + MARGIN, y + MARGIN) for x, y in pts] for k, pts in placed.routes.items()}
    svg = [
        f'<svg {namespace}role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.1f} {height:.1f}" '
        f'aria-label="{escape(chart.title)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#616161"/></marker></defs>',
        '<g class="edges">',
    ]
    for edge in chart.edges:
        if edge.source != edge.target:
            svg.append(_edge_svg(edge, shifted[(edge.source, edge.target)], chart))
    svg.append('</g><g class="nodes">')
    for key in keys:
        svg.append(_node_svg(chart.nodes[key], boxes[key]))
    svg.append("</g></svg>")
    return "".join(svg)


def render_svg(chart: Flowchart) -> str:
    """The chart alone, as a standalone SVG file with its style inside (no legend, no page);
    the same chart always gives the same bytes."""
    svg = _chart_svg(chart, namespace='xmlns="http://www.w3.org/2000/svg" ')
    head, rest = svg.split(">", 1)
    style = f"<style><![CDATA[{CSS}]]></style>"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{head}>{style}{rest}\n'


def render_html(chart: Flowchart, rules_label: str = "") -> str:
    """The whole page; the same chart always gives the same bytes."""
    svg = _chart_svg(chart)
    meta = [f"{len(chart.nodes)} nodes, {len(chart.edges)} links"]
    if rules_label:
        meta.insert(0, f"Rules: {escape(rules_label)}")
    if chart.learner is not None:
        meta.append(f"learner {escape(chart.learner)} as of {escape(chart.as_of or '')}")
    notes = "".join(f'<p class="meta">{escape(n)}</p>' for n in chart.notes)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(chart.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(chart.title)}</h1>\n"
        f'<p class="meta">{" · ".join(meta)}</p>{notes}</header>\n'
        f"{_legend(chart)}\n"
        f"<figure>{svg}</figure>\n"
        "<footer>Read from top to bottom: what a learner completes flows into what it counts "
        "toward. Solid arrows count toward a credential (thick: a credential laddering into "
        "another); purple arrows go into and out of an equivalency; dotted arrows show what a "
        "requirement group or competency would take. Made by <code>stackrules graph</code>."
        "</footer>\n</body>\n</html>\n"
    )
