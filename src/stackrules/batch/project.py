"""The flat CSV projection of a report: one row per learner and credential.

Takes a `Report`; gives CSV lines (no header; `HEADER` is written once per file) for every
credential the learner holds, has earned or has in progress, sorted as in the report (held,
then earned, then in progress). A learner with none of these still gets one row, with an
empty credential and the status `none`, so that every reported learner appears in the file.

Columns: `learner`, `credential`, `status` (`held`, `earned`, `in-progress`, `none`),
`remaining_credits`, `remaining_items`, `remaining_hours` (what the in-progress allocation
leaves to do: the report's `remaining_credits`, and the sums of `need` in items and hours),
`completed_on` and `expired` (earned credentials), `transfer_credits` (the learner's total
transfer credit, repeated on each row for easy filtering), `title` and `source` (the
credential's `file:line`), `pursued` (`true` for a credential the learner pursues; a pursued
credential not offered at the learner's catalog date has the status `not-offered`) and
`started` (how many credentials the learner has in progress, shown or not, repeated on each
row).
"""

from __future__ import annotations

import csv
import io

from stackrules.report import Report

HEADER = (
    "learner",
    "credential",
    "status",
    "remaining_credits",
    "remaining_items",
    "remaining_hours",
    "completed_on",
    "expired",
    "transfer_credits",
    "title",
    "source",
    "pursued",
    "started",
)


def number(value: float) -> str:
    """`3` rather than `3.0`; at most six decimals otherwise."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0")


def _line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def header_line() -> str:
    return _line(list(HEADER))


def csv_lines(report: Report) -> list[str]:
    """The learner's rows as CSV lines without line terminators."""
    transfer = number(sum(t.credits for t in report.transfers))
    who = report.learner
    started = str(report.started)
    blank = ["0", "0", "0", "", "", transfer, "", "", "false", started]
    lines = [_line([who, held, "held", *blank]) for held in report.held]
    for cred in report.earned:
        done = cred.completed_on.isoformat() if cred.completed_on else ""
        expired = "true" if cred.expired else "false"
        values = [who, cred.credential, "earned", "0", "0", "0", done, expired, transfer]
        values += [cred.title, cred.source, _flag(cred.pursued), started]
        lines.append(_line(values))
    for open_ in report.in_progress:
        need = {"credits": 0.0, "items": 0.0, "hours": 0.0}
        for entry in open_.remaining:
            need[entry.unit] += float(entry.need)
        status = "in-progress" if open_.offered else "not-offered"
        credits = number(open_.remaining_credits)
        values = [who, open_.credential, status, credits, number(need["items"])]
        values += [number(need["hours"]), "", "", transfer, open_.title, open_.source]
        values += [_flag(open_.pursued), started]
        lines.append(_line(values))
    if not lines:
        lines.append(_line([who, "", "none", *blank]))
    return lines


def _flag(value: bool) -> str:
    return "true" if value else "false"
