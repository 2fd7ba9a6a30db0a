"""Graph stage: a compiled rule set in, the graph of what counts toward what out.

A :class:`RuleGraph` wraps a NetworkX multigraph with typed nodes (``item``, ``credential``,
``equivalency``, ``competency``, ``selector``) and typed edges (``counts-toward``, ``grants``,
``ladders-into``, ``teaches``, ``selects``). The evaluator uses it as an index: from a learner's
achievements to the only credentials and equivalencies that could use them, so a learner
touches a handful of rules whatever the size of the catalog. Selectors are indexed by one of
their positive filters (subject, tag, issuer, kind); a selector with none (`level >= 300`,
`not transfer`) is consulted for every learner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property
from typing import Literal

import networkx as nx

from stackrules.indexkeys import Facts, Key, leaf_keys, selector_keys
from stackrules.matching import CatalogEntry, SelectorIndex, matches_selector
from stackrules.model import (
    AmountLeaf,
    Choice,
    CompetencyLeaf,
    ItemLeaf,
    LeafNode,
    Node,
    RuleSet,
)

__all__ = ["Facts", "Key", "RuleGraph", "Target", "leaf_keys", "needs_nothing", "selector_keys"]

TargetKind = Literal["credential", "equivalency"]
Target = tuple[TargetKind, str | int]  # credential id, or equivalency position


def needs_nothing(node: Node) -> bool:
    """Whether the requirement holds for a learner with no achievements at all."""
    if isinstance(node, Choice):
        return sum(1 for c in node.children if needs_nothing(c)) >= node.need
    if isinstance(node, AmountLeaf):
        return node.amount <= 0
    return False


class RuleGraph:
    """What counts toward what, as a NetworkX graph, plus the index built from it."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.graph = nx.MultiDiGraph()
        self._index: dict[Key, set[Target]] = defaultdict(set)
        self.always: set[Target] = set()
        for ident, item in rules.items.items():
            self.graph.add_node(("item", ident), kind="item", title=item.title)
            for comp, _ in item.teaches:
                self.graph.add_edge(("item", ident), ("competency", comp), key="teaches")
        for ident, versions in rules.credentials.items():
            self.graph.add_node(("credential", ident), kind="credential")
            # an earned credential is an achievement other rules can count (laddering)
            self.graph.add_edge(("credential", ident), ("item", ident), key="awards")
            for version in versions:
                self._add_rule(("credential", ident), version.leaves)
                if not version.requirements or all(
                    needs_nothing(r.root) for r in version.requirements
                ):
                    self.always.add(("credential", ident))
        for k, eq in enumerate(rules.equivalencies):
            self.graph.add_node(
                ("equivalency", k), kind="equivalency", rule=eq.rule, where=eq.where
            )
            self._add_rule(("equivalency", k), eq.leaves)
            if needs_nothing(eq.source):
                self.always.add(("equivalency", k))
            for g in eq.grants:
                self.graph.add_edge(("equivalency", k), ("item", g.item), key="grants")

    def _add_rule(self, target: Target, leaves: Iterable[LeafNode]) -> None:
        for leaf in leaves:
            keys = leaf_keys(leaf)
            if isinstance(leaf, ItemLeaf):
                edge = "ladders-into" if leaf.item in self.rules.credentials else "counts-toward"
                self.graph.add_edge(("item", leaf.item), target, key=edge)
            elif isinstance(leaf, CompetencyLeaf):
                self.graph.add_edge(("competency", leaf.competency), target, key="counts-toward")
            elif leaf.ids is not None:
                for i in sorted(leaf.ids):
                    self.graph.add_edge(("item", i), target, key="counts-toward")
            else:
                self.graph.add_edge(("selector", str(leaf.selector)), target, key="selects")
            if keys is None:
                self.always.add(target)
            else:
                for key in keys:
                    self._index[key].add(target)

    def targets(self, facts: Iterable[Facts]) -> set[Target]:
        """Every credential and equivalency that could use any of these achievements."""
        found: set[Target] = set(self.always)
        index = self._index
        for f in facts:
            for key in f.index_keys():
                hit = index.get(key)
                if hit:
                    found |= hit
        return found

    def where_counts(self, item: str) -> list[Target]:
        """Every credential and equivalency an item (or credential) can count toward:
        directly, through what equivalencies grant from it, and up the ladders of the
        credentials it helps earn. A rule counts when one of its leaves names the item, selects
        it by its catalog attributes, or asks for a competency it teaches."""
        catalog = {e.id: e for e in SelectorIndex(self.rules).entries}
        found: set[Target] = set()
        queue, seen = [item], {item}
        while queue:
            ident = queue.pop()
            entry = self.rules.items.get(ident)
            if entry is None:
                continue
            teaches = dict(entry.teaches)
            facts = Facts(ident, entry.issuer, entry.kind, entry.subject, entry.tags, teaches)
            for target in sorted(self.targets([facts]), key=str):
                if target in found:
                    continue
                kind, key = target
                if kind == "credential":
                    leaves = [leaf for v in self.rules.credentials[str(key)] for leaf in v.leaves]
                else:
                    leaves = list(self.rules.equivalencies[int(key)].leaves)
                if not any(_uses(leaf, ident, teaches, catalog) for leaf in leaves):
                    continue
                found.add(target)
                if kind == "credential":
                    nxt = [str(key)]
                else:
                    nxt = [g.item for g in self.rules.equivalencies[int(key)].grants]
                for n in nxt:
                    if n not in seen:
                        seen.add(n)
                        queue.append(n)
        return sorted(found, key=lambda t: (t[0], str(t[1])))

    @cached_property
    def catalog(self) -> dict[str, CatalogEntry]:
        """The catalog as selectors see it (granted items marked as transfer), by id."""
        return {e.id: e for e in SelectorIndex(self.rules).entries}

    @cached_property
    def counted_by_granted(self) -> dict[str, frozenset[str]]:
        """Each item an equivalency grants, with the credentials a leaf of which counts it
        (:meth:`uses`): worked out once per graph, for every transfer route asked after."""
        found: dict[str, frozenset[str]] = {}
        for equivalency in self.rules.equivalencies:
            for grant in equivalency.grants:
                if grant.item not in found:
                    uses = self.uses(grant.item)
                    found[grant.item] = frozenset(
                        str(t[1]) for t, _ in uses if t[0] == "credential"
                    )
        return found

    def uses(self, item: str) -> list[tuple[Target, LeafNode]]:
        """Every rule leaf the item (or credential, as an achievement) could count toward, with
        its credential or equivalency: leaves that name it, select it by its catalog attributes
        or ask for a competency it teaches. In rule order (credentials by id, then
        equivalencies by position), leaves in source order."""
        entry = self.rules.items.get(item)
        if entry is None:
            return []
        catalog = self.catalog
        teaches = dict(entry.teaches)
        facts = Facts(item, entry.issuer, entry.kind, entry.subject, entry.tags, teaches)
        found: list[tuple[Target, LeafNode]] = []
        for target in sorted(self.targets([facts]), key=_rule_order):
            kind, key = target
            if kind == "credential":
                leaves = [leaf for v in self.rules.credentials[str(key)] for leaf in v.leaves]
            else:
                leaves = list(self.rules.equivalencies[int(key)].leaves)
            found += [(target, leaf) for leaf in leaves if _uses(leaf, item, teaches, catalog)]
        return found


def _rule_order(t: Target) -> tuple[str, str, int]:
    kind, key = t
    return (kind, key, 0) if isinstance(key, str) else (kind, "", key)


def _uses(
    leaf: LeafNode, ident: str, teaches: dict[str, int], catalog: dict[str, CatalogEntry]
) -> bool:
    """Whether the leaf names, selects (by catalog attributes) or is taught by the item."""
    if isinstance(leaf, ItemLeaf):
        return leaf.item == ident
    if isinstance(leaf, CompetencyLeaf):
        return teaches.get(leaf.competency, -1) >= leaf.level
    if leaf.ids is not None:
        return ident in leaf.ids
    assert leaf.selector is not None
    return ident in catalog and matches_selector(leaf.selector, catalog[ident])
