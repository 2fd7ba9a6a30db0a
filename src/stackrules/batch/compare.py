"""Rule-change impact: what one learner gains or loses when the rules change.

Takes the learner's report under the current rules (the baseline, `--compare OLD`) and under
the proposed rules (`--rules NEW`); gives a `Change` in the decisions: credentials newly
earned and no longer earned, pursued credentials newly or no longer in progress and those
whose remaining work changed, transfer rules that now fire or no longer fire, and the
learner's total transfer credit before and after. `changed` is false when none of these
differ, and such learners are counted but not written.

Only pursued credentials are compared in progress: which other credentials a report shows is
a ranking (the K nearest, `semantics.md` §6), and a rule change that merely reorders them is
not a change in any decision about the learner.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from stackrules.report import Report

CSV_HEADER = ("learner", "change", "subject", "before", "after")


@dataclass(slots=True)
class Change:
    learner: str
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    # pursued credentials in progress under both rule sets whose remaining credits changed
    remaining: list[tuple[str, float, float]] = field(default_factory=list)
    transfers_added: list[str] = field(default_factory=list)
    transfers_removed: list[str] = field(default_factory=list)
    transfer_credits_before: float = 0.0
    transfer_credits_after: float = 0.0
    # registrar exceptions that start or stop changing anything (`applied` flips): a
    # substitution for a course the new rules no longer require stops mattering
    exceptions_started: list[str] = field(default_factory=list)
    exceptions_stopped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.gained
            or self.lost
            or self.started
            or self.dropped
            or self.remaining
            or self.transfers_added
            or self.transfers_removed
            or self.transfer_credits_before != self.transfer_credits_after
            or self.exceptions_started
            or self.exceptions_stopped
        )

    def as_json(self) -> dict[str, object]:
        doc = self._as_json()
        # only for learners with exceptions that flip: other lines are as they were
        if self.exceptions_started or self.exceptions_stopped:
            doc["exceptions_started"] = self.exceptions_started
            doc["exceptions_stopped"] = self.exceptions_stopped
        return doc

    def _as_json(self) -> dict[str, object]:
        return {
            "learner": self.learner,
            "gained": self.gained,
            "lost": self.lost,
            "started": self.started,
            "dropped": self.dropped,
            "remaining": [
                {"credential": name, "before": before, "after": after}
                for name, before, after in self.remaining
            ],
            "transfers_added": self.transfers_added,
            "transfers_removed": self.transfers_removed,
            "transfer_credits": {
                "before": self.transfer_credits_before,
                "after": self.transfer_credits_after,
            },
        }

    def lines(self, fmt: str) -> list[str]:
        """The change as one JSON line, or as CSV rows (one per difference)."""
        if fmt != "csv":
            return [json.dumps(self.as_json(), ensure_ascii=False)]
        rows: list[list[str]] = []
        for kind, names in (
            ("gained", self.gained),
            ("lost", self.lost),
            ("started", self.started),
            ("dropped", self.dropped),
            ("transfer-added", self.transfers_added),
            ("transfer-removed", self.transfers_removed),
            ("exception-started", self.exceptions_started),
            ("exception-stopped", self.exceptions_stopped),
        ):
            before, after = ("no", "yes") if kind in _NEW else ("yes", "no")
            rows.extend([self.learner, kind, name, before, after] for name in names)
        for name, was, now in self.remaining:
            rows.append([self.learner, "remaining-credits", name, _num(was), _num(now)])
        if self.transfer_credits_before != self.transfer_credits_after:
            before, after = _num(self.transfer_credits_before), _num(self.transfer_credits_after)
            rows.append([self.learner, "transfer-credits", "", before, after])
        return [csv_line(row) for row in rows]


_NEW = {"gained", "started", "transfer-added", "exception-started"}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def csv_line(values: list[str] | tuple[str, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def _transfer_keys(report: Report) -> set[str]:
    # Keyed by what the transfer does, not by its `file:line`: editing a rule file moves
    # lines, and a moved line is not a change for the learner.
    keys = set()
    for t in report.transfers:
        grants = ", ".join(t.grants) if t.grants else "none"
        keys.add(f"{t.rule}: {', '.join(t.from_)} => {grants}")
    return keys


def compare_reports(before: Report, after: Report) -> Change:
    """What changed for this learner from `before` (old rules) to `after` (new rules)."""
    earned_before = {c.credential for c in before.earned}
    earned_after = {c.credential for c in after.earned}
    open_before = {c.credential: c for c in before.in_progress if c.pursued and c.offered}
    open_after = {c.credential: c for c in after.in_progress if c.pursued and c.offered}
    remaining = [
        (name, open_before[name].remaining_credits, entry.remaining_credits)
        for name, entry in sorted(open_after.items())
        if name in open_before and open_before[name].remaining_credits != entry.remaining_credits
    ]
    fired_before, fired_after = _transfer_keys(before), _transfer_keys(after)
    applied_before = {e.id for e in before.exceptions if e.applied}
    applied_after = {e.id for e in after.exceptions if e.applied}
    return Change(
        learner=after.learner,
        gained=sorted(earned_after - earned_before),
        lost=sorted(earned_before - earned_after),
        started=sorted(open_after.keys() - open_before.keys() - earned_before),
        dropped=sorted(open_before.keys() - open_after.keys() - earned_after),
        remaining=remaining,
        transfers_added=sorted(fired_after - fired_before),
        transfers_removed=sorted(fired_before - fired_after),
        transfer_credits_before=round(sum(t.credits for t in before.transfers), 6),
        transfer_credits_after=round(sum(t.credits for t in after.transfers), 6),
        exceptions_started=sorted(applied_after - applied_before),
        exceptions_stopped=sorted(applied_before - applied_after),
    )
