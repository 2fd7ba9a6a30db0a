"""Cycles: among credentials (SR301, an error) and among equivalencies (SR307, a warning).

Both graphs are NetworkX digraphs whose edges remember the first place that made them. Only
strongly connected components can hold a cycle, so cycles are enumerated inside each
component (at most `MAX_CYCLES_PER_COMPONENT` of them: a dense tangle has exponentially many,
and the first few name every credential a fix must touch). Each cycle is reported once,
starting from the edge written first in the source, in source order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import networkx as nx

from stackrules import ast
from stackrules.check.context import Context, item_refs, where
from stackrules.diagnostics import Diagnostic, diagnostic
from stackrules.span import Span

MAX_CYCLES_PER_COMPONENT = 20


@dataclass(frozen=True, slots=True)
class _Edge:
    span: Span  # where the edge is written
    rule: str  # what wrote it, for messages ("" for credential edges)


def _position(span: Span) -> tuple[str, int, int]:
    return (span.file, span.line, span.column)


def _cycles(graph: nx.DiGraph) -> Iterator[list[str]]:
    """Every cycle (capped per component), rotated to start at its first-written edge."""
    found: list[tuple[tuple[str, int, int], list[str]]] = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1:
            (node,) = component
            if not graph.has_edge(node, node):
                continue
        sub = graph.subgraph(sorted(component))
        for cycle in islice(nx.simple_cycles(sub), MAX_CYCLES_PER_COMPONENT):
            nodes: list[str] = list(cycle)
            edges = [(nodes[i], nodes[(i + 1) % len(nodes)]) for i in range(len(nodes))]
            spans = [_position(graph.edges[e]["data"].span) for e in edges]
            first = min(range(len(nodes)), key=lambda i: (spans[i], nodes[i]))
            rotated = nodes[first:] + nodes[:first]
            found.append((spans[first], rotated))
    found.sort()
    for _, nodes in found:
        yield nodes


def _add_edge(graph: nx.DiGraph, src: str, dst: str, edge: _Edge) -> None:
    if not graph.has_edge(src, dst):
        graph.add_edge(src, dst, data=edge)


def _at(span: Span, here: str) -> str:
    return f"line {span.line}" if span.file == here else where(span)


def _chain(nodes: list[str]) -> str:
    return " → ".join(f"`{n}`" for n in [*nodes, nodes[0]])


def credential_cycles(ctx: Context) -> tuple[list[Diagnostic], set[str]]:
    """SR301, and the credentials that sit on a cycle."""
    credentials = ctx.symbols.credentials
    graph = nx.DiGraph()
    for cred in (d for d in ctx.syntax.declarations() if isinstance(d, ast.CredentialDecl)):
        for named in cred.requirements:
            for ref in item_refs(named.requirement):
                if ref.id in credentials:
                    _add_edge(graph, cred.ref.id, ref.id, _Edge(ref.span, ""))
    out: list[Diagnostic] = []
    on_cycle: set[str] = set()
    for nodes in _cycles(graph):
        on_cycle.update(nodes)
        first: _Edge = graph.edges[nodes[0], nodes[1 % len(nodes)]]["data"]
        if len(nodes) == 1:
            message = f"credential `{nodes[0]}` requires itself"
        else:
            message = f"credentials require each other in a cycle: {_chain(nodes)}"
        out.append(
            diagnostic(
                "SR301",
                message,
                first.span,
                "a credential cannot require itself, directly or through others",
            )
        )
    return out, on_cycle


def equivalency_cycles(ctx: Context) -> list[Diagnostic]:
    """SR307: identifiers that grant each other through equivalencies and transfer lines."""
    edges: list[tuple[str, str, _Edge]] = []
    for decl in ctx.syntax.declarations():
        if isinstance(decl, ast.EquivalencyDecl):
            rule = f"equivalency `{decl.ref.id}`"
            from_ids = [r.id for r in item_refs(decl.source)]
            for grant in decl.grants:
                for from_id in from_ids:
                    edges.append((from_id, grant.ref.id, _Edge(decl.ref.span, rule)))
        elif isinstance(decl, ast.TransferBlock):
            for line in decl.lines:
                rule = f"`{decl.rule_id}`"
                for grant in line.grants:
                    for source in line.sources:
                        edges.append((source.id, grant.ref.id, _Edge(line.span, rule)))
    # only an identifier that is both granted and a source can sit on a cycle
    granted = {dst for _, dst, _ in edges}
    sources = {src for src, _, _ in edges}
    graph = nx.DiGraph()
    for src, dst, edge in edges:
        if src in granted and dst in sources:
            _add_edge(graph, src, dst, edge)
    out: list[Diagnostic] = []
    for nodes in _cycles(graph):
        pairs = [(nodes[i], nodes[(i + 1) % len(nodes)]) for i in range(len(nodes))]
        rules: list[_Edge] = [graph.edges[p]["data"] for p in pairs]
        here = rules[0].span.file
        named = list(dict.fromkeys(f"{r.rule} at {_at(r.span, here)}" for r in rules))
        if len(nodes) == 1:
            message = f"`{nodes[0]}` is granted by a rule it is a source of ({named[0]})"
        else:
            message = f"equivalencies grant in a cycle: {_chain(nodes)} (by {', '.join(named)})"
        out.append(
            diagnostic(
                "SR307",
                message,
                rules[0].span,
                "mutual recognition is allowed; check that the cycle is intended",
            )
        )
    return out
