"""Plan and nearest results as data (pydantic, `stackrules/plan/v1`) and as advisor text.

Takes :class:`PlanResult` values; gives JSON-ready models and readable text that cites each
rule by `file:line`, like the evaluate audit. The JSON is stable: fields are only ever added.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stackrules import ast
from stackrules.advisor.plan import Planner, PlanResult
from stackrules.report import RequirementResult

PLAN_SCHEMA = "stackrules/plan/v1"
NEAREST_SCHEMA = "stackrules/nearest/v1"
Status = Literal["planned", "earned", "held", "unreachable", "not-offered"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CostOut(_Model):
    credits: float
    hours: float
    items: int
    work: float = Field(
        default=0.0,
        description="Credit-equivalents: credits; for an item with no credit value its hours "
        "at its issuer's `hours per credit`, else 1. What plans minimise and nearest ranks by.",
    )


class PlannedItem(_Model):
    item: str
    title: str
    credits: float | None = None
    hours: float | None = None
    term: int
    counts_toward: list[str] = Field(
        default_factory=list,
        description="`CREDENTIAL requirement` for each requirement it is counted in, the "
        "target's and those of the credentials it ladders through.",
    )
    prerequisite: str | None = None
    prerequisite_met: bool = True


class TermOut(_Model):
    term: int
    items: list[str]
    credits: float


class RequirementUse(_Model):
    name: str
    label: str
    source: str
    used: list[str]
    planned: list[str]


class PlanOut(_Model):
    schema_: str = Field(default=PLAN_SCHEMA, alias="schema")
    learner: str
    as_of: date
    catalog_date: date | None = None
    added: list[str] = Field(default_factory=list, description="What-if completions (--add).")
    target: str
    title: str
    source: str | None = None
    status: Status
    started: bool = Field(
        default=False,
        description="The completion counts something the learner already has (in progress).",
    )
    proven: bool = Field(
        default=True,
        description="The plan is proven the cheapest (false: checked by the engine, but found "
        "without the courses the learner holds through transfer).",
    )
    cost: CostOut
    items: list[PlannedItem] = Field(default_factory=list)
    terms: list[TermOut] = Field(default_factory=list)
    requirements: list[RequirementUse] = Field(default_factory=list)


class NearestOut(_Model):
    schema_: str = Field(default=NEAREST_SCHEMA, alias="schema")
    learner: str
    as_of: date
    catalog_date: date | None = None
    added: list[str] = Field(default_factory=list)
    issuer: str | None = None
    credentials: list[PlanOut]


def _num(x: float) -> str:
    return f"{x:g}"


def plan_out(
    planner: Planner,
    result: PlanResult,
    learner: str,
    as_of: date,
    catalog_date: date | None,
    added: list[str],
) -> PlanOut:
    rules = planner.rules
    version = planner.evaluator.version(result.target, catalog_date or as_of)
    term_of: dict[str, list[int]] = {}  # item -> the term of each copy, in order
    for n, t in enumerate(result.terms, 1):
        for i in t.items:
            term_of.setdefault(i, []).append(n)
    uses: list[RequirementUse] = []
    toward: dict[str, list[str]] = {}
    earned = None
    if result.report is not None:
        earned = next((e for e in result.report.earned if e.credential == result.target), None)
    planned_set = set(result.items)

    def planned_in(r: RequirementResult) -> list[str]:
        found: list[str] = []
        for ev in r.evidence:
            if ev.origin == "record" and ev.item in planned_set and ev.completed_on == as_of:
                found.append(ev.item)
            elif ev.origin == "granted":
                found += [s for s in ev.sources if s in planned_set]
        return sorted(set(found))

    if result.report is not None and result.status == "planned":
        for cred in result.report.earned:
            for r in cred.requirements:
                for i in planned_in(r):
                    toward.setdefault(i, []).append(f"{cred.credential} {r.name}")
    if earned is not None and version is not None and result.status == "planned":
        where = {r.name: r.where for r in version.requirements}
        for r in earned.requirements:
            uses.append(
                RequirementUse(
                    name=r.name,
                    label=r.label,
                    source=where.get(r.name, ""),
                    used=list(r.used),
                    planned=planned_in(r),
                )
            )
    items = []
    for i in result.items:
        it = rules.items[i]
        pre = it.prerequisite
        items.append(
            PlannedItem(
                item=i,
                title=it.title,
                credits=it.credits,
                hours=it.hours,
                term=term_of[i].pop(0) if term_of.get(i) else 0,
                counts_toward=sorted(set(toward.get(i, [])), key=lambda t: (t != result.target, t)),
                prerequisite=_text(pre) if pre is not None else None,
                prerequisite_met=i not in result.blocked,
            )
        )
    title = rules.items[result.target].title if result.target in rules.items else result.target
    return PlanOut(
        learner=learner,
        as_of=as_of,
        catalog_date=catalog_date,
        added=added,
        target=result.target,
        title=title,
        source=version.where if version is not None else None,
        status=result.status,
        cost=CostOut(
            credits=round(result.cost.credits, 6),
            hours=round(result.cost.hours, 6),
            items=result.cost.items,
            work=round(result.cost.work, 6),
        ),
        started=result.started,
        proven=result.proven,
        items=items,
        terms=[
            TermOut(term=n, items=t.items, credits=round(t.credits, 6))
            for n, t in enumerate(result.terms, 1)
        ],
        requirements=uses,
    )


def _text(req: ast.Requirement) -> str:
    from stackrules.format import requirement_text

    return requirement_text(req)


_STATUS_TEXT = {
    "earned": "already earned: nothing to plan",
    "held": "already held: nothing to plan",
    "unreachable": "cannot be earned from the catalog, whatever is taken",
    "not-offered": "no version is in force at the catalog date",
}


def render_plan(p: PlanOut) -> str:
    head = f"Plan for learner {p.learner}, as of {p.as_of.isoformat()}"
    if p.catalog_date:
        head += f" (catalog date {p.catalog_date.isoformat()})"
    out = [head]
    if p.added:
        out.append(f"  what-if: counting as completed {', '.join(p.added)}")
    rule = f" [rule {p.source}]" if p.source else ""
    out.append(f"TARGET {p.target} {p.title}{rule}")
    if p.status != "planned":
        out.append(f"  {_STATUS_TEXT[p.status]}")
        return "\n".join(out) + "\n"
    c = p.cost
    what = "cheapest completion" if p.proven else "a completion (not proven the cheapest)"
    out.append(
        f"  {what}: {len(p.items)} item{'s' if len(p.items) != 1 else ''}, "
        f"{_num(c.credits)} credits, {_num(c.hours)} hours{_work(c)}"
    )
    for t in p.terms:
        out.append(f"  term {t.term} ({_num(t.credits)} credit{'' if t.credits == 1 else 's'})")
        for i in t.items:
            entry = next(x for x in p.items if x.item == i)
            amount = []
            if entry.credits is not None:
                amount.append(f"{_num(entry.credits)} cr")
            if entry.hours is not None:
                amount.append(f"{_num(entry.hours)} h")
            line = f"    {i} {entry.title}"
            if amount:
                line += f" ({', '.join(amount)})"
            if entry.counts_toward:
                line += f" -> {', '.join(entry.counts_toward)}"
            out.append(line)
            if entry.prerequisite and not entry.prerequisite_met:
                out.append(
                    f"      prerequisite not met by the record or the plan: {entry.prerequisite}"
                )
    out.append("  how it completes the target:")
    for r in p.requirements:
        planned = set(r.planned)
        used = _copies_text([f"{u}*" if u in planned else u for u in r.used]) or "-"
        out.append(f'    {r.name} "{r.label}" [rule {r.source}]: {used}')
    out.append("  (* planned)")
    return "\n".join(out) + "\n"


def render_nearest(n: NearestOut) -> str:
    head = f"Nearest credentials for learner {n.learner}, as of {n.as_of.isoformat()}"
    if n.issuer:
        head += f", issuer {n.issuer}"
    out = [head]
    if n.added:
        out.append(f"  what-if: counting as completed {', '.join(n.added)}")
    if not n.credentials:
        out.append("  none: every credential is earned, held or out of reach")
    for rank, p in enumerate(n.credentials, 1):
        c = p.cost
        rule = f" [rule {p.source}]" if p.source else ""
        if p.status != "planned":
            out.append(f"{rank:>3}. {p.target} {p.title}{rule}: {_STATUS_TEXT[p.status]}")
            continue
        out.append(
            f"{rank:>3}. {p.target} {p.title}{rule}: "
            f"{'in progress' if p.started else 'not started'}, {_num(c.work)} credit"
            f"{'' if c.work == 1 else 's'} of work ({_num(c.credits)} credit"
            f"{'' if c.credits == 1 else 's'}, {_num(c.hours)} hour{'' if c.hours == 1 else 's'}), "
            f"{c.items} item{'s' if c.items != 1 else ''}"
        )
        out.append(f"     remaining: {_copies_text([i.item for i in p.items])}")
    return "\n".join(out) + "\n"


def copy_runs(items: Sequence[str]) -> list[tuple[str, int]]:
    """A run of copies of one item once, with their number (order kept)."""
    runs: list[tuple[str, int]] = []
    for i in items:
        if runs and runs[-1][0] == i:
            runs[-1] = (i, runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def _copies_text(items: list[str]) -> str:
    """`A, B x3`: a run of copies of one item once, with their number (order kept)."""
    return ", ".join(i if n == 1 else f"{i} x{n}" for i, n in copy_runs(items))


def _work(c: CostOut) -> str:
    """The work in credit-equivalents, where it is not simply the credits."""
    if round(c.work - c.credits, 6) == 0:
        return ""
    return f" ({_num(c.work)} credit-equivalent{'' if c.work == 1 else 's'} of work)"
