"""What the advisor plans from when a learner has exceptions: the credentials of a plan's
scope as the learner's exceptions leave them, and the achievements that count for the learner
(exclusions out, grants in), so that the search proposing plans sees what the evaluator that
checks them sees.

Takes a planning `Scope`, the record and the dates; gives the scope with overlaid credentials
and the learner's counting achievements.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import TYPE_CHECKING

from stackrules.evaluation.achievements import counting
from stackrules.evaluation.exceptions.learner import prepare
from stackrules.records.model import LearnerRecord

if TYPE_CHECKING:
    from stackrules.advisor.scope import Scope
    from stackrules.evaluation.achievements import Ach


def planning_view(
    scope: Scope, record: LearnerRecord, as_of: date, catalog_date: date
) -> tuple[Scope, list[Ach]]:
    ev = scope.evaluator
    pairs, _ = counting(ev.rules, record, as_of)  # (§1: what counts, as the evaluator reads it)
    found = prepare(ev, record, as_of, catalog_date, pairs, {})
    credentials = {
        ident: found.credentials.get(ident, cred) for ident, cred in scope.credentials.items()
    }
    achs = [ach for _, ach in found.counting] + found.grants
    return dataclasses.replace(scope, credentials=credentials), achs
