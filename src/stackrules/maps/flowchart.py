"""The laddering and transfer flowchart: the compiled model (and a learner's report) in, a small
directed graph of what flows into what out, ready for a renderer.

Nodes are credentials, items, equivalencies (one per declaration or transfer line), requirement
groups chosen by a selector (`60 credits from issuer UVIC and level >= 100`), and competencies
at a level. Edges:

- ``counts-toward`` — an item named or listed by a credential's requirement;
- ``ladders-into`` — a credential required by another credential;
- ``from`` — an item or credential an equivalency takes;
- ``grants`` — an equivalency to what it grants;
- ``selects`` — a selector group to its credential or equivalency, and ``matches`` — an item
  already in the chart that the selector would take (the group is not expanded to the whole
  catalog: the chart shows pathways, and the group node says how many catalog items match);
- ``teaches`` — an item to a competency at a level, and that competency to what asks for it.

Scope: the whole rule set, or for each `--credential` the credential with everything that flows
into it and everything it flows on to, or for each `--issuer` the same for that issuer's
credentials and for the equivalencies that grant its items. With a learner's report, each
credential, item and equivalency gets a status: ``held`` (a counting record achievement, or a
credential awarded earlier), ``earned`` (a credential earned, an item granted, an equivalency
that fired), ``in-progress`` (a credential started, an item in progress) or ``remaining``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import networkx as nx

from stackrules.format import group_text, modifier_text
from stackrules.graph import RuleGraph
from stackrules.maps.text import number_text, window_text
from stackrules.matching import matches_selector
from stackrules.model import AmountLeaf, CompetencyLeaf, ItemLeaf, LeafNode, RuleSet
from stackrules.records import LearnerRecord
from stackrules.report import Report

NodeKind = Literal["credential", "item", "equivalency", "selector", "competency"]
Status = Literal["held", "earned", "in-progress", "remaining"]
STATUSES: tuple[Status, ...] = ("held", "earned", "in-progress", "remaining")
STATUS_WORDS: dict[str, str] = {
    "held": "held (on the record)",
    "earned": "earned, granted or fired",
    "in-progress": "in progress",
    "remaining": "remaining",
}


@dataclass(frozen=True)
class FlowNode:
    key: str
    kind: NodeKind
    label: str  # first line: an identifier, a rule, a selector's amount
    title: str  # further text: a title, a selector, conditions
    source: str = ""  # file:line where it is declared, when it is declared
    status: Status | None = None


@dataclass(frozen=True)
class FlowEdge:
    source: str
    target: str
    kind: str
    label: str = ""


@dataclass
class Flowchart:
    """Nodes in a stable order (credentials, then items, groups and rules by identifier) and
    edges sorted by their ends."""

    title: str
    nodes: dict[str, FlowNode]
    edges: list[FlowEdge]
    learner: str | None = None
    as_of: str | None = None
    notes: list[str] = field(default_factory=list)

    def status_counts(self) -> dict[str, int]:
        counts = Counter(n.status for n in self.nodes.values() if n.status)
        return {s: counts.get(s, 0) for s in STATUSES}


class _Builder:
    def __init__(self, graph: RuleGraph) -> None:
        self.rules: RuleSet = graph.rules
        self.catalog = graph.catalog
        self.g = nx.DiGraph()
        self.nodes: dict[str, FlowNode] = {}

    def node(self, node: FlowNode) -> str:
        self.nodes.setdefault(node.key, node)
        self.g.add_node(node.key)
        return node.key

    def edge(self, u: str, v: str, kind: str, label: str = "") -> None:
        if self.g.has_edge(u, v):
            data = self.g.edges[u, v]
            labels = [x for x in data["label"].split(", ") if x]
            if label and label not in labels:
                data["label"] = ", ".join([*labels, label])
            return
        self.g.add_edge(u, v, kind=kind, label=label)

    def item(self, ident: str) -> str:
        if ident in self.rules.credentials:
            versions = self.rules.credentials[ident]
            latest = versions[-1]
            return self.node(
                FlowNode(f"credential:{ident}", "credential", ident, latest.title, latest.where)
            )
        entry = self.rules.items.get(ident)
        title = entry.title if entry and entry.title != ident else ""
        if entry is not None and entry.credits is not None:
            credits = f"{number_text(entry.credits)}\u00a0cr"  # kept on one line when wrapped
            title = f"{title}\u00a0·\u00a0{credits}" if title else credits
        return self.node(FlowNode(f"item:{ident}", "item", ident, title))

    def leaf(
        self, leaf: LeafNode, target: str, label: str, selectors: list[tuple[str, AmountLeaf]]
    ) -> None:
        if isinstance(leaf, ItemLeaf):
            kind = (
                "from"
                if label == "from"
                else ("ladders-into" if leaf.item in self.rules.credentials else "counts-toward")
            )
            self.edge(self.item(leaf.item), target, kind, label)
        elif isinstance(leaf, CompetencyLeaf):
            key = self.node(
                FlowNode(
                    f"competency:{leaf.competency}@{leaf.level_name}",
                    "competency",
                    leaf.competency,
                    f"at {leaf.level_name} or above",
                )
            )
            self.edge(key, target, "selects", label)
            for item in self.rules.items.values():
                if any(c == leaf.competency and r >= leaf.level for c, r in item.teaches):
                    self.edge(self.item(item.id), key, "teaches")
        elif leaf.ids is not None:
            for ident in leaf.listed:
                kind = (
                    "from"
                    if label == "from"
                    else ("ladders-into" if ident in self.rules.credentials else "counts-toward")
                )
                self.edge(self.item(ident), target, kind, label)
        else:
            assert leaf.selector is not None
            text = group_text(leaf.selector)
            amount = number_text(leaf.amount)
            head = f"{amount} of" if leaf.unit == "items" else f"{amount} {leaf.unit} from"
            mods = " ".join(modifier_text(m) for m in leaf.modifiers)
            matching = sum(1 for e in self.catalog.values() if matches_selector(leaf.selector, e))
            key = self.node(
                FlowNode(
                    f"selector:{target}:{leaf.requirement}:{text}",
                    "selector",
                    head,
                    f"{text}{' ' + mods if mods else ''} ({matching} catalog items)",
                    leaf.where,
                )
            )
            self.edge(key, target, "selects", label)
            selectors.append((key, leaf))

    def build(self) -> nx.DiGraph:
        selectors: list[tuple[str, AmountLeaf]] = []
        for ident, versions in sorted(self.rules.credentials.items()):
            target = self.item(ident)
            for version in versions:
                for leaf in version.leaves:
                    self.leaf(leaf, target, leaf.requirement, selectors)
        for k, eq in enumerate(self.rules.equivalencies):
            conditions = sorted({modifier_text(m) for leaf in eq.leaves for m in leaf.modifiers})
            window = window_text(eq.window)
            if window:
                conditions.append(window)
            label = f"{eq.rule} => none" if eq.no_credit else eq.rule
            key = self.node(
                FlowNode(f"equivalency:{k}", "equivalency", label, "; ".join(conditions), eq.where)
            )
            for leaf in eq.leaves:
                self.leaf(leaf, key, "from", selectors)
            for g in eq.grants:
                self.edge(key, self.item(g.item), "grants")
        # a selector takes the items already in the chart that it matches (not the catalog)
        present = [n for n in self.nodes.values() if n.kind in ("item", "credential")]
        for key, leaf in selectors:
            assert leaf.selector is not None
            for n in present:
                entry = self.catalog.get(n.label)
                if entry is not None and matches_selector(leaf.selector, entry):
                    self.edge(n.key, key, "matches")
        return self.g


def _scope(
    g: nx.DiGraph, rules: RuleSet, credentials: Iterable[str], issuers: Iterable[str]
) -> set[str]:
    roots = {f"credential:{c}" for c in credentials}
    for issuer in issuers:
        roots |= {f"credential:{c}" for c in rules.credentials if c.split(":", 1)[0] == issuer}
        for k, eq in enumerate(rules.equivalencies):
            into = any(gr.item.split(":", 1)[0] == issuer for gr in eq.grants)
            # a `=> none` line grants nothing; its block names the receiving issuer
            if into or (eq.no_credit and eq.rule.endswith(f"=>{issuer}")):
                roots.add(f"equivalency:{k}")
    keep: set[str] = set()
    for r in roots:
        keep |= {r} | nx.ancestors(g, r) | nx.descendants(g, r)
    return keep


def _statuses(rules: RuleSet, record: LearnerRecord, report: Report) -> dict[str, Status]:
    status: dict[str, Status] = {}
    attempts = Counter(a.item for a in record.achievements)
    turned_away = Counter(n.item for n in report.not_counted)
    in_progress = {n.item for n in report.not_counted if n.reason == "in-progress"}
    for ident in in_progress:
        status[f"item:{ident}"] = "in-progress"
    for ident, n in attempts.items():
        if n > turned_away.get(ident, 0):
            status[f"item:{ident}"] = "held"
    fired = {t.source for t in report.transfers}
    for k, eq in enumerate(rules.equivalencies):
        if eq.where in fired:
            status[f"equivalency:{k}"] = "earned"
    for t in report.transfers:
        for g in t.grants:
            status.setdefault(f"item:{g}", "earned")
    for c in report.in_progress:
        status[f"credential:{c.credential}"] = "in-progress"
    for e in report.earned:
        status[f"credential:{e.credential}"] = "earned"
    for h in report.held:
        status[f"credential:{h}"] = "held"
    return status


def build_flowchart(
    graph: RuleGraph,
    *,
    credentials: Iterable[str] = (),
    issuers: Iterable[str] = (),
    learner: tuple[LearnerRecord, Report] | None = None,
) -> Flowchart:
    """The flowchart of the rule set, or of the scope the credentials and issuers give."""
    credentials, issuers = sorted(set(credentials)), sorted(set(issuers))
    builder = _Builder(graph)
    g = builder.build()
    keep = (
        set(g.nodes)
        if not credentials and not issuers
        else _scope(g, graph.rules, credentials, issuers)
    )
    status: dict[str, Status] = {}
    if learner is not None:
        status = _statuses(graph.rules, *learner)
    kind_order = {"credential": 0, "equivalency": 1, "selector": 2, "competency": 3, "item": 4}
    nodes: dict[str, FlowNode] = {}
    for key in sorted(keep, key=lambda k: (kind_order[builder.nodes[k].kind], k)):
        node = builder.nodes[key]
        if learner is not None and node.kind in ("credential", "item", "equivalency"):
            node = replace(node, status=status.get(key, "remaining"))
        nodes[key] = node
    edges = sorted(
        (
            FlowEdge(u, v, d["kind"], d["label"])
            for u, v, d in g.edges(data=True)
            if u in keep and v in keep
        ),
        key=lambda e: (e.source, e.target),
    )
    scope = [*credentials, *(f"issuer {i}" for i in issuers)]
    title = "Laddering and transfer: " + (", ".join(scope) if scope else "all rules")
    chart = Flowchart(title, nodes, edges)
    if learner is not None:
        chart.learner = learner[0].learner
        chart.as_of = learner[1].as_of.isoformat()
    return chart
