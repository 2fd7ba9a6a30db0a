"""The audit trail of a learner's exceptions (`exceptions.md`, "What the report shows").

Takes the report the evaluator made and the learner's `LearnerExceptions`; gives the report
with its `exceptions` list, and the ids of the exceptions that decided them on requirement
results, limits and evidence: a waiver or adjustment on its requirement or limit, a grant on
its granted achievement wherever that is used, a directive (`apply`) on its item counted under
its requirement. A substitution or also-allow is on the evidence it let in, and the
explanations put it there (`Explainer._admitted`): only evidence counted on a leaf that
accepts it because of the exception, where the rules' leaf neither names nor selects it.
Each names its requirement too.

Whether a substitution, also-allow or directive was applied is read from the allocations the
report shows (`_unused`): a substitution or also-allow none of whose evidence a shown
allocation counts, or a directive whose item no shown allocation counts under its
requirement, changed nothing, and says why.
"""

from __future__ import annotations

from collections.abc import Mapping

from stackrules import report
from stackrules.evaluation.exceptions.learner import LearnerExceptions
from stackrules.exceptions.check import limit_name
from stackrules.exceptions.model import RegistrarException

_ADMITTING = ("substitute", "also-allow", "apply")


def annotate(result: report.Report, found: LearnerExceptions) -> report.Report:
    applied = {i for i, (ok, _) in found.effects.items() if ok}
    acting = [e for e in found.exceptions if e.id in applied]
    order = {e.id: k for k, e in enumerate(found.exceptions)}
    earned = [
        c.model_copy(
            update={
                "requirements": _requirements(c.credential, c.requirements, acting, order),
                "limits": _limits(c.credential, c.limits, acting),
            }
        )
        for c in result.earned
    ]
    in_progress = [
        c.model_copy(
            update={
                "requirements": _requirements(c.credential, c.requirements, acting, order),
                "remaining": _remaining(c.credential, c.remaining, acting),
            }
        )
        for c in result.in_progress
    ]
    effects = dict(found.effects)
    shown: dict[str, report.EarnedCredential | report.InProgressCredential] = {
        c.credential: c for c in earned
    }
    shown.update((c.credential, c) for c in in_progress)
    kinds = {e.id: e.kind for e in found.exceptions}
    for e in acting:
        if e.kind in _ADMITTING:
            why = _unused(e, shown, kinds)
            if why is not None:
                effects[e.id] = (False, why)
    listed = [_entry(e, effects.get(e.id, (False, "not applied"))) for e in found.exceptions]
    return result.model_copy(
        update={"earned": earned, "in_progress": in_progress, "exceptions": listed}
    )


def _unused(
    exc: RegistrarException,
    shown: dict[str, report.EarnedCredential | report.InProgressCredential],
    kinds: Mapping[str, str],
) -> str | None:
    """Why a substitution, also-allow or directive changed nothing in the report, or None
    when it did: it is applied when the allocation the report shows for its credential
    counts an achievement it let in (its evidence names it: for a substitution or also-allow,
    only where the rules alone would not have counted it there; an earned credential always
    shows its allocation, one in progress only when it is pursued or among the nearest the
    report shows)."""
    entry = shown.get(exc.credential or "")
    if entry is None:
        return (
            f"`{exc.credential}` is neither earned nor among the credentials in progress "
            "this report shows"
        )
    requirements = entry.requirements
    if any(exc.id in ev.exceptions for r in requirements for ev in r.evidence):
        return None
    where = f"{exc.credential} {exc.requirement}" if exc.requirement else str(exc.credential)
    named = [r for r in requirements if exc.requirement is None or r.name == exc.requirement]
    if exc.kind != "apply":
        # counted, but not where this exception let it in: it made no difference
        for r in named:
            for ev in r.evidence:
                if ev.item != exc.item:
                    continue
                others = [i for i in ev.exceptions if kinds.get(i) in _ADMITTING]
                place = f"`{exc.credential} {r.name}`"
                if not others:
                    return f"{exc.item} already counted by the rules: {place} accepts it"
                return f"{exc.item} is counted in {place} because of {', '.join(others)} instead"
    if isinstance(entry, report.EarnedCredential) and all(r.met for r in named):
        met = "earned" if exc.requirement is None else "met"
        return f"{exc.item} not needed: {where} {met} without it"
    return f"{exc.item} is not counted in the allocation shown for {where}"


def _entry(exc: RegistrarException, effect: tuple[bool, str]) -> report.ExceptionResult:
    return report.ExceptionResult(
        id=exc.id,
        kind=exc.kind,
        applied=effect[0],
        effect=effect[1],
        approved_by=exc.approved_by,
        approved_on=exc.approved_on,
        note=exc.note,
    )


def _requirements(
    credential: str,
    results: list[report.RequirementResult],
    acting: list[RegistrarException],
    order: dict[str, int],
) -> list[report.RequirementResult]:
    out = []
    for r in results:
        ids: list[str] = []
        for exc in acting:
            if (
                exc.kind in ("waive", "adjust")
                and exc.credential == credential
                and exc.requirement == r.name
            ):
                ids.append(exc.id)
        evidence = []
        for ev in r.evidence:
            # (a substitution's or also-allow's id is already there: `Explainer._admitted`)
            more = [e.id for e in acting if _admits(e, credential, r.name, ev)]
            by = sorted({*ev.exceptions, *more}, key=order.__getitem__)
            if by != ev.exceptions:
                ev = ev.model_copy(update={"exceptions": by})
            ids.extend(i for i in by if i not in ids)
            evidence.append(ev)
        out.append(r.model_copy(update={"exceptions": ids, "evidence": evidence}) if ids else r)
    return out


def _limits(
    credential: str, results: list[report.LimitResult], acting: list[RegistrarException]
) -> list[report.LimitResult]:
    """The limits a waiver or adjustment decided, naming it (as a requirement names its)."""
    out = []
    for lim in results:
        ids = [
            e.id
            for e in acting
            if e.kind in ("waive", "adjust")
            and e.credential == credential
            and e.limit is not None
            and limit_name(e.limit) == limit_name(lim.text)
        ]
        out.append(lim.model_copy(update={"exceptions": ids}) if ids else lim)
    return out


def _remaining(
    credential: str, entries: list[report.Remaining], acting: list[RegistrarException]
) -> list[report.Remaining]:
    """What remains against an adjusted requirement or limit names the adjustment: the entry
    says the rules' text, its need is counted against the amount the exception set."""
    out = []
    for r in entries:
        ids = [
            e.id
            for e in acting
            if e.kind == "adjust"
            and e.credential == credential
            and (
                limit_name(e.limit) == limit_name(r.limit)
                if r.limit is not None and e.limit is not None
                else r.limit is None and e.requirement == r.requirement
            )
        ]
        out.append(r.model_copy(update={"exceptions": ids}) if ids else r)
    return out


def _admits(
    exc: RegistrarException, credential: str, requirement: str, ev: report.Evidence
) -> bool:
    """Whether a grant made this evidence, or a directive put it under this requirement."""
    if exc.kind == "grant":
        return ev.origin == "granted" and ev.rule == exc.id
    return (
        exc.kind == "apply"
        and exc.credential == credential
        and exc.requirement == requirement
        and ev.item == exc.item
    )
