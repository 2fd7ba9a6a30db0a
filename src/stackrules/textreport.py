"""The text report: one learner's report as an audit a registrar reads and signs.

Takes a :class:`~stackrules.report.Report`; returns plain text. Every decision cites the rule
that made it (`file:line`), every granted achievement its equivalency and sources.
"""

from __future__ import annotations

from stackrules.report import (
    Evidence,
    ExceptionResult,
    InProgressCredential,
    Remaining,
    Report,
    RequirementResult,
)


def number(value: float) -> str:
    """A number for reading: whole numbers bare, others to at most two decimals."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def evidence_facts(e: Evidence) -> str:
    """What the audit says of one piece of evidence: `B+, 3 cr, 2022-05-13` (the web page says
    the same)."""
    facts = []
    if e.grade:
        facts.append(e.grade)
    if e.credits is not None:
        facts.append(f"{number(e.credits)} cr")
    elif e.hours is not None:
        facts.append(f"{number(e.hours)} h")
    if e.completed_on:
        facts.append(e.completed_on.isoformat())
    return ", ".join(facts)


def _evidence(e: Evidence) -> str:
    facts = evidence_facts(e)
    text = e.item + (f" ({facts})" if facts else "")
    if e.origin == "granted" and e.source == "exception":
        sources = f" for {' + '.join(e.sources)}" if e.sources else ""
        text += f" granted by exception {e.rule}{sources}"
    elif e.origin == "granted":
        text += f" granted by {e.rule} at {e.source} for {' + '.join(e.sources)}"
    elif e.origin == "earned":
        text += " earned credential"
    elif e.origin == "held":
        text += " credential held"
    return text


def _requirement(r: RequirementResult, approvals: dict[str, str] | None = None) -> list[str]:
    mark = "met" if r.met else "NOT MET"
    label = r.name if r.label == r.name else f"{r.name} ({r.label})"
    lines = [f"    [{mark}] {label}" + ("" if r.evidence else ": nothing counted yet")]
    if r.exceptions and approvals is not None:
        # a registrar exception decided it: which, who approved it and when
        if r.met and not r.evidence:
            lines[0] = f"    [{mark}] {label}: no evidence needed"
        lines += [f"        by exception {approvals.get(i, i)}" for i in r.exceptions]
    lines += [f"        - {_evidence(e)}" for e in r.evidence]
    return lines


def _approval(e: ExceptionResult) -> str:
    who = f"approved by {e.approved_by}" if e.approved_by else "approved"
    when = f" on {e.approved_on.isoformat()}" if e.approved_on else ""
    return f"{e.id} ({e.kind}, {who}{when})"


def _exceptions(report: Report) -> list[str]:
    out = ["", "EXCEPTIONS"]
    for e in report.exceptions:
        state = e.effect if e.applied else f"not applied: {e.effect}"
        out.append(f"  {_approval(e)}: {state}")
        if e.note:
            out.append(f"    note: {e.note}")
    return out


def _remaining(r: Remaining) -> str:
    unit = r.unit if r.need != 1 or r.unit != "items" else "item"
    options = f": {', '.join(r.options)}" if r.options else ""
    what = r.requirement
    if r.limit is not None:
        what = f"limit `{r.limit}`" + (f" ({r.source})" if r.source else "")
    adjusted = f" (adjusted by {', '.join(r.exceptions)})" if r.exceptions else ""
    return f"    needs {number(r.need)} more {unit} for {what}{adjusted}{options}"


def _work(p: InProgressCredential) -> str:
    """What remains, in hours where everything that remains is measured in hours (the
    requirements' own shortfalls; a limit's only where nothing else remains), else in
    credits (§4's measure)."""
    if p.remaining and all(r.unit == "hours" for r in p.remaining):
        needs = [r.need for r in p.remaining if r.limit is None] or [r.need for r in p.remaining]
        hours = sum(needs)
        return f"{number(hours)} hour{'' if hours == 1 else 's'}"
    credits = p.remaining_credits
    return f"{number(credits)} credit{'' if credits == 1 else 's'}"


def _scope(report: Report) -> str:
    """How many credentials are in progress and which of them the report shows (§6)."""
    if not report.started and not report.in_progress:
        return "none"
    started = f"{report.started} credential{'' if report.started == 1 else 's'} started"
    pursued = sum(1 for p in report.in_progress if p.pursued)
    others = len(report.in_progress) - pursued
    parts = [started]
    if pursued:
        parts.append(f"{pursued} pursued")
    if report.in_progress_limit is None:
        parts.append("all shown" if report.started else "none shown")
        return "; ".join(parts)
    parts.append(f"{others} nearest shown")
    line = "; ".join(parts)
    shown_started = sum(1 for p in report.in_progress if any(r.evidence for r in p.requirements))
    if shown_started < report.started:
        line += "; `--in-progress all` for every one"
    return line


def render_text(report: Report) -> str:
    approvals = {e.id: _approval(e) for e in report.exceptions} if report.exceptions else None
    out = [f"Learner {report.learner}, evaluated as of {report.as_of.isoformat()}"]
    if report.catalog_date:
        out[0] += f" (catalog date {report.catalog_date.isoformat()})"
    out.append("")
    out.append("EARNED")
    if not report.earned:
        out.append("  none")
    for c in report.earned:
        when = f", met on {c.completed_on.isoformat()}" if c.completed_on else ""
        expired = " (EXPIRED: counts toward nothing else)" if c.expired else ""
        pursued = " (pursued)" if c.pursued else ""
        out.append(f"  {c.credential} {c.title}{pursued} [rule {c.source}]{when}{expired}")
        for r in c.requirements:
            out += _requirement(r, approvals)
        for lim in c.limits:
            state = "holds" if lim.met else "FAILS"
            out.append(f"    [{state}] {lim.text}: counted {number(lim.value)} [rule {lim.source}]")
            if lim.exceptions and approvals is not None:
                # waived (it holds whatever is counted) or adjusted: by whom, and when
                out += [f"        by exception {approvals.get(i, i)}" for i in lim.exceptions]
    out.append("")
    out.append("IN PROGRESS")
    out.append(f"  {_scope(report)}")
    for p in report.in_progress:
        if not p.offered:
            out.append(
                f"  {p.credential} {p.title} (pursued) [rule {p.source}]: not offered at the "
                "learner's catalog date"
            )
            continue
        pursued = " (pursued)" if p.pursued else ""
        out.append(
            f"  {p.credential} {p.title}{pursued} [rule {p.source}]: {_work(p)} of work remain"
        )
        for r in p.requirements:
            out += _requirement(r, approvals)
        out += [_remaining(r) for r in p.remaining]
    out.append("")
    out.append("TRANSFER CREDIT")
    if not report.transfers:
        out.append("  none")
    for t in report.transfers:
        granted = " + ".join(t.grants) if t.grants else "no credit"
        rule = f"exception {t.rule}" if t.source == "exception" else f"rule {t.rule} at {t.source}"
        out.append(
            f"  {' + '.join(t.from_) or '(prior learning)'} => {granted}, {number(t.credits)} "
            f"credit{'' if t.credits == 1 else 's'} "
            f"[{rule}]"
        )
    out.append("")
    out.append("DID NOT COUNT")
    if not report.not_counted:
        out.append("  nothing")
    for n in report.not_counted:
        where = f" [rule {n.rule} at {n.source}]" if n.source else ""
        if n.source == "exception":
            where = f" [exception {n.rule}]"
        detail = f": {n.detail}" if n.detail else ""
        out.append(f"  {n.item}: {n.reason}{detail}{where}")
    if report.held:
        out.append("")
        out.append("HELD (awarded earlier)")
        out += [f"  {h}" for h in report.held]
    if report.warnings:
        out.append("")
        out.append("WARNINGS")
        out += [f"  {w.item}: {w.message}" for w in report.warnings]
    out.append("")
    out.append("NOT USED BY ANY CREDENTIAL")
    out += [f"  {u}" for u in report.unused] or ["  nothing"]
    if report.exceptions:
        out += _exceptions(report)
    return "\n".join(out) + "\n"
