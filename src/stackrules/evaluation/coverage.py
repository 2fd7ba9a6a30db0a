"""What the catalog says about a credential's missing work (`semantics.md` §4).

Takes a credential and the catalog (a `SelectorIndex`); returns what the least-to-do measure
and the report need and no learner changes:

- per `N of` group, the costs of the distinct catalog items it admits, cheapest first (k
  missing members cost the k cheapest; the credential never supplies its own requirements);
- per `limit at least`, the requirement leaves whose missing work could cover its shortfall:
  those whose group (or missing identifier) admits some catalog item that the limit's
  selector and modifiers also admit, with how much a missing unit covers in the limit's unit;
- per limit, the catalog items it selects that some requirement node could count (its
  options in `remaining`).

A catalog item stands for a future achievement: no grade, completed on the as-of date, taken
directly (not transfer) or, for an item some equivalency grants, either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from stackrules.matching import CatalogEntry, SelectorIndex, first_failure, selector_predicate
from stackrules.model import AmountLeaf, Credential, ItemLeaf, LeafNode, Limit, RuleSet

Cover = tuple[tuple[int, float, float], ...]  # (leaf index, per missing unit, once)


@dataclass(frozen=True, slots=True)
class _Future:
    """A catalog item as a future achievement: what selectors and modifiers look at."""

    entry: CatalogEntry
    transfer: bool
    completed_on: date
    grade: None = None

    @property
    def issuer(self) -> str:
        return self.entry.issuer

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def subject(self) -> str | None:
        return self.entry.subject

    @property
    def level(self) -> float | None:
        return self.entry.level

    @property
    def tags(self) -> frozenset[str]:
        return self.entry.tags


@dataclass(frozen=True, slots=True)
class CredentialCatalog:
    group_costs: tuple[tuple[float, ...], ...]  # per leaf
    covers: tuple[Cover, ...]  # per limit
    limit_options: tuple[tuple[str, ...], ...]  # per limit


def group_costs(
    rules: RuleSet, index: SelectorIndex, leaf: LeafNode, owner: str
) -> tuple[float, ...]:
    """The costs of the distinct items an `N of` group admits, cheapest first (empty for
    other leaves)."""
    if not isinstance(leaf, AmountLeaf) or leaf.unit != "items":
        return ()
    if leaf.ids is not None:
        costs = [
            rules.items[i].cost if i in rules.items else 1.0 for i in set(leaf.listed) if i != owner
        ]
    else:
        assert leaf.selector is not None
        costs = [e.cost for e in index.matching(leaf.selector) if e.id != owner]
    return tuple(sorted(costs))


def credential_catalog(
    rules: RuleSet, index: SelectorIndex, cred: Credential, as_of: date
) -> CredentialCatalog:
    groups = tuple(group_costs(rules, index, leaf, cred.id) for leaf in cred.leaves)
    if not cred.limits:
        return CredentialCatalog(groups, (), ())
    by_id = index.by_id
    futures = _Futures(by_id, cred.id, as_of)
    admitted: dict[int, list[_Future]] = {}  # per leaf: futures it would count
    for leaf in cred.leaves:
        if isinstance(leaf, ItemLeaf):
            pool = futures.of(leaf.item)
        elif isinstance(leaf, AmountLeaf):
            if leaf.ids is not None:
                pool = [f for i in leaf.ids for f in futures.of(i)]
            else:
                assert leaf.selector is not None
                match = selector_predicate(leaf.selector)
                # (only the entries filed under the selector's index keys can match it)
                pool = [
                    f for e in index.candidates(leaf.selector) for f in futures.of(e.id) if match(f)
                ]
        else:
            continue
        admitted[leaf.index] = [f for f in pool if first_failure(leaf.modifiers, f, as_of) is None]

    covers: list[Cover] = []
    options: list[tuple[str, ...]] = []
    hpc = cred.hours_per_credit
    for lim in cred.limits:
        selects = _limit_predicate(lim, as_of)
        cover: list[tuple[int, float, float]] = []
        countable: set[str] = set()
        for leaf in cred.leaves:
            both = [f for f in admitted.get(leaf.index, ()) if selects(f)]
            if not both:
                continue
            countable.update(f.entry.id for f in both)
            entry = _cover(leaf, lim, both, rules, hpc)
            if entry is not None:
                cover.append(entry)
        covers.append(tuple(cover) if lim.bound == "at least" else ())
        options.append(tuple(e.id for e in _by_cost(countable, by_id)))
    return CredentialCatalog(groups, tuple(covers), tuple(options))


class _Futures:
    """The catalog's items as future achievements (`_Future`), made as they are asked for:
    none for the credential itself (it never supplies its own requirements) or an unknown
    item, one taken directly, and one by transfer for an item some equivalency grants."""

    def __init__(self, by_id: dict[str, CatalogEntry], owner: str, as_of: date) -> None:
        self.by_id, self.owner, self.as_of = by_id, owner, as_of
        self._made: dict[str, list[_Future]] = {}

    def of(self, ident: str) -> list[_Future]:
        found = self._made.get(ident)
        if found is None:
            e = self.by_id.get(ident)
            if e is None or ident == self.owner:
                found = []
            else:
                found = [_Future(e, False, self.as_of)]
                if e.transfer:
                    found.append(_Future(e, True, self.as_of))
            self._made[ident] = found
        return found


def _limit_predicate(lim: Limit, as_of: date) -> Callable[[_Future], bool]:
    match = selector_predicate(lim.selector) if lim.selector is not None else None
    ids = lim.ids

    def selects(f: _Future) -> bool:
        if ids is not None and f.entry.id not in ids:
            return False
        if match is not None and not match(f):
            return False
        return first_failure(lim.modifiers, f, as_of) is None

    return selects


def _value(rules: RuleSet, ident: str, unit: str) -> float:
    if unit == "items":
        return 1.0
    item = rules.items.get(ident)
    if item is None:
        return 0.0
    v = item.credits if unit == "credits" else item.hours
    return v or 0.0


def _cover(
    leaf: LeafNode, lim: Limit, both: Sequence[_Future], rules: RuleSet, hpc: float
) -> tuple[int, float, float] | None:
    """How much a missing unit of `leaf` covers of `lim`, in the limit's unit."""
    if isinstance(leaf, ItemLeaf):
        value = _value(rules, leaf.item, lim.unit)
        return (leaf.index, 0.0, value) if value > 0 else None
    assert isinstance(leaf, AmountLeaf)
    if leaf.unit == "items":
        if lim.unit == "items":
            return (leaf.index, 1.0, 0.0)
        per = min(_value(rules, f.entry.id, lim.unit) for f in both)
        return (leaf.index, per, 0.0) if per > 0 else None
    if lim.unit == "items":
        return (leaf.index, 0.0, 1.0)  # an amount still missing is at least one more item
    if leaf.unit == lim.unit:
        return (leaf.index, 1.0, 0.0)
    per = hpc if leaf.unit == "credits" else 1.0 / hpc
    return (leaf.index, per, 0.0)


def _by_cost(ids: set[str], by_id: dict[str, CatalogEntry]) -> list[CatalogEntry]:
    return sorted((by_id[i] for i in ids), key=lambda e: (e.cost, e.id))
