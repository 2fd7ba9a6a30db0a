"""§2 equivalencies and §3 credentials: the fixpoint.

Takes the achievements that count (§1, and a learner's registrar grants); each round fires
every equivalency and earns every credential that the achievements so far allow, all against
the same snapshot, until a round adds nothing. A credential is earned when some exact
allocation (`problems`, `allocation`) meets every requirement and limit; its date is the least
latest completion over the allocations that earn it (§3, §5). Grants that duplicate credit the
learner holds are kept out (§2) and reported as repeats.

Which rules a round looks at comes from the graph's index: those filed under the facts of
what is held, then of what the round before added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

from stackrules import report
from stackrules.dates import lapsed
from stackrules.evaluation.achievements import (
    Ach,
    Firing,
    Grant,
    grant_rank,
    granted,
    one_source_order,
)
from stackrules.evaluation.allocation import (
    Allocation,
    Problem,
    solve,
    surely_incomplete,
    value_of,
)
from stackrules.evaluation.leasttodo import LeastToDo, least_to_do
from stackrules.evaluation.problems import Problems, current_deadline
from stackrules.graph import RuleGraph, Target
from stackrules.matching import in_window
from stackrules.model import (
    AmountLeaf,
    Choice,
    CompetencyLeaf,
    Credential,
    Equivalency,
    GrantSpec,
    ItemLeaf,
    LeafNode,
    Node,
    RuleSet,
)

if TYPE_CHECKING:
    from stackrules.evaluation.exceptions.learner import LearnerExceptions


@dataclass(slots=True)
class Outcome:
    credential: Credential
    allocation: Allocation
    achs: list[Ach]
    earned_on: date | None = None


@dataclass(slots=True)
class State:
    least: dict[str, LeastToDo] = field(default_factory=dict)
    achs: list[Ach] = field(default_factory=list)
    firings: list[Firing] = field(default_factory=list)
    fired: set[int] = field(default_factory=set)
    earned: dict[str, Outcome] = field(default_factory=dict)
    next_atom: int = 0
    # the items of the record's attempts, counting or not (what the learner holds, §4)
    record_items: frozenset[str] = frozenset()
    # grants that duplicate credit the learner holds (§2), reported as repeats
    repeats: list[report.NotCounted] = field(default_factory=list)
    exceptions: LearnerExceptions | None = None  # the learner's exceptions, if any


def target_order(t: Target) -> tuple[str, str]:
    kind, key = t
    return (kind, f"{key:>08}" if isinstance(key, int) else str(key))


class Fixpoint:
    """The fixpoint of one rule set's equivalencies and credentials, for any learner."""

    def __init__(
        self, rules: RuleSet, graph: RuleGraph, problems: Problems, use_index: bool
    ) -> None:
        self.rules = rules
        self.graph = graph
        self.problems = problems
        self.use_index = use_index
        # a one-line transfer's source is looked up, not searched for (False: searched, as
        # the tests compare)
        self.look_up_one_source = True
        self._all_targets: set[Target] = {("credential", c) for c in rules.credentials} | {
            ("equivalency", k) for k in range(len(rules.equivalencies))
        }
        # every rule's place in `target_order`, so that a round sorts by a number
        self.rank: dict[Target, int] = {
            t: k for k, t in enumerate(sorted(self._all_targets, key=target_order))
        }
        # the equivalencies whose `from` is one identifier (`transfer A => B`, which the
        # grammar reads as a list of one), by position: the identifier's leaf
        self._one_source: dict[int, ItemLeaf] = {}
        for k, eq in enumerate(rules.equivalencies):
            source = _single_leaf(eq.source)
            if type(source) is ItemLeaf and len(eq.leaves) == 1 and eq.leaves[0] is source:
                self._one_source[k] = source

    def run(
        self,
        state: State,
        versions: dict[str, Credential],
        held: Sequence[str],
        catalog_date: date,
        as_of: date,
    ) -> set[Target]:
        """Fire and earn until a round adds nothing; `state` holds the outcome. `versions`:
        the credential versions the learner is evaluated against (a learner's overlaid ones
        given), filled as credentials are looked at. Returns every rule looked at."""
        held_items = set(held)
        pending: set[Target] = self.targets(state.achs)
        # a learner's overlaid credentials may count what the index does not file under them
        # (a substitute, an also-allowed item): each round with something new tries them
        overlaid: set[Target] = {("credential", ident) for ident in versions}
        pending |= overlaid
        touched: set[Target] = set(pending)
        while pending:
            snapshot = list(state.achs)
            for kind, key in sorted(pending, key=self.rank.__getitem__):
                if kind == "equivalency":
                    k = int(key)
                    if k in state.fired:
                        continue
                    self._fire(self.rules.equivalencies[k], k, snapshot, state, as_of)
                else:
                    ident = str(key)
                    if ident in state.earned or ident in held_items:
                        continue
                    cred = versions.get(ident) or self.version(ident, catalog_date)
                    if cred is None:
                        continue
                    versions[ident] = cred
                    outcome = self._earn(cred, snapshot, as_of, state)
                    if outcome is not None:
                        state.earned[ident] = outcome
                        ach = self._earned_ach(outcome, state, as_of)
                        if ach is not None:
                            state.achs.append(ach)
            # (all added after the snapshot: a grant of this round may have replaced another)
            new = state.achs[len(snapshot) :]
            # what the new achievements could feed; rules with no index key see everything
            pending = (self.targets(new) | overlaid) if new else set()
            touched |= pending
        return touched

    def targets(self, achs: Sequence[Ach]) -> set[Target]:
        if not self.use_index:
            return set(self._all_targets)
        return self.graph.targets(a.facts() for a in achs)

    def _fire(
        self, eq: Equivalency, k: int, achs: Sequence[Ach], state: State, as_of: date
    ) -> bool:
        one_source = self._one_source.get(k) if self.look_up_one_source else None
        if one_source is not None:
            # A one-line transfer `A => B`: every complete allocation is one achievement of
            # A, so the search's answer is a look-up (best grade, then the most recent, then
            # the search's own order).
            window = eq.window
            ok = self.problems.accepted(one_source, achs, as_of)
            if window is not None:
                ok = [a for a in ok if in_window(window, a.completed_on)]
            if not ok:
                return False
            sources = [min(ok, key=one_source_order)]
        else:
            window_ok = [a for a in achs if in_window(eq.window, a.completed_on)]
            problem, local = self.problems.problem(
                (eq.source,), eq.leaves, (), window_ok, as_of, 15.0
            )
            best = self.problems.solve_remembered(eq, problem, "sources")
            if best is None:
                return False
            sources = [local[i] for i in range(len(local)) if (best.used >> i) & 1]
        state.fired.add(k)
        firing_id = len(state.firings)
        grants: list[Ach] = []
        if not eq.no_credit:
            atoms = 0
            for s in sources:
                atoms |= s.atoms
            for g in eq.grants:
                granted = self._grant(eq, g.item, sources, atoms, firing_id, g, as_of)
                if granted is None:
                    continue
                if any(a.item == granted.item and a.atoms == atoms for a in state.achs):
                    continue  # already held from the same evidence: adds nothing
                grants.append(granted)
            if not grants:
                return False
        state.firings.append(Firing(eq, sources, grants))
        for granted in grants:
            self._hold(granted, achs, state)
        return True

    def _hold(self, granted: Ach, snapshot: Sequence[Ach], state: State) -> None:
        """Add a grant to what the learner holds, unless it duplicates credit (§2): of a
        non-repeatable item the learner holds once, a record attempt before any grant, and
        among grants the best by §1's ranking. A grant of this round (not in the snapshot,
        so nothing has counted it yet) gives way to a better one; an earlier one stays. The
        grant that loses is reported as a `repeat`; its firing stays in `transfers`."""
        item = self.rules.items.get(granted.item)
        if item is not None and item.repeatable:
            state.achs.append(granted)
            return
        held = next((a for a in state.achs if a.item == granted.item), None)
        if held is None:
            state.achs.append(granted)
            return
        loser = granted
        this_round = held.origin == "granted" and all(a is not held for a in snapshot)
        if this_round and grant_rank(self.rules, granted) > grant_rank(self.rules, held):
            state.achs[state.achs.index(held)] = granted
            loser = held
        state.repeats.append(
            report.NotCounted(
                item=loser.item,
                reason="repeat",
                rule=loser.rule,
                source=loser.where,
                detail="granted again; another achievement of this item counts",
            )
        )

    def _grant(
        self,
        eq: Equivalency,
        ident: str,
        sources: list[Ach],
        atoms: int,
        firing: int,
        spec: object,
        as_of: date,
    ) -> Ach | None:
        assert isinstance(spec, GrantSpec)
        return granted(
            self.rules,
            ident,
            sources,
            as_of,
            Grant(spec.credits, spec.hours, spec.subject, spec.level),
            atoms=atoms,
            firing=firing,
            rule=eq.rule,
            where=eq.where,
            sort_key=("granted", ident, eq.order, tuple(s.sort_key for s in sources)),
        )

    def version(self, ident: str, catalog_date: date) -> Credential | None:
        versions = self.rules.credentials[ident]
        for v in versions:
            if in_window(v.window, catalog_date) or v.window is None:
                return v
        started = [v for v in versions if v.window is not None and v.window.start <= catalog_date]
        return started[-1] if started else None

    def _earn(
        self, cred: Credential, achs: Sequence[Ach], as_of: date, state: State
    ) -> Outcome | None:
        least = least_to_do(self.problems, cred, achs, as_of, state.record_items)
        state.least[cred.id] = least  # the in-progress report reuses it
        if least.light.incomplete or surely_incomplete(least.problem):
            return None  # not earned; what remains is searched only if reported
        best = least.allocation
        if best is None or not best.complete or any(best.limit_shortfall):
            return None
        held = state.record_items | {a.item for a in achs}
        found = self._earliest(cred, achs, as_of, held)
        assert found is not None  # earned on everything, so earned by the latest date
        day, allocation, local = found
        return Outcome(cred, allocation, local, day)

    def _earliest(
        self, cred: Credential, achs: Sequence[Ach], as_of: date, held: frozenset[str]
    ) -> tuple[date | None, Allocation, list[Ach]] | None:
        """The least latest completion date over every allocation that earns it and uses a
        dated achievement (none when none does), and an allocation that achieves it: one
        counting only achievements dated on or before it (§3, §5). None when not earned."""
        dates = sorted({a.completed_on for a in achs if a.completed_on is not None})

        def feasible(limit: date | None) -> tuple[Allocation, list[Ach]] | None:
            allowed = [
                a for a in achs if a.completed_on is None or (limit and a.completed_on <= limit)
            ]
            problem, local = self.problems.credential_problem(cred, allowed, as_of, held)
            if surely_incomplete(problem):
                return None
            best = self.problems.solve_remembered(cred, problem, "least")
            if best is None or not best.complete or any(best.limit_shortfall):
                return None
            return best, local

        if not dates:
            found = feasible(None)
            return None if found is None else (None, *found)
        undated = feasible(None)
        if undated is not None:
            # Earned without a date; the date is that of the first dated achievement some
            # allocation that earns it counts as well (none if no allocation counts one).
            for a in sorted(
                (a for a in achs if a.completed_on is not None and self._accepted(cred, a, as_of)),
                key=lambda a: a.completed_on or date.min,
            ):
                day = a.completed_on
                assert day is not None
                allowed = [b for b in achs if b.completed_on is None or b.completed_on <= day]
                if self._earns_counting(cred, allowed, a, as_of, held):
                    found = feasible(day)
                    assert found is not None  # more achievements never lose an allocation
                    return (day, *found)
            return (None, *undated)
        lo, hi = 0, len(dates) - 1
        if feasible(dates[hi]) is None:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if feasible(dates[mid]) is not None:
                hi = mid
            else:
                lo = mid + 1
        found = feasible(dates[lo])
        assert found is not None
        return (dates[lo], *found)

    def _earns_counting(
        self, cred: Credential, achs: Sequence[Ach], a: Ach, as_of: date, held: frozenset[str]
    ) -> bool:
        """Whether some allocation of `achs` earns `cred` and counts `a`: for some leaf that
        accepts `a`, the tree with `a` on that leaf (an identifier leaf then holds; an amount
        needs that much less) and one more named requirement that only `a` meets (so that
        `a` counts toward the limits once, and nowhere else)."""
        problem, local = self.problems.credential_problem(cred, achs, as_of, held)
        position = next((k for k, b in enumerate(local) if b is a), None)
        if position is None:
            return False  # no leaf takes it (a leaf a registrar's exception turned it away from)
        n = len(cred.leaves)
        extra = ItemLeaf(n, "", (), cred.where, a.item)
        deadline = current_deadline()
        for leaf in problem.leaves:
            k = leaf.index
            if type(leaf) is CompetencyLeaf or position not in problem.eligible[k]:
                continue
            leaves = list(problem.leaves)
            eligible = list(problem.eligible)
            if type(leaf) is AmountLeaf:
                rest = max(0.0, leaf.amount - value_of(a.candidate(), leaf.unit))
                less = replace(leaf, amount=rest)
                leaves[k] = less  # (the same index: it keeps what it accepts but `a`)
                on: Node = less
                eligible[k] = [i for i in eligible[k] if i != position]
            else:
                on = Choice(0, (), "all")  # an identifier leaf `a` takes holds
                eligible[k] = ()
            forced = Problem(
                roots=[*(_swapped(r, leaf, on) for r in problem.roots), extra],
                leaves=[*leaves, extra],
                achievements=problem.achievements,
                eligible=[*eligible, [position]],
                conflicts=problem.conflicts,
                limits=problem.limits,
                competency_met=[*problem.competency_met, False],
                missing_cost=[*problem.missing_cost, 1.0],
                hours_per_credit=problem.hours_per_credit,
                held=[*problem.held, False],
                repeatable=[*problem.repeatable, True],
                group_costs=[*problem.group_costs, ()],
            )
            best = solve(forced, "least", deadline)
            if best is not None and best.complete and not any(best.limit_shortfall):
                return True
        return False

    def _accepted(self, cred: Credential, a: Ach, as_of: date) -> bool:
        """Whether some leaf of `cred` would count `a` (competency leaves only look)."""
        return any(
            not isinstance(leaf, CompetencyLeaf) and self.problems.eligible(leaf, a, as_of)
            for leaf in cred.leaves
        )

    def _earned_ach(self, outcome: Outcome, state: State, as_of: date) -> Ach | None:
        cred = outcome.credential
        item = self.rules.items[cred.id]
        if lapsed(outcome.earned_on, cred.valid_for, as_of):
            return None  # expired: reported, but counts toward nothing else
        atom = state.next_atom
        state.next_atom += 1
        return Ach(
            item=cred.id,
            issuer=item.issuer,
            kind=cred.kind,
            grade=None,
            credits=cred.credits,
            hours=cred.hours,
            completed_on=outcome.earned_on,
            subject=item.subject,
            level=item.level,
            tags=item.tags,
            competencies={},
            origin="earned",
            atoms=1 << atom,
            sort_key=("earned", cred.id),
        )


def _single_leaf(node: Node) -> Node:
    """`node` without the lists of one around it (`A` for `all of (A)`)."""
    while type(node) is Choice and len(node.children) == 1 and node.need == 1:
        node = node.children[0]
    return node


def _swapped(node: Node, old: LeafNode, new: Node) -> Node:
    """`node` with the leaf `old` replaced by `new` (new lists only on the way to it)."""
    if node is old:
        return new
    if isinstance(node, Choice):
        children = tuple(_swapped(c, old, new) for c in node.children)
        if any(c is not d for c, d in zip(children, node.children, strict=True)):
            return replace(node, children=children)
    return node
