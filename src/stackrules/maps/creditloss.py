"""Credit loss: a cohort of learners' records and their reports in, credits earned at each source
institution, credits granted by transfer and credits applied to a target credential out.

Definitions (per learner and source institution S):

- **earned** — credits of the learner's counting record achievements issued by S (and of
  credentials of S the record holds), in S's own units; failed, expired, in-progress and repeated
  attempts do not count;
- **granted** — credits of the transfer grants whose sources are S's achievements (a transfer
  whose sources come from several institutions is attributed to all of them jointly, as
  `A+B`), in the receiving institution's units; a `=> none` line that matched grants nothing and
  is counted under `no_credit`;
- **applied** — credits of what the target credential's allocation actually uses that came
  from S: grants of S's achievements, S's own achievements counted directly, and S's
  credentials laddered in;
- **target credential** — with `--target ID`, that credential for every learner who has earned
  or started it (the cohort is those learners; S ranges over every other institution on their
  records). Without it, for each learner and source S, the learner's earned or in-progress
  credential at another institution that applies the most credits from S (ties: the most
  achievements from S, the earned one, then the identifier); the cohort is the learners with
  at least one transfer from S: a grant, a `=> none` line, or an achievement of S that a
  rule turned away (below its minimum grade, outside its dates, too old). A learner with no
  such credential has no target and applies nothing.

Credits are summed as the rules and records give them; units differ between institutions (a
Camosun course is 3 credits, its UVic equivalent 1.5 units), so earned and granted are not
percentages of each other.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from stackrules.maps.text import number_text
from stackrules.model import RuleSet
from stackrules.records import LearnerRecord
from stackrules.report import EarnedCredential, InProgressCredential, Report

NOT_EARNED = frozenset(("failed", "in-progress", "expired", "unknown", "repeat"))


def issuer_of(ident: str) -> str:
    return ident.split(":", 1)[0]


@dataclass(frozen=True)
class LearnerLoss:
    learner: str
    source: str
    target: str | None
    status: str | None  # earned | in-progress
    earned: float
    granted: float
    applied: float
    no_credit: int


@dataclass
class SourceLoss:
    source: str
    learners: int = 0
    earned: float = 0.0
    granted: float = 0.0
    applied: float = 0.0
    no_credit: int = 0
    targets: Counter[str] = field(default_factory=Counter)


def _earned_by_issuer(rules: RuleSet, record: LearnerRecord, report: Report) -> dict[str, float]:
    # what the source itself did not award; a rule turning an achievement away
    # (below a transfer line's grade, outside its dates, `=> none`) is credit lost, not unearned
    turned_away = Counter(n.item for n in report.not_counted if n.reason in NOT_EARNED)
    by_item: dict[str, list[float]] = {}
    for a in record.achievements:
        item = rules.items.get(a.item)
        value = a.credits if a.credits is not None else (item.credits if item else None)
        by_item.setdefault(a.item, []).append(value or 0.0)
    totals: dict[str, float] = {}
    for ident, values in by_item.items():
        counting = max(len(values) - turned_away.get(ident, 0), 0)
        best = sum(sorted(values, reverse=True)[:counting])
        totals[issuer_of(ident)] = totals.get(issuer_of(ident), 0.0) + best
    return totals


def _source_key(items: Iterable[str]) -> str:
    return "+".join(sorted({issuer_of(i) for i in items}))


def _applied(credential: EarnedCredential | InProgressCredential, source: str) -> float:
    return _used(credential, source)[0]


def _used(credential: EarnedCredential | InProgressCredential, source: str) -> tuple[float, int]:
    """Credits and achievements from the source that the credential's allocation uses."""
    total, count = 0.0, 0
    for req in credential.requirements:
        for ev in req.evidence:
            if ev.origin == "granted":
                origin = _source_key(ev.sources) if ev.sources else issuer_of(ev.item)
            else:
                origin = issuer_of(ev.item)
            if origin == source:
                total += ev.credits or 0.0
                count += 1
    return total, count


def learner_losses(
    rules: RuleSet, record: LearnerRecord, report: Report, target: str | None = None
) -> list[LearnerLoss]:
    """One row per source institution of this learner (none when the learner is not in the
    cohort the definitions above give)."""
    earned = _earned_by_issuer(rules, record, report)
    granted: dict[str, float] = {}
    no_credit: Counter[str] = Counter()
    for t in report.transfers:
        source = _source_key(t.from_)
        if t.reason == "no-credit":
            no_credit[source] += 1
        elif any(issuer_of(g) != source for g in t.grants):
            granted[source] = granted.get(source, 0.0) + t.credits
    credentials: list[tuple[str, EarnedCredential | InProgressCredential]] = [
        ("earned", c) for c in report.earned
    ] + [("in-progress", c) for c in report.in_progress]
    if target is not None:
        chosen = [(s, c) for s, c in credentials if c.credential == target]
        if not chosen:
            return []
        status, credential = chosen[0]
        sources = sorted((set(earned) | set(granted) | set(no_credit)) - {issuer_of(target)})
        return [
            LearnerLoss(
                record.learner,
                s,
                target,
                status,
                earned.get(s, 0.0),
                granted.get(s, 0.0),
                _applied(credential, s),
                no_credit.get(s, 0),
            )
            for s in sources
        ]
    # achievements an equivalency into another institution turned away (grade, dates, age)
    into: dict[str, set[str]] = {
        eq.where: {issuer_of(g.item) for g in eq.grants} for eq in rules.equivalencies
    }
    refused = {
        issuer_of(n.item)
        for n in report.not_counted
        if n.reason not in NOT_EARNED
        and n.source in into
        and issuer_of(n.item) not in into[n.source]
    }
    rows = []
    for s in sorted(set(granted) | set(no_credit) | refused):
        best: tuple[float, int, int, str, str] | None = None
        for status, c in credentials:
            if issuer_of(c.credential) in s.split("+"):
                continue
            applied, used = _used(c, s)
            key = (applied, used, 1 if status == "earned" else 0, c.credential, status)
            if used > 0 and (best is None or key[:3] > best[:3]):
                best = key
        rows.append(
            LearnerLoss(
                record.learner,
                s,
                best[3] if best else None,
                best[4] if best else None,
                earned.get(s, 0.0),
                granted.get(s, 0.0),
                best[0] if best else 0.0,
                no_credit.get(s, 0),
            )
        )
    return rows


def by_source(rows: Iterable[LearnerLoss]) -> list[SourceLoss]:
    totals: dict[str, SourceLoss] = {}
    for r in rows:
        t = totals.setdefault(r.source, SourceLoss(r.source))
        t.learners += 1
        t.earned += r.earned
        t.granted += r.granted
        t.applied += r.applied
        t.no_credit += r.no_credit
        if r.target:
            t.targets[r.target] += 1
    return [totals[s] for s in sorted(totals)]


def _n(value: float) -> str:
    return number_text(round(value, 2))


def loss_json(rows: list[LearnerLoss], target: str | None, as_of: str) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "target": target,
        "sources": [
            {
                "source": s.source,
                "learners": s.learners,
                "earned": round(s.earned, 2),
                "granted": round(s.granted, 2),
                "applied": round(s.applied, 2),
                "no_credit": s.no_credit,
                "targets": dict(sorted(s.targets.items())),
            }
            for s in by_source(rows)
        ],
        "learners": [asdict(r) for r in rows],
    }


CSV_FIELDS = ("source", "learners", "earned", "granted", "applied", "no_credit")


def loss_csv(rows: list[LearnerLoss]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for s in by_source(rows):
        writer.writerow(
            [s.source, s.learners, _n(s.earned), _n(s.granted), _n(s.applied), s.no_credit]
        )
    return out.getvalue()


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [line(header), *(line(r) for r in body)]


def loss_text(rows: list[LearnerLoss], target: str | None, as_of: str) -> str:
    learners = len({r.learner for r in rows})
    what = f"`{target}`" if target else "each learner's credential elsewhere that applies the most"
    lines = [
        f"Credit loss as of {as_of}: {learners} transfer learner{'s' if learners != 1 else ''}; "
        f"target: {what}",
        "earned: at the source, in its units; granted and applied: at the receiving end",
        "",
    ]
    if not rows:
        return "\n".join([*lines, "no transfer learners in these records"]) + "\n"
    sources = by_source(rows)
    lines += _table(
        ["source", "learners", "earned", "granted", "applied", "no-credit lines"],
        [
            [
                s.source,
                str(s.learners),
                _n(s.earned),
                _n(s.granted),
                _n(s.applied),
                str(s.no_credit),
            ]
            for s in sources
        ],
    )
    lines.append("")
    lines += _table(
        ["learner", "source", "target", "earned", "granted", "applied"],
        [
            [
                r.learner,
                r.source,
                f"{r.target} ({r.status})" if r.target else "-",
                _n(r.earned),
                _n(r.granted),
                _n(r.applied),
            ]
            for r in rows
        ],
    )
    return "\n".join(lines) + "\n"
