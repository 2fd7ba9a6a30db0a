"""Batch work: validate and evaluate units, in whatever process runs them.

Takes a `Job` (the compiled rules, the as-of date, the output format, and for `--compare` the
rules to compare with) and a list of units; gives one `Outcome` per unit, holding the output
text for that learner (report lines, CSV rows or a comparison) or its record errors. Pure
apart from one documented test hook, so the same function runs in-process, in a pool of
worker processes and on Dask workers, and gives byte-identical output everywhere.

A learner whose evaluation raises (a defect in the engine, never bad data, which is caught as
a record error) is an error outcome naming the learner, so one learner cannot stop a batch;
so is a learner whose evaluation runs past `Job.learner_timeout`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from stackrules.batch.compare import Change, compare_reports
from stackrules.batch.project import csv_lines
from stackrules.batch.source import Unit
from stackrules.evaluation.evaluator import DEFAULT_IN_PROGRESS, EvaluationTimeout
from stackrules.exceptions.files import join_exceptions
from stackrules.interop.ob3 import is_credential, read_credential_json, read_credential_jwt
from stackrules.interop.vc import looks_like_jwt
from stackrules.pursuit import pursuing_errors
from stackrules.quoted import unicode_safe
from stackrules.records.csvfile import CsvLines, Row, parse_group, parse_lines
from stackrules.records.errors import RecordError
from stackrules.records.model import LearnerRecord, PositionKind
from stackrules.records.parse import learner_of, parse_record_obj
from stackrules.report import Report, dumps

if TYPE_CHECKING:
    from stackrules import CompiledRules

# `report`: the `Report` object itself (the Python API), not text.
OutputFormat = Literal["jsonl", "csv", "report"]

# Test hook: a worker process evaluating this learner kills itself (SIGKILL), as an
# out-of-memory killer would. Read only in worker processes, never in the calling process.
FAULT_ENV = "STACKRULES_BATCH_KILL_LEARNER"


@dataclass(frozen=True)
class Job:
    """Everything a worker needs besides the units: built once, shipped once per worker."""

    rules: CompiledRules
    as_of: date
    fmt: OutputFormat = "jsonl"
    file: str = ""
    baseline: CompiledRules | None = None
    validate_only: bool = False
    # seconds one learner's evaluation may take (each of the two with --compare); None: any
    learner_timeout: float | None = None
    # credentials every learner pursues (`--target`), how many other credentials in progress
    # a report shows (`--in-progress`; None: all), and the only learners to evaluate
    # (`--learner`; empty: every one)
    targets: tuple[str, ...] = ()
    in_progress: int | None = DEFAULT_IN_PROGRESS
    learners: frozenset[str] = frozenset()
    # `--exceptions FILE`: the file, and the on-disk index of it by learner that each worker
    # opens read-only (`stackrules.exceptions.files`)
    exceptions_file: str | None = None
    exceptions_index: str | None = None


@dataclass(slots=True)
class Outcome:
    """The result for one unit: output lines, or errors (then nothing is output)."""

    ordinal: int
    position: int
    learner: str | None
    lines: list[str] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    change: Change | None = None
    report: Report | None = None
    # The field a repeated learner is reported under: `credentialSubject.id` for credentials.
    learner_field: str = "learner"
    # not one of the `--learner`s asked for: neither read nor reported; or one of them
    skipped: bool = False
    picked: bool = False


_IN_WORKER = False


def mark_worker() -> None:
    """Called once in each worker process: enables the fault-injection hook there only."""
    global _IN_WORKER
    _IN_WORKER = True


def run_units(job: Job, units: list[Unit]) -> list[Outcome]:
    """One outcome per unit, in the units' order."""
    victim = os.environ.get(FAULT_ENV) if _IN_WORKER else None
    outcomes = []
    for unit in units:
        record = read_unit(job, unit)
        if job.learners and record.learner is not None and record.learner not in job.learners:
            # (a malformed learner whose identifier cannot be read is still reported)
            outcomes.append(Outcome(unit.ordinal, unit.position, record.learner, skipped=True))
            continue
        picked = bool(job.learners) and record.learner is not None
        if isinstance(record, Outcome):
            record.picked = picked
            outcomes.append(record)
            continue
        if victim is not None and record.learner == victim:
            os.kill(os.getpid(), signal.SIGKILL)
        done = _evaluate(job, unit, record)
        done.picked = picked
        outcomes.append(done)
    return outcomes


def read_unit(job: Job, unit: Unit) -> LearnerRecord | Outcome:
    """The unit's validated record, or an error outcome; never raises.

    Bad data is a worded record error where it is read; anything else that goes wrong while
    reading one learner (a defect, or input no check foresaw) is that learner's error too,
    so one line of a file can never stop a batch.
    """
    try:
        return _read_unit(job, unit)
    except Exception as failure:
        return _failed(job, unit, unit.learner, _internal("reading", failure))


def _read_unit(job: Job, unit: Unit) -> LearnerRecord | Outcome:
    if unit.kind == "object":
        if isinstance(unit.data, LearnerRecord):
            return unit.data
        obj = unit.data
        result = parse_record_obj(
            dict(obj) if isinstance(obj, Mapping) else obj,
            file=job.file,
            position=unit.position,
            position_kind="index",
            aliases=job.rules.aliases,
            record_index=unit.ordinal,
        )
        if isinstance(result, LearnerRecord):
            return result
        return Outcome(unit.ordinal, unit.position, learner_of(obj), errors=result)
    if unit.kind == "csv":
        read_as: dict[str, Any] = {
            "file": job.file,
            "aliases": job.rules.aliases,
            "record_index": unit.ordinal,
        }
        if isinstance(unit.data, CsvLines):
            parsed = list(parse_lines(unit.learner, unit.data, **read_as))
        else:
            assert isinstance(unit.data, tuple)
            rows = [Row(number, cells, stray) for number, cells, stray in unit.data]
            parsed = list(parse_group(unit.learner, rows, **read_as))
        if len(parsed) == 1 and isinstance(parsed[0], LearnerRecord):
            return parsed[0]
        errors = [e for e in parsed if isinstance(e, RecordError)]
        return Outcome(unit.ordinal, unit.position, unit.learner, errors=errors)
    assert isinstance(unit.data, bytes)
    base = {
        "file": job.file,
        "line": unit.position,
        "position_kind": "line",
        "record_index": unit.ordinal,
    }
    try:
        text = unit.data.decode("utf-8")
    except UnicodeDecodeError as failure:
        error = RecordError(**base, message=f"the line is not UTF-8 text ({failure.reason})")
        return Outcome(unit.ordinal, unit.position, None, errors=[error])
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as failure:
        reason = failure.msg[:1].lower() + failure.msg[1:]
        error = RecordError(**base, column=failure.colno, message=f"invalid JSON: {reason}")
        return Outcome(unit.ordinal, unit.position, None, errors=[error])
    except RecursionError:
        error = RecordError(**base, message="invalid JSON: values nested too deeply")
        return Outcome(unit.ordinal, unit.position, None, errors=[error])
    except ValueError:
        # Python refuses to convert an integer of more than 4,300 digits to an int.
        limit = sys.get_int_max_str_digits()
        error = RecordError(**base, message=f"invalid JSON: a number of more than {limit:,} digits")
        return Outcome(unit.ordinal, unit.position, None, errors=[error])
    where: dict[str, Any] = {
        "file": job.file,
        "position": unit.position,
        "position_kind": "line",
        "aliases": job.rules.aliases,
        "record_index": unit.ordinal,
    }
    # A line may hold an Open Badges / CLR credential, or a string with a compact VC-JWT,
    # exactly as `read_records` accepts them in a `.jsonl` file.
    if is_credential(obj):
        result = read_credential_json(obj, **where)
    elif isinstance(obj, str) and looks_like_jwt(obj):
        result = read_credential_jwt(obj, **where)
    else:
        result = parse_record_obj(obj, **where)
    if isinstance(result, LearnerRecord):
        return result
    learner = learner_of(obj) or next((e.learner for e in result if e.learner), None)
    return Outcome(unit.ordinal, unit.position, learner, errors=result)


def _evaluate(job: Job, unit: Unit, record: LearnerRecord) -> Outcome:
    outcome = Outcome(unit.ordinal, unit.position, record.learner)
    if record.sources:
        outcome.learner_field = "credentialSubject.id"
    problems = pursuing_errors(
        record, job.rules.model.credentials, file=job.file, record_index=unit.ordinal
    )
    if problems:
        outcome.errors = problems
        return outcome
    if record.exceptions or job.exceptions_index is not None:
        record, problems = join_exceptions(
            record,
            job.rules.model,
            index=job.exceptions_index,
            file=job.file,
            exceptions_file=job.exceptions_file,
            record_index=unit.ordinal,
        )
        if problems:
            outcome.errors = problems
            return outcome
    if job.validate_only:
        return outcome
    limit = job.learner_timeout
    scope: dict[str, Any] = {"targets": job.targets, "in_progress": job.in_progress}
    try:
        report = job.rules.evaluator.evaluate(record, job.as_of, time_limit=limit, **scope)
        if job.baseline is not None:
            before = job.baseline.evaluator.evaluate(record, job.as_of, time_limit=limit, **scope)
            outcome.change = compare_reports(before, report)
            if outcome.change.changed:
                outcome.lines = outcome.change.lines(job.fmt)
        elif job.fmt == "report":
            outcome.report = report
        elif job.fmt == "csv":
            outcome.lines = csv_lines(report)
        else:
            outcome.lines = [dumps(report)]
    except EvaluationTimeout as stopped:
        message = (
            f"evaluation stopped after {stopped.seconds:g} s (--learner-timeout): "
            "the learner was not evaluated"
        )
    except Exception as failure:
        message = _internal("evaluating", failure)
    else:
        return outcome
    return _failed(job, unit, record.learner, message)


def _internal(doing: str, failure: BaseException) -> str:
    """The message for an unexpected exception: its type and text, never a traceback."""
    text = unicode_safe(str(failure))
    if len(text) > 200:
        text = text[:197] + "..."
    what = f"{type(failure).__name__}: {text}" if text else type(failure).__name__
    return f"internal error while {doing} this learner ({what}); please report it"


def died(job: Job, unit: Unit) -> Outcome:
    """The error outcome of a learner whose worker process died evaluating it, twice."""
    message = (
        "the worker process evaluating this learner died twice (killed, or out of "
        "memory); the learner was not evaluated"
    )
    return _failed(job, unit, unit.learner, message)


def _failed(job: Job, unit: Unit, learner: str | None, message: str) -> Outcome:
    """The error outcome of a learner that could not be evaluated."""
    error = RecordError(
        file=job.file,
        learner=learner,
        line=unit.position,
        position_kind=_position_kind(unit),
        record_index=unit.ordinal,
        message=message,
    )
    return Outcome(unit.ordinal, unit.position, learner, errors=[error])


_POSITION_KINDS: dict[str, PositionKind] = {"jsonl": "line", "csv": "row", "object": "index"}


def _position_kind(unit: Unit) -> PositionKind:
    return _POSITION_KINDS[unit.kind]
