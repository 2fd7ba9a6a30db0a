"""A relaxation of "does this record, plus these catalog items, earn the target?" as an
integer program, solved exactly with HiGHS.

Takes a scope (the rules that can matter), the learner's counting achievements and the
candidate catalog items; gives the cheapest choice of candidates (least work in
credit-equivalents, then credits, then hours, then fewest items) under constraints that every
choice that truly earns the target satisfies:

- a 0/1 variable per candidate copy (a `repeatable` item may be taken more than once, up to a
  bound no cheapest plan exceeds: `Planner.copy_bound`), per
  equivalency (fires) and per credential (earned); the target is earned;
- per rule, its requirement tree: a named requirement holds, `N of` holds N children, an
  identifier leaf takes one eligible achievement, an amount leaf takes achievements worth its
  amount, a competency leaf sees one; inside one rule an achievement goes to one leaf at most;
- an achievement is there only if its producer is: the candidate taken, the equivalency fired,
  the credential earned; rounds (an integer per rule) forbid circular support, as the
  evaluator's fixpoint does;
- a grant is not counted beside a source its equivalency cannot do without (the only
  achievement of an item every firing needs); `limit at least` holds over what is available,
  `limit at most` over what the leaves take where membership is certain.

Whatever cannot be known before evaluation (a grant's grade, date and transfer flag, an earned
credential's date) is left unconstrained, so the program only ever allows more than the engine:
its optimum is a lower bound, and a choice the engine confirms at that bound is the cheapest.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import highspy
from highspy import highs_linear_expression, highs_var
from highspy.highs import qsum

from stackrules import ast
from stackrules.advisor.scope import Producer, Producers, Scope, uncertain_transfer
from stackrules.evaluation.achievements import Ach
from stackrules.evaluation.allocation import SearchTimeout, seconds_left, value_of
from stackrules.evaluation.exceptions.overlay import AdjustedLeaves
from stackrules.evaluation.problems import current_deadline
from stackrules.matching import first_failure, in_window, matches_selector
from stackrules.model import (
    AmountLeaf,
    Choice,
    CompetencyLeaf,
    ItemLeaf,
    LeafNode,
    Limit,
    Node,
    RuleSet,
)

Var = highs_var
Expr = highs_linear_expression
RuleKey = tuple[str, str | int]

_EPS = 1e-6
_INF = highspy.kHighsInf


@dataclass(frozen=True, slots=True)
class Candidate:
    """A catalog item the learner could take: its cost and how many copies the program may
    take (1 unless `repeatable`; for a repeatable item a bound that no cheapest plan exceeds,
    see `Planner.copy_bound`)."""

    item: str
    work: float
    credits: float
    hours: float
    copies: int


@dataclass(slots=True)
class _Slot:
    """One achievement the program may count: from the record, a candidate copy, a grant or
    an earned credential. `var` is None when it is certainly there (the record)."""

    kind: str  # record | item | grant | credential
    item: str
    var: Var | None
    producer: Producer | None = None
    ach: Ach | None = None
    rule: str | None = None  # ("E", k) or ("C", id) key of the producing rule
    copy: int = 0

    def value(self, unit: str) -> float:
        src = self.ach if self.ach is not None else self.producer
        assert src is not None
        return value_of(src, unit)


@dataclass(frozen=True, slots=True)
class _Hypo:
    """What a modifier sees of a candidate: completed on the as-of date, no grade."""

    completed_on: date
    grade: str | None = None


@dataclass(slots=True)
class Relaxation:
    """The program, built once per learner and target; `cut` removes a rejected choice."""

    highs: highspy.Highs
    copies: dict[str, list[Var]]  # candidate item -> its copy variables
    costs: dict[str, tuple[float, float, float]]  # work, credits, hours
    waiting: frozenset[str] = frozenset()  # items whose prerequisite the record does not meet
    stages: list[tuple[Expr, int]] = field(default_factory=list)  # objective, its row

    def solve(self) -> list[str] | None:
        """The cheapest choice, lexicographically (work, credits, hours, items); None when the
        program is infeasible (no choice of candidates can earn the target). Among equally
        cheap choices, the fewest items that wait on a prerequisite; then, so that the answer
        is the same whatever the solver's version, the items that come first in identifier
        order (the least sum of the chosen copies' positions in that order, then of their
        squares). Every item's first copy comes before any second copy in that order, so a
        tie goes to different courses before a repeatable one is taken again."""
        h = self.highs
        xs = [
            (item, v)
            for _, item, v in sorted(
                (k, item, v) for item, vs in self.copies.items() for k, v in enumerate(vs)
            )
        ]
        if not xs:
            _within_deadline(h)
            h.run()
            _check_time(h)
            return [] if _optimal(h) else None
        if not self.stages:
            objectives = [
                [(self.costs[item][0], v) for item, v in xs],
                [(self.costs[item][1], v) for item, v in xs],
                [(self.costs[item][2], v) for item, v in xs],
                [(1.0, v) for _, v in xs],
                [(1.0 if item in self.waiting else 0.0, v) for item, v in xs],
                [(float(k + 1), v) for k, (_, v) in enumerate(xs)],
                [(float((k + 1) ** 2), v) for k, (_, v) in enumerate(xs)],
            ]
            for weights in objectives:
                expr = qsum(w * v for w, v in weights)
                # one row per objective, never removed (removing rows renumbers the others):
                # a stage's optimum becomes its row's upper bound for the later stages
                added = h.addConstr(expr <= _INF)
                self.stages.append((expr, int(added.index)))
        for _, index in self.stages:
            h.changeRowBounds(index, -_INF, _INF)
        for expr, index in self.stages:
            _within_deadline(h)
            h.minimize(expr)
            _check_time(h)
            if not _optimal(h):
                return None
            best = h.getInfo().objective_function_value
            h.changeRowBounds(index, -_INF, best + _EPS * max(1.0, abs(best)))
        chosen: list[str] = []
        for item, v in xs:
            if h.val(v) > 0.5:
                chosen.append(item)
        return chosen

    def cut(self, chosen: Sequence[str]) -> None:
        """Exclude exactly this choice (a no-good cut over the copy variables)."""
        counts: dict[str, int] = {}
        for item in chosen:
            counts[item] = counts.get(item, 0) + 1
        terms = []
        size = 0
        for item, vs in self.copies.items():
            n = counts.get(item, 0)
            for k, v in enumerate(vs):
                if k < n:
                    terms.append(-1.0 * v)
                    size += 1
                else:
                    terms.append(1.0 * v)
        if not terms:
            self.highs.addConstr(qsum([]) >= 1)
            return
        self.highs.addConstr(qsum(terms) >= 1 - size)


_banner_shown = False


def _new_highs() -> highspy.Highs:
    """A solver instance. HiGHS 1.16 prints a banner to the process's standard output (file
    descriptor 1, below Python's `sys.stdout`) the first time one is made, which would corrupt
    the JSON that `plan` and `nearest` print: the first construction runs with descriptor 1
    pointed at the null device."""
    global _banner_shown
    if _banner_shown:
        return highspy.Highs()  # type: ignore[no-untyped-call]
    _banner_shown = True
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        return highspy.Highs()  # type: ignore[no-untyped-call]
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
        finally:
            os.close(null)
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        _flush_c_stdio()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


def _flush_c_stdio() -> None:
    """Flush the C library's buffered output (what the solver wrote) while it still goes to
    the null device."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)


def _within_deadline(h: highspy.Highs) -> None:
    """Give the solver the time left before this thread's search deadline
    (`problems.searches_within`; none: no limit), or raise `SearchTimeout` if it has passed.
    HiGHS reads its `time_limit` afresh at each run."""
    deadline = current_deadline()
    if deadline is None:
        h.setOptionValue("time_limit", _INF)
        return
    left = seconds_left(deadline)
    if left <= 0:
        raise SearchTimeout
    h.setOptionValue("time_limit", left)


def _check_time(h: highspy.Highs) -> None:
    """`SearchTimeout` if the solver stopped at its time limit: its answer is not the
    optimum (and not a proof that there is none)."""
    if h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit:
        raise SearchTimeout


class SolverError(RuntimeError):
    """The solver stopped without an answer: neither an optimum nor a proof that there is
    none (an error, a numerical failure, an iteration limit)."""


def _optimal(h: highspy.Highs) -> bool:
    """True at an optimum, False when the program is infeasible (no plan exists); anything
    else is `SolverError`, never read as "unreachable"."""
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return True
    if status in (
        highspy.HighsModelStatus.kInfeasible,
        # (a program over 0/1 variables with a bounded objective cannot be unbounded)
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        return False
    raise SolverError(f"the integer-program solver stopped without an answer ({status.name})")


def build_relaxation(
    rules: RuleSet,
    scope: Scope,
    producers: Producers,
    target: str,
    record: Sequence[Ach],
    candidates: Sequence[Candidate],
    as_of: date,
    waiting: frozenset[str] = frozenset(),
) -> Relaxation:
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    h.setOptionValue("threads", 1)
    hypo = _Hypo(as_of)

    # -- producers' variables
    rule_keys: list[RuleKey] = [("C", c) for c in scope.credentials]
    rule_keys += [("E", k) for k in scope.equivalencies]
    active: dict[RuleKey, Var] = {key: h.addBinary() for key in rule_keys}
    rounds = {key: h.addIntegral(lb=0, ub=len(rule_keys)) for key in rule_keys}
    h.addConstr(active[("C", target)] >= 1)

    slots: list[_Slot] = [_Slot("record", a.item, None, ach=a) for a in record]
    copies: dict[str, list[Var]] = {}
    item_producers = {p.item: p for p in producers.all if p.kind == "item"}
    for c in candidates:
        vs = [h.addBinary() for _ in range(c.copies)]
        for a, b in itertools.pairwise(vs):
            h.addConstr(a >= b)
        copies[c.item] = vs
        for k, v in enumerate(vs):
            slots.append(_Slot("item", c.item, v, producer=item_producers[c.item], copy=k))
    for k in scope.equivalencies:
        for p in producers.all:
            if p.kind == "grant" and p.rule == k:
                slots.append(_Slot("grant", p.item, active[("E", k)], producer=p, rule=f"E{k}"))
    for ident in scope.credentials:
        for p in producers.by_item.get(ident, ()):
            if p.kind == "credential":
                slots.append(
                    _Slot("credential", ident, active[("C", ident)], producer=p, rule=f"C{ident}")
                )
    by_item: dict[str, list[_Slot]] = {}
    for s in slots:
        by_item.setdefault(s.item, []).append(s)

    def names(leaf: LeafNode, s: _Slot) -> bool:
        if isinstance(leaf, ItemLeaf):
            return s.item == leaf.item
        if isinstance(leaf, CompetencyLeaf):
            if s.ach is not None:
                return s.ach.competencies.get(leaf.competency, -1) >= leaf.level
            assert s.producer is not None
            return dict(s.producer.teaches).get(leaf.competency, -1) >= leaf.level
        if leaf.ids is not None:
            return s.item in leaf.ids
        assert leaf.selector is not None
        if s.ach is not None:
            return matches_selector(leaf.selector, s.ach)
        assert s.producer is not None
        return s.producer.matches(leaf.selector)

    def modifiers_ok(mods: Sequence[ast.Modifier], s: _Slot) -> bool:
        if s.kind == "record":
            assert s.ach is not None
            return first_failure(mods, s.ach, as_of) is None
        if s.kind == "item":
            return first_failure(mods, hypo, as_of) is None
        return True  # grade and date unknown before evaluation: allowed

    def window_ok(window: ast.Window | None, s: _Slot) -> bool:
        if s.kind == "record":
            assert s.ach is not None
            return in_window(window, s.ach.completed_on)
        if s.kind == "item":
            return in_window(window, as_of)
        return True

    def producer_key(s: _Slot) -> RuleKey | None:
        if s.kind == "grant":
            assert s.producer is not None
            return ("E", s.producer.rule)
        if s.kind == "credential":
            return ("C", s.item)
        return None

    def candidate_slots(leaf: LeafNode) -> list[_Slot]:
        if isinstance(leaf, ItemLeaf):
            return by_item.get(leaf.item, [])
        if isinstance(leaf, AmountLeaf) and leaf.ids is not None:
            return [s for i in sorted(leaf.ids) for s in by_item.get(i, [])]
        return slots

    big = float(len(rule_keys) + 1)
    for key in rule_keys:
        kind, rule_id = key
        ident = str(rule_id)
        me = active[key]
        if kind == "C":
            cred = scope.credentials[str(ident)]
            roots: list[Node] = [r.root for r in cred.requirements]
            leaves = cred.leaves
            window = None
            limits: tuple[Limit, ...] = cred.limits
        else:
            eq = scope.equivalencies[int(str(ident))]
            roots = [eq.source]
            leaves = eq.leaves
            window = eq.window
            limits = ()
        holds: dict[int, Var] = {}
        used_by: dict[object, list[Var]] = {}  # unit of evidence -> its z in this rule
        slot_pos = {id(s): n for n, s in enumerate(slots)}
        eligible_any: set[int] = set()
        taken: dict[int, list[tuple[_Slot, Var]]] = {}
        # a learner's exceptions (`stackrules.exceptions`): what each leaf also takes or refuses
        adjusted = leaves if isinstance(leaves, AdjustedLeaves) else None
        for leaf in leaves:
            y = h.addBinary()
            holds[leaf.index] = y
            terms = []
            for s in _with_extra(candidate_slots(leaf), adjusted, leaf, by_item):
                if producer_key(s) == key:
                    continue  # a rule never counts its own outcome
                verdict = adjusted.admits(leaf, s.item) if adjusted is not None else None
                if verdict is False:
                    continue
                if not (verdict or names(leaf, s)) or not modifiers_ok(leaf.modifiers, s):
                    continue
                if not window_ok(window, s):
                    continue
                unit = leaf.unit if isinstance(leaf, AmountLeaf) else "items"
                value = s.value(unit) if isinstance(leaf, AmountLeaf) else 1.0
                if value <= 0:
                    # it adds nothing to the amount, but the node may still count it, and
                    # then it counts for the limits (semantics §4): available to them
                    eligible_any.add(slot_pos[id(s)])
                    continue
                z = h.addBinary()
                if s.var is not None:
                    h.addConstr(z <= s.var)
                src = producer_key(s)
                if src is not None:  # counted only after its producer's round
                    h.addConstr(rounds[key] >= rounds[src] + 1 - big * (1 - z))
                terms.append(value * z)
                if not isinstance(leaf, CompetencyLeaf):
                    pos = slot_pos[id(s)]
                    used_by.setdefault(_evidence_key(rules, s, pos), []).append(z)
                    taken.setdefault(pos, []).append((s, z))
                    eligible_any.add(pos)
            if isinstance(leaf, AmountLeaf):
                if leaf.amount > 0:
                    h.addConstr(leaf.amount * y <= qsum(terms))
            elif terms:
                h.addConstr(y <= qsum(terms))
            else:
                h.addConstr(y <= 0)
        for zs in used_by.values():
            if len(zs) > 1:
                h.addConstr(qsum(zs) <= 1)
        _tree(h, roots, holds, me)
        if kind == "C":
            _unit_of_evidence(h, rules, scope, slots, taken, by_item)
            for lim in limits:
                _limit(h, lim, me, slots, eligible_any, taken, as_of, hypo)
    costs = {c.item: (c.work, c.credits, c.hours) for c in candidates}
    return Relaxation(h, copies, costs, waiting)


def _with_extra(
    found: list[_Slot],
    adjusted: AdjustedLeaves | None,
    leaf: LeafNode,
    by_item: dict[str, list[_Slot]],
) -> list[_Slot]:
    """The slots a leaf may take, with those of the items an exception adds to it."""
    if adjusted is None or not adjusted.extra[leaf.index]:
        return found
    seen = {id(s) for s in found}
    more = [s for i in sorted(adjusted.extra[leaf.index]) for s in by_item.get(i, ())]
    return [*found, *(s for s in more if id(s) not in seen)]


def _evidence_key(rules: RuleSet, s: _Slot, pos: int) -> object:
    """Attempts of an item that is not `repeatable` count as one achievement (the record's
    and a planned retake alike: the engine keeps one of them), so they share one use."""
    if s.kind in ("record", "item"):
        item = rules.items.get(s.item)
        if item is not None and not item.repeatable:
            return ("item", s.item)
    return pos


def _tree(h: highspy.Highs, roots: Sequence[Node], holds: dict[int, Var], me: Var) -> None:
    def node(n: Node) -> Var:
        if not isinstance(n, Choice):
            return holds[n.index]
        y: Var = h.addBinary()
        kids = [node(c) for c in n.children]
        h.addConstr(n.need * y <= qsum(kids))
        return y

    for r in roots:
        h.addConstr(me <= node(r))


def _unit_of_evidence(
    h: highspy.Highs,
    rules: RuleSet,
    scope: Scope,
    slots: Sequence[_Slot],
    taken: dict[int, list[tuple[_Slot, Var]]],
    by_item: dict[str, list[_Slot]],
) -> None:
    """A grant and a source its firing cannot do without are never counted together: the
    source item must be the one achievement of its kind (no grant or second copy of it)."""
    for pos, uses in taken.items():
        s = slots[pos]
        if s.kind != "grant":
            continue
        assert s.producer is not None
        eq = rules.equivalencies[s.producer.rule]
        for need in _necessary_items(eq.source):
            options = by_item.get(need, [])
            if len(options) != 1 or options[0].kind not in ("record", "item"):
                continue
            other = [z for (t, z) in taken.get(_index(slots, options[0]), [])]
            if other:
                mine = [z for _, z in uses]
                h.addConstr(qsum(mine + other) <= 1)


def _index(slots: Sequence[_Slot], s: _Slot) -> int:
    for n, t in enumerate(slots):
        if t is s:
            return n
    return -1


def _necessary_items(node: Node) -> list[str]:
    if isinstance(node, ItemLeaf):
        return [node.item]
    if isinstance(node, Choice) and node.need == len(node.children):
        return [i for c in node.children for i in _necessary_items(c)]
    return []


def _limit(
    h: highspy.Highs,
    lim: Limit,
    me: Var,
    slots: Sequence[_Slot],
    eligible_any: set[int],
    taken: dict[int, list[tuple[_Slot, Var]]],
    as_of: date,
    hypo: _Hypo,
) -> None:
    def selects(s: _Slot) -> bool | None:
        """True/False when certain; None when it depends on evaluation."""
        if lim.ids is not None and s.item not in lim.ids:
            return False
        if s.kind == "record":
            assert s.ach is not None
            if lim.selector is not None and not matches_selector(lim.selector, s.ach):
                return False
            return first_failure(lim.modifiers, s.ach, as_of) is None
        assert s.producer is not None
        if lim.selector is not None and not s.producer.matches(lim.selector):
            return False
        if s.kind == "item":
            return first_failure(lim.modifiers, hypo, as_of) is None
        unsure = s.kind == "grant" and s.producer.transfer is None
        if lim.modifiers or (unsure and uncertain_transfer(lim.selector)):
            return None
        return True

    if lim.bound == "at least":
        terms: list[Expr] = []
        held = 0.0  # what the record surely brings
        for pos in sorted(eligible_any):
            s = slots[pos]
            if selects(s) is False:
                continue
            v = s.value(lim.unit)
            if v > 0 and s.var is None:
                held += v
            elif v > 0 and s.var is not None:
                terms.append(v * s.var)
        h.addConstr(lim.amount * me - held <= qsum(terms))
        return
    terms = []
    for pos, uses in taken.items():
        s = slots[pos]
        if selects(s) is True:
            v = s.value(lim.unit)
            terms += [v * z for _, z in uses]
    if terms:
        bound = lim.amount + _big_total(slots, lim.unit)
        h.addConstr(qsum(terms) <= lim.amount + bound * (1 - me))


def _big_total(slots: Sequence[_Slot], unit: str) -> float:
    return math.fsum(s.value(unit) for s in slots) + 1.0
