"""The flowchart as a Mermaid `flowchart TB` (for Markdown viewers that draw Mermaid).

Shapes: credentials stadiums, items boxes, equivalencies hexagons, selector groups
parallelograms, competencies circles; with a learner, a class per status and a legend
subgraph.
"""

from __future__ import annotations

from stackrules.maps.flowchart import STATUS_WORDS, STATUSES, Flowchart, FlowNode
from stackrules.maps.render_dot import FILL

SHAPES = {
    "credential": ('(["', '"])'),
    "item": ('["', '"]'),
    "equivalency": ('{{"', '"}}'),
    "selector": ('[/"', '"/]'),
    "competency": ('(("', '"))'),
}
ARROWS = {"from": "-.->", "matches": "-.->", "teaches": "-.->", "ladders-into": "==>"}


def escape(text: str) -> str:
    """Mermaid text inside quotes: entity codes for the characters it would read as syntax."""
    for ch, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(ch, code)
    return text


def _label(node: FlowNode) -> str:
    lines = [f"<b>{escape(node.label)}</b>", *([escape(node.title)] if node.title else [])]
    if node.status:
        lines.append(f"<i>{node.status}</i>")
    return "<br/>".join(lines)


def render_mermaid(chart: Flowchart) -> str:
    ids = {key: f"n{i}" for i, key in enumerate(chart.nodes)}
    out = [f"%% {chart.title}", "flowchart TB"]
    for key, node in chart.nodes.items():
        left, right = SHAPES[node.kind]
        out.append(f"  {ids[key]}{left}{_label(node)}{right}")
    for e in chart.edges:
        arrow = ARROWS.get(e.kind, "-->")
        label = f"|{escape(e.label)}|" if e.label and e.kind != "from" else ""
        out.append(f"  {ids[e.source]} {arrow}{label} {ids[e.target]}")
    if chart.learner is not None:
        out.append(f'  subgraph legend["learner {escape(chart.learner)} as of {chart.as_of}"]')
        for i, status in enumerate(STATUSES):
            out.append(f'    legend{i}["{STATUS_WORDS[status]}"]:::{status.replace("-", "_")}')
        out.append("  end")
        for status in STATUSES:
            out.append(f"  classDef {status.replace('-', '_')} fill:{FILL[status]},stroke:#555")
        for status in STATUSES:
            members = [ids[k] for k, n in chart.nodes.items() if n.status == status]
            if members:
                out.append(f"  class {','.join(members)} {status.replace('-', '_')}")
    return "\n".join(out) + "\n"
