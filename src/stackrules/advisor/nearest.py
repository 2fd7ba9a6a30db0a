"""Nearest credentials: every credential (or one issuer's) ranked by the cost of its
cheapest completion for one learner, the plan's cost (credits, then hours, then items).

Takes a planner, a record and an as-of date; gives one entry per credential that the record
has not earned or held and that can still be earned from the catalog, cheapest first (ties by
identifier), each with the plan that completes it.
"""

from __future__ import annotations

from datetime import date

from stackrules.advisor.plan import Planner, PlanResult
from stackrules.records import LearnerRecord


def nearest(
    planner: Planner,
    record: LearnerRecord,
    as_of: date,
    issuer: str | None = None,
    top: int | None = None,
) -> list[PlanResult]:
    """Plans for every credential not yet earned or held, cheapest first."""
    found: list[PlanResult] = []
    for ident in sorted(planner.rules.credentials):
        if issuer is not None and ident.split(":", 1)[0] != issuer:
            continue
        result = planner.plan(record, ident, as_of)
        if result.status == "planned":
            found.append(result)
    found.sort(key=lambda r: (r.cost.key(), r.target))
    return found[:top] if top is not None else found
