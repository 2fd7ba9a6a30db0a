"""§1 achievements: which record rows count, and the evaluator's view of each.

Takes the rule set, a learner's record and the as-of date; gives the achievements that count
(failed, in-progress, expired and unknown rows out; of repeated attempts, the one §1 keeps), in
a canonical order that never depends on the order of the file, and why the others do not.
Also the one constructor of a granted achievement (`granted`), shared by equivalency grants
(`fixpoint`) and a registrar's `grant` exceptions (`exceptions.learner`), and the allocator's
view of an achievement (`Candidate`, made once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, cast

from stackrules import report
from stackrules.dates import add_duration, lapsed
from stackrules.evaluation.allocation import Candidate
from stackrules.graph import Facts
from stackrules.model import Equivalency, RuleSet, complete_amounts, grade_rank
from stackrules.records import Achievement, LearnerRecord

Origin = Literal["record", "granted", "earned", "held"]
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
    """An equivalency that fired: the sources its allocation took and what it granted."""

    equivalency: Equivalency
    sources: list[Ach]
    grants: list[Ach]


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
        transfer=any(s.issuer != issuer for s in sources),
        rule=rule,
        where=where,
        sources=tuple(sources),
        sort_key=sort_key,
    )


def grant_rank(rules: RuleSet, a: Ach) -> tuple[object, ...]:
    """§1's ranking of one grant against another of the same item (higher is better)."""
    issuer = rules.issuers.get(a.issuer)
    day = a.completed_on or date.min
    if issuer is not None and issuer.repeats == "latest":
        return (day, grade_rank(a.grade))
    return (grade_rank(a.grade), day)


def record_ach(rules: RuleSet, a: Achievement, atom: int) -> Ach:
    """The evaluator's view of a record achievement that counts (§1): the catalog's values
    where the record gives none, amounts completed from `hours per credit`."""
    item = rules.items.get(a.item)
    issuer = a.item.split(":", 1)[0]
    credits = a.credits if a.credits is not None else (item.credits if item else None)
    hours = a.hours if a.hours is not None else (item.hours if item else None)
    rate = rules.hours_per_credit(issuer)
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
        rank = rules.level_rank(level)
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
        sort_key=achievement_key(a),
    )


def base_reason(rules: RuleSet, a: Achievement, as_of: date) -> str | None:
    """Why a record row never counts, whatever the other rows (§1), or None."""
    issuer_code = a.item.split(":", 1)[0]
    if a.item not in rules.items and issuer_code not in rules.mentioned_issuers:
        return "unknown"
    if a.status == "in-progress":
        return "in-progress"
    if a.status in ("failed", "withdrawn") or a.grade == "F":
        return "failed"
    issuer = rules.issuers.get(issuer_code)
    passing = issuer.passing_grade if issuer else "D-"
    if a.grade is not None and a.grade != "P" and grade_rank(a.grade) < grade_rank(passing):
        return "failed"
    expiry = a.expires_on
    item = rules.items.get(a.item)
    if expiry is None and item is not None and item.valid_for and a.completed_on:
        expiry = add_duration(a.completed_on, item.valid_for)
    if expiry is not None and expiry < as_of:
        return "expired"
    return None


def counting(
    rules: RuleSet, record: LearnerRecord, as_of: date
) -> tuple[list[tuple[Achievement, Ach]], list[report.NotCounted]]:
    """The record's rows that count (§1: failed, in progress, expired, unknown, repeats), each
    with the evaluator's view of it, in the canonical order; and those that do not, why."""
    rows = sorted(record.achievements, key=achievement_key)
    not_counted: list[report.NotCounted] = []
    reasons = [base_reason(rules, a, as_of) for a in rows]
    # repeats: group attempts of non-repeatable items
    by_item: dict[str, list[int]] = {}
    for i, a in enumerate(rows):
        item = rules.items.get(a.item)
        if item is not None and item.repeatable:
            continue
        by_item.setdefault(a.item, []).append(i)
    for item_id, attempts in by_item.items():
        if len(attempts) < 2:
            continue
        issuer = rules.issuers.get(item_id.split(":", 1)[0])
        if issuer is not None and issuer.repeats == "latest":
            completed = [i for i in attempts if rows[i].status in ("completed", "failed")]
            # the most recent; among equally recent (or undated) ones, the best-graded
            keep = max(
                completed,
                key=lambda i: (
                    rows[i].completed_on or date.min,
                    reasons[i] != "failed",
                    grade_rank(rows[i].grade),
                    achievement_key(rows[i]),
                ),
                default=None,
            )
        else:
            passing = [i for i in attempts if reasons[i] is None]
            keep = max(
                passing,
                key=lambda i: (grade_rank(rows[i].grade), recency(rows[i])),
                default=None,
            )
        for i in attempts:
            if i != keep and reasons[i] is None:
                reasons[i] = "repeat"
    counting: list[tuple[Achievement, Ach]] = []
    for i, a in enumerate(rows):
        if reasons[i] is None:
            counting.append((a, record_ach(rules, a, len(counting))))
        else:
            detail = "repeated attempt; another attempt counts" if reasons[i] == "repeat" else None
            reason = cast(report.NotCountedReason, reasons[i])
            not_counted.append(report.NotCounted(item=a.item, reason=reason, detail=detail))
    return counting, not_counted


def achievement_key(a: Achievement) -> tuple[object, ...]:
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


def recency(a: Achievement) -> tuple[date, tuple[object, ...]]:
    return (a.completed_on or date.min, achievement_key(a))


def _candidate(a: Ach) -> Candidate:
    return Candidate(
        credits=a.credits,
        hours=a.hours,
        item=a.item,
        grade_rank=grade_rank(a.grade),
        date_ordinal=a.completed_on.toordinal() if a.completed_on else 0,
        sort_key=_allocation_order(a),
    )


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


def one_source_order(a: Ach) -> tuple[object, ...]:
    """How an equivalency picks one source among several (`_source_key` of the allocator for
    a set of one: the best grade, then the most recent date), ties in the search's order."""
    c = a.candidate()
    return (-c.grade_rank, -c.date_ordinal, c.sort_key)
