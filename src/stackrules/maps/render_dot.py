"""The flowchart as Graphviz DOT text (for `dot -Tsvg`, or any tool that reads DOT).

Shapes follow the HTML page: credentials rounded and bold, items boxes, equivalencies hexagons,
selector groups dashed, competencies dotted ellipses; with a learner, fill colours by status
and a legend cluster.
"""

from __future__ import annotations

from stackrules.maps.flowchart import STATUS_WORDS, STATUSES, Flowchart, FlowNode

FILL = {"held": "#a5d6a7", "earned": "#90caf9", "in-progress": "#ffcc80", "remaining": "#ffffff"}
KIND_STYLE = {
    "credential": 'shape=box, style="rounded,filled,bold", fillcolor="#e8eaf6"',
    "item": 'shape=box, style="filled", fillcolor="#ffffff"',
    "equivalency": 'shape=hexagon, style="filled", fillcolor="#f3e5f5"',
    "selector": 'shape=box, style="dashed,filled", fillcolor="#fafafa"',
    "competency": 'shape=ellipse, style="dotted,filled", fillcolor="#e0f2f1"',
}
EDGE_STYLE = {
    "ladders-into": 'penwidth=2, color="#283593"',
    "counts-toward": 'color="#616161"',
    "selects": 'color="#616161"',
    "from": 'style=dashed, color="#8e24aa"',
    "grants": 'color="#8e24aa"',
    "matches": 'style=dotted, color="#9e9e9e"',
    "teaches": 'style=dotted, color="#9e9e9e"',
}


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(node: FlowNode) -> str:
    lines = [node.label, *([node.title] if node.title else [])]
    if node.status:
        lines.append(f"[{node.status}]")
    return quote("\n".join(lines))


def render_dot(chart: Flowchart) -> str:
    ids = {key: f"n{i}" for i, key in enumerate(chart.nodes)}
    out = [
        "digraph stackrules {",
        f"  label={quote(chart.title)}; labelloc=t; rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=8];',
    ]
    for key, node in chart.nodes.items():
        style = KIND_STYLE[node.kind]
        if node.status:
            style = style.rsplit("fillcolor=", 1)[0] + f'fillcolor="{FILL[node.status]}"'
        tooltip = f", tooltip={quote(node.source)}" if node.source else ""
        out.append(f"  {ids[key]} [label={_label(node)}, {style}{tooltip}];  // {key}")
    for e in chart.edges:
        label = f", label={quote(e.label)}" if e.label and e.kind != "from" else ""
        out.append(f"  {ids[e.source]} -> {ids[e.target]} [{EDGE_STYLE[e.kind]}{label}];")
    if chart.learner is not None:
        out.append("  subgraph cluster_legend {")
        out.append(f"    label={quote(f'learner {chart.learner} as of {chart.as_of}')};")
        for i, status in enumerate(STATUSES):
            out.append(
                f"    legend{i} [label={quote(STATUS_WORDS[status])}, shape=box, "
                f'style=filled, fillcolor="{FILL[status]}"];'
            )
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"
