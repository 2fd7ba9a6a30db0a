"""The part of a rule set that can matter to one target credential, and what produces it.

Takes a rule set, a catalog date and target credentials; gives the credentials and
equivalencies whose outcome can reach a target (backward through the graph: named items and
credentials, selected items, taught competencies, equivalency grants, ladders) and the catalog
items a learner could take toward it. An evaluator over just that part earns a target exactly
when the whole rule set's evaluator does: every rule left out produces nothing that a rule kept
could count, so it cannot change what the kept rules see.

A *producer* is anything that yields an achievement: a catalog item taken, an equivalency's
grant, an earned credential. An item that is only granted is no item producer: one declared
only by a grant line, or an unassigned-credit identifier (code ending in a digit and two or
more `X`, as `UVIC:ENGL-1XX`) that some equivalency grants; a learner cannot take it. A
producer's facts are what selectors test; where a fact is not known before evaluation (whether
a grant is a transfer), selector matching accepts either value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from stackrules import ast
from stackrules.evaluation.evaluator import Evaluator
from stackrules.graph import selector_keys
from stackrules.matching import matches_selector
from stackrules.model import (
    AmountLeaf,
    CompetencyLeaf,
    Credential,
    Equivalency,
    ItemLeaf,
    LeafNode,
    RuleSet,
    complete_amounts,
)

ProducerKind = Literal["item", "grant", "credential"]

# unassigned credit, as transfer guides spell it: ENGL-1XX, FOOD-1XX, 2XXX
_UNASSIGNED = re.compile(r"[0-9]X{2,}$")


def only_granted(rules: RuleSet, ident: str, granted: Iterable[str] | None = None) -> bool:
    """Whether an item is something only a grant gives: declared by no catalog statement, or
    an unassigned-credit identifier that some equivalency grants. `granted` is the set of
    items some equivalency grants (computed when not given)."""
    item = rules.items.get(ident)
    if item is None or not item.declared:
        return True
    if not _UNASSIGNED.search(ident.split(":", 1)[1]):
        return False
    if granted is None:
        granted = {g.item for eq in rules.equivalencies for g in eq.grants}
    return ident in set(granted)


@dataclass(frozen=True, slots=True)
class Producer:
    kind: ProducerKind
    item: str
    issuer: str
    item_kind: str
    credits: float | None
    hours: float | None
    subject: str | None
    level: float | None
    tags: frozenset[str]
    teaches: tuple[tuple[str, int], ...]
    rule: int = -1  # equivalency position for grants
    grant: int = -1  # position of the grant in its equivalency
    transfer: bool | None = False  # None: a grant's flag depends on the sources it fires on

    def matches(self, selector: ast.Selector) -> bool:
        """Whether the selector could pick this producer's achievement."""
        flags = (False, True) if self.transfer is None else (self.transfer,)
        return any(matches_selector(selector, _Facts(self, t)) for t in flags)


@dataclass(frozen=True, slots=True)
class _Facts:
    p: Producer
    transfer: bool

    @property
    def issuer(self) -> str:
        return self.p.issuer

    @property
    def kind(self) -> str:
        return self.p.item_kind

    @property
    def subject(self) -> str | None:
        return self.p.subject

    @property
    def level(self) -> float | None:
        return self.p.level

    @property
    def tags(self) -> frozenset[str]:
        return self.p.tags


def _transfer(eq: Equivalency, issuer: str) -> bool | None:
    """A grant is certainly a transfer when every source its rule can name is another
    issuer's item; otherwise it depends on the sources."""
    ids: list[str] = []
    for leaf in eq.leaves:
        if isinstance(leaf, ItemLeaf):
            ids.append(leaf.item)
        elif isinstance(leaf, AmountLeaf) and leaf.ids is not None:
            ids.extend(leaf.ids)
        else:
            return None
    return True if ids and all(i.split(":", 1)[0] != issuer for i in ids) else None


def uncertain_transfer(selector: ast.Selector | None) -> bool:
    """Whether the selector tests `transfer` (unknown for a grant before evaluation)."""
    if selector is None:
        return False

    def has(f: ast.Filter) -> bool:
        if isinstance(f, ast.TransferFilter):
            return True
        return isinstance(f, ast.NotFilter) and has(f.inner)

    return any(has(f) for f in selector.filters)


class Producers:
    """Every producer of a rule set, indexed by the keys the rule graph files selectors under."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        found: list[Producer] = []
        granted = {g.item for eq in rules.equivalencies if not eq.no_credit for g in eq.grants}
        for ident in sorted(rules.items):
            it = rules.items[ident]
            if it.is_credential:
                kind: ProducerKind = "credential"
            elif not only_granted(rules, ident, granted):
                kind = "item"
            else:
                continue  # only a grant gives it: nobody can take it
            found.append(
                Producer(
                    kind,
                    ident,
                    it.issuer,
                    it.kind,
                    it.credits,
                    it.hours,
                    it.subject,
                    it.level,
                    it.tags,
                    it.teaches if kind == "item" else (),
                )
            )
        for k, eq in enumerate(rules.equivalencies):
            if eq.no_credit:
                continue
            for j, g in enumerate(eq.grants):
                item = rules.items.get(g.item)
                issuer = g.item.split(":", 1)[0]
                credits = g.credits if g.credits is not None else (item.credits if item else None)
                hours = g.hours if g.hours is not None else (item.hours if item else None)
                credits, hours = complete_amounts(rules.hours_per_credit(issuer), credits, hours)
                found.append(
                    Producer(
                        "grant",
                        g.item,
                        issuer,
                        item.kind if item else "item",
                        credits,
                        hours,
                        g.subject if g.subject is not None else (item.subject if item else None),
                        g.level if g.level is not None else (item.level if item else None),
                        item.tags if item else frozenset(),
                        item.teaches if item else (),
                        k,
                        j,
                        _transfer(eq, issuer),
                    )
                )
        self.all = found
        self._items = {p.item: p for p in found if p.kind == "item"}
        self.by_item: dict[str, list[Producer]] = {}
        self.by_key: dict[tuple[str, str], list[Producer]] = {}
        self.by_competency: dict[str, list[Producer]] = {}
        for p in found:
            self.by_item.setdefault(p.item, []).append(p)
            keys = [("issuer", p.issuer), ("kind", p.item_kind), *(("tag", t) for t in p.tags)]
            if p.subject:
                keys += [("subject", p.subject), ("issuer-subject", f"{p.issuer}|{p.subject}")]
            for key in keys:
                self.by_key.setdefault(key, []).append(p)
            for comp, _ in p.teaches:
                self.by_competency.setdefault(comp, []).append(p)

    def item(self, ident: str) -> Producer | None:
        """The producer of taking the item, if a learner can take it."""
        return self._items.get(ident)

    def takeable(self, ident: str) -> bool:
        """Whether a learner can take the item (a catalog item that is not only granted)."""
        return ident in self._items

    def for_leaf(self, leaf: LeafNode) -> list[Producer]:
        """Producers whose achievement the leaf names, selects or could see a competency in
        (modifiers aside)."""
        if isinstance(leaf, ItemLeaf):
            return list(self.by_item.get(leaf.item, ()))
        if isinstance(leaf, CompetencyLeaf):
            return [
                p
                for p in self.by_competency.get(leaf.competency, ())
                if dict(p.teaches).get(leaf.competency, -1) >= leaf.level
            ]
        if leaf.ids is not None:
            return [p for i in leaf.listed for p in self.by_item.get(i, ())]
        assert leaf.selector is not None
        keys = selector_keys(leaf.selector)
        pool: Iterable[Producer]
        if keys is None:
            pool = self.all
        else:
            unique = {id(p): p for k in keys for p in self.by_key.get(k, ())}
            pool = unique.values()
        return [p for p in pool if p.matches(leaf.selector)]


@dataclass(frozen=True, slots=True)
class Scope:
    """The rules that can matter to the targets, and an evaluator over only those."""

    credentials: dict[str, Credential]  # the version in force at the catalog date
    equivalencies: dict[int, Equivalency]  # by position in the whole rule set
    items: frozenset[str]  # catalog items (not credentials) some kept rule can count
    evaluator: Evaluator


def scope_for(
    rules: RuleSet,
    evaluator: Evaluator,
    producers: Producers,
    targets: Iterable[str],
    catalog_date: date,
) -> Scope:
    """Backward closure from the targets over everything that can produce what they count."""
    credentials: dict[str, Credential] = {}
    equivalencies: dict[int, Equivalency] = {}
    items: set[str] = set()
    work: list[tuple[str, int | str]] = [("credential", t) for t in targets]
    while work:
        kind, key = work.pop()
        leaves: tuple[LeafNode, ...]
        if kind == "credential":
            ident = str(key)
            if ident in credentials:
                continue
            version = evaluator.version(ident, catalog_date)
            if version is None:
                continue
            credentials[ident] = version
            leaves = version.leaves
        else:
            k = int(key)
            if k in equivalencies:
                continue
            equivalencies[k] = rules.equivalencies[k]
            leaves = rules.equivalencies[k].leaves
        for leaf in leaves:
            for p in producers.for_leaf(leaf):
                if p.kind == "item":
                    items.add(p.item)
                elif p.kind == "credential":
                    if p.item not in credentials:
                        work.append(("credential", p.item))
                elif p.rule not in equivalencies:
                    work.append(("equivalency", p.rule))
    kept = {ident: rules.credentials[ident] for ident in sorted(credentials)}
    eqs = tuple(rules.equivalencies[k] for k in sorted(equivalencies))
    narrowed = dataclasses.replace(rules, credentials=kept, equivalencies=eqs)
    return Scope(credentials, equivalencies, frozenset(items), Evaluator(narrowed))
