"""Matching: what a rule's selectors, modifiers and effective windows let through.

`matches_selector` works on anything with the attributes of :class:`Selectable` (an
evaluator achievement or a catalog entry); `first_failure` says which modifier turns an
achievement away, as a `not_counted` reason. :class:`SelectorIndex` answers the advisor's side
of a selector: which catalog items could fill it, and the cheapest one's cost.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from stackrules import ast
from stackrules.dates import subtract_duration
from stackrules.indexkeys import Facts, selector_keys
from stackrules.model import AmountLeaf, CompetencyLeaf, ItemLeaf, LeafNode, RuleSet, grade_rank

MAX_OPTIONS = 50


class Dated(Protocol):
    """What a modifier looks at: a grade and a completion date."""

    @property
    def grade(self) -> str | None: ...
    @property
    def completed_on(self) -> date | None: ...


def modifier_reason(mod: ast.Modifier, ach: Dated, as_of: date) -> str | None:
    """Why `mod` excludes the achievement (a not_counted reason), or None when it holds."""
    if isinstance(mod, ast.MinGrade):
        if ach.grade is None or ach.grade == "P":
            return None
        return None if grade_rank(ach.grade) >= grade_rank(mod.grade) else "below-minimum-grade"
    d = ach.completed_on
    if isinstance(mod, ast.Within):
        if d is None:
            return "too-old"
        return None if d >= subtract_duration(as_of, mod.duration) else "too-old"
    if d is None:
        return "outside-dates"
    if isinstance(mod, ast.CompletedAfter):
        return None if d > mod.on else "outside-dates"
    return None if d < mod.on else "outside-dates"


def first_failure(mods: Sequence[ast.Modifier], ach: Dated, as_of: date) -> str | None:
    for mod in mods:
        reason = modifier_reason(mod, ach, as_of)
        if reason:
            return reason
    return None


def in_window(window: ast.Window | None, day: date | None) -> bool:
    if window is None or day is None:
        return True
    return window.start <= day and (window.end is None or day <= window.end)


class Selectable(Protocol):
    @property
    def issuer(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def level(self) -> float | None: ...
    @property
    def tags(self) -> frozenset[str]: ...
    @property
    def transfer(self) -> bool: ...


def matches_filter(f: ast.Filter, x: Selectable) -> bool:
    if isinstance(f, ast.SubjectFilter):
        return x.subject == f.subject
    if isinstance(f, ast.SubjectInFilter):
        return x.subject in f.subjects
    if isinstance(f, ast.TaggedFilter):
        return f.tag in x.tags
    if isinstance(f, ast.IssuerFilter):
        return x.issuer == f.issuer
    if isinstance(f, ast.KindFilter):
        return x.kind == f.kind
    if isinstance(f, ast.LevelFilter):
        if x.level is None:
            return False
        n = float(f.level)
        return {
            "=": x.level == n,
            ">=": x.level >= n,
            ">": x.level > n,
            "<=": x.level <= n,
            "<": x.level < n,
        }[f.op]
    if isinstance(f, ast.TransferFilter):
        return x.transfer
    return not matches_filter(f.inner, x)


def matches_selector(selector: ast.Selector, x: Selectable) -> bool:
    return all(matches_filter(f, x) for f in selector.filters)


Predicate = Callable[[Selectable], bool]
_LEVEL_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def filter_predicate(f: ast.Filter) -> Predicate:
    """`matches_filter(f, ·)` as one closure: the filter is read once, not at every call."""
    if isinstance(f, ast.SubjectFilter):
        subject = f.subject
        return lambda x: x.subject == subject
    if isinstance(f, ast.SubjectInFilter):
        subjects = f.subjects
        return lambda x: x.subject in subjects
    if isinstance(f, ast.TaggedFilter):
        tag = f.tag
        return lambda x: tag in x.tags
    if isinstance(f, ast.IssuerFilter):
        issuer = f.issuer
        return lambda x: x.issuer == issuer
    if isinstance(f, ast.KindFilter):
        kind = f.kind
        return lambda x: x.kind == kind
    if isinstance(f, ast.LevelFilter):
        n, compare = float(f.level), _LEVEL_OPS[f.op]
        return lambda x: x.level is not None and compare(x.level, n)
    if isinstance(f, ast.TransferFilter):
        return lambda x: x.transfer
    inner = filter_predicate(f.inner)
    return lambda x: not inner(x)


def selector_predicate(selector: ast.Selector) -> Predicate:
    """`matches_selector(selector, ·)` as one closure (the evaluator's hot path)."""
    tests = [filter_predicate(f) for f in selector.filters]
    if not tests:
        return lambda x: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda x: first(x) and second(x)
    if len(tests) == 3:
        first, second, third = tests
        return lambda x: first(x) and second(x) and third(x)
    return lambda x: all(t(x) for t in tests)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    issuer: str
    kind: str
    subject: str | None
    level: float | None
    tags: frozenset[str]
    transfer: bool
    cost: float


class SelectorIndex:
    """Catalog items per selector and per competency, computed once per rule set and cached."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        granted_across = set()
        for eq in rules.equivalencies:
            for g in eq.grants:
                granted_across.add(g.item)
        self.entries = [
            CatalogEntry(
                i.id, i.issuer, i.kind, i.subject, i.level, i.tags, i.id in granted_across, i.cost
            )
            for i in sorted(rules.items.values(), key=lambda i: i.id)
        ]
        self.by_id = {e.id: e for e in self.entries}
        self._cache: dict[int, list[CatalogEntry]] = {}
        self._teaching: dict[tuple[str, int], list[str]] = {}
        self._missing: dict[int, float] = {}
        self._leaves: dict[int, LeafNode] = {}
        self._selectors: dict[int, ast.Selector] = {}
        # the catalog filed under the keys the rule graph files selectors under
        self._by_key: dict[tuple[str, str], list[CatalogEntry]] = {}
        for e in self.entries:
            facts = Facts(e.id, e.issuer, e.kind, e.subject, e.tags, ())
            for k in facts.index_keys():
                if k[0] != "item":  # selectors are filed under their filters, never an item
                    self._by_key.setdefault(k, []).append(e)

    def matching(self, selector: ast.Selector) -> list[CatalogEntry]:
        """Catalog entries the selector picks, cheapest first (cached per selector)."""
        key = id(selector)
        found = self._cache.get(key)
        if found is None:
            match = selector_predicate(selector)
            found = sorted(
                (e for e in self.candidates(selector) if match(e)),
                key=lambda e: (e.cost, e.id),
            )
            self._cache[key] = found
            self._selectors[key] = selector  # keep it alive so its id stays unique
        return found

    def candidates(self, selector: ast.Selector) -> Iterable[CatalogEntry]:
        """The entries that could satisfy `selector`, or anything with an entry's issuer,
        kind, subject and tags (a future achievement of it): those filed under one of its
        positive filters' keys, every entry when it has none. The caller applies the
        selector itself."""
        keys = selector_keys(selector)
        if keys is None:
            return self.entries
        return {e.id: e for k in keys for e in self._by_key.get(k, ())}.values()

    def teaching(self, competency: str, level: int) -> list[str]:
        found = self._teaching.get((competency, level))
        if found is None:
            items = [
                i
                for i in self.rules.items.values()
                if any(c == competency and rank >= level for c, rank in i.teaches)
            ]
            found = [i.id for i in sorted(items, key=lambda i: (i.cost, i.id))]
            self._teaching[(competency, level)] = found
        return list(found)

    def missing_cost(self, leaf: LeafNode) -> float:
        """What one missing unit of this leaf costs, in credits (§4); cached per leaf."""
        found = self._missing.get(id(leaf))
        if found is None:
            found = self._missing_cost(leaf)
            self._missing[id(leaf)] = found
            self._leaves[id(leaf)] = leaf  # keep it alive so its id stays unique
        return found

    def _missing_cost(self, leaf: LeafNode) -> float:
        if isinstance(leaf, ItemLeaf):
            item = self.rules.items.get(leaf.item)
            return item.cost if item else 1.0
        if isinstance(leaf, CompetencyLeaf):
            options = self.teaching(leaf.competency, leaf.level)
            return self.rules.items[options[0]].cost if options else 1.0
        if leaf.unit != "items":
            return 1.0
        costs = (
            [self._cost(i) for i in leaf.listed]
            if leaf.ids is not None
            else [
                e.cost
                for e in self.matching(leaf.selector)  # type: ignore[arg-type]
            ]
        )
        return min(costs, default=1.0)

    def _cost(self, ident: str) -> float:
        item = self.rules.items.get(ident)
        return item.cost if item else 1.0

    def options(self, leaf: AmountLeaf, exclude: set[str]) -> list[str]:
        if leaf.ids is not None:
            return [i for i in leaf.listed if i not in exclude]
        assert leaf.selector is not None
        found = [e.id for e in self.matching(leaf.selector) if e.id not in exclude]
        return found[:MAX_OPTIONS]
