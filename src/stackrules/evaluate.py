"""Evaluate stage: a rule set, one learner's record and an as-of date in; a report out.

Pure: no I/O, no globals, no clock. The steps follow `semantics.md`:

1. achievements: which record rows count (§1: failed, in progress, expired, unknown, repeats);
2. a fixpoint of equivalencies (§2) and credentials (§3): each round fires every equivalency
   and earns every credential that the achievements so far allow, all against the same
   snapshot, until a round adds nothing;
3. what remains for credentials in progress (§4), and the audit trail (§5), for the
   credentials the report shows (§6): the pursued ones and the K nearest others.

Inputs are put in a canonical order first, so the report is the same whatever the order of the
record's rows or of the rule files.
"""

from __future__ import annotations

import threading
from bisect import insort
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal, cast

from stackrules import report
from stackrules.allocate import (
    Allocation,
    Candidate,
    LeafHoldings,
    LightVerdict,
    LimitSpec,
    Mode,
    Problem,
    SearchTimeout,
    Template,
    deadline_after,
    light_verdict,
    solve,
    surely_incomplete,
    value_of,
)
from stackrules.coverage import CredentialCatalog, credential_catalog, group_costs
from stackrules.dates import add_duration, lapsed
from stackrules.diagnostics import did_you_mean
from stackrules.exceptions.learner import Overlays
from stackrules.exceptions.overlay import AdjustedLeaves, OverlayCredential
from stackrules.graph import Facts, RuleGraph, Target
from stackrules.matching import SelectorIndex, first_failure, in_window, selector_predicate
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
    complete_amounts,
    grade_rank,
)
from stackrules.records import Achievement, LearnerRecord

if TYPE_CHECKING:
    from stackrules.exceptions.learner import LearnerExceptions

Origin = Literal["record", "granted", "earned", "held"]
# remembered allocation problems per evaluator, the least recently used forgotten first (about
# 2.8 KB each: the bound keeps a worker's memory flat)
SOLVED_CACHE = 20_000
# K: how many credentials in progress a report shows besides the pursued ones (§6)
DEFAULT_IN_PROGRESS = 5
_UNSOLVED = object()  # not among the remembered problems
# The deadline of the evaluation under way in this thread, if it has one: per thread, so that
# threads sharing an evaluator (a Dask dataframe on the threaded scheduler) keep their own.
_EVALUATION = threading.local()
LETTERS = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-")


@dataclass(slots=True, eq=False)
class Ach:
    """One counting achievement, as the evaluator sees it."""

    item: str
    issuer: str
    kind: str
    grade: str | None
    credits: float | None
    hours: float | None
    completed_on: date | None
    subject: str | None
    level: float | None
    tags: frozenset[str]
    competencies: dict[str, int]
    origin: Origin
    atoms: int  # the record achievements (and earned credentials) this rests on, as bits
    firing: int = -1  # the firing that granted it
    transfer: bool = False
    rule: str | None = None
    where: str | None = None
    sources: tuple[Ach, ...] = ()
    sort_key: tuple[object, ...] = ()
    # the allocator's view of it, made once (an achievement takes part in many problems)
    _candidate: Candidate | None = None

    def candidate(self) -> Candidate:
        found = self._candidate
        if found is None:
            found = self._candidate = _candidate(self)
        return found

    def facts(self) -> Facts:
        return Facts(
            self.item, self.issuer, self.kind, self.subject, self.tags, self.competencies.keys()
        )

    def conflicts_with(self, other: Ach) -> bool:
        if self is other:
            return True
        if self.firing >= 0 and self.firing == other.firing:
            return False  # grants of one firing may be counted together
        return bool(self.atoms & other.atoms)


@dataclass(slots=True)
class Firing:
    equivalency: Equivalency
    sources: list[Ach]
    grants: list[Ach]


@dataclass(slots=True)
class Outcome:
    credential: Credential
    allocation: Allocation
    achs: list[Ach]
    earned_on: date | None = None


@dataclass(slots=True)
class LeastToDo:
    """One credential's least-to-do search, each part made when first asked: the
    achievements each leaf accepts (`matches`), what the leaves hold of them (`holdings`) and
    what that alone tells (`light`: no conflicts, no limits; whether the credential could be
    earned and a lower bound of what remains), the whole problem and the achievements its
    indexes refer to, and its best allocation. A credential that is surely not earned and not
    shown never has more than its matches and light verdict made."""

    credential: Credential
    matches: list[Sequence[Ach]]
    holdings: LeafHoldings
    light: LightVerdict
    assemble: Callable[[], tuple[Problem, list[Ach]]]
    search: Callable[[Problem], Allocation | None]
    _built: tuple[Problem, list[Ach]] | None = None
    _found: tuple[Allocation | None] | None = None

    @property
    def started(self) -> bool:
        """Some leaf is met or partly met (§4): it accepts an achievement (an amount: one
        that adds something to it), or its competency holds."""
        return bool(self.holdings)

    @property
    def problem(self) -> Problem:
        if self._built is None:
            self._built = self.assemble()
        return self._built[0]

    @property
    def achs(self) -> list[Ach]:
        if self._built is None:
            self._built = self.assemble()
        return self._built[1]

    @property
    def allocation(self) -> Allocation | None:
        if self._found is None:
            self._found = (self.search(self.problem),)
        return self._found[0]


@dataclass(slots=True)
class _State:
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


# ---------------------------------------------------------------- the evaluator


class EvaluationTimeout(Exception):
    """An evaluation ran past its time limit (`Evaluator.evaluate(..., time_limit=)`)."""

    def __init__(self, learner: str, seconds: float) -> None:
        super().__init__(f"learner {learner}: evaluation took longer than {seconds:g} s")
        self.learner = learner
        self.seconds = seconds


class Evaluator:
    """Evaluates learner records against one compiled rule set. Reusable and stateless, and
    safe to share between threads: what it remembers across learners changes one dictionary
    operation at a time (two threads may both work the same thing out, and get the same
    answer), and a time limit belongs to the thread whose evaluation set it."""

    def __init__(
        self, rules: RuleSet, graph: RuleGraph | None = None, use_index: bool = True
    ) -> None:
        """`use_index=False` evaluates every rule for every learner (the naive baseline the
        benchmark compares against; results are identical)."""
        self.rules = rules
        self.graph = graph or RuleGraph(rules)
        self.selectors = SelectorIndex(rules)
        self.use_index = use_index
        # a one-line transfer's source is looked up, not searched for (False: searched, as
        # the tests compare)
        self.look_up_one_source = True
        self._all_targets: set[Target] = {("credential", c) for c in rules.credentials} | {
            ("equivalency", k) for k in range(len(rules.equivalencies))
        }
        # per leaf or limit (by id; the rule set keeps them alive): whether it names or selects
        # an achievement, as one closure
        self._matchers: dict[int, Callable[[Ach], bool]] = {}
        # solved allocation problems, shared by learners (see `_solve`)
        self._solved: OrderedDict[tuple[object, ...], Allocation | None] = OrderedDict()
        # per requirement tree (a credential version's or an equivalency's leaves, by id, kept
        # alive here so the id stays theirs): what every search over it shares, missing costs
        self._templates: dict[
            int,
            tuple[Sequence[LeafNode], Template, list[float], tuple[tuple[float, ...], ...]],
        ] = {}
        # per credential version (the rule set keeps it alive) and as-of date
        self._catalogs: dict[tuple[int, date], CredentialCatalog] = {}
        self._last_by_item: tuple[Sequence[Ach], int, dict[str, list[Ach]]] | None = None
        self._last_selected: tuple[Sequence[Ach], int, dict[object, list[Ach]]] | None = None
        self._by_issuer: dict[str, list[str]] | None = None
        # credentials as learners' exceptions leave them (`stackrules.exceptions`)
        self.overlays = Overlays(self)

    def _targets(self, achs: Sequence[Ach]) -> set[Target]:
        if not self.use_index:
            return set(self._all_targets)
        return self.graph.targets(a.facts() for a in achs)

    # ------------------------------------------------------------ §1 achievements
    def _record_ach(self, a: Achievement, atom: int) -> Ach:
        item = self.rules.items.get(a.item)
        issuer = a.item.split(":", 1)[0]
        credits = a.credits if a.credits is not None else (item.credits if item else None)
        hours = a.hours if a.hours is not None else (item.hours if item else None)
        rate = self.rules.hours_per_credit(issuer)
        # A catalog value converted from the other (or in step with it) is converted again
        # from the record's overriding value (§1: conversions start from it).
        overrides_one = (a.credits is None) != (a.hours is None)
        if rate and item is not None and overrides_one and _in_step(item.credits, item.hours, rate):
            if a.credits is not None:
                hours = None
            else:
                credits = None
        credits, hours = complete_amounts(rate, credits, hours)
        comps = dict(item.teaches) if item else {}
        for comp, level in a.competencies.items():
            rank = self.rules.level_rank(level)
            comps[comp] = max(comps.get(comp, -1), rank)
        origin: Origin = "held" if item is not None and item.is_credential else "record"
        return Ach(
            item=a.item,
            issuer=issuer,
            kind=item.kind if item else "item",
            grade=a.grade,
            credits=credits,
            hours=hours,
            completed_on=a.completed_on,
            subject=a.subject if a.subject is not None else (item.subject if item else None),
            level=float(a.level) if a.level is not None else (item.level if item else None),
            tags=frozenset(a.tags) if a.tags else (item.tags if item else frozenset()),
            competencies=comps,
            origin=origin,
            atoms=1 << atom,
            sort_key=_achievement_key(a),
        )

    def _base_reason(self, a: Achievement, as_of: date) -> str | None:
        issuer_code = a.item.split(":", 1)[0]
        if a.item not in self.rules.items and issuer_code not in self.rules.mentioned_issuers:
            return "unknown"
        if a.status == "in-progress":
            return "in-progress"
        if a.status in ("failed", "withdrawn") or a.grade == "F":
            return "failed"
        issuer = self.rules.issuers.get(issuer_code)
        passing = issuer.passing_grade if issuer else "D-"
        if a.grade is not None and a.grade != "P" and grade_rank(a.grade) < grade_rank(passing):
            return "failed"
        expiry = a.expires_on
        item = self.rules.items.get(a.item)
        if expiry is None and item is not None and item.valid_for and a.completed_on:
            expiry = add_duration(a.completed_on, item.valid_for)
        if expiry is not None and expiry < as_of:
            return "expired"
        return None

    def counting(self, record: LearnerRecord, as_of: date) -> list[Ach]:
        """The record's achievements that count (§1), in the engine's canonical order: what
        the allocator sees before equivalencies fire and credentials are earned."""
        counting, _ = self._achievements(record, as_of)
        return [ach for _, ach in counting]

    def _achievements(
        self, record: LearnerRecord, as_of: date
    ) -> tuple[list[tuple[Achievement, Ach]], list[report.NotCounted]]:
        rows = sorted(record.achievements, key=_achievement_key)
        not_counted: list[report.NotCounted] = []
        reasons = [self._base_reason(a, as_of) for a in rows]
        # repeats: group attempts of non-repeatable items
        by_item: dict[str, list[int]] = {}
        for i, a in enumerate(rows):
            item = self.rules.items.get(a.item)
            if item is not None and item.repeatable:
                continue
            by_item.setdefault(a.item, []).append(i)
        for item_id, attempts in by_item.items():
            if len(attempts) < 2:
                continue
            issuer = self.rules.issuers.get(item_id.split(":", 1)[0])
            if issuer is not None and issuer.repeats == "latest":
                completed = [i for i in attempts if rows[i].status in ("completed", "failed")]
                # the most recent; among equally recent (or undated) ones, the best-graded
                keep = max(
                    completed,
                    key=lambda i: (
                        rows[i].completed_on or date.min,
                        reasons[i] != "failed",
                        grade_rank(rows[i].grade),
                        _achievement_key(rows[i]),
                    ),
                    default=None,
                )
            else:
                passing = [i for i in attempts if reasons[i] is None]
                keep = max(
                    passing,
                    key=lambda i: (grade_rank(rows[i].grade), _recency(rows[i])),
                    default=None,
                )
            for i in attempts:
                if i != keep and reasons[i] is None:
                    reasons[i] = "repeat"
        counting: list[tuple[Achievement, Ach]] = []
        for i, a in enumerate(rows):
            if reasons[i] is None:
                counting.append((a, self._record_ach(a, len(counting))))
            else:
                detail = (
                    "repeated attempt; another attempt counts" if reasons[i] == "repeat" else None
                )
                reason = cast(report.NotCountedReason, reasons[i])
                not_counted.append(report.NotCounted(item=a.item, reason=reason, detail=detail))
        return counting, not_counted

    # ------------------------------------------------------------ matching
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

    def _problem(
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
        matches = self._matches(leaves, achs, as_of)
        return self._assemble(roots, leaves, limits, matches, as_of, hours_per_credit, cred, held)

    def _credential_problem(
        self, cred: Credential, achs: Sequence[Ach], as_of: date, held: frozenset[str]
    ) -> tuple[Problem, list[Ach]]:
        """The allocation problem of a credential version (`held`: the items the learner
        holds, for retakes)."""
        roots = [r.root for r in cred.requirements]
        return self._problem(
            roots, cred.leaves, cred.limits, achs, as_of, cred.hours_per_credit, cred, held
        )

    def _matches(
        self, leaves: Sequence[LeafNode], achs: Sequence[Ach], as_of: date
    ) -> list[Sequence[Ach]]:
        """Per leaf, the achievements it accepts (a competency leaf: those showing the
        competency; an amount: those in its group, adding something to it or not)."""
        per_leaf: list[Sequence[Ach]] = []
        by_item = self._by_item(achs)
        selected: dict[object, list[Ach]] | None = None
        for leaf in leaves:
            # identifier leaves and lists look achievements up by item; selectors scan, once
            # per learner and round for each distinct selector (many credentials share one)
            if type(leaf) is ItemLeaf:
                named: Sequence[Ach] = by_item.get(leaf.item, ())
            elif type(leaf) is AmountLeaf and leaf.ids is not None:
                ids = leaf.ids
                named = [a for a in achs if a.item in ids]
            elif type(leaf) is AmountLeaf and leaf.selector is not None:
                if selected is None:
                    selected = self._selected(achs)
                found = selected.get(leaf.selector)
                if found is None:
                    match = self.matcher(leaf)
                    found = selected[leaf.selector] = [a for a in achs if match(a)]
                named = found
            else:
                match = self.matcher(leaf)
                named = [a for a in achs if match(a)]
            if not named:
                per_leaf.append(named)
                continue
            mods = leaf.modifiers
            ok = [a for a in named if first_failure(mods, a, as_of) is None] if mods else named
            # (an amount node may count an achievement that adds nothing to it: it then counts
            # for the credential's limits, §4)
            per_leaf.append(ok)
        if type(leaves) is AdjustedLeaves:  # a learner's exceptions (`stackrules.exceptions`)
            return leaves.adjusted(per_leaf, by_item, as_of)
        return per_leaf

    def _assemble(
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
                if self._limit_selects(lim, a, as_of):
                    members |= 1 << k
            specs.append(LimitSpec(lim.bound, lim.amount, lim.unit, members, hours_per_credit))
        catalog = None if cred is None else self.catalog(cred, as_of)
        if catalog is not None:
            specs = [
                LimitSpec(s.bound, s.amount, s.unit, s.members, s.hours_per_credit, cover)
                for s, cover in zip(specs, catalog.covers, strict=True)
            ]
        owner = cred.id if cred is not None else ""
        tpl, costs, groups = self._template(roots, leaves, hours_per_credit, owner)
        items = self.rules.items
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
            repeatable=[
                type(leaf) is ItemLeaf and leaf.item in items and items[leaf.item].repeatable
                for leaf in leaves
            ],
            group_costs=groups,
            template=tpl,
        )
        return problem, local

    def _template(
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
            shared = self._templates[id(leaves)] = (leaves, tpl, costs, groups)
        return shared[1], shared[2], shared[3]

    def _light(self, cred: Credential, holdings: LeafHoldings) -> LightVerdict:
        """What the leaves' holdings alone tell of `cred` (`light_verdict`): no problem is
        built, and learners who hold the same share the answer."""
        roots = [r.root for r in cred.requirements]
        tpl, costs, groups = self._template(roots, cred.leaves, cred.hours_per_credit, cred.id)
        hours_per_credit = cred.hours_per_credit
        return light_verdict(tpl, roots, cred.leaves, holdings, costs, hours_per_credit, groups)

    def _selected(self, achs: Sequence[Ach]) -> dict[object, list[Ach]]:
        """What each selector picks of `achs`, filled as selectors are met: remembered for
        the last list, as `_by_item` is."""
        last = self._last_selected
        if last is not None and last[0] is achs and last[1] == len(achs):
            return last[2]
        found: dict[object, list[Ach]] = {}
        self._last_selected = (achs, len(achs), found)
        return found

    def catalog(self, cred: Credential, as_of: date) -> CredentialCatalog:
        """What the catalog says about `cred`'s missing work (`coverage`), remembered."""
        key = (id(cred), as_of)
        found = self._catalogs.get(key)
        if found is None:
            found = self._catalogs[key] = credential_catalog(
                self.rules, self.selectors, cred, as_of
            )
        return found

    def _by_item(self, achs: Sequence[Ach]) -> dict[str, list[Ach]]:
        """The achievements by item. The credentials of one fixpoint round all read the same
        list, so the last one is remembered (by identity and length: the lists are copies,
        never changed in place)."""
        last = self._last_by_item
        if last is not None and last[0] is achs and last[1] == len(achs):
            return last[2]
        found: dict[str, list[Ach]] = {}
        for a in achs:
            found.setdefault(a.item, []).append(a)
        self._last_by_item = (achs, len(achs), found)
        return found

    def _solve(
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
        solved = self._solved
        remembered = solved.pop(key, _UNSOLVED)
        if remembered is _UNSOLVED:
            found = solve(problem, mode, getattr(_EVALUATION, "deadline", None))
        else:
            found = cast("Allocation | None", remembered)
        solved[key] = found  # (back) at the most recently used end
        # trimmed after every insertion, so that threads inserting at once still leave at most
        # SOLVED_CACHE problems once they are done
        while len(solved) > SOLVED_CACHE:
            with suppress(KeyError):  # another thread may have emptied it meanwhile
                solved.popitem(last=False)
        return found

    def _limit_selects(self, lim: Limit, ach: Ach, as_of: date) -> bool:
        if lim.ids is not None and ach.item not in lim.ids:
            return False
        if lim.selector is not None:
            match = self._matchers.get(id(lim))
            if match is None:
                match = self._matchers[id(lim)] = selector_predicate(lim.selector)
            if not match(ach):
                return False
        return first_failure(lim.modifiers, ach, as_of) is None

    # ------------------------------------------------------------ §2 equivalencies
    def _fire(
        self, eq: Equivalency, k: int, achs: Sequence[Ach], state: _State, as_of: date
    ) -> bool:
        window_ok = [a for a in achs if in_window(eq.window, a.completed_on)]
        one_line = len(eq.leaves) == 1 and eq.source is eq.leaves[0]
        if one_line and type(eq.source) is ItemLeaf and self.look_up_one_source:
            # A one-line transfer `A => B`: every complete allocation is one achievement of
            # A, so the search's answer is a look-up (best grade, then the most recent, then
            # the search's own order).
            (ok,) = self._matches(eq.leaves, window_ok, as_of)
            if not ok:
                return False
            sources = [min(ok, key=_one_source_order)]
        else:
            problem, local = self._problem((eq.source,), eq.leaves, (), window_ok, as_of, 15.0)
            best = self._solve(eq, problem, "sources")
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

    def _hold(self, granted: Ach, snapshot: Sequence[Ach], state: _State) -> None:
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
        if this_round and self._grant_rank(granted) > self._grant_rank(held):
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

    def _grant_rank(self, a: Ach) -> tuple[object, ...]:
        """§1's ranking of one grant against another of the same item (higher is better)."""
        issuer = self.rules.issuers.get(a.issuer)
        day = a.completed_on or date.min
        if issuer is not None and issuer.repeats == "latest":
            return (day, grade_rank(a.grade))
        return (grade_rank(a.grade), day)

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
        from stackrules.model import GrantSpec

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

    # ------------------------------------------------------------ §3 credentials
    def version(self, ident: str, catalog_date: date) -> Credential | None:
        versions = self.rules.credentials[ident]
        for v in versions:
            if in_window(v.window, catalog_date) or v.window is None:
                return v
        started = [v for v in versions if v.window is not None and v.window.start <= catalog_date]
        return started[-1] if started else None

    def least_to_do(
        self,
        cred: Credential,
        achs: Sequence[Ach],
        as_of: date,
        record_items: frozenset[str] = frozenset(),
    ) -> LeastToDo:
        """The allocation that leaves the least to do for `cred` (§4); earned when nothing.
        `record_items`: the items of the record's attempts, counting or not (with `achs`,
        what the learner holds: a missing one needs a retake)."""
        matches = self._matches(cred.leaves, achs, as_of)
        roots = [r.root for r in cred.requirements]

        def assemble() -> tuple[Problem, list[Ach]]:
            held = record_items | {a.item for a in achs}
            return self._assemble(
                roots, cred.leaves, cred.limits, matches, as_of, cred.hours_per_credit, cred, held
            )

        holdings = _holdings(cred.leaves, matches)
        return LeastToDo(
            cred,
            matches,
            holdings,
            self._light(cred, holdings),
            assemble,
            lambda p: self._solve(cred, p, "least"),
        )

    def _earn(
        self, cred: Credential, achs: Sequence[Ach], as_of: date, state: _State
    ) -> Outcome | None:
        least = self.least_to_do(cred, achs, as_of, state.record_items)
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
            problem, local = self._credential_problem(cred, allowed, as_of, held)
            if surely_incomplete(problem):
                return None
            best = self._solve(cred, problem, "least")
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
        """Whether some allocation of `achs` earns `cred` and counts `a`: the credential's
        tree with one more named requirement that only `a` meets (`a` then counts toward
        the limits as if a leaf of the tree had taken it)."""
        problem, local = self._credential_problem(cred, achs, as_of, held)
        position = next((k for k, b in enumerate(local) if b is a), None)
        if position is None:
            return False  # no leaf takes it (a leaf a registrar's exception turned it away from)
        n = len(cred.leaves)
        extra = ItemLeaf(n, "", (), cred.where, a.item)
        forced = Problem(
            roots=[*problem.roots, extra],
            leaves=[*problem.leaves, extra],
            achievements=problem.achievements,
            eligible=[*problem.eligible, [position]],
            conflicts=problem.conflicts,
            limits=problem.limits,
            competency_met=[*problem.competency_met, False],
            missing_cost=[*problem.missing_cost, 1.0],
            hours_per_credit=problem.hours_per_credit,
            held=[*problem.held, False],
            repeatable=[*problem.repeatable, True],
            group_costs=[*problem.group_costs, ()],
        )
        best = solve(forced, "least", getattr(_EVALUATION, "deadline", None))
        return best is not None and best.complete and not any(best.limit_shortfall)

    def _accepted(self, cred: Credential, a: Ach, as_of: date) -> bool:
        """Whether some leaf of `cred` would count `a` (competency leaves only look)."""
        return any(
            not isinstance(leaf, CompetencyLeaf) and self.eligible(leaf, a, as_of)
            for leaf in cred.leaves
        )

    def _earned_ach(self, outcome: Outcome, state: _State, as_of: date) -> Ach | None:
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

    # ------------------------------------------------------------ the fixpoint
    def evaluate(
        self,
        record: LearnerRecord,
        as_of: date,
        *,
        time_limit: float | None = None,
        targets: Sequence[str] = (),
        in_progress: int | None = None,
    ) -> report.Report:
        """The learner's report at `as_of` (`semantics.md` §6 for what it shows).

        `targets` are pursued besides the record's `pursuing` (a what-if audit against a
        programme; identifiers the caller has checked exist). `in_progress` is K, how many of
        the other credentials in progress to show, nearest first (None, the default here:
        every one, as the advisor tools need; the command line and `stackrules.evaluate`
        default to `DEFAULT_IN_PROGRESS`). What is earned never depends on either.

        With `time_limit` (seconds), raises `EvaluationTimeout` if the allocation searches run
        past it: a guard for batch jobs against a record whose search is pathologically
        large. The searches are the only part whose cost can grow exponentially; the rest is
        checked only between them."""
        outer = getattr(_EVALUATION, "deadline", None)
        _EVALUATION.deadline = None if time_limit is None else deadline_after(time_limit)
        pursued = tuple(dict.fromkeys((*record.pursuing, *targets)))
        try:
            return self._evaluate(record, as_of, Scope(pursued, in_progress))
        except SearchTimeout:
            assert time_limit is not None  # only a deadline stops a search
            raise EvaluationTimeout(record.learner, time_limit) from None
        finally:
            _EVALUATION.deadline = outer

    def _evaluate(self, record: LearnerRecord, as_of: date, scope: Scope) -> report.Report:
        catalog_date = record.catalog_date or as_of
        counting, not_counted = self._achievements(record, as_of)
        state = _State(
            achs=[ach for _, ach in counting],
            next_atom=len(counting),
            record_items=frozenset(
                a.item for a in record.achievements if a.status in ("completed", "failed")
            ),
        )
        versions: dict[str, Credential] = {}
        if record.exceptions:
            counting = self._lay_exceptions(record, as_of, catalog_date, counting, state)
            versions.update(state.exceptions.credentials if state.exceptions else {})
        held = sorted({a.item for a in state.achs if a.origin == "held"})
        pending: set[Target] = self._targets(state.achs)
        # a learner's overlaid credentials may count what the index does not file under them
        # (a substitute, an also-allowed item): each round with something new tries them
        overlaid: set[Target] = {("credential", ident) for ident in versions}
        pending |= overlaid
        touched: set[Target] = set(pending)
        while pending:
            snapshot = list(state.achs)
            new: list[Ach] = []
            for kind, key in sorted(pending, key=_target_order):
                if kind == "equivalency":
                    k = int(key)
                    if k in state.fired:
                        continue
                    before = len(state.achs)
                    self._fire(self.rules.equivalencies[k], k, snapshot, state, as_of)
                    new.extend(state.achs[before:])
                else:
                    ident = str(key)
                    if ident in state.earned or ident in held:
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
                            new.append(ach)
            # (all added after the snapshot: a grant of this round may have replaced another)
            new = state.achs[len(snapshot) :]
            # what the new achievements could feed; rules with no index key see everything
            pending = (self._targets(new) | overlaid) if new else set()
            touched |= pending
        not_counted.extend(state.repeats)
        result = self._report(
            record,
            as_of,
            catalog_date,
            state,
            versions,
            touched,
            not_counted,
            counting,
            held,
            scope,
        )
        if state.exceptions is not None:
            from stackrules.exceptions.audit import annotate

            result = annotate(result, state.exceptions)
        return result

    def _lay_exceptions(
        self,
        record: LearnerRecord,
        as_of: date,
        catalog_date: date,
        counting: list[tuple[Achievement, Ach]],
        state: _State,
    ) -> list[tuple[Achievement, Ach]]:
        """The learner's exceptions laid over the rules (`stackrules.exceptions`): exclusions
        taken out of what counts, grants added as firings, overlaid credentials."""
        from stackrules.exceptions.learner import prepare

        reasons: dict[str, str] = {}
        for a in record.achievements:
            reason = self._base_reason(a, as_of)
            if reason is not None:
                reasons.setdefault(a.item, reason)
        found = prepare(self, record, as_of, catalog_date, counting, reasons)
        state.exceptions = found
        state.achs = [ach for _, ach in found.counting]
        state.achs.extend(found.grants)
        state.firings.extend(found.firings)
        state.next_atom = found.next_atom
        return found.counting

    def share_template(self, base: Credential, overlay: Credential) -> None:
        """An overlay whose tree is its base's shares the base's search template: the same
        nodes, not equal ones (the template knows nodes by id: an overlay's copy of a node,
        even an equal one, is not in it, and its parents do not lead there)."""
        ours, theirs = overlay.requirements, base.requirements
        if len(ours) == len(theirs) and all(
            a.root is b.root for a, b in zip(ours, theirs, strict=True)
        ):
            roots = [r.root for r in base.requirements]
            tpl, costs, groups = self._template(roots, base.leaves, base.hours_per_credit, base.id)
            self._templates[id(overlay.leaves)] = (overlay.leaves, tpl, costs, groups)

    def forget(self, *objects: object) -> None:
        """Forget what is remembered by these objects' ids (an overlay no longer kept)."""
        from stackrules.explain import forget

        for obj in objects:
            self._templates.pop(id(getattr(obj, "leaves", None)), None)
            self._matchers.pop(id(obj), None)
            for key in [k for k in self._catalogs if k[0] == id(obj)]:
                self._catalogs.pop(key, None)
        forget(self, objects)

    # ------------------------------------------------------------ §4, §5 the report
    def _report(
        self,
        record: LearnerRecord,
        as_of: date,
        catalog_date: date,
        state: _State,
        versions: dict[str, Credential],
        touched: set[Target],
        not_counted: list[report.NotCounted],
        counting: list[tuple[Achievement, Ach]],
        held: list[str],
        scope: Scope,
    ) -> report.Report:
        from stackrules.explain import Explainer

        explainer = Explainer(self, as_of, state.achs)
        pursued = set(scope.pursued)
        used: set[int] = set()
        earned: list[report.EarnedCredential] = []
        for ident in sorted(state.earned):
            outcome = state.earned[ident]
            entry, ids = explainer.earned(outcome, pursued=ident in pursued)
            earned.append(entry)
            used |= ids
        # §6: every credential in progress is counted; the pursued ones and the K nearest
        # others are shown
        started: dict[str, LeastToDo] = {}
        for kind, key in sorted(touched, key=_target_order):
            ident = str(key)
            if kind != "credential" or ident in state.earned or ident in held:
                continue
            cred = versions.get(ident) or self.version(ident, catalog_date)
            if cred is None:
                continue
            least = state.least.get(ident) or self.least_to_do(
                cred, state.achs, as_of, state.record_items
            )
            if least.started:
                versions[ident] = cred
                started[ident] = least
        shown = set(started) if scope.nearest is None else self._nearest(started, pursued, scope)
        in_progress: list[report.InProgressCredential] = []
        for ident in sorted(shown | (pursued - set(state.earned) - set(held))):
            cred = versions.get(ident) or self.version(ident, catalog_date)
            if cred is None:
                in_progress.append(explainer.not_offered(self.rules.credentials[ident]))
                continue
            least = started.get(ident) or self.least_to_do(
                cred, state.achs, as_of, state.record_items
            )
            entry_ip, ids = explainer.in_progress(cred, least, pursued=ident in pursued)
            in_progress.append(entry_ip)
            used |= ids
        transfers = explainer.transfers(state.firings)
        rejected = explainer.rejected(counting, versions, touched)
        if state.exceptions is not None and state.exceptions.grants:
            # the source of a registrar's grant counted (for the grant), whatever rules say
            sources = {id(s) for g in state.exceptions.grants for s in g.sources}
            rejected = [(entry, a) for entry, a in rejected if id(a) not in sources]
        not_counted.extend(entry for entry, _ in rejected)
        if state.exceptions is not None:
            not_counted.extend(state.exceptions.excluded)
        unused = explainer.unused(state.achs, used, {id(a) for _, a in rejected})
        return report.Report(
            learner=record.learner,
            as_of=as_of,
            catalog_date=record.catalog_date,
            earned=earned,
            in_progress=in_progress,
            started=len(started),
            in_progress_limit=scope.nearest,
            transfers=transfers,
            not_counted=sorted(not_counted, key=lambda n: (n.item, n.reason, n.source or "")),
            held=held,
            unused=unused,
            provenance=[report.Provenance(**s.model_dump()) for s in record.sources],
            warnings=self._catalog_warnings(record),
        )

    def _catalog_warnings(self, record: LearnerRecord) -> list[report.CatalogWarning]:
        """Record achievements whose identifier is not in their declared issuer's catalog:
        a warning with a did-you-mean, rather than an achievement that silently lands in
        `unused` (it still counts wherever a selector picks it by its record values)."""
        items = self.rules.items
        found = []
        # (a set comprehension: `set - dict.keys()` walks every key of the catalog)
        for ident in sorted({a.item for a in record.achievements if a.item not in items}):
            issuer = ident.split(":", 1)[0]
            catalog = self._catalogue(issuer)
            if not catalog:
                continue  # an issuer without a catalog here: `unknown`, or not ours to judge
            hint = did_you_mean(ident, catalog)
            message = f"`{ident}` is not in the catalog of issuer `{issuer}`"
            found.append(
                report.CatalogWarning(item=ident, message=message + (f"; {hint}" if hint else ""))
            )
        return found

    def _catalogue(self, issuer: str) -> list[str]:
        """The identifiers an issuer's catalog declares (remembered per issuer)."""
        by_issuer = self._by_issuer
        if by_issuer is None:
            by_issuer = {}
            for ident, item in self.rules.items.items():
                by_issuer.setdefault(item.issuer, []).append(ident)
            self._by_issuer = by_issuer
        return by_issuer.get(issuer, [])

    def _nearest(self, started: dict[str, LeastToDo], pursued: set[str], scope: Scope) -> set[str]:
        """The K credentials in progress, besides the pursued ones, with the least to do:
        missing credits, then missing items, then identifier (§6). Exactly the first K of the
        whole list ranked that way, without searching them all: a credential whose lower
        bound (missing credits, missing items, identifier) is above the K-th best exact
        answer cannot enter."""
        k = scope.nearest
        assert k is not None
        if k == 0:
            return set()
        bounded = sorted(
            (*_rounded(least.light.bound), ident)
            for ident, least in started.items()
            if ident not in pursued
        )
        best: list[tuple[float, float, str]] = []  # the K best exact keys so far, sorted
        for bound in bounded:
            if len(best) == k and bound > best[-1]:
                break  # every later bound is as high: none can enter
            ident = bound[2]
            alloc = started[ident].allocation
            assert alloc is not None  # a least-to-do search always has an allocation
            entry = (round(alloc.key[1], 6), alloc.key[2], ident)
            if len(best) < k or entry < best[-1]:
                insort(best, entry)
                del best[k:]
        return {ident for _, _, ident in best}


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report shows of the credentials in progress (§6): the pursued credentials,
    and the `nearest` K others (None: every one)."""

    pursued: tuple[str, ...] = ()
    nearest: int | None = DEFAULT_IN_PROGRESS


def _holdings(leaves: Sequence[LeafNode], matches: Sequence[Sequence[Ach]]) -> LeafHoldings:
    """What each leaf holds of its matches (`allocate.LeafHoldings`): 1 for an identifier or
    competency leaf that accepts one, the total value for an amount (when above 0)."""
    out = []
    for leaf, ok in zip(leaves, matches, strict=True):
        if not ok:
            continue
        if type(leaf) is AmountLeaf:
            unit = leaf.unit
            total = sum(value_of(a, unit) for a in ok)
            if total > 0:
                out.append((leaf.index, total))
        else:
            out.append((leaf.index, 1.0))
    return tuple(out)


def _rounded(bound: tuple[float, float]) -> tuple[float, float]:
    # as the report rounds what remains, so that a bound and an answer compare alike (a
    # rounded bound is still below every rounded answer it bounds)
    return round(bound[0], 6), bound[1]


# ---------------------------------------------------------------- helpers


def _achievement_key(a: Achievement) -> tuple[object, ...]:
    """A total, content-only order on record rows (never the order of the file)."""
    return (
        a.item,
        a.completed_on or date.min,
        a.status,
        a.grade or "",
        a.credits if a.credits is not None else -1.0,
        a.hours if a.hours is not None else -1.0,
        a.expires_on or date.min,
        a.subject or "",
        a.level if a.level is not None else -1,
        tuple(sorted(a.tags)),
        tuple(sorted(a.competencies.items())),
    )


def _in_step(credits: float | None, hours: float | None, rate: float) -> bool:
    return credits is not None and hours is not None and abs(credits * rate - hours) < 1e-9


def _recency(a: Achievement) -> tuple[date, tuple[object, ...]]:
    return (a.completed_on or date.min, _achievement_key(a))


def _conflict_masks(local: Sequence[Ach]) -> list[int]:
    """Per achievement, the bitmask of those it conflicts with (`Ach.conflicts_with`).

    Built from who rests on each atom rather than by comparing every pair: a record of
    thousands of attempts of one repeatable item has as many achievements, and comparing
    every pair of their bitmasks takes time cubic in them.
    """
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


def _allocation_order(a: Ach) -> tuple[object, ...]:
    # Record evidence before grants, better grades and newer dates first: the tie-break the
    # documentation promises when two allocations are equally good.
    origin_rank = {"record": 0, "held": 0, "earned": 1, "granted": 2}[a.origin]
    return (
        origin_rank,
        -grade_rank(a.grade),
        -(a.completed_on.toordinal() if a.completed_on else 0),
        a.item,
        a.sort_key,
    )


@dataclass(frozen=True, slots=True)
class Grant:
    """What a grant line (or a registrar's `grant` exception) says of the granted item; what
    it leaves out comes from the item's declaration and the sources (§2)."""

    credits: float | None = None
    hours: float | None = None
    subject: str | None = None
    level: float | None = None
    grade: str | None = None
    completed_on: date | None = None


def granted(
    rules: RuleSet,
    ident: str,
    sources: Sequence[Ach],
    as_of: date,
    given: Grant,
    *,
    atoms: int,
    firing: int,
    rule: str,
    where: str,
    sort_key: tuple[object, ...],
) -> Ach | None:
    """The granted achievement of `ident` from `sources` (§2): credits, hours, subject and
    level as given, else the item's; the latest source date and the lowest letter grade (else
    `P` if a source has it) unless given; transfer when a source's issuer differs. None when
    it has lapsed by `as_of`."""
    item = rules.items.get(ident)
    issuer = ident.split(":", 1)[0]
    credits = given.credits if given.credits is not None else (item.credits if item else None)
    hours = given.hours if given.hours is not None else (item.hours if item else None)
    credits, hours = complete_amounts(rules.hours_per_credit(issuer), credits, hours)
    dated = [s.completed_on for s in sources if s.completed_on is not None]
    completed = given.completed_on or (max(dated) if dated else None)
    if item is not None and lapsed(completed, item.valid_for, as_of):
        return None
    grade = given.grade
    if grade is None:
        letters = [s.grade for s in sources if s.grade in LETTERS]
        if letters:
            grade = min(letters, key=grade_rank)
        elif any(s.grade == "P" for s in sources):
            grade = "P"
    return Ach(
        item=ident,
        issuer=issuer,
        kind=item.kind if item else "item",
        grade=grade,
        credits=credits,
        hours=hours,
        completed_on=completed,
        subject=given.subject if given.subject is not None else (item.subject if item else None),
        level=given.level if given.level is not None else (item.level if item else None),
        tags=item.tags if item else frozenset(),
        competencies=dict(item.teaches) if item else {},
        origin="granted",
        atoms=atoms,
        firing=firing,
        transfer=any(s.issuer != issuer or s.transfer for s in sources),
        rule=rule,
        where=where,
        sources=tuple(sources),
        sort_key=sort_key,
    )


def _one_source_order(a: Ach) -> tuple[object, ...]:
    """How an equivalency picks one source among several (`_source_key` of the allocator for
    a set of one: the best grade, then the most recent date), ties in the search's order."""
    c = a.candidate()
    return (-c.grade_rank, -c.date_ordinal, c.sort_key)


def _candidate(a: Ach) -> Candidate:
    return Candidate(
        credits=a.credits,
        hours=a.hours,
        item=a.item,
        grade_rank=grade_rank(a.grade),
        date_ordinal=a.completed_on.toordinal() if a.completed_on else 0,
        sort_key=_allocation_order(a),
    )


def _target_order(t: Target) -> tuple[str, str]:
    kind, key = t
    return (kind, f"{key:>08}" if isinstance(key, int) else str(key))
