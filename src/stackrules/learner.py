"""One learner, as the commands and the HTTP API take it: checked, joined, then evaluated or
planned.

Takes a compiled rule set, one learner's `LearnerRecord` and the options of `evaluate`, `plan`
or `nearest`; gives the record's problems as `RecordError`s (an unknown `pursuing` credential,
a bad registrar exception), else the report or the advisor's documents. `stackrules evaluate`,
`plan`, `nearest` and `stackrules serve` all call these functions, so that a learner's answer
is the same whichever way it is asked. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date

from stackrules import CompiledRules
from stackrules.advisor.nearest import nearest
from stackrules.advisor.output import NearestOut, PlanOut, plan_out
from stackrules.advisor.plan import PerTerm, Planner
from stackrules.advisor.whatif import Addition, apply_what_if
from stackrules.evaluation import EvaluationTimeout
from stackrules.evaluation.allocation import SearchTimeout
from stackrules.evaluation.problems import searches_within
from stackrules.exceptions.files import joined
from stackrules.exceptions.model import RegistrarException
from stackrules.pursuit import pursuing_errors
from stackrules.records import LearnerRecord, RecordError
from stackrules.report import Report


def prepare(
    record: LearnerRecord,
    rules: CompiledRules,
    *,
    file: str,
    check_pursuing: bool = True,
    extra: Sequence[RegistrarException] = (),
    extra_errors: Sequence[RecordError] = (),
    exceptions_file: str | None = None,
) -> tuple[LearnerRecord, list[RecordError]]:
    """The record with its registrar exceptions (its own, then `extra` from an exceptions
    table) resolved, and every problem that stops it from being evaluated: an unknown
    `pursuing` credential (`check_pursuing`; reported first, alone), the table's rows for it
    that could not be read (`extra_errors`), an exception naming what the rules lack."""
    if check_pursuing:
        problems = pursuing_errors(record, rules.model.credentials, file=file, record_index=None)
        if problems:
            return record, problems
    if not record.exceptions and not extra and not extra_errors:
        return record, []
    return joined(
        record, extra, extra_errors, rules.model, file=file, exceptions_file=exceptions_file
    )


def report_for(
    rules: CompiledRules,
    record: LearnerRecord,
    as_of: date,
    *,
    targets: Sequence[str] = (),
    in_progress: int | None,
    additions: Sequence[Addition] = (),
    catalog_date: date | None = None,
    time_limit: float | None = None,
) -> Report:
    """The report of a prepared record, with the what-if additions (`--add`,
    `--catalog-date`); `time_limit` raises `EvaluationTimeout` past that many seconds."""
    trial = apply_what_if(record, additions, as_of, catalog_date)
    return rules.evaluator.evaluate(
        trial, as_of, targets=targets, in_progress=in_progress, time_limit=time_limit
    )


def plans_for(
    planner: Planner,
    record: LearnerRecord,
    targets: Sequence[str],
    as_of: date,
    *,
    per_term: PerTerm | None = None,
    additions: Sequence[Addition] = (),
    catalog_date: date | None = None,
    time_limit: float | None = None,
) -> list[PlanOut]:
    """`plan`'s documents for one learner: one per target, in order. Raises `PlanError`;
    `EvaluationTimeout` past `time_limit` seconds (for all the targets together)."""
    trial = apply_what_if(record, additions, as_of, catalog_date)
    added = [a.text() for a in additions]
    with _limited(record.learner, time_limit):
        return [
            plan_out(
                planner,
                planner.plan(trial, target, as_of, per_term),
                record.learner,
                as_of,
                trial.catalog_date,
                added,
            )
            for target in targets
        ]


def nearest_for(
    planner: Planner,
    record: LearnerRecord,
    as_of: date,
    *,
    issuer: str | None = None,
    top: int | None = None,
    always: Sequence[str] = (),
    additions: Sequence[Addition] = (),
    catalog_date: date | None = None,
    time_limit: float | None = None,
) -> NearestOut:
    """`nearest`'s document for one learner. Raises `PlanError`; `EvaluationTimeout` past
    `time_limit` seconds."""
    trial = apply_what_if(record, additions, as_of, catalog_date)
    with _limited(record.learner, time_limit):
        ranked = nearest(planner, trial, as_of, issuer, top, always)
    added = [a.text() for a in additions]
    return NearestOut(
        learner=record.learner,
        as_of=as_of,
        catalog_date=trial.catalog_date,
        added=added,
        issuer=issuer,
        credentials=[
            plan_out(planner, r, record.learner, as_of, trial.catalog_date, added) for r in ranked
        ],
    )


@contextmanager
def _limited(learner: str, time_limit: float | None) -> Iterator[None]:
    """The planner's work (its evaluations and its solver's runs) within `time_limit`
    seconds: `EvaluationTimeout` past it. None: no limit."""
    own = False
    try:
        with searches_within(time_limit) as own:
            yield
    except SearchTimeout:
        if not own:
            raise  # a caller's deadline, not this limit
        assert time_limit is not None
        raise EvaluationTimeout(learner, time_limit) from None
