"""Batch evaluation: many learners, streaming, in parallel, resumable.

The stage after `evaluate` for SIS jobs. Two ways in:

- :func:`run_file` — what `stackrules batch` runs: a `.jsonl` or `.csv` record file of any
  size to a JSON Lines report file (or the flat CSV projection), errors to an errors file,
  with `workers` processes or a Dask cluster, checkpoints and `resume`.
- :func:`evaluate_many` — for a data team's own pipeline: any iterable of records
  (`LearnerRecord` objects or learner dictionaries as in a JSON record file) to an iterator of
  `Report` objects, or of the `RecordError` lists of learners that could not be read, in
  input order, lazily, with `workers` processes; with an exceptions file joined to the
  learners as `--exceptions` joins it.

For Dask bags and dataframes see `stackrules.batch.dask` (needs the `dask` extra).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date
from typing import Any, Literal

from stackrules.batch.checkpoint import input_fingerprint, rules_digest
from stackrules.batch.engines import Engine, InProcess, ProcessPool
from stackrules.batch.run import (
    Progress,
    ResumeRefused,
    Settings,
    StateError,
    Summary,
    collect,
    run,
)
from stackrules.batch.seen import Seen
from stackrules.batch.source import Source, Unit, open_source
from stackrules.batch.work import Job, Outcome
from stackrules.exceptions.files import ExceptionIndex, index_strangers
from stackrules.records.errors import RecordError
from stackrules.records.model import LearnerRecord
from stackrules.report import Report

__all__ = [
    "Job",
    "ResumeRefused",
    "StateError",
    "Summary",
    "evaluate_many",
    "local_engine",
    "open_source",
    "run_file",
]

EngineName = Literal["local", "dask"]


def local_engine(job: Job, workers: int) -> Engine:
    """No pool for one worker; a pool of worker processes otherwise."""
    return InProcess(job) if workers <= 1 else ProcessPool(job, workers)


def run_file(
    job: Job,
    source: Source,
    *,
    rule_paths: Iterable[str],
    compare_paths: Iterable[str] = (),
    out: str | None = None,
    errors: str | None = None,
    workers: int = 1,
    engine: EngineName = "local",
    scheduler: str | None = None,
    resume: bool = False,
    chunk: int = 32,
    checkpoint_seconds: float = 2.0,
    progress: Progress | None = None,
) -> Summary:
    """Evaluate every learner of `source`; see the module docstring and `batch.run`."""
    fingerprint: dict[str, Any] = {
        "records": input_fingerprint(source.path),
        "rules": rules_digest(rule_paths),
        "compare": rules_digest(compare_paths) if job.baseline is not None else None,
        "as_of": job.as_of.isoformat(),
        "format": job.fmt,
        "validate_only": job.validate_only,
        "targets": list(job.targets),
        "in_progress": job.in_progress,
        "learners": sorted(job.learners),
    }
    if job.exceptions_file is not None:  # (absent otherwise: earlier checkpoints still match)
        fingerprint["exceptions"] = input_fingerprint(job.exceptions_file)
    factory: Callable[[], Engine]
    if engine == "dask":
        from stackrules.batch.dask import DaskEngine

        def factory() -> Engine:
            return DaskEngine(job, workers, scheduler)
    else:

        def factory() -> Engine:
            return local_engine(job, workers)

    settings = Settings(
        out=out,
        errors=errors,
        resume=resume,
        chunk=chunk,
        window=max(4, 4 * workers),
        checkpoint_seconds=checkpoint_seconds,
        fingerprint=fingerprint,
    )
    return run(source, job, factory, settings, progress)


# how `evaluate_many`'s records are named in errors (they come from no file)
RECORDS = "<records>"


def evaluate_many(
    rules: Any,
    records: Iterable[LearnerRecord | Mapping[str, Any]],
    as_of: date | None = None,
    *,
    workers: int = 1,
    chunk: int = 32,
    learner_timeout: float | None = None,
    exceptions: str | os.PathLike[str] | None = None,
    tmp_dir: str | None = None,
) -> Iterator[Report | list[RecordError]]:
    """Each record's report (or its errors), in input order, evaluated lazily.

    `rules` is the `CompiledRules` from `stackrules.load_rules`. With `workers` > 1 the
    records are evaluated in that many processes, at most a few chunks ahead of the caller.
    With `learner_timeout` (seconds), a learner whose evaluation runs longer gets an error
    instead of a report.

    `exceptions` is a registrar's exceptions file (JSON Lines or CSV, each with a `learner`
    field), joined as `stackrules batch --exceptions` joins it: it is loaded into a private
    on-disk index by learner (in a folder under `tmp_dir` that only this user can open,
    removed when the iteration ends or is abandoned), and each learner's rows are applied
    with the record's own exceptions; a bad row is that learner's error. Rows that could
    apply to nobody are never dropped: after the last record's result come, each as a list of
    one `RecordError`, the rows that name no learner, then the rows for learners not among
    `records`. A file that cannot be read, or whose CSV header is wrong, evaluates nobody:
    its errors are all that is yielded.
    """
    job = Job(rules, as_of or date.today(), "report", RECORDS, learner_timeout=learner_timeout)
    if exceptions is None:
        yield from map(_result, _outcomes(job, records, workers, chunk))
        return
    path = os.fspath(exceptions)
    folder = tempfile.mkdtemp(prefix="stackrules-exceptions-", dir=tmp_dir)  # mode 0700
    try:
        index = ExceptionIndex(path, os.path.join(folder, "exceptions.sqlite"))
        if any(e.line is None or e.line == 1 for e in index.errors):  # the file, or its header
            yield list(index.errors)
            return
        job = replace(job, exceptions_file=path, exceptions_index=index.path)
        # every learner read, for the rows of learners not among them (in bounded memory)
        seen = Seen(os.path.join(folder, "learners.sqlite"))
        try:
            for outcome in _outcomes(job, records, workers, chunk):
                if outcome.learner is not None:
                    seen.note(outcome.learner, outcome.ordinal)
                yield _result(outcome)
            seen.commit()
            for error in index.errors:  # rows that name no learner
                yield [error]
            for error in index_strangers(index.path, path, seen.path, RECORDS):
                yield [error]
        finally:
            seen.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _outcomes(
    job: Job, records: Iterable[LearnerRecord | Mapping[str, Any]], workers: int, chunk: int
) -> Iterator[Outcome]:
    engine = local_engine(job, workers)
    window = max(2, 4 * workers)
    try:
        pending: list[tuple[list[Unit], Any]] = []
        units = (
            Unit(index, "object", index, record) for index, record in enumerate(records, start=1)
        )
        batch: list[Unit] = []
        for unit in units:
            batch.append(unit)
            if len(batch) == chunk:
                pending.append((batch, engine.submit(batch)))
                batch = []
                if len(pending) >= window:
                    yield from collect(engine, job, *pending.pop(0))
        if batch:
            pending.append((batch, engine.submit(batch)))
        for done, item in pending:
            yield from collect(engine, job, done, item)
    finally:
        engine.close()


def _result(outcome: Outcome) -> Report | list[RecordError]:
    if outcome.errors:
        return list(outcome.errors)
    assert outcome.report is not None
    return outcome.report
