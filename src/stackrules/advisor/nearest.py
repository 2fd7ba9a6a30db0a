"""Nearest credentials: every credential (or one issuer's) that one learner has not earned or
held and can still earn, ranked by the work its cheapest completion really leaves.

Takes a planner, a record and an as-of date; gives one plan per credential, nearest first:

1. credentials the learner has started (the engine reports it in progress, semantics §4, or
   its cheapest completion counts something the learner already has: a record achievement, a
   grant from one, a credential already earned or held) before credentials not started;
2. then the least work, in credit-equivalents (an item's credits; for an item with no credit
   value, its hours at its issuer's `hours per credit`, else 1: a zero-credit badge is work);
3. then the fewest items; then the identifier.

Credentials named in `always` are included whatever their rank or status (earned, held,
unreachable, not offered), after the ranked ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from stackrules.advisor.plan import Planner, PlanResult
from stackrules.records import LearnerRecord


def rank_key(result: PlanResult) -> tuple[int, float, int, str]:
    """Started first, then least work, fewest items, identifier."""
    cost = result.cost
    return (0 if result.started else 1, round(cost.work, 6), cost.items, result.target)


def nearest(
    planner: Planner,
    record: LearnerRecord,
    as_of: date,
    issuer: str | None = None,
    top: int | None = None,
    always: Sequence[str] = (),
) -> list[PlanResult]:
    """Plans for every credential not yet earned or held, nearest first (module docstring);
    then any credential of `always` not among them."""
    found: list[PlanResult] = []
    plans: dict[str, PlanResult] = {}
    for ident in sorted(planner.rules.credentials):
        if issuer is not None and ident.split(":", 1)[0] != issuer:
            continue
        result = planner.plan(record, ident, as_of)
        plans[ident] = result
        if result.status == "planned":
            found.append(result)
    found.sort(key=rank_key)
    shown = found[:top] if top is not None else found
    listed = {r.target for r in shown}
    extra = []
    for ident in dict.fromkeys(always):
        if ident not in listed:
            extra.append(plans.get(ident) or planner.plan(record, ident, as_of))
            listed.add(ident)
    extra.sort(key=lambda r: (r.status != "planned", rank_key(r)))
    return shown + extra
