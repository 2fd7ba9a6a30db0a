"""Exact allocation: which achievements go to which requirement leaves.

Takes one credential's (or equivalency's) requirement tree, the learner's eligible
achievements per leaf, a conflict relation (units of evidence) and the limits; returns the best
allocation under an objective:

- ``least``: the allocation that leaves the least to do — key (retakes, missing credits,
  missing items), where the credits include the part of each `limit at least` shortfall that
  the missing work of the requirements cannot cover (§4). A key of all zeros with every limit
  met means *earned*; this is how earning is decided, so it is exact by construction.
- ``sources``: only complete allocations; the smallest set of achievements, then the best
  worst grade, then the most recent dates (how an equivalency picks its sources).

The search is a depth-first branch and bound over the tree. `all of` / `any of` / `N of`
branch on which children to satisfy; identifier leaves branch on which achievement to use;
amount leaves branch on how many achievements of each class of interchangeable achievements to
take. Pruning is always sound: an achievement that only one leaf can use, that conflicts with
nothing and that no `at most` limit counts is taken without branching (taking it can never
hurt), and interchangeable achievements are tried once. Nothing is ever placed first-fit.

The recursive steps are methods, never functions nested in a method: a nested function that
calls itself holds itself through its closure, a reference cycle (with the search and its
allocations attached) that only Python's cyclic garbage collector frees, and the collector's
passes over the evaluator's large heap cost about as much as the search itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from stackrules.model import AmountLeaf, Choice, CompetencyLeaf, ItemLeaf, LeafNode, Node

Mode = Literal["least", "sources"]
INF = float("inf")
CHECK_EVERY = 512  # search steps between two looks at the clock, when there is a deadline
_clock = time.monotonic  # the clock deadlines are read on (tests replace it)


class SearchTimeout(Exception):
    """A search ran past its deadline (`solve(..., deadline=)`); nothing is returned."""


def deadline_after(seconds: float) -> float:
    """The deadline `seconds` from now, on the clock the searches read."""
    return _clock() + seconds


def seconds_left(deadline: float) -> float:
    """How long until `deadline` (from `deadline_after`), on the same clock; 0 or less once
    it has passed."""
    return deadline - _clock()


@dataclass(frozen=True, slots=True)
class _AmountGoal:
    """An amount leaf being filled: its classes of interchangeable achievements in the order
    they are tried, and the search state to continue with once it is filled."""

    leaf: AmountLeaf
    ordered: list[list[int]]
    rest: tuple[object, ...]
    cost: tuple[float, float, float]
    assign: dict[int, LeafResult]
    relied: frozenset[int]


@dataclass(slots=True)
class _Extension:
    """`_extend`'s search: the slots (achievement, leaf) it may add, the most slots `i…` could
    still add to each limit, what the requirements' missing work covers of each limit, and the
    best found (uncovered shortfall, used, totals, additions)."""

    slots: list[tuple[int, int]]
    most: list[list[float]]
    covered: list[float]
    best: tuple[float, int, tuple[float, ...], dict[int, list[int]]]


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the allocator needs to know of one achievement."""

    credits: float | None
    hours: float | None
    item: str
    grade_rank: int
    date_ordinal: int  # 0 when undated
    sort_key: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class LimitSpec:
    bound: Literal["at most", "at least"]
    amount: float
    unit: Literal["credits", "hours", "items"]
    members: int  # bitmask of the achievements the limit selects
    hours_per_credit: float
    # the requirement leaves whose missing work could cover an `at least` shortfall (§4):
    # (leaf index, per missing unit, once when missing), in the limit's unit
    cover: tuple[tuple[int, float, float], ...] = ()


@dataclass(slots=True)
class Problem:
    roots: Sequence[Node]
    leaves: Sequence[LeafNode]
    achievements: Sequence[Candidate]
    eligible: Sequence[Sequence[int]]  # per leaf index: achievements it accepts
    conflicts: Sequence[int]  # per achievement: bitmask of those it cannot be counted with
    limits: Sequence[LimitSpec] = ()
    competency_met: Sequence[bool] = ()  # per leaf index (competency leaves only)
    missing_cost: Sequence[float] = ()  # per leaf: cost of a missing identifier/competency/member
    hours_per_credit: float = 15.0
    # per leaf (identifier leaves): whether the learner holds its item (missing, it is a retake)
    held: Sequence[bool] = ()
    # per leaf (identifier leaves): whether its item is `repeatable`
    repeatable: Sequence[bool] = ()
    # per leaf (`N of` a group): the costs of the distinct items the group admits, cheapest first
    group_costs: Sequence[Sequence[float]] = ()
    # what every search over this tree shares (`Template.of`); built here when not given
    template: Template | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """What every search over one requirement tree shares, whoever the learner: each node's
    bound and each list's search order as they are when no achievement touches the node, each
    node's parent, the leaves that name each item, and whether the tree's amounts and costs
    are exact. A search copies the bounds and recomputes only the nodes its achievements
    touch; an evaluator builds one template per credential version or equivalency."""

    lb: dict[int, tuple[float, float]]  # by id(node)
    order: dict[int, tuple[Node, ...]]  # by id(choice)
    parent: dict[int, Node]  # by id(node); roots have none
    named: dict[str, tuple[int, ...]]  # item -> indexes of the identifier leaves naming it
    exact: bool
    # first paths of untouched runs of a list's children, filled as searches meet them
    paths: dict[tuple[int, ...], tuple[dict[int, LeafResult], frozenset[int], float, float]] = (
        field(default_factory=dict)
    )
    # `light_verdict`'s answers by what the leaves hold (`LeafHoldings`), filled as met
    light: dict[tuple[tuple[int, float], ...], LightVerdict] = field(default_factory=dict)
    # whether an untouched node holds with no achievement at all (an `N of` with N = 0)
    holds_empty: dict[int, bool] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        roots: Sequence[Node],
        leaves: Sequence[LeafNode],
        missing_cost: Sequence[float],
        hours_per_credit: float,
        group_costs: Sequence[Sequence[float]] = (),
    ) -> Template:
        # the bounds are those of a search with no achievement at all: one computation
        empty = _Search(
            Problem(
                roots=roots,
                leaves=leaves,
                achievements=(),
                eligible=[()] * len(leaves),
                conflicts=(),
                competency_met=[False] * len(leaves),
                missing_cost=missing_cost,
                hours_per_credit=hours_per_credit,
                group_costs=group_costs,
                template=_NO_TEMPLATE,
            ),
            "least",
        )
        parent: dict[int, Node] = {}
        stack = list(roots)
        while stack:
            node = stack.pop()
            if isinstance(node, Choice):
                for child in node.children:
                    parent[id(child)] = node
                    stack.append(child)
        named: dict[str, list[int]] = {}
        for leaf in leaves:
            if isinstance(leaf, ItemLeaf):
                named.setdefault(leaf.item, []).append(leaf.index)
        return cls(
            lb=empty._lb,
            order=empty._order,
            parent=parent,
            named={item: tuple(ixs) for item, ixs in named.items()},
            exact=_exact_tree(leaves, missing_cost, hours_per_credit)
            and all(_dyadic(c) for costs in group_costs for c in costs),
        )


# marks the template's own search, which computes every bound from scratch
_NO_TEMPLATE = Template({}, {}, {}, {}, False)


@dataclass(slots=True)
class LeafResult:
    used: list[int] = field(default_factory=list)
    missing: float = 0.0  # items for identifier/competency leaves, else the leaf's unit
    active: bool = False  # the allocation relies on this leaf


@dataclass(slots=True)
class Allocation:
    key: tuple[float, ...]
    leaves: dict[int, LeafResult]
    used: int  # bitmask
    limit_shortfall: list[float]  # per limit (0 for at-most)
    chosen: set[int]  # ids of Choice nodes (by id()) and which children were relied on

    @property
    def complete(self) -> bool:
        return self.key[0] == 0 and self.key[1] == 0 and self.key[2] == 0


class Valued(Protocol):
    """Anything with a credit and an hour value (a candidate, an achievement)."""

    @property
    def credits(self) -> float | None: ...
    @property
    def hours(self) -> float | None: ...


def value_of(c: Valued, unit: str) -> float:
    """What an achievement adds to an amount in `unit` (each one counts 1 as an item)."""
    if unit == "items":
        return 1.0
    v = c.credits if unit == "credits" else c.hours
    return v or 0.0


class _Search:
    def __init__(self, p: Problem, mode: Mode, deadline: float | None = None) -> None:
        self.p = p
        self.mode = mode
        self.best: Allocation | None = None
        self.deadline = deadline
        self._steps = 0  # until the next look at the clock
        n = len(p.achievements)
        users: list[set[int]] = [set() for _ in range(n)]
        # per leaf, the achievements it could take, as a bitmask (amount leaves: those adding
        # something); the dynamic bounds below read them against what is already used
        self.leaf_masks: dict[int, int] = {}
        for leaf in p.leaves:
            mask = 0
            unit = leaf.unit if isinstance(leaf, AmountLeaf) else None
            for a in p.eligible[leaf.index]:
                # an achievement that adds nothing to an amount is counted there only to
                # help a limit (`_extend`), never by the search itself
                if unit is None or value_of(p.achievements[a], unit) > 0:
                    users[a].add(leaf.index)
                    mask |= 1 << a
            self.leaf_masks[leaf.index] = mask
        at_most = 0
        for lim in p.limits:
            if lim.bound == "at most":
                at_most |= lim.members
        self.users = users
        given = p.template
        tpl = (
            Template.of(p.roots, p.leaves, p.missing_cost, p.hours_per_credit, p.group_costs)
            if given is None
            else given
        )
        # Items that identifier leaves name: using an achievement of one of them elsewhere can
        # leave such a leaf missing, a retake (§4), so such achievements are never free.
        self.penalty_items = tpl.named.keys()
        # An achievement is "free" for a leaf when taking it there can never hurt. That holds
        # for the least-to-do objective only: when choosing an equivalency's sources, every
        # achievement taken is one more source and its grade and date count. In a leaf whose
        # missing work may cover a limit's shortfall (§4), filling it can take away the missing
        # work that covered a shortfall: it is free there only where the limit counts it too,
        # in the leaf's own unit, and a missing unit covers no more than one unit (then the
        # shortfall falls at least as much as its coverage).
        covering_leaves = {leaf for lim in p.limits for leaf, _, _ in lim.cover}
        unsafe = set()
        for lim in p.limits:
            for index, per, once in lim.cover:
                leaf = p.leaves[index]
                plain = isinstance(leaf, AmountLeaf) and leaf.unit == lim.unit
                if not plain or once > 0 or per > 1.0 + 1e-12:
                    unsafe.add(index)
        # the nodes with such a leaf below them (by id): where which work is missing matters
        self.covering_nodes: set[int] = set()
        parents = (p.template or tpl).parent
        for leaf in p.leaves:
            if leaf.index in covering_leaves:
                node: Node | None = leaf
                while node is not None and id(node) not in self.covering_nodes:
                    self.covering_nodes.add(id(node))
                    node = parents.get(id(node))
        self.free = [
            mode == "least"
            and len(users[a]) == 1
            and p.conflicts[a] == (1 << a)
            and p.achievements[a].item not in self.penalty_items
            and (
                not p.limits  # (then nothing is unsafe and no limit counts it)
                or (
                    not users[a] & unsafe
                    and all(
                        (lim.members >> a) & 1
                        for lim in p.limits
                        if any(index in users[a] for index, _, _ in lim.cover)
                    )
                    and not (at_most >> a) & 1
                )
            )
            for a in range(n)
        ]
        self.limit_values = [
            [
                value_of(c, lim.unit) if (lim.members >> i) & 1 else 0.0
                for i, c in enumerate(p.achievements)
            ]
            for lim in p.limits
        ]

        self.limit_totals = [sum(values) for values in self.limit_values]
        # The most the requirements' missing work could cover of each limit: every covering
        # leaf missing all it can (an identifier leaf its item, an amount leaf its amount).
        self.cover_most = [
            sum(const + per * _most_missing(p.leaves[leaf]) for leaf, per, const in lim.cover)
            for lim in p.limits
        ]
        # What the `at least` limits must leave uncovered whatever is counted: every member
        # counted at most once, so no allocation can count more than `limit_totals`. Part of
        # every path's lower bound, it stops the search from proving, branch by branch, that a
        # shortfall no choice can mend is the same everywhere.
        self.short_lb = (
            (self._uncovered_cost(self.limit_totals, self.cover_most), 0.0)
            if p.limits
            else (0.0, 0.0)
        )
        self._held_leaf = [bool(h) for h in p.held] or [False] * len(p.leaves)
        self._repeatable_leaf = [bool(r) for r in p.repeatable] or [False] * len(p.leaves)
        # With every value a small multiple of 1/256, sums are exact and a branch whose lower
        # bound only ties the best allocation cannot beat it: prune ties too (the search keeps
        # the first of equal allocations, so this never changes the answer). Otherwise keep a
        # margin for rounding.
        self.margin = 0.0 if tpl.exact and _exact_values(p) else 1e-9
        self._rest_memo: dict[tuple[int, int], bool] = {}
        self._blocked_memo: dict[int, int] = {}
        self._dyn_memo: dict[tuple[int, int], tuple[float, float]] = {}
        # Static lower bounds (cost, items) per node, ignoring conflicts and limits: what any
        # completion of the node must still cost. They make branch and bound prune early. The
        # template has them for untouched nodes (`_untouched`); only the rest are computed.
        self.template = tpl
        self.touched = self._touched(tpl)
        self._lb: dict[int, tuple[float, float]] = dict(tpl.lb)
        self._order: dict[int, tuple[Node, ...]] = dict(tpl.order)
        for key in self.touched:
            self._lb.pop(key, None)
            self._order.pop(key, None)
        self._suffix_lb: dict[tuple[int, int, int], tuple[float, float]] = {}
        for root in p.roots:
            self._node_lb(root)
        self.retakes = _RetakeBound(self) if mode == "least" and any(self._held_leaf) else None

    def _touched(self, tpl: Template) -> set[int]:
        """The nodes (by id) whose bound is not what it is with no achievement at all: the
        leaves that accept an achievement, the identifier leaves that name an item the learner
        holds (missing, it is a retake), the competency leaves that hold, and every node above
        one of them. (The template's own search has none: it computes every node.)"""
        p = self.p
        if tpl is _NO_TEMPLATE:
            return {id(leaf) for leaf in p.leaves}
        eligible, held, met = p.eligible, self._held_leaf, p.competency_met
        touched: set[int] = set()
        parent = tpl.parent
        for leaf in p.leaves:
            i = leaf.index
            if not (eligible[i] or held[i] or (isinstance(leaf, CompetencyLeaf) and met[i])):
                continue
            node: Node | None = leaf
            while node is not None and id(node) not in touched:
                touched.add(id(node))
                node = parent.get(id(node))
        return touched

    def _node_lb(self, node: Node) -> tuple[float, float]:
        key = id(node)
        found = self._lb.get(key)
        if found is not None:
            return found
        p = self.p
        if isinstance(node, Choice):
            bounds = [self._node_lb(c) for c in node.children]
            # N of: try the children that cost least first (ties: source order)
            ranked = sorted(range(len(node.children)), key=lambda i: (bounds[i], i))
            self._order[key] = tuple(node.children[i] for i in ranked)
            lb = _cheapest(bounds, node.need)
        elif isinstance(node, ItemLeaf):
            lb = (0.0, 0.0) if p.eligible[node.index] else (p.missing_cost[node.index], 1.0)
        elif isinstance(node, CompetencyLeaf):
            met = p.competency_met[node.index]
            lb = (0.0, 0.0) if met else (p.missing_cost[node.index], 1.0)
        else:
            total = sum(value_of(p.achievements[a], node.unit) for a in p.eligible[node.index])
            short = node.amount - total
            lb = (
                (self._amount_cost(node, short), _amount_items(node, short))
                if short > 1e-9
                else (0.0, 0.0)
            )
        self._lb[key] = lb
        return lb

    def _goals_lb(self, goals: tuple[object, ...]) -> tuple[float, float]:
        cost = items = 0.0
        for g in goals:
            if isinstance(g, tuple):
                _, choice, need, pos = g
                key = (id(choice), pos, need)
                lb = self._suffix_lb.get(key)
                if lb is None:
                    rest = self._order[id(choice)][pos:]
                    lb = _cheapest([self._lb[id(c)] for c in rest], need)
                    self._suffix_lb[key] = lb
            else:
                lb = self._lb[id(g)]
            cost += lb[0]
            items += lb[1]
        return cost, items

    def _dynamic_lb(
        self,
        goals: tuple[object, ...],
        used: int,
        totals: tuple[float, ...],
        cost: tuple[float, float, float],
    ) -> tuple[float, float, float]:
        """A lower bound on the key of any allocation below this search node: each goal and
        each `at least` limit on its own, with only the achievements that conflict with nothing
        used so far (admissible: everything taken later must be among them)."""
        blocked = self._blocked(used)
        lb_cost = lb_items = 0.0
        for g in goals:
            if isinstance(g, tuple):
                _, choice, need, pos = g
                rest = self._order[id(choice)][pos:]
                c, i = _cheapest([self._dyn_node(n, blocked) for n in rest], need)
            else:
                c, i = self._dyn_node(g, blocked)  # type: ignore[arg-type]
            lb_cost += c
            lb_items += i
        if self.p.limits:
            free = ~blocked
            best_totals = list(totals)
            for k, lim in enumerate(self.p.limits):
                if lim.bound == "at least":
                    values = self.limit_values[k]
                    members = lim.members & free
                    while members:
                        low = members & -members
                        best_totals[k] += values[low.bit_length() - 1]
                        members ^= low
            lb_cost += self._uncovered_cost(best_totals, self.cover_most)
        retakes = self.retakes
        lb_retakes = cost[0] if retakes is None else cost[0] + retakes.of_goals(goals, blocked)
        return (lb_retakes, cost[1] + lb_cost - self.margin, cost[2] + lb_items)

    def _blocked(self, used: int) -> int:
        """The achievements that conflict with one already used (each conflicts with itself)."""
        found = self._blocked_memo.get(used)
        if found is None:
            found = 0
            conflicts = self.p.conflicts
            u = used
            while u:
                low = u & -u
                found |= conflicts[low.bit_length() - 1]
                u ^= low
            self._blocked_memo[used] = found
        return found

    def _dyn_node(self, node: Node, blocked: int) -> tuple[float, float]:
        key = (id(node), blocked)
        found = self._dyn_memo.get(key)
        if found is not None:
            return found
        if isinstance(node, Choice):
            lb = _cheapest([self._dyn_node(c, blocked) for c in node.children], node.need)
        elif isinstance(node, CompetencyLeaf):
            lb = self._lb[id(node)]
        elif isinstance(node, ItemLeaf):
            if self.leaf_masks[node.index] & ~blocked:
                lb = (0.0, 0.0)
            else:
                lb = (self.p.missing_cost[node.index], 1.0)
        else:
            total = 0.0
            avail = self.leaf_masks[node.index] & ~blocked
            achievements = self.p.achievements
            while avail:
                low = avail & -avail
                total += value_of(achievements[low.bit_length() - 1], node.unit)
                avail ^= low
            short = node.amount - total
            lb = (
                (self._amount_cost(node, short), _amount_items(node, short))
                if short > 1e-9
                else (0.0, 0.0)
            )
        self._dyn_memo[key] = lb
        return lb

    # ---------------------------------------------------------------- driver
    def run(self) -> Allocation | None:
        if self.deadline is not None:
            self._tick()  # every search looks at the clock at least once
        if self.mode == "least" and self._independent():
            first = self._first_path()
            if first is not None:
                return first
        roots: tuple[Node, ...] = tuple(self.p.roots)
        fixed: tuple[Node, ...] = ()
        covering = any(lim.cover for lim in self.p.limits)
        if self.mode == "least" and self.margin == 0.0 and not covering:
            # Named requirements no achievement can touch cost the same in every allocation:
            # search the others alone and add these afterwards as the search would have
            # completed them (see `_untouched`). (Not where a limit's shortfall may be covered
            # by missing work: what they miss must be in the allocation the search finishes.)
            fixed = tuple(r for r in roots if self._untouched(r))
            roots = tuple(r for r in roots if not self._untouched(r))
        totals = tuple(0.0 for _ in self.p.limits)
        self._dfs(roots, 0, totals, (0.0, 0.0, 0.0), {}, frozenset())
        if fixed and self.best is not None:
            assign, relied, _, cost, items = self._path(fixed)
            best = self.best
            key = (best.key[0], best.key[1] + cost, best.key[2] + items)
            self.best = Allocation(
                key,
                {**best.leaves, **assign},
                best.used,
                best.limit_shortfall,
                best.chosen | relied,
            )
        return self.best

    def _untouched_path(
        self, choice: Choice, pos: int, need: int
    ) -> tuple[dict[int, LeafResult], frozenset[int], float, float]:
        """The first path of the first `need` children of `choice` from `pos` on, all
        untouched: the same for every learner, so the template keeps it (leaf results are
        never changed once made, so allocations may share them)."""
        chosen = self._order[id(choice)][pos : pos + need]
        # by the children themselves: a touched list's order differs from search to search
        key = tuple(map(id, chosen))
        found = self.template.paths.get(key)
        if found is None:
            more, also, _, cost, items = self._path(chosen)
            found = (more, frozenset(also | {id(n) for n in chosen}), cost, items)
            self.template.paths[key] = found
        return found

    def _rest_covers(self, choice: Choice, pos: int) -> bool:
        """Whether a child of `choice` from `pos` on (in search order) has a leaf whose
        missing work may cover a limit's shortfall."""
        covering = self.covering_nodes
        return bool(covering) and any(id(c) in covering for c in self._order[id(choice)][pos:])

    def _rest_untouched(self, choice: Choice, pos: int) -> bool:
        """Whether the children of `choice` from `pos` on (in the search's order) are all
        untouched, where the search may take their first path (least-to-do, exact sums)."""
        if self.mode != "least" or self.margin:
            return False
        key = (id(choice), pos)
        found = self._rest_memo.get(key)
        if found is None:
            found = all(self._untouched(c) for c in self._order[id(choice)][pos:])
            self._rest_memo[key] = found
        return found

    def _untouched(self, node: Node) -> bool:
        """Whether no achievement can reach this node (`_touched`). Its least cost is then its
        static bound, reached by its first path (the cheapest children of each list, in the
        search's order), whatever else the allocation does; and since the least-to-do key is a
        sum, the allocations that leave the least to do are exactly the best of the rest with
        that path added, so the search over the rest, kept in its own order, finds the same
        first one. Only used where sums are exact (`_exact_values`), so that the order of
        addition cannot matter."""
        return id(node) not in self.touched

    def _independent(self) -> bool:
        """No limits, and every achievement fits one leaf and conflicts with nothing: then the
        static lower bounds are exact and the search's first path is an optimum."""
        p = self.p
        return not p.limits and all(
            len(self.users[a]) <= 1 and p.conflicts[a] == (1 << a)
            for a in range(len(p.achievements))
        )

    def _first_path(self) -> Allocation | None:
        """The allocation the search would find first, built directly (no search state).
        None when it needs a retake: then a costlier path may rank first (§4)."""
        assign, relied, used, cost, items = self._path(self.p.roots)
        if self._retakes(used, assign) != 0:
            return None
        return Allocation((0.0, cost, items), assign, used, [], relied)

    def _path(
        self, roots: Sequence[Node]
    ) -> tuple[dict[int, LeafResult], set[int], int, float, float]:
        """The search's first path below `roots`: the cheapest children of each list in its
        order, the first achievement each identifier leaf accepts, the largest values first in
        amounts. Returns the leaves, the children relied on, what is used, cost and items."""
        p = self.p
        assign: dict[int, LeafResult] = {}
        relied: set[int] = set()
        used = 0
        cost = items = 0.0

        stack = list(reversed(roots))  # preorder, as a recursive walk would go
        while stack:
            node = stack.pop()
            if isinstance(node, Choice):
                children = self._order[id(node)][: node.need]
                relied.update(map(id, children))
                stack.extend(reversed(children))
            elif isinstance(node, ItemLeaf):
                eligible = p.eligible[node.index]
                if eligible:
                    assign[node.index] = LeafResult([eligible[0]], 0.0, True)
                    used |= 1 << eligible[0]
                else:
                    assign[node.index] = LeafResult([], 1.0, True)
                    cost += p.missing_cost[node.index]
                    items += 1
            elif isinstance(node, CompetencyLeaf):
                missing = 0.0 if p.competency_met[node.index] else 1.0
                assign[node.index] = LeafResult([], missing, True)
                cost += missing * p.missing_cost[node.index]
                items += missing
            else:
                avail = [
                    a for a in p.eligible[node.index] if value_of(p.achievements[a], node.unit) > 0
                ]
                need, picked = node.amount, []
                for members in self._classes(node, avail):
                    if need <= 1e-9:
                        break
                    v = value_of(p.achievements[members[0]], node.unit)
                    n = min(len(members), math.ceil(need / v - 1e-9))
                    picked += members[:n]
                    need -= n * v
                missing = max(need, 0.0) if need > 1e-9 else 0.0
                assign[node.index] = LeafResult(picked, missing, True)
                for a in picked:
                    used |= 1 << a
                if missing:
                    cost += self._amount_cost(node, missing)
                    items += _amount_items(node, missing)

        return assign, relied, used, cost, items

    def _tick(self) -> None:
        """Count a search step; every `CHECK_EVERY` steps, stop if the deadline has passed."""
        self._steps -= 1
        if self._steps <= 0:
            self._steps = CHECK_EVERY
            assert self.deadline is not None
            if _clock() > self.deadline:
                raise SearchTimeout

    def _bound_ok(self, key: tuple[float, ...]) -> bool:
        if self.best is None:
            return True
        return key < self.best.key

    def _key(self, cost: tuple[float, float, float], used: int) -> tuple[float, ...]:
        if self.mode == "least":
            return cost
        return (0.0, 0.0, 0.0, float(bin(used).count("1")))

    # ---------------------------------------------------------------- search
    def _dfs(
        self,
        goals: tuple[object, ...],
        used: int,
        totals: tuple[float, ...],
        cost: tuple[float, float, float],
        assign: dict[int, LeafResult],
        relied: frozenset[int],
    ) -> None:
        if self.deadline is not None:
            self._tick()
        if self.best is not None and self.mode == "least":
            if self.best.complete:
                return
            lb_cost, lb_items = self._goals_lb(goals)
            retakes = self.retakes
            lb = (
                cost[0] if retakes is None else cost[0] + retakes.of_goals(goals),
                cost[1] + lb_cost + self.short_lb[0] - self.margin,
                cost[2] + lb_items + self.short_lb[1],
            )
            if lb >= self.best.key:
                return  # nothing below this node can beat what was found
            # the same bound, without what is already used or conflicts with it
            if self._dynamic_lb(goals, used, totals, cost) >= self.best.key:
                return
        if not self._bound_ok(self._key(cost, used)):
            return
        if not goals:
            self._finish(used, totals, cost, assign, relied)
            return
        goal, rest = goals[0], goals[1:]
        if isinstance(goal, Choice):
            self._dfs((("n", goal, goal.need, 0), *rest), used, totals, cost, assign, relied)
        elif isinstance(goal, tuple):
            _, choice, need, pos = goal
            assert isinstance(choice, Choice)
            if need == 0:
                self._dfs(rest, used, totals, cost, assign, relied)
                return
            if self._rest_untouched(choice, pos) and not self._rest_covers(choice, pos):
                # what is left of this list touches nothing: its first `need` children in
                # order are the first of its best completions, whatever comes after (not where
                # a limit's shortfall may be covered: which children are missing matters then)
                more, also, c, i = self._untouched_path(choice, pos, need)
                self._dfs(
                    rest,
                    used,
                    totals,
                    (cost[0], cost[1] + c, cost[2] + i),
                    {**assign, **more},
                    relied | also,
                )
                return
            left = len(choice.children) - pos
            child = self._order[id(choice)][pos]
            nxt = ("n", choice, need - 1, pos + 1)
            self._dfs((child, nxt, *rest), used, totals, cost, assign, relied | {id(child)})
            if left - 1 >= need:
                skip = ("n", choice, need, pos + 1)
                self._dfs((skip, *rest), used, totals, cost, assign, relied)
        elif isinstance(goal, ItemLeaf):
            self._item(goal, rest, used, totals, cost, assign, relied)
        elif isinstance(goal, AmountLeaf):
            self._amount(goal, rest, used, totals, cost, assign, relied)
        else:
            assert isinstance(goal, CompetencyLeaf)
            result = LeafResult(active=True)
            if not self.p.competency_met[goal.index]:
                if self.mode == "sources":
                    return
                result.missing = 1
                cost = (cost[0], cost[1] + self.p.missing_cost[goal.index], cost[2] + 1)
            self._dfs(rest, used, totals, cost, {**assign, goal.index: result}, relied)

    def _take(self, a: int, used: int, totals: tuple[float, ...]) -> tuple[float, ...] | None:
        """Limit totals after counting achievement `a`, or None if an `at most` breaks."""
        new = list(totals)
        for k, lim in enumerate(self.p.limits):
            v = self.limit_values[k][a]
            if v:
                new[k] += v
                if lim.bound == "at most" and new[k] > lim.amount + 1e-9:
                    return None
        return tuple(new)

    def _available(self, leaf: LeafNode, used: int) -> list[int]:
        return [a for a in self.p.eligible[leaf.index] if not self.p.conflicts[a] & used]

    def _item(
        self,
        leaf: ItemLeaf,
        rest: tuple[object, ...],
        used: int,
        totals: tuple[float, ...],
        cost: tuple[float, float, float],
        assign: dict[int, LeafResult],
        relied: frozenset[int],
    ) -> None:
        avail = self._available(leaf, used)
        free = [a for a in avail if self.free[a]]
        options = free[:1] if free else self._distinct(avail)
        for a in options:
            new_totals = self._take(a, used, totals)
            if new_totals is None:
                continue
            result = LeafResult([a], 0.0, True)
            self._dfs(
                rest, used | (1 << a), new_totals, cost, {**assign, leaf.index: result}, relied
            )
            if free:
                return
        if self.mode == "least":
            result = LeafResult([], 1.0, True)
            # (the first part counts the retakes so far: a missing item the learner holds)
            retake = 1.0 if self._held_leaf[leaf.index] else 0.0
            new_cost = (
                cost[0] + retake,
                cost[1] + self.p.missing_cost[leaf.index],
                cost[2] + 1,
            )
            self._dfs(rest, used, totals, new_cost, {**assign, leaf.index: result}, relied)

    def _alike(self, a: int) -> tuple[object, ...]:
        """What two achievements must share to be interchangeable in this search: alike
        wherever else they could count (the leaves that accept them, a retake penalty, their
        credits and hours, what each limit counts of them). Two attempts are one member each
        of an `N of`, but not the same hours for an amount beside it."""
        c = self.p.achievements[a]
        return (
            frozenset(self.users[a]),
            c.item if c.item in self.penalty_items else None,
            c.credits,
            c.hours,
            tuple(values[a] for values in self.limit_values),
        )

    def _distinct(self, avail: list[int]) -> list[int]:
        """One representative of each group of interchangeable achievements."""
        seen: set[tuple[object, ...]] = set()
        out: list[int] = []
        p = self.p
        for a in avail:
            c = p.achievements[a]
            if p.conflicts[a] != (1 << a):
                out.append(a)
                continue
            sig = (*self._alike(a), c.grade_rank, c.date_ordinal)
            if sig not in seen:
                seen.add(sig)
                out.append(a)
        return out

    def _classes(self, leaf: AmountLeaf, avail: list[int]) -> list[list[int]]:
        """Classes of interchangeable achievements for an amount leaf, in the order the search
        takes them: free ones first, larger values first, then the allocation order."""
        classes: dict[tuple[object, ...], list[int]] = {}
        for a in avail:
            c = self.p.achievements[a]
            if self.p.conflicts[a] != (1 << a):
                key: tuple[object, ...] = ("single", a)
            else:  # (its value here follows from its credits and hours)
                key = (
                    "class",
                    *self._alike(a),
                    self.free[a],
                    c.grade_rank if self.mode == "sources" else 0,
                    c.date_ordinal if self.mode == "sources" else 0,
                )
            classes.setdefault(key, []).append(a)
        return sorted(
            classes.values(),
            key=lambda members: (
                not self.free[members[0]],
                -value_of(self.p.achievements[members[0]], leaf.unit),
                self.p.achievements[members[0]].sort_key,
            ),
        )

    def _amount(
        self,
        leaf: AmountLeaf,
        rest: tuple[object, ...],
        used: int,
        totals: tuple[float, ...],
        cost: tuple[float, float, float],
        assign: dict[int, LeafResult],
        relied: frozenset[int],
    ) -> None:
        avail = [
            a
            for a in self._available(leaf, used)
            if value_of(self.p.achievements[a], leaf.unit) > 0
        ]
        goal = _AmountGoal(leaf, self._classes(leaf, avail), rest, cost, assign, relied)
        self._choose(goal, 0, leaf.amount, [], used, totals)

    def _choose(
        self,
        g: _AmountGoal,
        k: int,
        need: float,
        picked: list[int],
        u: int,
        t: tuple[float, ...],
    ) -> None:
        """How many of the `k`-th class of `g.ordered` to take, then the next class."""
        leaf, ordered = g.leaf, g.ordered
        if need <= 1e-9 or k == len(ordered):
            if need > 1e-9 and self.mode == "sources":
                return
            missing = max(need, 0.0)
            result = LeafResult(list(picked), missing, True)
            cost = g.cost
            if missing > 1e-9:
                cost = (
                    cost[0],
                    cost[1] + self._amount_cost(leaf, missing),
                    cost[2] + _amount_items(leaf, missing),
                )
            self._dfs(g.rest, u, t, cost, {**g.assign, leaf.index: result}, g.relied)
            return
        members = [a for a in ordered[k] if not self.p.conflicts[a] & u]
        v = value_of(self.p.achievements[ordered[k][0]], leaf.unit) if members else 1.0
        most = min(len(members), math.ceil(need / v - 1e-9)) if members else 0
        fewest = most if members and self.free[members[0]] else 0
        for n in range(most, fewest - 1, -1):
            t2: tuple[float, ...] | None = t
            u2 = u
            for a in members[:n]:
                if t2 is None:
                    break
                t2 = self._take(a, u2, t2)
                u2 |= 1 << a
            if t2 is None:
                continue
            self._choose(g, k + 1, need - n * v, [*picked, *members[:n]], u2, t2)

    def _amount_cost(self, leaf: AmountLeaf, missing: float) -> float:
        return amount_cost(self.p, leaf, missing)

    # ---------------------------------------------------------------- limits
    def _finish(
        self,
        used: int,
        totals: tuple[float, ...],
        cost: tuple[float, float, float],
        assign: dict[int, LeafResult],
        relied: frozenset[int],
    ) -> None:
        retakes = self._retakes(used, assign) if self.mode == "least" else 0
        if retakes < 0:
            return  # relies on a held attempt and on its retake: not a completion (§4)
        covered = self._covered(assign)
        short = self._shortfalls(totals)
        if any(short) and self._extension_could_help(retakes, cost, totals, covered):
            used, totals, assign = self._extend(used, totals, assign, covered)
            short = self._shortfalls(totals)
        if any(short):
            if self.mode == "sources":
                return
            cost = (cost[0], cost[1] + self._uncovered_cost(totals, covered), cost[2])
        if self.mode == "least":
            key: tuple[float, ...] = (float(retakes), cost[1], cost[2])
        else:
            key = self._source_key(used)
        if self.best is None or key < self.best.key:
            self.best = Allocation(key, dict(assign), used, short, set(relied))

    def _extension_could_help(
        self,
        retakes: int,
        cost: tuple[float, float, float],
        totals: tuple[float, ...],
        covered: list[float],
    ) -> bool:
        """Whether extending toward `at least` limits could beat the best allocation so far,
        even if every achievement could be counted (a cheap optimistic bound)."""
        if self.best is None or self.mode != "least":
            return True
        optimistic = [t + total for t, total in zip(totals, self.limit_totals, strict=True)]
        bound = (float(retakes), cost[1] + self._uncovered_cost(optimistic, covered), cost[2])
        return bound < self.best.key

    def _shortfalls(self, totals: Sequence[float]) -> list[float]:
        return [
            max(0.0, lim.amount - totals[k]) if lim.bound == "at least" else 0.0
            for k, lim in enumerate(self.p.limits)
        ]

    def _covered(self, assign: dict[int, LeafResult]) -> list[float]:
        """What the allocation's missing work covers of each limit, in the limit's unit: a
        future achievement that fills a requirement node counts toward every limit that
        selects it (§4)."""
        out = []
        for lim in self.p.limits:
            total = 0.0
            for leaf, per, const in lim.cover:
                r = assign.get(leaf)
                if r is not None and r.missing > 1e-9:
                    total += const + per * r.missing
            out.append(total)
        return out

    def _uncovered_cost(self, totals: Sequence[float], covered: Sequence[float]) -> float:
        """What the `at least` shortfalls leave uncovered, in credits (hours at
        hours-per-credit; a missing item counts 1)."""
        total = 0.0
        for s, c, lim in zip(self._shortfalls(totals), covered, self.p.limits, strict=True):
            rest = s - c
            if rest > 1e-9:
                total += rest / lim.hours_per_credit if lim.unit == "hours" else rest
        return total

    def _extend(
        self,
        used: int,
        totals: tuple[float, ...],
        assign: dict[int, LeafResult],
        covered: list[float],
    ) -> tuple[int, tuple[float, ...], dict[int, LeafResult]]:
        """Count more achievements toward `at least` limits: in amount leaves that are already
        met (any number), in leaves the allocation does not use, and, in amount leaves that
        fall short, achievements that add nothing to the amount. (Taking more of what adds to
        a leaf that falls short is a choice the main search already made.) Never an
        achievement of a non-repeatable item that an identifier leaf misses: that would rely
        on both the held attempt and its retake. Exact: a depth-first search over every subset
        for the least uncovered shortfall, pruned by what the remaining candidates could add
        at most; no extension is the first candidate."""
        p = self.p
        barred = {
            p.leaves[index].item  # type: ignore[union-attr]
            for index, r in assign.items()
            if r.missing
            and isinstance(p.leaves[index], ItemLeaf)
            and not self._repeatable_leaf[index]
        }
        slots: list[tuple[int, int]] = []  # (achievement, leaf)
        for leaf in p.leaves:
            if isinstance(leaf, CompetencyLeaf):
                continue
            current = assign.get(leaf.index)
            if current is not None and isinstance(leaf, ItemLeaf):
                continue
            for a in p.eligible[leaf.index]:
                adds = not isinstance(leaf, AmountLeaf) or (
                    value_of(p.achievements[a], leaf.unit) > 0
                )
                if adds and current is not None and current.missing:
                    continue
                if p.achievements[a].item in barred:
                    continue
                if not (used >> a) & 1 and any(
                    self.limit_values[k][a]
                    for k, lim in enumerate(p.limits)
                    if lim.bound == "at least"
                ):
                    slots.append((a, leaf.index))
        # most[i][k]: the most slots i… could still add to limit k (an optimistic bound)
        most = [[0.0] * len(p.limits) for _ in range(len(slots) + 1)]
        for i in range(len(slots) - 1, -1, -1):
            a = slots[i][0]
            most[i] = [most[i + 1][k] + self.limit_values[k][a] for k in range(len(p.limits))]
        start = self._uncovered_cost(totals, covered)
        x = _Extension(slots, most, covered, (start, used, totals, {}))
        self._extend_from(x, 0, used, totals, {})
        _, u, t, extra = x.best
        merged = dict(assign)
        for leaf_index, acs in extra.items():
            old = merged.get(leaf_index, LeafResult(active=True))
            merged[leaf_index] = LeafResult([*old.used, *acs], old.missing, True)
        return u, t, merged

    def _retakes(self, used: int, assign: dict[int, LeafResult]) -> int:
        """How many missing identifier leaves name an item the learner holds (§4: each needs
        a retake); -1 when a missing one names a non-repeatable item the allocation counts (a
        retake replaces the held attempt, so the two cannot both count)."""
        p = self.p
        count = 0
        items: set[str] | None = None
        for index, r in assign.items():
            leaf = p.leaves[index]
            if not isinstance(leaf, ItemLeaf) or not r.missing:
                continue
            if not self._repeatable_leaf[index]:
                if items is None:
                    items = self._items_of(used)
                if leaf.item in items:
                    return -1
            if self._held_leaf[index]:
                count += 1
        return count

    def _items_of(self, used: int) -> set[str]:
        """The items of the achievements in the bitmask `used`."""
        achievements = self.p.achievements
        return {achievements[a].item for a in range(len(achievements)) if (used >> a) & 1}

    def _extend_from(
        self, x: _Extension, i: int, u: int, t: tuple[float, ...], extra: dict[int, list[int]]
    ) -> None:
        """`_extend`'s search: whether to add slot `i`, then the next slot."""
        if self.deadline is not None:
            self._tick()
        p = self.p
        key = self._uncovered_cost(t, x.covered)
        if key < x.best[0]:
            x.best = (key, u, t, extra)
        if i == len(x.slots) or key <= 1e-12:
            return  # with no shortfall left, more achievements cannot help
        optimistic = [t[k] + x.most[i][k] for k in range(len(t))]
        if self._uncovered_cost(optimistic, x.covered) >= x.best[0]:
            return
        a, leaf_index = x.slots[i]
        leaf = p.leaves[leaf_index]
        capacity_ok = not (isinstance(leaf, ItemLeaf) and extra.get(leaf_index))
        if capacity_ok and not p.conflicts[a] & u:
            t2 = self._take(a, u, t)
            if t2 is not None:
                e2 = {**extra, leaf_index: [*extra.get(leaf_index, []), a]}
                self._extend_from(x, i + 1, u | (1 << a), t2, e2)
        self._extend_from(x, i + 1, u, t, extra)

    def _source_key(self, used: int) -> tuple[float, ...]:
        picked = [
            self.p.achievements[a] for a in range(len(self.p.achievements)) if (used >> a) & 1
        ]
        worst = min((c.grade_rank for c in picked), default=0)
        dates = sorted((c.date_ordinal for c in picked), reverse=True)
        # smaller is better: fewer sources, better worst grade, more recent dates
        return (0.0, 0.0, 0.0, float(len(picked)), float(-worst), *(-float(d) for d in dates))


class _RetakeBound:
    """A lower bound on the retakes (§4) that goals still add: an identifier leaf that names
    an item the learner holds and can take no achievement (none it accepts, or every one
    conflicts with what is used) is a retake wherever it is relied on, and a list relies on
    at least the `need` of its children that need the fewest. Retakes rank first in the
    least-to-do key, so without this bound the search could not prune at all once the best
    allocation so far needs a retake."""

    def __init__(self, search: _Search) -> None:
        # (what it reads of the search, not the search: a reference back would be a cycle)
        self.order = search._order
        self.leaf_masks = search.leaf_masks
        p = search.p
        # the nodes with a held identifier leaf below them (by id): the others add none
        self.above: set[int] = set()
        parent = search.template.parent
        for leaf in p.leaves:
            if search._held_leaf[leaf.index]:
                node: Node | None = leaf
                while node is not None and id(node) not in self.above:
                    self.above.add(id(node))
                    node = parent.get(id(node))
        self._memo: dict[tuple[int, int], float] = {}
        self._suffix: dict[tuple[int, int, int, int], float] = {}

    def of_goals(self, goals: tuple[object, ...], blocked: int = 0) -> float:
        """The retakes `goals` must still add, with the achievements in `blocked` unusable."""
        total = 0.0
        for g in goals:
            if isinstance(g, tuple):
                _, choice, need, pos = g
                if id(choice) not in self.above:
                    continue
                key = (id(choice), pos, need, blocked)
                found = self._suffix.get(key)
                if found is None:
                    rest = self.order[id(choice)][pos:]
                    found = _fewest([self.of_node(c, blocked) for c in rest], need)
                    self._suffix[key] = found
                total += found
            elif id(g) in self.above:
                total += self.of_node(g, blocked)  # type: ignore[arg-type]
        return total

    def of_node(self, node: Node, blocked: int) -> float:
        if id(node) not in self.above:
            return 0.0
        key = (id(node), blocked)
        found = self._memo.get(key)
        if found is None:
            if isinstance(node, Choice):
                found = _fewest([self.of_node(c, blocked) for c in node.children], node.need)
            else:  # a held identifier leaf: a retake unless it can take an achievement
                found = 0.0 if self.leaf_masks[node.index] & ~blocked else 1.0
            self._memo[key] = found
        return found


def _fewest(counts: Sequence[float], need: int) -> float:
    """The sum of the `need` smallest of `counts`."""
    if need <= 0:
        return 0.0
    return float(sum(sorted(counts)[:need]))


def _most_missing(leaf: LeafNode) -> float:
    """The most a leaf can miss: its amount, or one item."""
    return leaf.amount if isinstance(leaf, AmountLeaf) else 1.0


def _amount_items(leaf: AmountLeaf, missing: float) -> float:
    """What a missing amount counts in the tie-break: each missing member of a group one
    item, an amount in credits or hours one item."""
    return float(max(1, round(missing))) if leaf.unit == "items" else 1.0


def _dyadic(x: float | None) -> bool:
    return x is None or (abs(x) < 2.0**32 and (x * 256.0).is_integer())


def _exact_unit(unit: str, hours_per_credit: float) -> bool:
    return unit != "hours" or math.log2(hours_per_credit).is_integer()


def _exact_tree(
    leaves: Sequence[LeafNode], missing_cost: Sequence[float], hours_per_credit: float
) -> bool:
    """Whether a tree's own numbers keep every sum the search forms exact in floating point:
    every amount and cost a small multiple of 1/256, and no hours converted to credits by a
    divisor that is not a power of two."""
    return all(_dyadic(m) for m in missing_cost) and all(
        _dyadic(leaf.amount) and _exact_unit(leaf.unit, hours_per_credit)
        for leaf in leaves
        if isinstance(leaf, AmountLeaf)
    )


def _exact_values(p: Problem) -> bool:
    """The same for one problem's achievements and limits (the tree is the template's)."""
    return all(_dyadic(c.credits) and _dyadic(c.hours) for c in p.achievements) and all(
        _dyadic(lim.amount) and _exact_unit(lim.unit, lim.hours_per_credit) for lim in p.limits
    )


def _cheapest(bounds: Sequence[tuple[float, float]], need: int) -> tuple[float, float]:
    """A lower bound for holding `need` of nodes with these bounds: the `need` smallest costs
    and, separately, the `need` smallest item counts (each is admissible on its own)."""
    if need <= 0:
        return (0.0, 0.0)
    costs = sorted(b[0] for b in bounds)[:need]
    items = sorted(b[1] for b in bounds)[:need]
    return (sum(costs), sum(items))


def _can_hold(p: Problem, node: Node) -> bool:
    """Whether `node` could hold if every achievement counted everywhere at once."""
    if isinstance(node, Choice):
        held = 0
        for child in node.children:
            if _can_hold(p, child):
                held += 1
                if held >= node.need:
                    return True
        return held >= node.need
    if isinstance(node, ItemLeaf):
        return bool(p.eligible[node.index])
    if isinstance(node, CompetencyLeaf):
        return p.competency_met[node.index]
    total = sum(value_of(p.achievements[a], node.unit) for a in p.eligible[node.index])
    return node.amount - total <= 1e-9


def surely_incomplete(problem: Problem) -> bool:
    """Whether no allocation can be complete, by a quick necessary condition: some named
    requirement could not hold, or some `at least` limit could not be met, even if every
    achievement counted everywhere at once. (False says nothing: the search decides.)"""
    p = problem
    achievements = p.achievements
    if not all(_can_hold(p, root) for root in p.roots):
        return True
    for lim in p.limits:
        if lim.bound == "at least":
            total = sum(
                value_of(c, lim.unit) for i, c in enumerate(achievements) if (lim.members >> i) & 1
            )
            if lim.amount - total > 1e-9:
                return True
    return False


def solve(
    problem: Problem, mode: Mode = "least", deadline: float | None = None
) -> Allocation | None:
    """The best allocation for `mode`, or None when `sources` finds no complete one.

    With a `deadline` (from `deadline_after`), raises `SearchTimeout` once the search runs
    past it."""
    return _Search(problem, mode, deadline).run()


def amount_cost(p: Problem, leaf: AmountLeaf, missing: float) -> float:
    """What `missing` of an amount node costs, in credits (§4)."""
    costs = p.group_costs[leaf.index] if p.group_costs else ()
    each = p.missing_cost[leaf.index] if leaf.unit == "items" and not costs else 1.0
    return _amount_cost_of(leaf, missing, p.hours_per_credit, costs, each)


def _amount_cost_of(
    leaf: AmountLeaf,
    missing: float,
    hours_per_credit: float,
    group_costs: Sequence[float],
    each: float,
) -> float:
    """`amount_cost` from the numbers it reads (`each`: what a member of a group of no known
    item costs)."""
    if leaf.unit == "credits":
        return missing
    if leaf.unit == "hours":
        return missing / hours_per_credit
    # k missing members of a group: the k cheapest distinct items it admits (1 each beyond
    # those known)
    k = round(missing)
    if not group_costs:
        return k * each
    return float(sum(group_costs[:k])) + max(0, k - len(group_costs)) * 1.0


def least_cost_bound(problem: Problem) -> tuple[float, float]:
    """A lower bound on the (missing credits, missing items) of every allocation of
    `problem` (the second and third parts of a least-to-do key, each bounded on its own, so
    the pair bounds them in lexicographic order too), from the static bounds of its named
    requirements: no search, and only the nodes above a leaf that accepts an achievement are
    computed (the template has the others). Admissible whatever the limits do: a limit's
    shortfall only adds to the cost."""
    p = problem
    tpl = p.template
    if tpl is None:
        tpl = Template.of(p.roots, p.leaves, p.missing_cost, p.hours_per_credit)
    touched: set[int] = set()
    for leaf in p.leaves:
        met = isinstance(leaf, CompetencyLeaf) and p.competency_met[leaf.index]
        if p.eligible[leaf.index] or met:
            node: Node | None = leaf
            while node is not None and id(node) not in touched:
                touched.add(id(node))
                node = tpl.parent.get(id(node))
    cost = items = 0.0
    for root in p.roots:
        c, i = _static_bound(p, root, tpl.lb, touched)
        cost += c
        items += i
    return cost, items


LIGHT_MEMO = 4096  # light verdicts remembered per requirement tree (then forgotten at once)
# per leaf index that holds something: 1 for an identifier leaf that accepts an achievement or
# a competency that holds, the total of its achievements' values for an amount (only those
# above 0: an amount of nothing is as if untouched)
LeafHoldings = tuple[tuple[int, float], ...]


@dataclass(frozen=True, slots=True)
class LightVerdict:
    """What the light problem of a credential tells (no conflicts, no limits, no retakes):
    whether no allocation can be complete (`surely_incomplete` but for the limits) and a
    lower bound on the (missing credits, missing items) of every allocation
    (`least_cost_bound`)."""

    incomplete: bool
    bound: tuple[float, float]


def light_verdict(
    tpl: Template,
    roots: Sequence[Node],
    leaves: Sequence[LeafNode],
    holdings: LeafHoldings,
    missing_cost: Sequence[float],
    hours_per_credit: float,
    group_costs: Sequence[Sequence[float]],
) -> LightVerdict:
    """`surely_incomplete` and `least_cost_bound` of the light problem whose leaves hold
    `holdings`, remembered per tree: both read of a problem's achievements only what each
    leaf holds, so learners who hold the same share the answer (and no problem is built)."""
    found = tpl.light.get(holdings)
    if found is not None:
        return found
    have = dict(holdings)
    touched: set[int] = set()
    for index in have:
        node: Node | None = leaves[index]
        while node is not None and id(node) not in touched:
            touched.add(id(node))
            node = tpl.parent.get(id(node))
    costs = _LightCosts(tpl, have, touched, missing_cost, hours_per_credit, group_costs)
    incomplete = not all(costs.holds(root) for root in roots)
    cost = items = 0.0
    for root in roots:
        c, i = costs.bound(root)
        cost += c
        items += i
    found = LightVerdict(incomplete, (cost, items))
    if len(tpl.light) >= LIGHT_MEMO:
        tpl.light.clear()
    tpl.light[holdings] = found
    return found


@dataclass(slots=True)
class _LightCosts:
    """`light_verdict`'s walk over the touched nodes (the template answers for the rest)."""

    tpl: Template
    have: dict[int, float]
    touched: set[int]
    missing_cost: Sequence[float]
    hours_per_credit: float
    group_costs: Sequence[Sequence[float]]

    def holds(self, node: Node) -> bool:
        """`_can_hold` of the light problem."""
        if id(node) not in self.touched and id(node) in self.tpl.lb:
            return self._holds_empty(node)  # a node of the template that nothing reaches
        # (below: a touched node, or a node of an overlay that shares its base's template,
        # whose own nodes the template's parents do not lead to)
        if isinstance(node, Choice):
            held = 0
            for child in node.children:
                if self.holds(child):
                    held += 1
                    if held >= node.need:
                        return True
            return held >= node.need
        if isinstance(node, AmountLeaf):
            return node.amount - self.have.get(node.index, 0.0) <= 1e-9
        # an identifier leaf that accepts an achievement, or a competency that holds
        return node.index in self.have

    def _holds_empty(self, node: Node) -> bool:
        found = self.tpl.holds_empty.get(id(node))
        if found is None:
            if isinstance(node, Choice):
                found = sum(self._holds_empty(c) for c in node.children) >= node.need
            elif isinstance(node, AmountLeaf):
                found = node.amount <= 1e-9
            else:
                found = False
            self.tpl.holds_empty[id(node)] = found  # (only the template's own nodes come here)
        return found

    def bound(self, node: Node) -> tuple[float, float]:
        """`_static_bound` of the light problem."""
        touched = id(node) in self.touched
        if not touched:
            static = self.tpl.lb.get(id(node))
            if static is not None:
                return static
            # (a node of an overlay sharing its base's template: as `_Search._node_lb`)
        if isinstance(node, Choice):
            return _cheapest([self.bound(c) for c in node.children], node.need)
        if isinstance(node, ItemLeaf | CompetencyLeaf):
            return (0.0, 0.0) if touched else (self.missing_cost[node.index], 1.0)
        assert isinstance(node, AmountLeaf)
        short = node.amount - self.have.get(node.index, 0.0)
        if short <= 1e-9:
            return (0.0, 0.0)
        groups = self.group_costs[node.index] if self.group_costs else ()
        each = self.missing_cost[node.index] if node.unit == "items" and not groups else 1.0
        cost = _amount_cost_of(node, short, self.hours_per_credit, groups, each)
        return (cost, _amount_items(node, short))


def _static_bound(
    p: Problem, node: Node, static: dict[int, tuple[float, float]], touched: set[int]
) -> tuple[float, float]:
    """`_Search._node_lb` for one node, for the bound alone (no search set up)."""
    if id(node) not in touched:
        return static[id(node)]
    if isinstance(node, Choice):
        return _cheapest([_static_bound(p, c, static, touched) for c in node.children], node.need)
    if isinstance(node, ItemLeaf | CompetencyLeaf):
        return (0.0, 0.0)  # touched: it accepts an achievement, or the competency holds
    total = sum(value_of(p.achievements[a], node.unit) for a in p.eligible[node.index])
    short = node.amount - total
    if short <= 1e-9:
        return (0.0, 0.0)
    return (amount_cost(p, node, short), _amount_items(node, short))
