"""A brute-force reference evaluator, written from `semantics.md` alone, for TINY inputs.

Differential testing compares the engine against this module (see `test_differential.py`).
It is exponential on purpose: it never prunes, never ranks, never places first-fit. It
enumerates every assignment of the learner's counting achievements to requirement leaves and
keeps those that satisfy the spec's rules, stated as directly as possible.

It reuses only the compiled model (`stackrules.model`: the resolved requirement trees, with
modifiers pushed onto leaves) and the record models. Everything else is written again here,
independently of `stackrules.evaluation` and `matching.py`: §1 achievement
normalisation, modifiers, selectors, §2 equivalencies, §3 earning (with the earliest date), §4
the least-to-do cost, and the fixpoint.

Where the spec leaves a choice open (two equally good source sets for an equivalency, two
equally good attempts of a repeated item), the reference does not guess: it explores every
choice and returns the set of possible outcomes. The engine must produce one of them.

Interpretations the spec leaves open, fixed here and documented (the engine agrees):
- a catalog item stands for a future achievement when §4 asks what a node or a limit could
  count (coverage of a limit's shortfall, a limit's options): no grade, completed on the
  as-of date, not transfer (or transfer, for an item some equivalency grants); a missing
  amount in credits or hours covers an `items` limit by one item, and k missing members of a
  group cover a credit or hour limit by k times the least value of an item both admit;
- the learner holds (for retakes) the items of its counting achievements and of its record
  rows completed or failed, whether they count or not;
- a competency leaf only looks: its witness dates a credential only where the credential
  cannot be earned without dated evidence (then the date is the least D by which the record
  earns it); where undated evidence alone earns it, the date is that of the first dated
  achievement an earning allocation counts (consumes), none if none does;
- a grant that loses to another grant of the same item in the same round gives way; one
  that counted in an earlier round stays (nothing is taken back);
- an equivalency's sources are the achievements its `from` requirement consumes; the
  generators keep competency requirements out of `from` (whether a competency witness is a
  source is not specified);
- the fixpoint runs in rounds: every rule sees the same snapshot of achievements, and a
  grant is compared with what the learner holds at that moment ("adds nothing"); an
  equivalency that fires without adding anything has still fired (at most once per learner);
- granted items with `valid for` expire like record achievements.

Registrar exceptions (`exceptions.md`) are applied as that page states them, again without the
engine's code: a waived requirement holds with nothing, an adjusted one needs the new N (a
count only when the amount is whole), a waived limit is gone and an adjusted one has the new
amount; within a credential a leaf also accepts the items a substitution, also-allow or
directive adds to it (modifiers apply) and turns away those a directive elsewhere or an
exclusion removes; an exclusion without a credential removes the achievements from the record;
a grant is an achievement resting on its sources (the best attempt of each), transfer when a
source's issuer differs, held as any grant is (§2: of a non-repeatable item the learner holds
once, a record attempt before the grant, among the registrar's grants the best).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from stackrules import ast
from stackrules.exceptions.model import RegistrarException
from stackrules.model import (
    AmountLeaf,
    Choice,
    CompetencyLeaf,
    Credential,
    Equivalency,
    ItemLeaf,
    Limit,
    Node,
    RuleSet,
)
from stackrules.records import Achievement, LearnerRecord

LETTERS = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F")
MAX_ASSIGNMENTS = 200_000
MAX_WORLDS = 64
EPS = 1e-9


class TooBig(Exception):
    """The input is too large for brute force; the caller discards the example."""


def rank(grade: str | None) -> int:
    """Letter grades above `P`, `P` above no grade (§1)."""
    if grade is None:
        return 0
    if grade == "P":
        return 1
    return 100 - LETTERS.index(grade)


# ------------------------------------------------------------------ dates


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def months_of(d: ast.Duration) -> int:
    return round(float(d.amount) * (12 if d.unit == "years" else 1))


# ------------------------------------------------------------------ achievements


@dataclass(eq=False)
class RAch:
    """A counting achievement: a record row that counts, a grant, or an earned credential."""

    item: str
    kind: str
    grade: str | None
    credits: float | None
    hours: float | None
    day: date | None
    subject: str | None
    level: float | None
    tags: frozenset[str]
    comps: dict[str, int]
    atoms: frozenset[int]  # the record achievements / earned credentials it rests on
    firing: int | None = None
    transfer: bool = False

    @property
    def issuer(self) -> str:
        return self.item.split(":", 1)[0]


def conflict(a: RAch, b: RAch) -> bool:
    """Whether two achievements may not both be counted in one credential (§2 units)."""
    if a is b:
        return True
    if a.firing is not None and a.firing == b.firing:
        return False
    return bool(a.atoms & b.atoms)


class Chooser:
    """Replays a sequence of choices and records the choice points it meets, so that every
    combination of the spec's open choices can be explored."""

    def __init__(self, prefix: tuple[int, ...]) -> None:
        self.prefix = prefix
        self.taken: list[int] = []
        self.points: list[int] = []  # number of options at each choice point

    def choose(self, n: int) -> int:
        i = len(self.taken)
        k = self.prefix[i] if i < len(self.prefix) else 0
        self.taken.append(k)
        self.points.append(n)
        return k


def all_worlds(run: Callable[[Chooser], object]) -> set[object]:
    out: set[object] = set()
    stack: list[tuple[int, ...]] = [()]
    worlds = 0
    while stack:
        prefix = stack.pop()
        worlds += 1
        if worlds > MAX_WORLDS:
            raise TooBig("too many worlds")
        ch = Chooser(prefix)
        out.add(run(ch))
        for j in range(len(prefix), len(ch.points)):
            for k in range(1, ch.points[j]):
                stack.append((*ch.taken[:j], k))
    return out


def _content(a: Achievement) -> object:
    return repr(sorted(a.model_dump().items()))


class Reference:
    def __init__(self, rules: RuleSet, as_of: date) -> None:
        self.rules = rules
        self.as_of = as_of
        self._futures: dict[str, list[RAch]] = {}
        # per leaf index of the credential being evaluated: items also accepted, items turned
        # away, leaves under a waived requirement (None: no exceptions for it)
        self.adjust: tuple[dict[int, set[str]], dict[int, set[str]], set[int]] | None = None

    # -------------------------------------------------------------- §1
    def base_reason(self, a: Achievement) -> str | None:
        rules = self.rules
        issuer_code = a.item.split(":", 1)[0]
        mentioned = set(rules.issuers) | {i.split(":", 1)[0] for i in rules.items}
        for rule_leaves in [e.leaves for e in rules.equivalencies] + [
            v.leaves for vs in rules.credentials.values() for v in vs
        ]:
            for leaf in rule_leaves:
                if isinstance(leaf, ItemLeaf):
                    mentioned.add(leaf.item.split(":", 1)[0])
                elif isinstance(leaf, AmountLeaf) and leaf.ids:
                    mentioned |= {i.split(":", 1)[0] for i in leaf.ids}
        if a.item not in rules.items and issuer_code not in mentioned:
            return "unknown"
        if a.status == "in-progress":
            return "in-progress"
        if a.status in ("failed", "withdrawn") or a.grade == "F":
            return "failed"
        issuer = rules.issuers.get(issuer_code)
        passing = issuer.passing_grade if issuer else "D-"
        if a.grade not in (None, "P") and rank(a.grade) < rank(passing):
            return "failed"
        expiry = a.expires_on
        item = rules.items.get(a.item)
        if expiry is None and item and item.valid_for and a.completed_on:
            expiry = add_months(a.completed_on, months_of(item.valid_for))
        if expiry is not None and expiry < self.as_of:
            return "expired"
        return None

    def counting(self, record: LearnerRecord, ch: Chooser) -> list[Achievement]:
        rows = list(record.achievements)
        reasons = [self.base_reason(a) for a in rows]
        groups: dict[str, list[int]] = {}
        for i, a in enumerate(rows):
            item = self.rules.items.get(a.item)
            if item is None or not item.repeatable:
                groups.setdefault(a.item, []).append(i)

        def recency(i: int) -> date:
            return rows[i].completed_on or date.min

        for item_id, attempts in groups.items():
            issuer = self.rules.issuers.get(item_id.split(":", 1)[0])
            if issuer is not None and issuer.repeats == "latest":
                pool = [i for i in attempts if rows[i].status in ("completed", "failed")]
                score: Callable[[int], tuple[object, ...]] = lambda i: (  # noqa: E731
                    recency(i),
                    reasons[i] != "failed",
                    rank(rows[i].grade),
                )
            else:
                pool = [i for i in attempts if reasons[i] is None]
                score = lambda i: (rank(rows[i].grade), recency(i))  # noqa: E731
            if not pool:
                continue
            top = max(score(i) for i in pool)
            best = [i for i in pool if score(i) == top]
            distinct = list({_content(rows[i]): i for i in best}.values())
            keep = distinct[ch.choose(len(distinct))] if len(distinct) > 1 else best[0]
            for i in attempts:
                if i != keep and reasons[i] is None:
                    reasons[i] = "repeat"
        return [a for a, r in zip(rows, reasons, strict=True) if r is None]

    def complete(
        self, ident: str, credits: float | None, hours: float | None
    ) -> tuple[float | None, float | None]:
        issuer = self.rules.issuers.get(ident.split(":", 1)[0])
        rate = issuer.hours_per_credit if issuer else None
        if rate:
            if credits is None and hours is not None:
                credits = hours / rate
            elif hours is None and credits is not None:
                hours = credits * rate
        return credits, hours

    def record_ach(self, a: Achievement, atom: int) -> RAch:
        item = self.rules.items.get(a.item)
        credits = a.credits if a.credits is not None else (item.credits if item else None)
        hours = a.hours if a.hours is not None else (item.hours if item else None)
        issuer = self.rules.issuers.get(a.item.split(":", 1)[0])
        rate = issuer.hours_per_credit if issuer else None
        in_step = (
            rate
            and item
            and item.credits is not None
            and item.hours is not None
            and abs(item.credits * rate - item.hours) < EPS
        )
        if in_step:
            # the catalog's other value came from (or agrees with) a conversion: convert the
            # record's value instead (§1)
            if a.credits is not None and a.hours is None:
                hours = None
            elif a.hours is not None and a.credits is None:
                credits = None
        credits, hours = self.complete(a.item, credits, hours)
        comps = dict(item.teaches) if item else {}
        for c, lvl in a.competencies.items():
            r = self.rules.levels.index(lvl) if lvl in self.rules.levels else -1
            comps[c] = max(comps.get(c, -1), r)
        return RAch(
            item=a.item,
            kind=item.kind if item else "item",
            grade=a.grade,
            credits=credits,
            hours=hours,
            day=a.completed_on,
            subject=a.subject if a.subject is not None else (item.subject if item else None),
            level=float(a.level) if a.level is not None else (item.level if item else None),
            tags=frozenset(a.tags) if a.tags else (item.tags if item else frozenset()),
            comps=comps,
            atoms=frozenset({atom}),
        )

    # -------------------------------------------------------------- matching
    def modifier_ok(self, mod: ast.Modifier, a: RAch) -> bool:
        if isinstance(mod, ast.MinGrade):
            return a.grade in (None, "P") or rank(a.grade) >= rank(mod.grade)
        if a.day is None:
            return False
        if isinstance(mod, ast.Within):
            return a.day >= add_months(self.as_of, -months_of(mod.duration))
        if isinstance(mod, ast.CompletedAfter):
            return a.day > mod.on
        return a.day < mod.on

    def filter_ok(self, f: ast.Filter, x: RAch) -> bool:
        if isinstance(f, ast.NotFilter):
            return not self.filter_ok(f.inner, x)
        if isinstance(f, ast.SubjectFilter):
            return x.subject == f.subject
        if isinstance(f, ast.SubjectInFilter):
            return x.subject in f.subjects
        if isinstance(f, ast.TaggedFilter):
            return f.tag in x.tags
        if isinstance(f, ast.IssuerFilter):
            return x.issuer == f.issuer
        if isinstance(f, ast.KindFilter):
            return x.kind == f.kind
        if isinstance(f, ast.TransferFilter):
            return x.transfer
        assert isinstance(f, ast.LevelFilter)
        if x.level is None:
            return False
        n = float(f.level)
        ops = {"=": x.level == n, ">=": x.level >= n, ">": x.level > n}
        ops |= {"<=": x.level <= n, "<": x.level < n}
        return ops[f.op]

    def in_group(self, ids: frozenset[str] | None, selector: ast.Selector | None, a: RAch) -> bool:
        if ids is not None:
            return a.item in ids
        assert selector is not None
        return all(self.filter_ok(f, a) for f in selector.filters)

    def accepts(self, leaf: ItemLeaf | AmountLeaf | CompetencyLeaf, a: RAch) -> bool:
        if not all(self.modifier_ok(m, a) for m in leaf.modifiers):
            return False
        if self.adjust is not None:  # the credential under evaluation has exceptions
            extra, reject, dead = self.adjust
            if leaf.index in dead or a.item in reject.get(leaf.index, ()):
                return False
            if a.item in extra.get(leaf.index, ()) and not isinstance(leaf, CompetencyLeaf):
                return not isinstance(leaf, AmountLeaf) or value(a, leaf.unit) > EPS
        if isinstance(leaf, ItemLeaf):
            return a.item == leaf.item
        if isinstance(leaf, CompetencyLeaf):
            return a.comps.get(leaf.competency, -1) >= leaf.level
        # an achievement that adds nothing to an amount may still be counted by it (§4)
        return self.in_group(leaf.ids, leaf.selector, a)

    # -------------------------------------------------------------- allocations
    def assignments(
        self,
        leaves: Sequence[ItemLeaf | AmountLeaf | CompetencyLeaf],
        achs: Sequence[RAch],
    ) -> Iterator[dict[int, list[RAch]]]:
        """Every assignment of achievements to leaves: each achievement to one consuming leaf
        or to none; an identifier leaf takes at most one; no two counted achievements of one
        unit of evidence."""
        options = [
            [
                leaf.index
                for leaf in leaves
                if not isinstance(leaf, CompetencyLeaf) and self.accepts(leaf, a)
            ]
            for a in achs
        ]
        total = 1
        for o in options:
            total *= len(o) + 1
        if total > MAX_ASSIGNMENTS:
            raise TooBig("too many assignments")
        item_leaf = {leaf.index for leaf in leaves if isinstance(leaf, ItemLeaf)}

        def go(
            i: int, assign: dict[int, list[RAch]], counted: list[RAch]
        ) -> Iterator[dict[int, list[RAch]]]:
            if i == len(achs):
                yield assign
                return
            yield from go(i + 1, assign, counted)
            a = achs[i]
            if any(conflict(a, b) for b in counted):
                return
            for li in options[i]:
                if li in item_leaf and assign.get(li):
                    continue
                new = dict(assign)
                new[li] = [*assign.get(li, []), a]
                yield from go(i + 1, new, [*counted, a])

        yield from go(0, {}, [])

    def holds(self, node: Node, assign: dict[int, list[RAch]], comp_met: dict[int, bool]) -> bool:
        if isinstance(node, Choice):
            return sum(self.holds(c, assign, comp_met) for c in node.children) >= node.need
        if isinstance(node, CompetencyLeaf):
            return comp_met[node.index]
        got = assign.get(node.index, [])
        if isinstance(node, ItemLeaf):
            return len(got) == 1
        return sum(value(a, node.unit) for a in got) >= node.amount - EPS

    def comp_met(self, leaves: Sequence[object], achs: Sequence[RAch]) -> dict[int, bool]:
        return {
            leaf.index: any(self.accepts(leaf, a) for a in achs)
            for leaf in leaves
            if isinstance(leaf, CompetencyLeaf)
        }

    def limit_total(self, lim: Limit, counted: Sequence[RAch]) -> float:
        return sum(value(a, lim.unit) for a in counted if self.limit_selects(lim, a))

    def limit_selects(self, lim: Limit, a: RAch) -> bool:
        if (lim.ids is not None or lim.selector is not None) and not self.in_group(
            lim.ids, lim.selector, a
        ):
            return False
        return all(self.modifier_ok(m, a) for m in lim.modifiers)

    def valid(self, cred: Credential, achs: Sequence[RAch]) -> Iterator[list[RAch]]:
        """What each allocation that earns `cred` counts."""
        met = self.comp_met(cred.leaves, achs)
        for assign in self.assignments(cred.leaves, achs):
            counted = [a for used in assign.values() for a in used]
            if not all(self.holds(r.root, assign, met) for r in cred.requirements):
                continue
            ok = True
            for lim in cred.limits:
                t = self.limit_total(lim, counted)
                if lim.bound == "at most" and t > lim.amount + EPS:
                    ok = False
                if lim.bound == "at least" and t < lim.amount - EPS:
                    ok = False
            if ok:
                yield counted

    def earns(self, cred: Credential, achs: Sequence[RAch]) -> bool:
        return any(True for _ in self.valid(cred, achs))

    def earned_on(self, cred: Credential, achs: Sequence[RAch]) -> date | None:
        """The least D such that the achievements completed by D (or undated) earn it; where
        undated ones alone earn it, the least latest date over the allocations that earn it
        and count a dated achievement, none when none counts one (§3)."""
        days = sorted({a.day for a in achs if a.day is not None})
        if not self.earns(cred, [a for a in achs if a.day is None]):
            for d in days:
                if self.earns(cred, [a for a in achs if a.day is None or a.day <= d]):
                    return d
            raise AssertionError("earned_on called on a credential that is not earned")
        for d in days:
            upto = [a for a in achs if a.day is None or a.day <= d]
            if any(any(a.day is not None for a in counted) for counted in self.valid(cred, upto)):
                return d
        return None

    # -------------------------------------------------------------- §4 least to do
    def item_cost(self, ident: str) -> float:
        item = self.rules.items.get(ident)
        return item.credits if item is not None and item.credits is not None else 1.0

    def cheapest(self, candidates: Sequence[str]) -> float:
        return min((self.item_cost(i) for i in candidates), default=1.0)

    def granted(self, ident: str) -> bool:
        return any(g.item == ident for eq in self.rules.equivalencies for g in eq.grants)

    def probe(self, ident: str, transfer: bool, day: date | None = None) -> RAch:
        item = self.rules.items[ident]
        return RAch(
            item.id,
            item.kind,
            None,
            item.credits,
            item.hours,
            day,
            item.subject,
            item.level,
            item.tags,
            dict(item.teaches),
            frozenset(),
            transfer=transfer,
        )

    def catalog_matches(self, selector: ast.Selector) -> list[str]:
        out = []
        for item in self.rules.items.values():
            probe = self.probe(item.id, self.granted(item.id))
            if all(self.filter_ok(f, probe) for f in selector.filters):
                out.append(item.id)
        return out

    def futures(self, owner: str) -> list[RAch]:
        """Catalog items as achievements the learner could still make (never the credential
        itself): no grade, dated the as-of date, taken directly or, if granted, by transfer."""
        found = self._futures.get(owner)
        if found is not None:
            return found
        out = self._futures[owner] = []
        for ident in sorted(self.rules.items):
            if ident == owner:
                continue
            out.append(self.probe(ident, False, self.as_of))
            if self.granted(ident):
                out.append(self.probe(ident, True, self.as_of))
        return out

    def node_admits(self, leaf: ItemLeaf | AmountLeaf, f: RAch) -> bool:
        if not all(self.modifier_ok(m, f) for m in leaf.modifiers):
            return False
        if isinstance(leaf, ItemLeaf):
            return f.item == leaf.item
        return self.in_group(leaf.ids, leaf.selector, f)

    def covers(self, cred: Credential, lim: Limit, leaf: Node, missing: float, hpc: float) -> float:
        """How much of `lim`'s shortfall the missing work of `leaf` covers, in its unit."""
        if not isinstance(leaf, ItemLeaf | AmountLeaf) or missing <= EPS:
            return 0.0
        both = [
            f
            for f in self.futures(cred.id)
            if self.node_admits(leaf, f) and self.limit_selects(lim, f)
        ]
        if not both:
            return 0.0
        if isinstance(leaf, ItemLeaf):
            return value(both[0], lim.unit)
        if leaf.unit == "items":
            if lim.unit == "items":
                return missing
            return missing * min(value(f, lim.unit) for f in both)
        if lim.unit == "items":
            return 1.0
        if leaf.unit == lim.unit:
            return missing
        return missing * hpc if leaf.unit == "credits" else missing / hpc

    def group_cost(self, leaf: AmountLeaf, k: int, owner: str) -> float:
        """k missing members of a group: the k cheapest distinct items it admits."""
        members = (
            sorted(set(leaf.ids)) if leaf.ids is not None else self.catalog_matches(leaf.selector)  # type: ignore[arg-type]
        )
        costs = sorted(self.item_cost(i) for i in members if i != owner)
        return sum(costs[:k]) + max(0, k - len(costs)) * 1.0

    def leaf_shortfalls(
        self,
        node: Node,
        assign: dict[int, list[RAch]],
        met: dict[int, bool],
        hpc: float,
        owner: str,
    ) -> set[tuple[float, frozenset[tuple[int, float]]]]:
        """Every way to complete `node` from this assignment: (credits, the leaves missing
        and by how much)."""
        if isinstance(node, Choice):
            options: set[tuple[float, frozenset[tuple[int, float]]]] = set()
            kids = [self.leaf_shortfalls(c, assign, met, hpc, owner) for c in node.children]
            for subset in itertools.combinations(range(len(kids)), node.need):
                for combo in itertools.product(*(kids[k] for k in subset)):
                    options.add(
                        (
                            round(sum(c[0] for c in combo), 9),
                            frozenset().union(*(c[1] for c in combo)),
                        )
                    )
            return options
        if isinstance(node, ItemLeaf):
            if assign.get(node.index):
                return {(0.0, frozenset())}
            return {(self.item_cost(node.item), frozenset({(node.index, 1.0)}))}
        if isinstance(node, CompetencyLeaf):
            if met[node.index]:
                return {(0.0, frozenset())}
            teachers = [
                i.id
                for i in self.rules.items.values()
                if i.id != owner
                and any(c == node.competency and r >= node.level for c, r in i.teaches)
            ]
            return {(self.cheapest(teachers), frozenset())}
        got = sum(value(a, node.unit) for a in assign.get(node.index, []))
        missing = node.amount - got
        if missing <= EPS:
            return {(0.0, frozenset())}
        short = frozenset({(node.index, round(missing, 9))})
        if node.unit == "credits":
            return {(missing, short)}
        if node.unit == "hours":
            return {(missing / hpc, short)}
        return {(self.group_cost(node, round(missing), owner), short)}

    def least_to_do(self, cred: Credential, achs: Sequence[RAch], holds: set[str]) -> float | None:
        """The missing credits of the allocation that leaves the least to do (None: not
        started). Fewer retakes first (a missing identifier the learner holds); a completion
        that counts a non-repeatable item and misses it elsewhere is none. A `limit at least`
        shortfall adds what the missing work of the requirements does not cover."""
        met = self.comp_met(cred.leaves, achs)
        started = any(met.values()) or any(
            self.accepts(leaf, a)
            and (not isinstance(leaf, AmountLeaf) or value(a, leaf.unit) > EPS)
            for leaf in cred.leaves
            if not isinstance(leaf, CompetencyLeaf)
            for a in achs
        )
        if not started:
            return None
        issuer = self.rules.issuers.get(cred.id.split(":", 1)[0])
        hpc = issuer.hours_per_credit if issuer and issuer.hours_per_credit else 15.0
        leaves = {leaf.index: leaf for leaf in cred.leaves}
        best: tuple[int, float] | None = None
        for assign in self.assignments(cred.leaves, achs):
            counted = [a for used in assign.values() for a in used]
            shorts = []
            feasible = True
            for lim in cred.limits:
                t = self.limit_total(lim, counted)
                if lim.bound == "at most" and t > lim.amount + EPS:
                    feasible = False
                shorts.append(lim.amount - t if lim.bound == "at least" else 0.0)
            if not feasible:
                continue
            items = {a.item for a in counted}
            per_req = [
                self.leaf_shortfalls(r.root, assign, met, hpc, cred.id) for r in cred.requirements
            ]
            for combo in itertools.product(*per_req):
                missing = [m for c in combo for m in c[1]]
                retakes = 0
                valid = True
                for index, _ in missing:
                    leaf = leaves[index]
                    if not isinstance(leaf, ItemLeaf):
                        continue
                    item = self.rules.items.get(leaf.item)
                    if leaf.item in items and not (item and item.repeatable):
                        valid = False
                    if leaf.item in holds:
                        retakes += 1
                if not valid:
                    continue
                extra = 0.0
                for lim, short in zip(cred.limits, shorts, strict=True):
                    covered = sum(self.covers(cred, lim, leaves[i], m, hpc) for i, m in missing)
                    rest = short - covered
                    if rest > EPS:
                        extra += rest / hpc if lim.unit == "hours" else rest
                key = (retakes, round(sum(c[0] for c in combo) + extra, 9))
                if best is None or key < best:
                    best = key
        return None if best is None else best[1]

    # -------------------------------------------------------------- §2 equivalencies
    def source_sets(self, eq: Equivalency, achs: Sequence[RAch]) -> list[list[RAch]]:
        """Every smallest set of sources that meets the `from` requirement."""
        window = [a for a in achs if in_window(eq.window, a.day)]
        useful = [a for a in window if any(self.accepts(leaf, a) for leaf in eq.leaves)]
        met = self.comp_met(eq.leaves, window)
        for size in range(len(useful) + 1):
            found = []
            for subset in itertools.combinations(useful, size):
                if any(conflict(a, b) for a, b in itertools.combinations(subset, 2)):
                    continue
                if any(
                    self.holds(eq.source, assign, met)
                    for assign in self.assignments(eq.leaves, subset)
                ):
                    found.append(list(subset))
            if found:
                return found
        return []

    @staticmethod
    def source_key(sources: Sequence[RAch]) -> tuple[object, ...]:
        worst = min((rank(s.grade) for s in sources), default=0)
        days = sorted((s.day.toordinal() if s.day else 0 for s in sources), reverse=True)
        return (-worst, *(-d for d in days))

    def grant(self, g: object, sources: Sequence[RAch], firing: int) -> RAch | None:
        from stackrules.model import GrantSpec

        assert isinstance(g, GrantSpec)
        item = self.rules.items.get(g.item)
        credits, hours = self.complete(
            g.item,
            g.credits if g.credits is not None else (item.credits if item else None),
            g.hours if g.hours is not None else (item.hours if item else None),
        )
        days = [s.day for s in sources if s.day is not None]
        day = max(days) if days else None
        expiry = (
            add_months(day, months_of(item.valid_for)) if item and item.valid_for and day else None
        )
        if expiry is not None and expiry < self.as_of:
            return None  # a grant expires like a record achievement
        letters = [s.grade for s in sources if s.grade in LETTERS]
        grade = (
            min(letters, key=rank)
            if letters
            else ("P" if any(s.grade == "P" for s in sources) else None)
        )
        issuer = g.item.split(":", 1)[0]
        return RAch(
            item=g.item,
            kind=item.kind if item else "item",
            grade=grade,
            credits=credits,
            hours=hours,
            day=day,
            subject=g.subject if g.subject is not None else (item.subject if item else None),
            level=g.level if g.level is not None else (item.level if item else None),
            tags=item.tags if item else frozenset(),
            comps=dict(item.teaches) if item else {},
            atoms=frozenset().union(*(s.atoms for s in sources)),
            firing=firing,
            transfer=any(s.issuer != issuer for s in sources),
        )

    # -------------------------------------------------------------- the whole evaluation
    def version(self, ident: str, catalog: date) -> Credential | None:
        versions = self.rules.credentials[ident]
        for v in versions:
            if v.window is None or in_window(v.window, catalog):
                return v
        started = [v for v in versions if v.window is not None and v.window.start <= catalog]
        return started[-1] if started else None

    def world(self, record: LearnerRecord, ch: Chooser) -> Outcome:
        rows = self.counting(record, ch)
        everywhere = {
            e.item for e in record.exceptions if e.kind == "exclude" and e.credential is None
        }
        rows = [a for a in rows if a.item not in everywhere]
        achs = [self.record_ach(a, k) for k, a in enumerate(rows)]
        next_atom = len(achs)
        held = {a.item for a in achs if a.item in self.rules.credentials}
        catalog = record.catalog_date or self.as_of
        creds = {}
        adjusts: dict[str, tuple[dict[int, set[str]], dict[int, set[str]], set[int]]] = {}
        for ident in sorted(self.rules.credentials):
            v = self.version(ident, catalog)
            if v is not None:
                mine = [e for e in record.exceptions if e.credential == ident]
                if mine:
                    v, adjusts[ident] = self.lay(v, mine)
                creds[ident] = v
        fired: set[int] = set()
        firings: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        from_record = list(achs)
        for e in record.exceptions:
            if e.kind != "grant":
                continue
            new = self.exception_grant(e, from_record, next_atom, ch)
            if new is not None:
                if not new.atoms:
                    new.atoms = frozenset({next_atom})
                    next_atom += 1
                new.firing = len(firings)
                # no duplicate credit (§2): a record attempt before the grant, among the
                # registrar's grants (all posted at once) the best by §1's ranking
                self.hold(new, achs, (), ch)
                firings.append(("exception", tuple(sorted(e.from_)), (new.item,)))
        earned: dict[str, tuple[date | None, bool]] = {}
        while True:
            snapshot = list(achs)
            added = False
            for ident, cred in creds.items():
                self.adjust = adjusts.get(ident)
                if ident in earned or ident in held or not self.earns(cred, snapshot):
                    continue
                day = self.earned_on(cred, snapshot)
                expired = bool(
                    cred.valid_for
                    and day
                    and add_months(day, months_of(cred.valid_for)) < self.as_of
                )
                earned[ident] = (day, expired)
                if not expired:
                    item = self.rules.items[ident]
                    achs.append(
                        RAch(
                            ident,
                            cred.kind,
                            None,
                            cred.credits,
                            cred.hours,
                            day,
                            item.subject,
                            item.level,
                            item.tags,
                            {},
                            frozenset({next_atom}),
                        )
                    )
                    next_atom += 1
                    added = True
            self.adjust = None
            for k, eq in enumerate(self.rules.equivalencies):
                if k in fired:
                    continue
                sets = self.source_sets(eq, snapshot)
                if not sets:
                    continue
                top = min(self.source_key(s) for s in sets)
                tied = [s for s in sets if self.source_key(s) == top]
                sources = tied[ch.choose(len(tied))] if len(tied) > 1 else tied[0]
                fired.add(k)
                firing_id = len(firings)
                grants: list[RAch] = []
                if not eq.no_credit:
                    for g in eq.grants:
                        new = self.grant(g, sources, firing_id)
                        if new is None:
                            continue
                        if any(a.item == new.item and a.atoms == new.atoms for a in achs):
                            continue
                        grants.append(new)
                    if not grants:
                        continue
                firings.append(
                    (
                        eq.where,
                        tuple(sorted(s.item for s in sources)),
                        tuple(g.item for g in grants),
                    )
                )
                for g in grants:
                    self.hold(g, achs, snapshot, ch)
                added = added or bool(grants)
            if not added:
                break
        in_progress = {}
        for ident, cred in creds.items():
            if ident in earned or ident in held:
                continue
            holds = {a.item for a in achs} | {
                a.item for a in record.achievements if a.status in ("completed", "failed")
            }
            self.adjust = adjusts.get(ident)
            cost = self.least_to_do(cred, achs, holds)
            self.adjust = None
            if cost is not None:
                in_progress[ident] = cost
        return Outcome(
            earned=tuple(sorted(earned.items())),
            in_progress=tuple(sorted(in_progress.items())),
            transfers=tuple(sorted(firings)),
            held=tuple(sorted(held)),
        )

    def hold(self, g: RAch, achs: list[RAch], snapshot: Sequence[RAch], ch: Chooser) -> None:
        """No duplicate credit (§2): a non-repeatable item is held once, a record attempt
        before any grant, among grants the best by §1's ranking."""
        item = self.rules.items.get(g.item)
        if item is not None and item.repeatable:
            achs.append(g)
            return
        others = [a for a in achs if a.item == g.item]
        if not others:
            achs.append(g)
            return
        old = others[0]
        if old.firing is None or any(a is old for a in snapshot):
            return  # a record attempt, or a grant already counted in an earlier round

        def score(a: RAch) -> tuple[object, ...]:
            issuer = self.rules.issuers.get(a.issuer)
            day = a.day or date.min
            if issuer is not None and issuer.repeats == "latest":
                return (day, rank(a.grade))
            return (rank(a.grade), day)

        if score(g) > score(old) or (score(g) == score(old) and ch.choose(2) == 1):
            achs[achs.index(old)] = g

    # -------------------------------------------------------------- exceptions
    def lay(
        self, cred: Credential, excs: Sequence[RegistrarException]
    ) -> tuple[Credential, tuple[dict[int, set[str]], dict[int, set[str]], set[int]]]:
        """The credential as these exceptions leave it, and per leaf what it also accepts,
        what it turns away, and whether it is under a waived requirement."""
        roots = {r.name: r.root for r in cred.requirements}
        under = {r.name: list(leaves_of(r.root)) for r in cred.requirements}
        limits: list[Limit | None] = list(cred.limits)
        extra: dict[int, set[str]] = {}
        reject: dict[int, set[str]] = {}
        dead: set[int] = set()

        def named_limit(text: str) -> int | None:
            want = " ".join(text.split())
            for k, lim in enumerate(cred.limits):
                if " ".join(lim.text.split()[1:]) == want:
                    return k
            return None

        for e in excs:
            if e.requirement is not None and e.requirement not in roots:
                continue
            if e.kind in ("waive", "adjust") and e.limit is not None:
                k = named_limit(e.limit)
                if k is None or limits[k] is None:
                    continue
                old = limits[k]
                assert old is not None
                limits[k] = None if e.kind == "waive" else replace(old, amount=e.amount)
            elif e.kind == "waive":
                assert e.requirement is not None
                roots[e.requirement] = Choice(0, (), "all")
                dead |= {leaf.index for leaf in under[e.requirement]}
            elif e.kind == "adjust":
                assert e.requirement is not None and e.amount is not None
                top = roots[e.requirement]
                if isinstance(top, AmountLeaf):
                    roots[e.requirement] = replace(top, amount=e.amount)
                elif isinstance(top, Choice) and float(e.amount).is_integer():
                    need = min(int(e.amount), len(top.children))
                    roots[e.requirement] = replace(top, need=need)
            elif e.kind == "substitute":
                assert e.item is not None and e.for_ is not None
                scope = under[e.requirement] if e.requirement else list(cred.leaves)
                for leaf in scope:
                    if (isinstance(leaf, ItemLeaf) and leaf.item == e.for_) or (
                        isinstance(leaf, AmountLeaf) and leaf.ids and e.for_ in leaf.ids
                    ):
                        extra.setdefault(leaf.index, set()).add(e.item)
            elif e.kind in ("also-allow", "apply"):
                assert e.requirement is not None and e.item is not None
                for leaf in groups_of(roots[e.requirement]):
                    extra.setdefault(leaf.index, set()).add(e.item)
                if e.kind == "apply":
                    inside = {leaf.index for leaf in under[e.requirement]}
                    for leaf in cred.leaves:
                        if leaf.index not in inside:
                            reject.setdefault(leaf.index, set()).add(e.item)
            elif e.kind == "exclude":
                assert e.item is not None
                for leaf in cred.leaves:
                    reject.setdefault(leaf.index, set()).add(e.item)
        laid = replace(
            cred,
            requirements=tuple(replace(r, root=roots[r.name]) for r in cred.requirements),
            limits=tuple(lim for lim in limits if lim is not None),
        )
        return laid, (extra, reject, dead)

    def exception_grant(
        self, e: RegistrarException, achs: Sequence[RAch], next_atom: int, ch: Chooser
    ) -> RAch | None:
        assert e.item is not None
        sources = []
        for ident in e.from_:
            options = [a for a in achs if a.item == ident and a.firing is None]
            if not options:
                return None
            top = max((rank(a.grade), a.day or date.min) for a in options)
            best = [a for a in options if (rank(a.grade), a.day or date.min) == top]
            sources.append(best[ch.choose(len(best))] if len(best) > 1 else best[0])
        item = self.rules.items.get(e.item)
        credits, hours = self.complete(
            e.item,
            e.credits if e.credits is not None else (item.credits if item else None),
            e.hours if e.hours is not None else (item.hours if item else None),
        )
        days = [s.day for s in sources if s.day is not None]
        day = e.completed_on or (max(days) if days else None)
        if (
            item
            and item.valid_for
            and day
            and add_months(day, months_of(item.valid_for)) < self.as_of
        ):
            return None  # expired
        letters = [s.grade for s in sources if s.grade in LETTERS]
        grade = e.grade or (
            min(letters, key=rank)
            if letters
            else ("P" if any(s.grade == "P" for s in sources) else None)
        )
        issuer = e.item.split(":", 1)[0]
        return RAch(
            item=e.item,
            kind=item.kind if item else "item",
            grade=grade,
            credits=credits,
            hours=hours,
            day=day,
            subject=e.subject if e.subject is not None else (item.subject if item else None),
            level=e.level if e.level is not None else (item.level if item else None),
            tags=item.tags if item else frozenset(),
            comps=dict(item.teaches) if item else {},
            atoms=frozenset().union(*(s.atoms for s in sources)),
            transfer=any(s.issuer != issuer for s in sources),
        )

    def outcomes(self, record: LearnerRecord) -> set[Outcome]:
        return {o for o in all_worlds(lambda ch: self.world(record, ch))}  # type: ignore[misc]


@dataclass(frozen=True)
class Outcome:
    """What the differential test compares: earned (with date and expiry), in progress (with
    the least missing credits), fired transfers (rule position, sources, grants), held."""

    earned: tuple[tuple[str, tuple[date | None, bool]], ...]
    in_progress: tuple[tuple[str, float], ...]
    transfers: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    held: tuple[str, ...] = field(default=())


def leaves_of(node: Node) -> Iterator[ItemLeaf | AmountLeaf | CompetencyLeaf]:
    if isinstance(node, Choice):
        for child in node.children:
            yield from leaves_of(child)
    else:
        yield node


def groups_of(node: Node, in_list: bool = False) -> Iterator[ItemLeaf | AmountLeaf]:
    """The leaves standing for a group under `node`: amounts, members of any/N-of lists."""
    if isinstance(node, Choice):
        for child in node.children:
            yield from groups_of(child, node.form != "all")
    elif isinstance(node, AmountLeaf) or (isinstance(node, ItemLeaf) and in_list):
        yield node


def value(a: RAch, unit: str) -> float:
    if unit == "items":
        return 1.0
    v = a.credits if unit == "credits" else a.hours
    return v or 0.0


def in_window(window: ast.Window | None, day: date | None) -> bool:
    if window is None or day is None:
        return True
    return window.start <= day and (window.end is None or day <= window.end)


def reference_outcomes(rules: RuleSet, record: LearnerRecord, as_of: date) -> set[Outcome]:
    """Every outcome the spec allows for this record (more than one only where the spec
    leaves a tie open). Raises TooBig when brute force would take too long."""
    return Reference(rules, as_of).outcomes(record)
