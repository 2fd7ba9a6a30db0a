"""Explanations: turn allocations and firings into the report's audit trail.

Takes the fixpoint's outcome (allocations, firings, achievements) and the least-to-do searches
of the credentials shown; returns report entries.
Every entry points at the rule text that decided it (`file:line`). What remains for a
credential in progress follows `semantics.md` §4: one entry per requirement node that falls
short in the allocation that leaves the least to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, cast
from weakref import WeakKeyDictionary

from stackrules import report
from stackrules.dates import lapsed
from stackrules.evaluation.allocation import Allocation, value_of
from stackrules.evaluation.exceptions.overlay import AdjustedLeaves, OverlayCredential
from stackrules.exceptions.check import limit_name
from stackrules.graph import Key, leaf_keys
from stackrules.matching import MAX_OPTIONS, first_failure, in_window
from stackrules.model import (
    AmountLeaf,
    Choice,
    CompetencyLeaf,
    Credential,
    Equivalency,
    ItemLeaf,
    LeafNode,
    Limit,
    NamedReq,
    Node,
    all_leaves,
)

if TYPE_CHECKING:
    from stackrules.evaluation.achievements import Ach, Firing
    from stackrules.evaluation.fixpoint import Outcome
    from stackrules.evaluation.leasttodo import LeastToDo
    from stackrules.evaluation.problems import Problems
    from stackrules.graph import Target
    from stackrules.records import Achievement


def _order(where: str) -> tuple[str, int]:
    path, _, line = where.rpartition(":")
    return (path, int(line) if line.isdigit() else 0)


def evidence(a: Ach) -> report.Evidence:
    return report.Evidence(
        item=a.item,
        origin=a.origin,
        grade=a.grade,
        credits=a.credits,
        hours=a.hours,
        completed_on=a.completed_on,
        rule=a.rule,
        source=a.where,
        sources=[s.item for s in a.sources],
    )


# ---------------------------------------------------------------- what no learner changes


@dataclass(frozen=True, slots=True)
class _Requirement:
    """A named requirement and the indexes of its leaves, in tree order."""

    req: NamedReq
    leaves: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _RuleLeaf:
    """A leaf that can turn an achievement away, as `rejected` tries it: its place in the
    order rules are tried in, and the rule it belongs to."""

    key: tuple[tuple[str, int], str, int]  # (file, line), rule, leaf index
    rule: str
    leaf: LeafNode
    equivalency: Equivalency | None


if TYPE_CHECKING:
    _Scan = tuple[_RuleLeaf, Callable[[Ach], bool]]  # a leaf and its compiled matcher


@dataclass(frozen=True, slots=True)
class _RuleLeaves:
    """One rule's `_RuleLeaf`s with their matchers, filed under the keys the rule graph files
    them under (`graph.leaf_keys`: an achievement a leaf names or selects has one of them
    among its `Facts.index_keys`), or in `unkeyed` when a selector has none. Competency
    leaves name no record achievement by item or selector and turn none away, so they are
    left out."""

    keyed: dict[Key, tuple[_Scan, ...]]
    unkeyed: tuple[_Scan, ...]


class _Static:
    """What the report reads of a rule set and is the same for every learner, computed once
    per credential or equivalency and kept as long as the evaluator (keyed by `id`, the rule
    kept alive alongside so its id stays unique)."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self._requirements: dict[int, tuple[Credential, tuple[_Requirement, ...]]] = {}
        self._rule_leaves: dict[int, tuple[Credential | Equivalency, _RuleLeaves]] = {}

    def requirements(self, cred: Credential) -> tuple[_Requirement, ...]:
        found = self._requirements.get(id(cred))
        if found is None:
            reqs = tuple(
                _Requirement(req, tuple(leaf.index for leaf in all_leaves([req.root])))
                for req in cred.requirements
            )
            found = self._requirements[id(cred)] = (cred, reqs)
        return found[1]

    def rule_leaves(self, rule: Credential | Equivalency) -> _RuleLeaves:
        found = self._rule_leaves.get(id(rule))
        if found is None:
            name, eq = (rule.id, None) if isinstance(rule, Credential) else (rule.rule, rule)
            keyed: dict[Key, list[_Scan]] = {}
            unkeyed: list[_Scan] = []
            for leaf in rule.leaves:
                if isinstance(leaf, CompetencyLeaf):
                    continue
                keys = leaf_keys(leaf)
                scan = (_RuleLeaf(_key(leaf, name), name, leaf, eq), self.problems.matcher(leaf))
                if keys is None:
                    unkeyed.append(scan)
                for key in keys or ():
                    keyed.setdefault(key, []).append(scan)
            leaves = _RuleLeaves({k: tuple(v) for k, v in keyed.items()}, tuple(unkeyed))
            found = self._rule_leaves[id(rule)] = (rule, leaves)
        return found[1]


# per evaluator (its problems): gone with it
_STATIC: WeakKeyDictionary[Problems, _Static] = WeakKeyDictionary()


def _static(problems: Problems) -> _Static:
    found = _STATIC.get(problems)
    if found is None:
        found = _STATIC[problems] = _Static(problems)
    return found


def _key(leaf: LeafNode, rule: str) -> tuple[tuple[str, int], str, int]:
    return (_order(leaf.where), rule, leaf.index)


# ---------------------------------------------------------------- one learner


def _limits(cred: Credential) -> list[tuple[Limit, Limit | None]]:
    """The credential's limits as the rules write them, each with what it is for the learner:
    itself, or for a learner's overlay (`stackrules.exceptions`) the adjusted limit, or None
    where an exception waived it (a waived limit is still shown, naming its waiver)."""
    base = cred.base if type(cred) is OverlayCredential else None
    if base is None:
        return [(lim, lim) for lim in cred.limits]
    laid = {limit_name(lim.text): lim for lim in cred.limits}
    return [(lim, laid.get(limit_name(lim.text))) for lim in base.limits]


class _Tree:
    """Reads one allocation against one requirement tree; whether a list holds is worked out
    once per list (the requirement results and what remains both ask)."""

    def __init__(self, alloc: Allocation, achs: Sequence[Ach]) -> None:
        self.alloc = alloc
        self.achs = achs
        self._holds: dict[int, bool] = {}  # by id(choice)

    def used(self, leaf: LeafNode) -> list[Ach]:
        r = self.alloc.leaves.get(leaf.index)
        return [self.achs[i] for i in r.used] if r else []

    def used_by(self, leaves: Sequence[int]) -> list[Ach]:
        """What the leaves with these indexes use, in their order."""
        results, achs = self.alloc.leaves, self.achs
        return [achs[i] for k in leaves if (r := results.get(k)) is not None for i in r.used]

    def holds(self, node: Node) -> bool:
        if isinstance(node, Choice):
            found = self._holds.get(id(node))
            if found is None:
                found = sum(1 for c in node.children if self.holds(c)) >= node.need
                self._holds[id(node)] = found
            return found
        r = self.alloc.leaves.get(node.index)
        if r is None or not r.active or r.missing:
            return False
        return bool(r.used) or not isinstance(node, ItemLeaf)

    def relied(self, node: Node) -> bool:
        return id(node) in self.alloc.chosen


class Explainer:
    def __init__(
        self,
        problems: Problems,
        as_of: date,
        achs: Sequence[Ach],
        laid_ids: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """`laid_ids`: for a learner with exceptions, per overlaid credential the ids of the
        exceptions laid on it, in the overlay's order (`LearnerExceptions.laid_ids`)."""
        self.problems = problems
        self.as_of = as_of
        self.achs = achs
        self.laid_ids = laid_ids or {}
        self._held: set[str] | None = None
        self._static = _static(problems)
        # by id(achievement): one frozen entry, shared by every requirement that uses it
        self._evidence: dict[int, report.Evidence] = {}

    def _held_items(self) -> set[str]:
        """What the learner holds and cannot take again (options never suggest it)."""
        if self._held is None:
            items = self.problems.rules.items
            self._held = {
                a.item for a in self.achs if not (a.item in items and items[a.item].repeatable)
            }
        return self._held

    # ------------------------------------------------------------ credentials
    def _requirements(
        self, cred: Credential, tree: _Tree, by: date | None = None
    ) -> tuple[list[report.RequirementResult], set[int]]:
        """Each named requirement and what it uses; a competency leaf that holds lists the
        achievement that shows the competency at the highest level, looked at, not used up
        (§5; for an earned credential, one dated no later than `by`)."""
        results = []
        used_ids: set[int] = set()
        adjusted = cred.leaves if type(cred.leaves) is AdjustedLeaves else None
        for requirement in self._static.requirements(cred):
            req = requirement.req
            used = tree.used_by(requirement.leaves)
            admitted = (
                self._admitted(cred.id, adjusted, tree, requirement.leaves)
                if adjusted is not None
                else {}
            )
            for k in requirement.leaves:
                leaf = cred.leaves[k]
                if isinstance(leaf, CompetencyLeaf) and tree.holds(leaf):
                    witness = self._witness(leaf, by)
                    if witness is not None and all(a is not witness for a in used):
                        used.append(witness)
            used_ids.update(map(id, used))
            results.append(
                report.RequirementResult(
                    name=req.name,
                    label=req.label,
                    met=tree.holds(req.root),
                    used=[a.item for a in used],
                    evidence=[self._evidence_of(a, admitted.get(id(a))) for a in used],
                )
            )
        return results, used_ids

    def _admitted(
        self, ident: str, leaves: AdjustedLeaves, tree: _Tree, indexes: Sequence[int]
    ) -> dict[int, list[str]]:
        """Of what the leaves with these indexes use (by id), what a leaf counts only because
        of exceptions (the rules' leaf neither names nor selects it: `Problems.names`), with
        the ids of the exceptions that let it onto that leaf (`exceptions.md`: the evidence
        a substitution, also-allow or directive admitted names it)."""
        found: dict[int, list[str]] = {}
        for k in indexes:
            if not leaves.why[k]:
                continue
            leaf = leaves[k]
            for a in tree.used(leaf):
                places = leaves.added_by(k, a.item)
                if places and not self.problems.names(leaf, a):
                    ids = self.laid_ids[ident]
                    found[id(a)] = [ids[p] for p in places]
        return found

    def _witness(self, leaf: CompetencyLeaf, by: date | None) -> Ach | None:
        """The achievement that shows the leaf's competency at the highest level (then the
        allocation order: record evidence first, better grades, newer dates)."""
        shown = [
            a
            for a in self.achs
            if (by is None or a.completed_on is None or a.completed_on <= by)
            and self.problems.eligible(leaf, a, self.as_of)
        ]
        if not shown:
            return None
        return min(
            shown,
            key=lambda a: (-a.competencies.get(leaf.competency, -1), a.candidate().sort_key),
        )

    def _evidence_of(self, a: Ach, exceptions: list[str] | None = None) -> report.Evidence:
        found = self._evidence.get(id(a))
        if found is None:
            found = self._evidence[id(a)] = evidence(a)
        if exceptions:
            return found.model_copy(update={"exceptions": exceptions})
        return found

    def earned(
        self, outcome: Outcome, *, pursued: bool = False
    ) -> tuple[report.EarnedCredential, set[int]]:
        cred = outcome.credential
        tree = _Tree(outcome.allocation, outcome.achs)
        requirements, used_ids = self._requirements(cred, tree, outcome.earned_on)
        counted = [
            outcome.achs[i] for i in range(len(outcome.achs)) if (outcome.allocation.used >> i) & 1
        ]
        limits = []
        for lim, now in _limits(cred):
            value = sum(
                value_of(a, lim.unit)
                for a in counted
                if self.problems.limit_selects(lim, a, self.as_of)
            )
            # `now`: the limit as the learner's exceptions leave it (None: waived, it holds)
            met = now is None or (
                value <= now.amount + 1e-9 if now.bound == "at most" else value >= now.amount - 1e-9
            )
            limits.append(report.LimitResult(text=lim.text, source=lim.where, met=met, value=value))
        expired = lapsed(outcome.earned_on, cred.valid_for, self.as_of)
        entry = report.EarnedCredential(
            credential=cred.id,
            title=cred.title,
            source=cred.where,
            completed_on=outcome.earned_on,
            expired=expired,
            pursued=pursued,
            requirements=requirements,
            limits=limits,
        )
        return entry, used_ids

    def in_progress(
        self, cred: Credential, least: LeastToDo, *, pursued: bool = False
    ) -> tuple[report.InProgressCredential, set[int]]:
        """The in-progress entry, from the fixpoint's last least-to-do search for `cred` (for
        a pursued credential not started, everything remains)."""
        local = least.achs
        alloc = least.allocation
        assert alloc is not None  # a least-to-do search always has an allocation
        tree = _Tree(alloc, local)
        requirements, used_ids = self._requirements(cred, tree)
        # options never suggest what the learner already holds (unless it can be repeated)
        held = self._held_items() | {cred.id}
        remaining: list[tuple[tuple[str, int], report.Remaining]] = []
        for req in cred.requirements:
            self._remaining(req.root, req.name, tree, held, remaining, root=True)
        catalog = self.problems.catalog(cred, self.as_of)
        for k, lim in enumerate(cred.limits):
            short = alloc.limit_shortfall[k] if k < len(alloc.limit_shortfall) else 0.0
            if short > 1e-9:
                # only what the limit selects and some requirement node could count (§4)
                limit_options = [i for i in catalog.limit_options[k] if i not in held]
                remaining.append(
                    (
                        ("limit", k),
                        report.Remaining(
                            requirement="limit",
                            need=round(short, 6),
                            unit=lim.unit,
                            options=limit_options[:MAX_OPTIONS],
                            limit=lim.text.removeprefix("limit "),
                            source=lim.where,
                        ),
                    )
                )
        remaining.sort(key=lambda pair: pair[0])
        entry = report.InProgressCredential(
            credential=cred.id,
            title=cred.title,
            source=cred.where,
            pursued=pursued,
            remaining=[r for _, r in remaining],
            requirements=requirements,
            remaining_credits=round(alloc.key[1], 6),
            remaining_items=alloc.key[2],
        )
        return entry, used_ids

    def not_offered(self, versions: Sequence[Credential]) -> report.InProgressCredential:
        """A pursued credential none of whose versions is offered at the learner's catalog
        date (§6): reported, never dropped; nothing is decided about it."""
        latest = versions[-1]
        return report.InProgressCredential(
            credential=latest.id,
            title=latest.title,
            source=latest.where,
            pursued=True,
            offered=False,
        )

    def _remaining(
        self,
        node: Node,
        name: str,
        tree: _Tree,
        held: set[str],
        out: list[tuple[tuple[str, int], report.Remaining]],
        root: bool = False,
    ) -> None:
        first = _first_leaf(node)
        if isinstance(node, ItemLeaf):
            if root and not tree.holds(node):
                out.append(
                    (
                        (name, first),
                        report.Remaining(
                            requirement=name, need=1, unit="items", options=[node.item]
                        ),
                    )
                )
            return
        if isinstance(node, CompetencyLeaf):
            if root and not tree.holds(node):
                options = self.problems.selectors.teaching(node.competency, node.level)
                out.append(
                    (
                        (name, first),
                        report.Remaining(requirement=name, need=1, unit="items", options=options),
                    )
                )
            return
        if isinstance(node, AmountLeaf):
            r = tree.alloc.leaves.get(node.index)
            missing = node.amount if r is None else r.missing
            if missing > 1e-9:
                used_items = {a.item for a in tree.used(node)} | held
                out.append(
                    (
                        (name, first),
                        report.Remaining(
                            requirement=name,
                            need=round(missing, 6),
                            unit=node.unit,
                            options=self.problems.selectors.options(node, used_items),
                        ),
                    )
                )
            return
        if tree.holds(node):
            return
        missing_simple = [
            c
            for c in node.children
            if isinstance(c, ItemLeaf | CompetencyLeaf) and not tree.holds(c)
        ]
        if node.form == "all":
            need = len(missing_simple)
        else:
            need = node.need - sum(1 for c in node.children if tree.holds(c))
        if need > 0:
            member_options: list[str] = []
            for leaf in missing_simple:
                if isinstance(leaf, ItemLeaf):
                    member_options.append(leaf.item)
                else:
                    member_options.extend(
                        self.problems.selectors.teaching(leaf.competency, leaf.level)[:1]
                    )
            out.append(
                (
                    (name, first),
                    report.Remaining(
                        requirement=name, need=need, unit="items", options=_dedupe(member_options)
                    ),
                )
            )
        for child in node.children:
            if isinstance(child, ItemLeaf | CompetencyLeaf):
                continue
            if (node.form == "all" or tree.relied(child)) and not tree.holds(child):
                self._remaining(child, name, tree, held, out)

    # ------------------------------------------------------------ transfers
    def transfers(self, firings: Sequence[Firing]) -> list[report.Transfer]:
        out = []
        for f in sorted(firings, key=lambda f: f.equivalency.order):
            eq = f.equivalency
            dated = [s.completed_on for s in f.sources if s.completed_on]
            out.append(
                report.Transfer(
                    rule=eq.rule,
                    source=eq.where,
                    **{"from": sorted(s.item for s in f.sources)},
                    grants=[g.item for g in f.grants],
                    credits=float(sum(g.credits or 0.0 for g in f.grants)),
                    reason="no-credit" if eq.no_credit else None,
                    completed_on=max(dated) if dated else None,
                )
            )
        return out

    # ------------------------------------------------------------ what did not count
    def rejected(
        self,
        counting: Sequence[tuple[Achievement, Ach]],
        versions: dict[str, Credential],
        touched: set[Target],
        searched: Iterable[LeastToDo] = (),
    ) -> list[tuple[report.NotCounted, Ach]]:
        """Record achievements that every rule able to use them turned away (§3).

        The rules are tried in the order of their text (file, line), then rule, then leaf;
        for each achievement only the leaves that name or select it are tried. An achievement
        that a requirement leaf of one of the `searched` credentials accepts (their least-to-do
        matches: named or selected, and every modifier holding) is not turned away by every
        rule, so it is not tried."""
        if not counting:
            return []
        accepted = _accepted(searched)
        counting = [(row, ach) for row, ach in counting if id(ach) not in accepted]
        if not counting:
            return []
        rules: list[_RuleLeaves] = []
        for kind, key in touched:
            if kind == "credential" and str(key) in versions:
                rules.append(self._static.rule_leaves(versions[str(key)]))
            elif kind == "equivalency":
                rules.append(self._static.rule_leaves(self.problems.rules.equivalencies[int(key)]))
        # every rule's leaves filed together, under this learner's index keys only
        facts = [list(ach.facts().index_keys()) for _, ach in counting]
        wanted = {index_key for keys in facts for index_key in keys}
        keyed: dict[Key, list[_Scan]] = {}
        unkeyed: list[_Scan] = []
        for rule in rules:
            for index_key in wanted & rule.keyed.keys():
                keyed.setdefault(index_key, []).extend(rule.keyed[index_key])
            unkeyed.extend(rule.unkeyed)
        out: list[tuple[report.NotCounted, Ach]] = []
        for (_, ach), keys in zip(counting, facts, strict=True):
            verdict = self._rejected_by(ach, keys, keyed, unkeyed)
            if verdict is not None:
                reason, rule_id, where = verdict
                entry = report.NotCounted(
                    item=ach.item,
                    reason=cast(report.NotCountedReason, reason),
                    rule=rule_id,
                    source=where,
                )
                out.append((entry, ach))
        return out

    def _rejected_by(
        self,
        ach: Ach,
        keys: Sequence[Key],
        keyed: dict[Key, list[_Scan]],
        unkeyed: Sequence[_Scan],
    ) -> tuple[str, str, str] | None:
        """The first leaf (in the order of the rules' text) that turned `ach` away, when
        every leaf that names or selects it did; None as soon as one lets it through."""
        turned: list[tuple[_RuleLeaf, str]] = []
        for scans in (*(keyed.get(index_key, ()) for index_key in keys), unkeyed):
            for entry, match in scans:
                if match(ach):
                    reason = self._turned_away(ach, entry)
                    if reason is None:
                        return None
                    turned.append((entry, reason))
        if not turned:
            return None
        entry, reason = min(turned, key=_turned_key)  # (file, line), rule, leaf
        return reason, entry.rule, entry.leaf.where

    def _turned_away(self, ach: Ach, entry: _RuleLeaf) -> str | None:
        """Why this leaf turns `ach` away (its modifiers, its equivalency's window or `none`)."""
        reason = first_failure(entry.leaf.modifiers, ach, self.as_of)
        rule_eq = entry.equivalency
        if reason is None and rule_eq is not None:
            if not in_window(rule_eq.window, ach.completed_on):
                reason = "outside-dates"
            elif rule_eq.no_credit:
                reason = "no-credit"
        return reason

    def unused(self, achs: Sequence[Ach], used: set[int], rejected: set[int]) -> list[str]:
        """Counting record and granted achievements, and held credentials, that no reported
        allocation relies on, directly or as the source of a grant it uses (fall-through)."""
        closure: set[int] = set()
        stack = [a for a in achs if id(a) in used]
        while stack:
            a = stack.pop()
            if id(a) not in closure:
                closure.add(id(a))
                stack.extend(a.sources)
        return sorted(
            a.item
            for a in achs
            if a.origin in ("record", "granted", "held") and id(a) not in closure | rejected
        )


def _accepted(searched: Iterable[LeastToDo]) -> set[int]:
    """The achievements (by id) that some requirement leaf of these searches accepts, as
    `rejected` would try the leaf: competency leaves only look, and a learner's overlaid
    leaves accept by their exceptions, so neither is taken at its word."""
    found: set[int] = set()
    seen: set[int] = set()  # (a search may be given twice: once found, once shown)
    for least in searched:
        leaves = least.credential.leaves
        if id(least) in seen or type(leaves) is AdjustedLeaves:
            continue
        seen.add(id(least))
        for k, ok in least.matches.items():
            if type(leaves[k]) is not CompetencyLeaf:
                found.update(map(id, ok))
    return found


def _turned_key(turned: tuple[_RuleLeaf, str]) -> tuple[tuple[str, int], str, int]:
    return turned[0].key


def _first_leaf(node: Node) -> int:
    for leaf in all_leaves([node]):
        return leaf.index
    return 0


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def forget(problems: Problems, rules: Sequence[object]) -> None:
    """Forget what is kept for these rules (a learner's overlaid credentials, no longer
    kept by the evaluator: `evaluation.exceptions`)."""
    found = _STATIC.get(problems)
    if found is not None:
        for rule in rules:
            found._requirements.pop(id(rule), None)
            found._rule_leaves.pop(id(rule), None)
