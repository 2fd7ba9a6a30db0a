"""Allocation problems: what each rule leaf accepts of a learner's achievements, and the
exact allocation problem (`allocation.Problem`) of a credential or an equivalency built from
it; each problem solved once and remembered for the learners after.

Takes the rule set, achievements and the as-of date; gives problems and their solved
allocations. Shared by the fixpoint (is it earned? which sources fire?), the least-to-do
search, the explanations (what a leaf names, what a limit selects) and a learner's
exceptions (overlaid credentials share their base's search template).

What it keeps across learners (per leaf, per requirement tree, per credential and as-of date,
the solved problems) changes one dictionary operation at a time, so evaluators shared between
threads stay correct. The deadline of the evaluation under way is per thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from typing import cast

from stackrules.ast import SubjectFilter
from stackrules.evaluation.achievements import Ach
from stackrules.evaluation.allocation import (
    Allocation,
    LeafHoldings,
    LightVerdict,
    LimitSpec,
    Mode,
    Problem,
    Template,
    deadline_after,
    light_verdict,
    solve,
    value_of,
)
from stackrules.evaluation.coverage import CredentialCatalog, credential_catalog, group_costs
from stackrules.evaluation.exceptions.overlay import AdjustedLeaves, OverlayCredential
from stackrules.matching import SelectorIndex, first_failure, selector_predicate
from stackrules.model import (
    AmountLeaf,
    CompetencyLeaf,
    Credential,
    Equivalency,
    ItemLeaf,
    LeafNode,
    Limit,
    Node,
    RuleSet,
)

# remembered allocation problems per evaluator, the least recently used forgotten first (about
# 2.8 KB each: the bound keeps a worker's memory flat)
SOLVED_CACHE = 20_000
# light verdicts remembered per evaluator, over all requirement trees (each a few hundred
# bytes); past it, all are forgotten at once (`Problems.light`)
LIGHT_BUDGET = 50_000
_UNSOLVED = object()  # not among the remembered problems
# a tree's leaves (kept alive), the leaves scanned, the identifier leaves without modifiers
# (index -> item) and the selector leaves without modifiers (index -> selector number, unit):
# `Problems._plan`
_Plan = tuple[tuple[int, ...], dict[int, str], dict[int, tuple[int, str]]]


class _ListMemo:
    """What is worked out of one achievement list, each part when first asked for: by item,
    by subject, the leaves of the rule set naming its items (per tree), what each selector
    picks of it (by the selector's number) and the total value of each pick (per number and
    unit)."""

    __slots__ = ("achs", "by_item", "by_subject", "naming", "picks", "size", "totals")

    def __init__(self, achs: Sequence[Ach]) -> None:
        self.achs = achs
        self.size = len(achs)
        self.by_item: dict[str, list[Ach]] | None = None
        self.by_subject: dict[str | None, list[Ach]] | None = None
        self.naming: dict[int, list[int]] | None = None
        self.picks: dict[int, list[Ach]] = {}
        self.totals: dict[tuple[int, str], float] = {}


# The deadline of the evaluation under way in this thread, if it has one: per thread, so that
# threads sharing an evaluator (a Dask dataframe on the threaded scheduler) keep their own.
_EVALUATION = threading.local()


def current_deadline() -> float | None:
    """The deadline of the evaluation under way in this thread (None: no time limit)."""
    return cast("float | None", getattr(_EVALUATION, "deadline", None))


@contextmanager
def searches_within(seconds: float | None) -> Iterator[bool]:
    """Searches in this thread stop (`SearchTimeout`) `seconds` from now, or at the deadline
    already in force in this thread if that comes first; None: at that deadline, if there is
    one (an inner evaluation without a limit of its own runs under its caller's, and an inner
    limit never extends an outer one). Yields whether `seconds` is the limit in force, so
    that the caller can tell its own timeout from its caller's."""
    outer = current_deadline()
    mine = None if seconds is None else deadline_after(seconds)
    own = mine is not None and (outer is None or mine <= outer)
    _EVALUATION.deadline = mine if own else outer
    try:
        yield own
    finally:
        _EVALUATION.deadline = outer


class Problems:
    """Builds and solves the allocation problems of one rule set, remembering what every
    learner shares."""

    def __init__(self, rules: RuleSet, selectors: SelectorIndex) -> None:
        self.rules = rules
        self.selectors = selectors
        # per leaf or limit (by id; the rule set keeps them alive): whether it names or selects
        # an achievement, as one closure
        self._matchers: dict[int, Callable[[Ach], bool]] = {}
        # solved allocation problems, shared by learners (see `solve_remembered`)
        self.solved: OrderedDict[tuple[object, ...], Allocation | None] = OrderedDict()
        # per requirement tree (a credential version's or an equivalency's leaves, by id, kept
        # alive here so the id stays theirs): what every search over it shares, missing costs,
        # the groups' costs, per leaf whether it names a repeatable item
        self._templates: dict[
            int,
            tuple[
                Sequence[LeafNode],
                Template,
                list[float],
                tuple[tuple[float, ...], ...],
                tuple[bool, ...],
            ],
        ] = {}
        # per credential version (the rule set keeps it alive) and as-of date
        self._catalogs: dict[tuple[int, date], CredentialCatalog] = {}
        self._light_entries = 0  # light verdicts remembered, over every template
        # what is worked out of the last achievement list asked about (`_ListMemo`)
        self._list: _ListMemo | None = None
        # the rule set's credential leaves by the items they name (`_name_index`)
        self._names: tuple[frozenset[int], dict[str, list[tuple[int, int]]]] | None = None
        # per requirement tree of the rule set (by id; the rule set keeps it alive): the
        # leaves every learner's achievements are scanned for, and the plain identifier and
        # selector leaves (`held`)
        self._plans: dict[int, _Plan] = {}
        # per selector leaf (by id, kept alive here): one number per distinct selector (equal
        # selectors of different credentials share what they pick of a learner's list) and the
        # subject it requires, if any (only that subject's achievements are scanned)
        self._selectors: dict[int, tuple[LeafNode, int, str | None]] = {}
        self._selector_numbers: dict[object, int] = {}

    def eligible(self, leaf: LeafNode, ach: Ach, as_of: date) -> bool:
        return self.names(leaf, ach) and first_failure(leaf.modifiers, ach, as_of) is None

    def names(self, leaf: LeafNode, ach: Ach) -> bool:
        """Whether the leaf names or selects this achievement, modifiers aside."""
        return self.matcher(leaf)(ach)

    def matcher(self, leaf: LeafNode) -> Callable[[Ach], bool]:
        """`names(leaf, ·)`, compiled once per leaf."""
        found = self._matchers.get(id(leaf))
        if found is None:
            found = _leaf_matcher(leaf)
            self._matchers[id(leaf)] = found
        return found

    def problem(
        self,
        roots: Sequence[Node],
        leaves: Sequence[LeafNode],
        limits: Sequence[Limit],
        achs: Sequence[Ach],
        as_of: date,
        hours_per_credit: float,
        cred: Credential | None = None,
        held: frozenset[str] = frozenset(),
    ) -> tuple[Problem, list[Ach]]:
        """The allocation problem of a credential (`cred`: its catalog facts, and `held`: the
        items the learner holds, for retakes) or of an equivalency's `from`."""
        matches = self.matches(leaves, achs, as_of)
        return self.assemble(roots, leaves, limits, matches, as_of, hours_per_credit, cred, held)

    def credential_problem(
        self, cred: Credential, achs: Sequence[Ach], as_of: date, held: frozenset[str]
    ) -> tuple[Problem, list[Ach]]:
        """The allocation problem of a credential version (`held`: the items the learner
        holds, for retakes)."""
        roots = [r.root for r in cred.requirements]
        return self.problem(
            roots, cred.leaves, cred.limits, achs, as_of, cred.hours_per_credit, cred, held
        )

    def matches(
        self, leaves: Sequence[LeafNode], achs: Sequence[Ach], as_of: date
    ) -> list[Sequence[Ach]]:
        """Per leaf, the achievements it accepts (a competency leaf: those showing the
        competency; an amount: those in its group, adding something to it or not)."""
        by_item = self.by_item(achs)
        per_leaf = [self._accepted(leaf, achs, by_item, as_of) for leaf in leaves]
        if type(leaves) is AdjustedLeaves:  # a learner's exceptions (`evaluation.exceptions`)
            return leaves.adjusted(per_leaf, by_item, as_of)
        return per_leaf

    def sparse_matches(
        self, leaves: Sequence[LeafNode], achs: Sequence[Ach], as_of: date
    ) -> dict[int, Sequence[Ach]]:
        """`matches` of the leaves that accept something, by leaf index in leaf order: only
        the leaves naming an item the learner holds, and those that select, are looked at
        (a credential's leaves mostly name items; a learner holds few of them)."""
        return self.held(leaves, achs, as_of)[0]

    def held(
        self, leaves: Sequence[LeafNode], achs: Sequence[Ach], as_of: date
    ) -> tuple[dict[int, Sequence[Ach]], LeafHoldings]:
        """`sparse_matches`, and what each leaf holds of them (`allocation.LeafHoldings`: 1
        for an identifier or competency leaf that accepts one, the total value for an amount
        when above 0), in one pass. A selector's pick and its total are made once per list
        and shared by every leaf with that selector and no modifiers."""
        if type(leaves) is AdjustedLeaves or id(leaves) not in self._name_index()[0]:
            # a learner's overlay (its leaves accept by its exceptions), or a tree the rule
            # set does not hold: every leaf asked
            found = {k: ok for k, ok in enumerate(self.matches(leaves, achs, as_of)) if ok}
            return found, _holdings(leaves, found)
        memo = self._memo(achs)
        by_item = self.by_item(achs)
        scanned, plain, picks = self._plans.get(id(leaves)) or self._plan(leaves)
        looked = [*self._naming(achs, by_item).get(id(leaves), ()), *scanned]
        if len(looked) > 1:
            looked = sorted(set(looked))
        out: dict[int, Sequence[Ach]] = {}
        holds: list[tuple[int, float]] = []
        picked = memo.picks
        totals = memo.totals
        for k in looked:
            plain_item = plain.get(k)
            if plain_item is not None:  # an identifier leaf without modifiers: what is held
                out[k] = by_item[plain_item]
                holds.append((k, 1.0))
                continue
            pick = picks.get(k)
            if pick is not None:  # a selector without modifiers
                number, unit = pick
                chosen = picked.get(number)
                if chosen is None:
                    leaf = leaves[k]
                    assert type(leaf) is AmountLeaf
                    chosen = self._selected(leaf, achs)
                if chosen:
                    out[k] = chosen
                    total = totals.get(pick)
                    if total is None:
                        total = totals[pick] = sum(value_of(a, unit) for a in chosen)
                    if total > 0:
                        holds.append((k, total))
                continue
            leaf = leaves[k]
            ok = self._accepted(leaf, achs, by_item, as_of)
            if ok:
                out[k] = ok
                value = _held_value(leaf, ok)
                if value is not None:
                    holds.append((k, value))
        return out, tuple(holds)

    def accepted(self, leaf: LeafNode, achs: Sequence[Ach], as_of: date) -> Sequence[Ach]:
        """What one leaf accepts of `achs` (`matches` of one leaf)."""
        return self._accepted(leaf, achs, self.by_item(achs), as_of)

    def _accepted(
        self, leaf: LeafNode, achs: Sequence[Ach], by_item: dict[str, list[Ach]], as_of: date
    ) -> Sequence[Ach]:
        """What one leaf accepts of `achs` (`by_item`: the same, by item)."""
        # identifier leaves and lists look achievements up by item; selectors scan, once
        # per learner and round for each distinct selector (many credentials share one)
        if type(leaf) is ItemLeaf:
            named: Sequence[Ach] = by_item.get(leaf.item, ())
        elif type(leaf) is AmountLeaf and leaf.ids is not None:
            ids = leaf.ids
            named = [a for a in achs if a.item in ids]
        elif type(leaf) is AmountLeaf and leaf.selector is not None:
            named = self._selected(leaf, achs)
        else:
            match = self.matcher(leaf)
            named = [a for a in achs if match(a)]
        if not named:
            return named
        mods = leaf.modifiers
        # (an amount node may count an achievement that adds nothing to it: it then counts
        # for the credential's limits, §4)
        return [a for a in named if first_failure(mods, a, as_of) is None] if mods else named

    def _naming(self, achs: Sequence[Ach], by_item: dict[str, list[Ach]]) -> dict[int, list[int]]:
        """Per credential tree of the rule set (by id), the leaves naming an item of `achs`
        (identifier leaves and lists), from one index of the whole rule set: remembered for
        the last list, as `by_item` is."""
        memo = self._memo(achs)
        if memo.naming is None:
            index = self._name_index()[1]
            found: dict[int, list[int]] = {}
            for item in by_item:
                for tree, k in index.get(item, ()):
                    found.setdefault(tree, []).append(k)
            memo.naming = found
        return memo.naming

    def _name_index(self) -> tuple[frozenset[int], dict[str, list[tuple[int, int]]]]:
        """Item -> (tree id, leaf index) of every credential version's leaves naming it; and
        the ids of those trees (the rule set keeps them alive). Made once."""
        if self._names is None:
            index: dict[str, list[tuple[int, int]]] = {}
            trees = set()
            for versions in self.rules.credentials.values():
                for cred in versions:
                    trees.add(id(cred.leaves))
                    for k, leaf in enumerate(cred.leaves):
                        if type(leaf) is ItemLeaf:
                            index.setdefault(leaf.item, []).append((id(cred.leaves), k))
                        elif type(leaf) is AmountLeaf and leaf.ids is not None:
                            for item in leaf.ids:
                                index.setdefault(item, []).append((id(cred.leaves), k))
            self._names = (frozenset(trees), index)
        return self._names

    def _selected(self, leaf: AmountLeaf, achs: Sequence[Ach]) -> list[Ach]:
        """What the leaf's selector picks of `achs`, modifiers aside: scanned once per list
        for each distinct selector, among the achievements of its subject when it names one."""
        number, subject = self._selector(leaf)
        picked = self._memo(achs).picks
        chosen = picked.get(number)
        if chosen is None:
            match = self.matcher(leaf)
            pool = achs if subject is None else self.by_subject(achs).get(subject, ())
            chosen = picked[number] = [a for a in pool if match(a)]
        return chosen

    def _selector(self, leaf: AmountLeaf) -> tuple[int, str | None]:
        """The number of the leaf's selector (equal selectors, one number) and the subject
        it requires, if any."""
        found = self._selectors.get(id(leaf))
        if found is None or found[0] is not leaf:
            assert leaf.selector is not None
            number = self._selector_numbers.setdefault(leaf.selector, len(self._selector_numbers))
            subject = next(
                (f.subject for f in leaf.selector.filters if isinstance(f, SubjectFilter)), None
            )
            found = self._selectors[id(leaf)] = (leaf, number, subject)
        return found[1], found[2]

    def _plan(self, leaves: Sequence[LeafNode]) -> _Plan:
        """The leaves of this tree that select or look at competencies (asked for every
        learner), the identifier leaves without modifiers (index -> item) and the selector
        leaves without modifiers (index -> the selector's number and the leaf's unit); made
        once per tree. (The leaves naming items are found by `_naming`.)"""
        scanned: list[int] = []
        plain: dict[int, str] = {}
        picks: dict[int, tuple[int, str]] = {}
        for k, leaf in enumerate(leaves):
            if type(leaf) is ItemLeaf:
                if not leaf.modifiers:
                    plain[k] = leaf.item
            elif type(leaf) is not AmountLeaf or leaf.ids is None:  # (lists name items)
                scanned.append(k)
                if type(leaf) is AmountLeaf and leaf.selector is not None and not leaf.modifiers:
                    picks[k] = (self._selector(leaf)[0], leaf.unit)
        found = self._plans[id(leaves)] = (tuple(scanned), plain, picks)
        return found

    def assemble(
        self,
        roots: Sequence[Node],
        leaves: Sequence[LeafNode],
        limits: Sequence[Limit],
        per_leaf: Sequence[Sequence[Ach]],
        as_of: date,
        hours_per_credit: float,
        cred: Credential | None = None,
        held: frozenset[str] = frozenset(),
    ) -> tuple[Problem, list[Ach]]:
        """The allocation problem of these matches. Only achievements some leaf accepts take
        part; their canonical order keeps ties stable."""
        pool: dict[int, Ach] = {}
        for leaf, ok in zip(leaves, per_leaf, strict=True):
            if type(leaf) is not CompetencyLeaf:
                for a in ok:
                    pool[id(a)] = a
        local = sorted(pool.values(), key=_allocation_key)
        position = {id(a): k for k, a in enumerate(local)}
        conflicts = _conflict_masks(local)
        eligible: list[Sequence[int]] = [
            sorted([position[id(a)] for a in ok]) if ok and type(leaf) is not CompetencyLeaf else ()
            for leaf, ok in zip(leaves, per_leaf, strict=True)
        ]
        specs = []
        for lim in limits:
            members = 0
            for k, a in enumerate(local):
                if self.limit_selects(lim, a, as_of):
                    members |= 1 << k
            specs.append(LimitSpec(lim.bound, lim.amount, lim.unit, members, hours_per_credit))
        catalog = None if cred is None else self.catalog(cred, as_of)
        if catalog is not None:
            specs = [
                LimitSpec(s.bound, s.amount, s.unit, s.members, s.hours_per_credit, cover)
                for s, cover in zip(specs, catalog.covers, strict=True)
            ]
        owner = cred.id if cred is not None else ""
        tpl, costs, groups = self.template(roots, leaves, hours_per_credit, owner)
        problem = Problem(
            roots=roots,
            leaves=leaves,
            achievements=[a.candidate() for a in local],
            eligible=eligible,
            conflicts=conflicts,
            limits=specs,
            competency_met=[bool(ok) for ok in per_leaf],
            missing_cost=costs,
            hours_per_credit=hours_per_credit,
            held=[type(leaf) is ItemLeaf and leaf.item in held for leaf in leaves],
            repeatable=self._templates[id(leaves)][4],  # (per tree, made with the template)
            group_costs=groups,
            template=tpl,
        )
        return problem, local

    def template(
        self,
        roots: Sequence[Node],
        leaves: Sequence[LeafNode],
        hours_per_credit: float,
        owner: str,
    ) -> tuple[Template, list[float], tuple[tuple[float, ...], ...]]:
        """What every search over this tree shares, its missing costs and its groups' costs
        (`owner`: the credential, which never supplies its own requirements), made once per
        tree."""
        shared = self._templates.get(id(leaves))
        if shared is None or shared[0] is not leaves:  # (a learner's overlay may reuse an id)
            groups = tuple(group_costs(self.rules, self.selectors, leaf, owner) for leaf in leaves)
            costs = [
                (min(groups[leaf.index], default=1.0) if groups[leaf.index] else 1.0)
                if isinstance(leaf, AmountLeaf) and leaf.unit == "items"
                else self.selectors.missing_cost(leaf)
                for leaf in leaves
            ]
            tpl = Template.of(roots, leaves, costs, hours_per_credit, groups)
            items = self.rules.items
            repeatable = tuple(
                type(leaf) is ItemLeaf and leaf.item in items and items[leaf.item].repeatable
                for leaf in leaves
            )
            shared = self._templates[id(leaves)] = (leaves, tpl, costs, groups, repeatable)
        return shared[1], shared[2], shared[3]

    def light(self, cred: Credential, holdings: LeafHoldings) -> LightVerdict:
        """What the leaves' holdings alone tell of `cred` (`light_verdict`): no problem is
        built, and learners who hold the same share the answer."""
        shared = self._templates.get(id(cred.leaves))
        if shared is not None and shared[0] is cred.leaves:
            known = shared[1].light.get(holdings)  # (the common case: no roots, no walk)
            if known is not None:
                return known
        roots = [r.root for r in cred.requirements]
        tpl, costs, groups = self.template(roots, cred.leaves, cred.hours_per_credit, cred.id)
        hours_per_credit = cred.hours_per_credit
        before = len(tpl.light)
        found = light_verdict(tpl, roots, cred.leaves, holdings, costs, hours_per_credit, groups)
        # the verdicts remembered over every tree stay under LIGHT_BUDGET (a batch worker meets
        # ever new holdings: unbounded, they grew a worker past 300 MB over 20,000 learners)
        self._light_entries += len(tpl.light) - before
        if self._light_entries > LIGHT_BUDGET:
            for shared in list(self._templates.values()):
                shared[1].light.clear()
            self._light_entries = 0
        return found

    def _memo(self, achs: Sequence[Ach]) -> _ListMemo:
        """What is worked out of `achs`: the credentials of one fixpoint round all read the
        same list, so the last one is remembered (by identity and length: the lists are
        copies, never changed in place)."""
        memo = self._list
        if memo is None or memo.achs is not achs or memo.size != len(achs):
            memo = self._list = _ListMemo(achs)
        return memo

    def by_subject(self, achs: Sequence[Ach]) -> dict[str | None, list[Ach]]:
        """The achievements by subject, remembered for the last list (`_memo`)."""
        memo = self._memo(achs)
        if memo.by_subject is None:
            found: dict[str | None, list[Ach]] = {}
            for a in achs:
                found.setdefault(a.subject, []).append(a)
            memo.by_subject = found
        return memo.by_subject

    def catalog(self, cred: Credential, as_of: date) -> CredentialCatalog:
        """What the catalog says about `cred`'s missing work (`coverage`), remembered."""
        key = (id(cred), as_of)
        found = self._catalogs.get(key)
        if found is None:
            found = self._catalogs[key] = credential_catalog(
                self.rules, self.selectors, cred, as_of
            )
        return found

    def by_item(self, achs: Sequence[Ach]) -> dict[str, list[Ach]]:
        """The achievements by item, remembered for the last list (`_memo`)."""
        memo = self._memo(achs)
        if memo.by_item is None:
            found: dict[str, list[Ach]] = {}
            for a in achs:
                found.setdefault(a.item, []).append(a)
            memo.by_item = found
        return memo.by_item

    def solve_remembered(
        self, rule: Credential | Equivalency, problem: Problem, mode: Mode
    ) -> Allocation | None:
        """`solve(problem, mode)`, remembered. The answer depends only on the rule's tree,
        limits and costs, which achievements each leaf and limit accepts, which conflict, and
        each candidate's values, item, grade and date, and of those only on:

        - items: whether one is an item that an identifier leaf of the tree names
          (`Template.named`: using it elsewhere could leave a leaf that names it missing,
          a retake), and which one;
        - grades and dates, for the least-to-do search: which candidates share both (it treats
          them as interchangeable);
        - grades and dates, for an equivalency's sources: also their order (the best worst
          grade, then the most recent dates, of one set against another), so their ranks
          among the problem's candidates stand for them;
        - which identifier leaves name an item the learner holds (missing, a retake), and
          which leaves' missing work covers each limit (fixed per credential and as-of date).

        Learners who share those share the answer: its indexes mean the same in their
        problems, whose candidates are in the same order (`_allocation_order`; the search
        breaks its ties by that order, never by a candidate's content)."""
        candidates = problem.achievements
        named = problem.template.named if problem.template is not None else None
        items = [c.item if named is None or c.item in named else None for c in candidates]
        if mode == "least":
            seen: dict[tuple[int, int], int] = {}
            values: tuple[object, ...] = tuple(
                (c.credits, c.hours, item, seen.setdefault((c.grade_rank, c.date_ordinal), i))
                for i, (c, item) in enumerate(zip(candidates, items, strict=True))
            )
        else:
            grades = {g: k for k, g in enumerate(sorted({c.grade_rank for c in candidates}))}
            dates = {d: k for k, d in enumerate(sorted({c.date_ordinal for c in candidates}))}
            values = tuple(
                (c.credits, c.hours, item, grades[c.grade_rank], dates[c.date_ordinal])
                for c, item in zip(candidates, items, strict=True)
            )
        key = (
            rule.token if type(rule) is OverlayCredential else id(rule),
            mode,
            values,
            tuple(map(tuple, problem.eligible)),
            # Every achievement conflicts with itself; only those that conflict with others
            # too are kept (a record of thousands of attempts would otherwise make a key of
            # thousands of thousand-bit masks, held as long as the answer is remembered).
            tuple((k, m) for k, m in enumerate(problem.conflicts) if m.bit_count() > 1),
            tuple((lim.members, lim.cover) for lim in problem.limits),
            tuple(problem.competency_met),
            tuple(problem.held),
        )
        # Each step is one operation on the dictionary, so that threads sharing the evaluator
        # cannot trip over each other: one that finds a problem just taken out by another
        # solves it again, and the answer is the same.
        solved = self.solved
        remembered = solved.pop(key, _UNSOLVED)
        if remembered is _UNSOLVED:
            found = solve(problem, mode, current_deadline())
        else:
            found = cast("Allocation | None", remembered)
        solved[key] = found  # (back) at the most recently used end
        # trimmed after every insertion, so that threads inserting at once still leave at most
        # SOLVED_CACHE problems once they are done
        while len(solved) > SOLVED_CACHE:
            with suppress(KeyError):  # another thread may have emptied it meanwhile
                solved.popitem(last=False)
        return found

    def limit_selects(self, lim: Limit, ach: Ach, as_of: date) -> bool:
        if lim.ids is not None and ach.item not in lim.ids:
            return False
        if lim.selector is not None:
            match = self._matchers.get(id(lim))
            if match is None:
                match = self._matchers[id(lim)] = selector_predicate(lim.selector)
            if not match(ach):
                return False
        return first_failure(lim.modifiers, ach, as_of) is None

    def share_template(self, base: Credential, overlay: Credential) -> None:
        """An overlay whose tree is its base's shares the base's search template: the same
        nodes, not equal ones (the template knows nodes by id: an overlay's copy of a node,
        even an equal one, is not in it, and its parents do not lead there).

        Safe although the overlay's leaves match differently (an also-allow, substitution,
        directive or exclusion: `AdjustedLeaves`, a new tuple of the base's very leaf
        objects, since `overlay.lay` copies a leaf only with the root above it). What the
        template holds is a function of the tree and the catalog alone: bounds, orders and
        parents with no achievement, the items identifier leaves name, costs, whether a
        node holds empty; first paths (`paths`), keyed by the nodes themselves and saved
        only for runs of children that no achievement of that search reaches, so computed
        from nothing a learner holds; light verdicts (`light`), keyed by what each leaf holds
        as the overlay's own matches say. A search reads a saved entry only for nodes its
        own problem leaves untouched. Limits, which an overlay may waive or adjust, are not
        in it. `test_an_overlay_sharing_a_warm_template_answers_as_one_with_its_own` checks
        this: overlays on a template warmed by learners without exceptions answer as
        overlays with templates of their own, and as the reference evaluator."""
        ours, theirs = overlay.requirements, base.requirements
        if len(ours) == len(theirs) and all(
            a.root is b.root for a, b in zip(ours, theirs, strict=True)
        ):
            roots = [r.root for r in base.requirements]
            self.template(roots, base.leaves, base.hours_per_credit, base.id)
            self._templates[id(overlay.leaves)] = (
                overlay.leaves,
                *self._templates[id(base.leaves)][1:],
            )

    def forget(self, *objects: object) -> None:
        """Forget what is remembered by these objects' ids (an overlay no longer kept)."""
        for obj in objects:
            self._templates.pop(id(getattr(obj, "leaves", None)), None)
            for leaf in getattr(obj, "leaves", ()):
                self._selectors.pop(id(leaf), None)
            self._matchers.pop(id(obj), None)
            for key in [k for k in self._catalogs if k[0] == id(obj)]:
                self._catalogs.pop(key, None)


def _holdings(leaves: Sequence[LeafNode], matches: dict[int, Sequence[Ach]]) -> LeafHoldings:
    """What each leaf holds of its matches (`Problems.held`, for leaves it does not plan)."""
    out = []
    for k, ok in matches.items():
        value = _held_value(leaves[k], ok)
        if value is not None:
            out.append((k, value))
    return tuple(out)


def _held_value(leaf: LeafNode, ok: Sequence[Ach]) -> float | None:
    """What a leaf holds of the achievements it accepts (some): 1 for an identifier or
    competency leaf, the total value for an amount, None when that is nothing."""
    if type(leaf) is AmountLeaf:
        unit = leaf.unit
        total = sum(value_of(a, unit) for a in ok)
        return total if total > 0 else None
    return 1.0


def _conflict_masks(local: Sequence[Ach]) -> list[int]:
    """Per achievement, the bitmask of those it conflicts with (`Ach.conflicts_with`).

    Built from who rests on each atom rather than by comparing every pair: a record of
    thousands of attempts of one repeatable item has as many achievements, and comparing
    every pair of their bitmasks takes time cubic in them. Most often no two rest on a common
    atom: then each conflicts with itself alone, and one pass over the atoms tells.
    """
    union = count = 0
    for a in local:
        union |= a.atoms
        count += a.atoms.bit_count()
    if union.bit_count() == count:  # no atom shared
        return [1 << k for k in range(len(local))]
    atoms_of = [_atom_indexes(a.atoms) for a in local]
    bits = [1 << k for k in range(len(local))]
    on_atom: dict[int, int] = {}  # atom -> the achievements resting on it
    shared: set[int] = set()  # atoms more than one achievement rests on
    of_firing: dict[int, int] = {}  # firing -> its grants
    for k, (a, atoms) in enumerate(zip(local, atoms_of, strict=True)):
        for atom in atoms:
            if atom in on_atom:
                on_atom[atom] |= bits[k]
                shared.add(atom)
            else:
                on_atom[atom] = bits[k]
        if a.firing >= 0:
            of_firing[a.firing] = of_firing.get(a.firing, 0) | bits[k]
    masks = []
    for k, (a, atoms) in enumerate(zip(local, atoms_of, strict=True)):
        if not shared.intersection(atoms):
            masks.append(bits[k])  # conflicts with itself alone (the common case)
            continue
        mask = bits[k]
        for atom in atoms:
            mask |= on_atom[atom]
        if a.firing >= 0:  # grants of one firing may be counted together
            mask &= ~of_firing[a.firing] | bits[k]
        masks.append(mask)
    return masks


def _atom_indexes(atoms: int) -> Sequence[int]:
    """The indexes of the bits set in `atoms` (most often one: a record achievement)."""
    if atoms.bit_count() == 1:
        return (atoms.bit_length() - 1,)
    found = []
    while atoms:
        low = atoms & -atoms
        found.append(low.bit_length() - 1)
        atoms ^= low
    return found


def _allocation_key(a: Ach) -> tuple[object, ...]:
    return a.candidate().sort_key


def _leaf_matcher(leaf: LeafNode) -> Callable[[Ach], bool]:
    if isinstance(leaf, ItemLeaf):
        item = leaf.item
        return lambda a: a.item == item
    if isinstance(leaf, CompetencyLeaf):
        competency, level = leaf.competency, leaf.level
        return lambda a: a.competencies.get(competency, -1) >= level
    if leaf.ids is not None:
        ids = leaf.ids
        return lambda a: a.item in ids
    assert leaf.selector is not None
    return selector_predicate(leaf.selector)
