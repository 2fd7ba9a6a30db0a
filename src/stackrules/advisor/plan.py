"""Plan stage: a rule set, one learner's record, a target credential and an as-of date in; the
cheapest set of catalog items whose completion earns the target out, in terms.

What a learner can take. A candidate is a catalog item that some rule that can reach the
target counts (named, selected, teaching a competency it asks for, a source of an equivalency
whose grant it counts, or any of these for a credential it ladders on), that is not a
credential, and that is not *only granted*: an item declared only by a grant line, or an
unassigned-credit identifier (its code ends in a digit and two or more `X`, as in
`UVIC:ENGL-1XX`) that some equivalency grants, is what a registrar posts for other work, never
a course on offer. The record's own attempts of such items still count as usual.

What "cheapest" means. The least *work*, in credit-equivalents: an item's credits; for an item
with no credit value, its hours at its issuer's `hours per credit`, else 1 (semantics §4 prices
an item with no credit value at 1): a zero-credit badge is still work. Ties go to fewer
credits, then fewer hours, then fewer items.

How it is exact. A relaxed integer program (`relax.py`) is solved for the lexicographically
cheapest choice of candidates; its constraints hold for every choice that truly earns the
target, so its optimum is a lower bound. The engine itself then evaluates the record plus that
choice. If it earns the target, no cheaper choice exists; if not, that one choice is cut from
the program and it is solved again. The engine's verdict is the only test of "earns": the
program only proposes. A `repeatable` item may be taken several times; the program offers as
many copies as `copy_bound` gives, a bound that no cheapest plan exceeds (see there), so the
bound never changes the answer.

The ordering puts the chosen items into terms: an item goes in the first term at whose start
its `prerequisite` holds over the record, the items of earlier terms and the credentials they
earn; `--per-term` caps a term's items or credits (each copy of a repeatable item is an item).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from stackrules import ast
from stackrules.advisor.relax import Candidate, SolverError, build_relaxation
from stackrules.advisor.scope import Producer, Producers, Scope, scope_for
from stackrules.advisor.whatif import Addition, apply_what_if
from stackrules.evaluation.allocation import value_of
from stackrules.evaluation.evaluator import Evaluator
from stackrules.exceptions.advisor import planning_view
from stackrules.model import AmountLeaf, LeafNode, Limit, RuleSet
from stackrules.records import LearnerRecord
from stackrules.report import Report

MAX_ROUNDS = 500  # choices the engine may reject before the search gives up
# Proposals the engine may reject before the search leaves out the courses the learner holds
# through transfer: taking one replaces the transfer credit (no duplicate credit, §2), which
# the integer program does not model, so it keeps proposing them where they add nothing. It
# then finishes quickly, with a plan the engine has checked but not proven the cheapest.
FALLBACK_ROUNDS = 40


class PlanError(ValueError):
    """The target is not a credential of the rule set, or the search gave up."""


@dataclass(frozen=True, slots=True)
class Cost:
    """What a plan costs. `work` is in credit-equivalents (credits; for an item with no credit
    value its hours at its issuer's `hours per credit`, else 1); it ranks first."""

    credits: float = 0.0
    hours: float = 0.0
    items: int = 0
    work: float = 0.0

    def key(self) -> tuple[float, float, float, int]:
        return (round(self.work, 6), round(self.credits, 6), round(self.hours, 6), self.items)


@dataclass(frozen=True, slots=True)
class PerTerm:
    """At most `amount` items (unit "items") or credits (unit "credits") in one term."""

    amount: float
    unit: str

    @staticmethod
    def parse(text: str) -> PerTerm:
        spec = text.strip().lower()
        unit = "items"
        if spec.endswith("cr"):
            spec, unit = spec[:-2], "credits"
        try:
            amount = float(spec)
        except ValueError:
            raise PlanError(
                f"`{text}` is not a term size: write a number of items (`5`) or of credits (`15cr`)"
            ) from None
        if amount <= 0 or (unit == "items" and not amount.is_integer()):
            raise PlanError(f"`{text}`: a term holds a positive whole number of items or credits")
        return PerTerm(amount, unit)


@dataclass(slots=True)
class Term:
    items: list[str] = field(default_factory=list)
    credits: float = 0.0


@dataclass(slots=True)
class PlanResult:
    target: str
    status: str  # planned | earned | held | unreachable | not-offered
    items: list[str] = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    terms: list[Term] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)  # item -> unmet prerequisite
    rounds: int = 0  # choices proposed to the engine
    report: Report | None = None  # the engine's report on the record plus the plan
    started: bool = False  # in progress, or the completion counts what the learner has
    # False when the search had to leave out courses the learner holds through transfer to
    # finish (`FALLBACK_ROUNDS`): a plan, checked by the engine, but not proven the cheapest
    proven: bool = True


class Planner:
    """Plans for one rule set; reusable across learners and targets."""

    def __init__(self, rules: RuleSet, evaluator: Evaluator) -> None:
        self.rules = rules
        self.evaluator = evaluator
        self.producers = Producers(rules)

    def item_work(self, item: str) -> float:
        """An item's work in credit-equivalents: its credits; with no credit value, its hours
        at its issuer's `hours per credit`; else 1."""
        it = self.rules.items[item]
        if it.credits:
            return it.credits
        rate = self.rules.hours_per_credit(item)
        if it.hours and rate:
            return it.hours / rate
        return 1.0

    def item_cost(self, item: str) -> Cost:
        it = self.rules.items[item]
        return Cost(it.credits or 0.0, it.hours or 0.0, 1, self.item_work(item))

    def cost_of(self, items: Sequence[str]) -> Cost:
        costs = [self.item_cost(i) for i in items]
        return Cost(
            math.fsum(c.credits for c in costs),
            math.fsum(c.hours for c in costs),
            sum(c.items for c in costs),
            math.fsum(c.work for c in costs),
        )

    def takeable(self, item: str) -> bool:
        """Whether a learner can take the item: a catalog item, not a credential, and not
        only granted (module docstring)."""
        return self.producers.takeable(item)

    def scope(self, target: str, catalog_date: date) -> Scope:
        return scope_for(self.rules, self.evaluator, self.producers, [target], catalog_date)

    def plan(
        self,
        record: LearnerRecord,
        target: str,
        as_of: date,
        per_term: PerTerm | None = None,
        scope: Scope | None = None,
    ) -> PlanResult:
        if target not in self.rules.credentials:
            raise PlanError(f"`{target}` is not a credential of the rule set")
        catalog_date = record.catalog_date or as_of
        scope = scope or self.scope(target, catalog_date)
        if target not in scope.credentials:
            return PlanResult(target, "not-offered")
        base = scope.evaluator.evaluate(record, as_of)
        if target in base.held:
            return PlanResult(target, "held", report=base)
        if any(e.credential == target for e in base.earned):
            return PlanResult(target, "earned", report=base)
        if record.exceptions:  # the learner's copy of the rules, and what counts for it
            scope, record_achs = planning_view(scope, record, as_of, catalog_date)
        else:
            record_achs = scope.evaluator.counting(record, as_of)
        # A retake of an item the record holds with a grade never counts where the issuer
        # keeps the best attempt: a planned completion carries no grade, which ranks lower.
        kept_graded = {a.item for a in record_achs if a.grade is not None}
        granted = {g for t in base.transfers for g in t.grants}
        candidates = []
        for ident in sorted(scope.items):
            it = self.rules.items[ident]
            issuer = self.rules.issuers.get(it.issuer)
            best_kept = issuer is None or issuer.repeats == "best"
            if ident in kept_graded and not it.repeatable and best_kept:
                continue
            copies = self.copy_bound(scope, ident) if it.repeatable else 1
            cost = self.item_cost(ident)
            candidates.append(Candidate(ident, cost.work, cost.credits, cost.hours, copies))
        have = self._have(scope.evaluator, record, [], as_of)
        waiting = frozenset(
            c.item
            for c in candidates
            if (pre := self.rules.items[c.item].prerequisite) is not None
            and not self._holds(pre, have)
        )
        program = build_relaxation(
            self.rules, scope, self.producers, target, record_achs, candidates, as_of, waiting
        )
        proven = True
        for rounds in range(1, MAX_ROUNDS + 1):
            if rounds == FALLBACK_ROUNDS + 1 and any(
                c.item in granted and not self.rules.items[c.item].repeatable for c in candidates
            ):
                candidates = [
                    c
                    for c in candidates
                    if c.item not in granted or self.rules.items[c.item].repeatable
                ]
                program = build_relaxation(
                    self.rules, scope, self.producers, target, record_achs, candidates, as_of,
                    waiting,
                )  # fmt: skip
                proven = False
            try:
                chosen = program.solve()
            except SolverError as err:
                raise PlanError(f"no plan for `{target}`: {err}") from None
            if chosen is None:
                return PlanResult(target, "unreachable", rounds=rounds)
            trial = apply_what_if(record, [Addition(i) for i in chosen], as_of)
            report = scope.evaluator.evaluate(trial, as_of)
            if any(e.credential == target for e in report.earned):
                result = PlanResult(
                    target,
                    "planned",
                    sorted(chosen),
                    self.cost_of(chosen),
                    rounds=rounds,
                    report=report,
                    started=_started(report, base, record, target, chosen, as_of),
                    proven=proven,
                )
                self._order(result, record, as_of, per_term, catalog_date)
                return result
            program.cut(chosen)
        raise PlanError(
            f"no plan for `{target}` proven cheapest after {MAX_ROUNDS} proposals; "
            "the rules' interactions are too many for the search"
        )

    def copy_bound(self, scope: Scope, ident: str) -> int:
        """How many copies of a repeatable item a cheapest plan can need: no cheapest plan
        takes more, so offering this many never changes the answer.

        Why. Planned copies are identical (same item, date and values, no grade), and each rule
        (credential or equivalency) allocates on its own, so a plan whose rules use copies
        1..k of the item earns what it earned with more. In one rule, drop every copy whose
        removal breaks nothing: each copy left is needed by a leaf or a `limit at least`. A leaf
        naming the item, or a competency leaf, needs one; `N of` needs at most N; an amount
        node of A in a unit where a copy is worth v > 0 needs at most ceil(A / v) (with more,
        one could go and A would still be reached); a copy worth nothing there is needed only
        by a limit; a `limit at least` of L where a copy is worth v > 0 needs at most
        ceil(L / v); `limit at most` needs none. So the largest sum over one rule bounds the
        copies a cheapest plan takes (each extra copy costs at least one item)."""
        item_producer = self.producers.item(ident)
        if item_producer is None:
            return 1
        best = 1
        rules: list[tuple[Sequence[LeafNode], Sequence[Limit]]] = [
            (cred.leaves, cred.limits) for cred in scope.credentials.values()
        ]
        rules += [(eq.leaves, ()) for eq in scope.equivalencies.values()]
        for leaves, limits in rules:
            need = 0
            for leaf in leaves:
                if not any(p is item_producer for p in self.producers.for_leaf(leaf)):
                    continue
                if isinstance(leaf, AmountLeaf):
                    need += _needed(leaf.amount, value_of(item_producer, leaf.unit))
                else:
                    need += 1
            for lim in limits:
                if lim.bound == "at least" and _may_select(lim, item_producer):
                    need += _needed(lim.amount, value_of(item_producer, lim.unit))
            best = max(best, need)
        return best

    # ------------------------------------------------------------ ordering
    def _order(
        self,
        result: PlanResult,
        record: LearnerRecord,
        as_of: date,
        per_term: PerTerm | None,
        catalog_date: date,
    ) -> None:
        prereqs = {
            i: p for i in result.items if (p := self.rules.items[i].prerequisite) is not None
        }
        named = {
            r.ref.id
            for p in prereqs.values()
            for r in _item_refs(p)
            if r.ref.id in self.rules.credentials
        }
        roots = [result.target, *sorted(named)]
        evaluator = scope_for(
            self.rules, self.evaluator, self.producers, roots, catalog_date
        ).evaluator
        remaining = list(result.items)  # a multiset: copies of a repeatable item are items
        done: list[str] = []
        depth = _chain_depth(result.items, prereqs)
        while remaining:
            have = self._have(evaluator, record, done, as_of)
            ready = [i for i in remaining if i not in prereqs or self._holds(prereqs[i], have)]
            if not ready:
                for i in remaining:
                    result.blocked[i] = _prereq_text(prereqs[i])
                ready = list(remaining)
            ready.sort(key=lambda i: (-depth.get(i, 0), self.item_cost(i).key(), i))
            term = Term()
            for i in ready:
                c = self.item_cost(i).credits
                if per_term is not None and term.items:
                    size = len(term.items) + 1 if per_term.unit == "items" else term.credits + c
                    if size > per_term.amount + 1e-9:
                        continue
                term.items.append(i)
                term.credits += c
            result.terms.append(term)
            done += term.items
            for i in term.items:
                remaining.remove(i)  # one copy each

    def _have(
        self, evaluator: Evaluator, record: LearnerRecord, done: list[str], as_of: date
    ) -> set[str]:
        trial = apply_what_if(record, [Addition(i) for i in done], as_of)
        report = evaluator.evaluate(trial, as_of)
        have = {a.item for a in trial.achievements if a.status == "completed"}
        have -= {n.item for n in report.not_counted if n.reason in ("failed", "expired")}
        have |= {e.credential for e in report.earned} | set(report.held)
        return have

    def _holds(self, req: ast.Requirement, have: set[str]) -> bool:
        """Whether a prerequisite holds over what is held (modifiers are not checked: the
        prerequisite asks for the item; its grade rules are the registrar's)."""
        if isinstance(req, ast.ItemReq):
            return req.ref.id in have
        if isinstance(req, ast.CompetencyReq):
            level = self.rules.level_rank(req.level)
            return any(
                dict(self.rules.items[i].teaches).get(req.competency.id, -1) >= level
                for i in have
                if i in self.rules.items
            )
        group = req.group
        if isinstance(req, ast.Amount):
            members = self._members(group, have)
            total = 0.0
            for i in members:
                it = self.rules.items.get(i)
                v = (it.credits if req.unit == "credits" else it.hours) if it else None
                total += v or 0.0
            return total >= float(req.amount)
        if isinstance(group, ast.Selector):
            count = len(self._members(group, have))
        else:
            count = sum(1 for m in group.members if self._holds(m, have))
        need = (
            len(group.members)
            if isinstance(req, ast.AllOf) and isinstance(group, ast.ListGroup)
            else 1
            if isinstance(req, ast.AnyOf)
            else int(getattr(req, "count", 1))
        )
        return count >= need

    def _members(self, group: ast.Group, have: set[str]) -> list[str]:
        if isinstance(group, ast.ListGroup):
            return [
                m.ref.id for m in group.members if isinstance(m, ast.ItemReq) and m.ref.id in have
            ]
        found = []
        for i in sorted(have):
            p = self.producers.by_item.get(i)
            if p and any(q.kind != "grant" and q.matches(group) for q in p):
                found.append(i)
        return found


def _needed(amount: float, value: float) -> int:
    """Copies worth `value` each that an amount of `amount` can need (0 when worthless)."""
    if value <= 0:
        return 0
    return max(1, math.ceil(amount / value - 1e-9))


def _may_select(lim: Limit, p: Producer) -> bool:
    """Whether a limit could select the producer's achievement (modifiers aside)."""
    if lim.ids is not None:
        return p.item in lim.ids
    return lim.selector is None or p.matches(lim.selector)


def _started(
    report: Report,
    base: Report,
    record: LearnerRecord,
    target: str,
    chosen: Sequence[str],
    as_of: date,
) -> bool:
    """Whether the learner has started `target`: the engine reports it in progress on the
    record alone (`base`; semantics §4), or its completion in `report` (the record plus the
    plan) counts something the learner already has: a record achievement, a grant from one, or
    a credential already earned or held."""
    if any(c.credential == target for c in base.in_progress):
        return True
    earned = next((e for e in report.earned if e.credential == target), None)
    if earned is None:
        return False
    planned = set(chosen)
    before = {e.credential for e in base.earned} | set(base.held)
    had = {a.item for a in record.achievements if a.status == "completed"} | before
    for r in earned.requirements:
        for ev in r.evidence:
            if ev.origin == "record":
                if not (ev.item in planned and ev.completed_on == as_of and ev.grade is None):
                    return True
            elif ev.origin == "granted":
                if any(s in had and s not in planned for s in ev.sources):
                    return True
            elif ev.item in before:
                return True
    return False


def _item_refs(req: ast.Requirement) -> list[ast.ItemReq]:
    if isinstance(req, ast.ItemReq):
        return [req]
    if isinstance(req, ast.CompetencyReq):
        return []
    if isinstance(req.group, ast.ListGroup):
        return [r for m in req.group.members for r in _item_refs(m)]
    return []


def _chain_depth(items: Sequence[str], prereqs: dict[str, ast.Requirement]) -> dict[str, int]:
    """How long a chain of planned items waits on each item (longest first goes first)."""
    waits: dict[str, set[str]] = {i: set() for i in items}
    for i, p in prereqs.items():
        for r in _item_refs(p):
            if r.ref.id in waits and r.ref.id != i:
                waits[r.ref.id].add(i)
    depth: dict[str, int] = {}

    def walk(i: str, seen: frozenset[str]) -> int:
        if i in depth:
            return depth[i]
        d = 0
        for j in waits[i]:
            if j not in seen:
                d = max(d, 1 + walk(j, seen | {j}))
        depth[i] = d
        return d

    for i in items:
        walk(i, frozenset({i}))
    return depth


def _prereq_text(req: ast.Requirement) -> str:
    from stackrules.format import requirement_text

    return requirement_text(req)
