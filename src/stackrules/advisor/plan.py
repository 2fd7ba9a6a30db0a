"""Plan stage: a rule set, one learner's record, a target credential and an as-of date in; the
cheapest set of catalog items whose completion earns the target out, in terms.

How it is exact. The candidates are every catalog item that can reach the target through the
graph (named, selected, teaching a competency it asks for, a source of an equivalency whose
grant it counts, or any of these for a credential it ladders on) and that the record does not
already hold as a counting achievement (a `repeatable` item may be taken again). A relaxed
integer program (`relax.py`) is solved for the lexicographically cheapest choice (credits,
then hours, then items); its constraints hold for every choice that truly earns the target, so
its optimum is a lower bound. The engine itself then evaluates the record plus that choice. If
it earns the target, no cheaper choice exists; if not, that one choice is cut from the program
and it is solved again. The engine's verdict is the only test of "earns": the program only
proposes.

The ordering puts the chosen items into terms: an item goes in the first term at whose start
its `prerequisite` holds over the record, the items of earlier terms and the credentials they
earn; `--per-term` caps a term's items or credits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from stackrules import ast
from stackrules.advisor.relax import MAX_COPIES, Candidate, build_relaxation
from stackrules.advisor.scope import Producers, Scope, scope_for
from stackrules.advisor.whatif import Addition, apply_what_if
from stackrules.evaluate import Evaluator
from stackrules.model import AmountLeaf, RuleSet
from stackrules.records import LearnerRecord
from stackrules.report import Report

MAX_ROUNDS = 500  # choices the engine may reject before the search gives up


class PlanError(ValueError):
    """The target is not a credential of the rule set, or the search gave up."""


@dataclass(frozen=True, slots=True)
class Cost:
    credits: float = 0.0
    hours: float = 0.0
    items: int = 0

    def key(self) -> tuple[float, float, int]:
        return (round(self.credits, 6), round(self.hours, 6), self.items)


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


class Planner:
    """Plans for one rule set; reusable across learners and targets."""

    def __init__(self, rules: RuleSet, evaluator: Evaluator) -> None:
        self.rules = rules
        self.evaluator = evaluator
        self.producers = Producers(rules)

    def item_cost(self, item: str) -> Cost:
        it = self.rules.items[item]
        return Cost(it.credits or 0.0, it.hours or 0.0, 1)

    def cost_of(self, items: Sequence[str]) -> Cost:
        costs = [self.item_cost(i) for i in items]
        return Cost(
            sum(c.credits for c in costs), sum(c.hours for c in costs), sum(c.items for c in costs)
        )

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
        record_achs = scope.evaluator.counting(record, as_of)
        # A retake of an item the record holds with a grade never counts where the issuer
        # keeps the best attempt: a planned completion carries no grade, which ranks lower.
        kept_graded = {a.item for a in record_achs if a.grade is not None}
        candidates = []
        for ident in sorted(scope.items):
            it = self.rules.items[ident]
            issuer = self.rules.issuers.get(it.issuer)
            best_kept = issuer is None or issuer.repeats == "best"
            if ident in kept_graded and not it.repeatable and best_kept:
                continue
            copies = self._copies(scope, ident) if it.repeatable else 1
            cost = self.item_cost(ident)
            candidates.append(Candidate(ident, cost.credits, cost.hours, copies))
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
        for rounds in range(1, MAX_ROUNDS + 1):
            chosen = program.solve()
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
                )
                self._order(result, record, as_of, per_term, catalog_date)
                return result
            program.cut(chosen)
        raise PlanError(
            f"no plan for `{target}` proven cheapest after {MAX_ROUNDS} proposals; "
            "the rules' interactions are too many for the search"
        )

    def _copies(self, scope: Scope, ident: str) -> int:
        """How many copies of a repeatable item could ever be counted usefully."""
        it = self.rules.items[ident]
        best = 1
        for cred in scope.credentials.values():
            amounts = [(x.amount, x.unit) for x in cred.leaves if isinstance(x, AmountLeaf)]
            amounts += [(x.amount, x.unit) for x in cred.limits if x.bound == "at least"]
            for amount, unit in amounts:
                per = 1.0 if unit == "items" else it.credits if unit == "credits" else it.hours
                if per:
                    best = max(best, math.ceil(amount / per))
        return min(best, MAX_COPIES)

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
        remaining = list(result.items)
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
            remaining = [i for i in remaining if i not in term.items]

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
