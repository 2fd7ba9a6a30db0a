"""The batch loop: read units, run them on an engine, write outcomes in input order.

Takes the settings of one `stackrules batch` run and an engine; writes each learner's output
to the output file (or standard output) and each malformed learner's errors to the errors
file, strictly in the order learners first appear in the input, and gives a `Summary`
(read = reported + in error, always).

Memory stays flat: units are read lazily, at most `window` chunks of `chunk` learners are in
flight, and outcomes are written as soon as every earlier chunk is done. Every
`checkpoint_seconds` (and at the end) the output is flushed to disk and a checkpoint records
how far the run got (`stackrules.batch.checkpoint`), so `resume` can finish a killed run
exactly.

When a worker dies, the chunks it took down are run again; a chunk that kills a worker twice
is run one learner at a time, and a learner that kills a worker twice is reported in error
(`the worker process … died twice`) while the batch goes on.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stackrules.batch import checkpoint as cp
from stackrules.batch.compare import CSV_HEADER as COMPARE_HEADER
from stackrules.batch.compare import csv_line
from stackrules.batch.engines import Engine, WorkerLost
from stackrules.batch.project import header_line
from stackrules.batch.seen import Seen
from stackrules.batch.source import Cursor, Source, Unit
from stackrules.batch.work import Job, Outcome, died, read_unit
from stackrules.exceptions.files import index_strangers
from stackrules.records.errors import RecordError

ResumeRefused = cp.ResumeRefused
StateError = cp.StateError


@dataclass
class Settings:
    out: str | None = None
    errors: str | None = None
    resume: bool = False
    chunk: int = 32
    window: int = 8
    checkpoint_seconds: float = 2.0
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass
class Summary:
    read: int = 0
    reported: int = 0
    in_error: int = 0
    changed: int = 0
    gained: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    file_errors: list[RecordError] = field(default_factory=list)
    # the learners read in this run (kept only when `--learner` picks some, to name those the
    # file does not hold)
    selected: set[str] = field(default_factory=set)
    # rows of `--exceptions` for learners the record file does not hold (record errors, in the
    # errors file; never learners read)
    strangers: int = 0
    resumed_at: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.in_error and not self.file_errors and not self.strangers


Progress = Callable[[list[Unit]], None]


class _Sink:
    """A text output opened for writing at an offset (a file), or standard output."""

    def __init__(self, path: str | None, offset: int | None, fallback: IO[str]) -> None:
        self.path = path
        self.handle: IO[str]
        self._regular = False
        if path is None:
            self.handle = fallback
            self._owned = False
            return
        if offset is None:
            self.handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        else:
            with open(path, "ab"):  # the file may be missing after a crash
                pass
            with open(path, "r+b") as cut:
                cut.truncate(offset)
            self.handle = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        self._owned = True
        self._regular = stat.S_ISREG(os.fstat(self.handle.fileno()).st_mode)

    def write_line(self, text: str) -> None:
        self.handle.write(text)
        self.handle.write("\n")

    def durable_offset(self) -> int:
        """Flush to disk and give the file's size (0 for standard output or a device)."""
        self.handle.flush()
        if not self._owned or not self._regular:
            return 0
        os.fsync(self.handle.fileno())
        return os.fstat(self.handle.fileno()).st_size

    def tail(self, offset: int) -> str | None:
        """What resuming checks the file against (`checkpoint.tail_digest`), or None."""
        if self.path is None or not self._regular:
            return None
        return cp.tail_digest(self.path, offset)

    def close(self) -> None:
        self.handle.flush()
        if self._owned:
            self.handle.close()


def _error_line(error: RecordError) -> str:
    kind = error.position_kind or "line"
    doc: dict[str, Any] = {"file": error.file, "learner": error.learner}
    doc["row" if kind == "row" else "line"] = error.line
    if error.column is not None:
        doc["column"] = error.column
    doc["field"] = error.field
    doc["message"] = error.message
    return json.dumps(doc, ensure_ascii=False)


def run(
    source: Source,
    job: Job,
    engine_factory: Callable[[], Engine],
    settings: Settings,
    progress: Progress | None = None,
) -> Summary:
    """Run the batch; see the module docstring."""
    begin = time.perf_counter()
    # Checkpoints only make sense for a regular file: not for standard output, a pipe or a
    # device such as /dev/null.
    resumable = settings.out is not None and _regular(settings.out)
    state_dir = cp.state_folder(settings.out) if settings.out is not None and resumable else None
    saved = _resume_point(state_dir, settings) if settings.resume else None
    summary = Summary()
    cursor = Cursor()
    if saved is not None:
        summary.read, summary.reported, summary.in_error = (
            saved.read,
            saved.reported,
            saved.in_error,
        )
        summary.changed, summary.gained, summary.lost = saved.changed, saved.gained, saved.lost
        summary.strangers = saved.strangers
        summary.resumed_at = saved.next_ordinal
        cursor = Cursor(saved.next_ordinal, saved.input_offset, saved.input_line)
    elif state_dir is not None:
        cp.remove(state_dir)
    checkpoint = saved or cp.Checkpoint(fingerprint=settings.fingerprint)

    out = _Sink(settings.out, saved.out_offset if saved else None, sys.stdout)
    # Without --errors, each error is one readable line on standard error, as it happens.
    errors = _Sink(settings.errors, saved.errors_offset if saved else None, sys.stderr)
    scratch = None
    try:
        if state_dir is not None:
            cp.prepare(state_dir)
            folder = state_dir
        else:
            scratch = tempfile.TemporaryDirectory(prefix="stackrules-batch-")
            folder = Path(scratch.name)
        present = job.exceptions_index is not None  # (keep every learner read: `_strangers`)
        seen = _open_seen(folder, saved, source.kind, present)
    except BaseException:
        out.close()
        errors.close()
        if scratch is not None:
            scratch.cleanup()
        raise
    if saved is None:
        header = _header(job)
        if header is not None:
            out.write_line(header)
    engine = engine_factory()
    summary.startup_seconds = engine.startup_seconds
    last_save = time.monotonic()
    try:
        in_flight: deque[tuple[list[Unit], Any]] = deque()

        def finish_oldest() -> None:
            nonlocal last_save
            done_units, pending = in_flight.popleft()
            outcomes = collect(engine, job, done_units, pending)
            _write(outcomes, job.file, out, errors, seen, summary, source.kind == "jsonl", present)
            _advance(checkpoint, done_units)
            if progress is not None:
                progress(done_units)
            if time.monotonic() - last_save >= settings.checkpoint_seconds:
                _save(state_dir, checkpoint, summary, out, errors, seen)
                last_save = time.monotonic()

        for units in _chunks(source.units(cursor), settings.chunk):
            in_flight.append((units, engine.submit(units)))
            while len(in_flight) >= settings.window:
                finish_oldest()
        while in_flight:
            finish_oldest()
        _save(state_dir, checkpoint, summary, out, errors, seen)
        if job.exceptions_index is not None and seen is not None and not source.file_errors:
            _strangers(job, seen, errors, summary, checkpoint)
            _save(state_dir, checkpoint, summary, out, errors, seen)
    finally:
        engine.close()
        out.close()
        errors.close()
        if seen is not None:
            seen.close()
        if scratch is not None:
            scratch.cleanup()
    summary.file_errors = list(source.file_errors)
    if state_dir is not None:
        cp.remove(state_dir)
    summary.seconds = time.perf_counter() - begin
    return summary


def _strangers(
    job: Job, seen: Seen, errors: _Sink, summary: Summary, checkpoint: cp.Checkpoint
) -> None:
    """Once every learner is read: an error for each row of `--exceptions` whose learner the
    record file does not hold (once: a resumed run that had reported them does not again)."""
    if checkpoint.strangers_reported:
        return
    assert job.exceptions_index is not None and job.exceptions_file is not None
    seen.commit()
    for error in index_strangers(job.exceptions_index, job.exceptions_file, seen.path, job.file):
        summary.strangers += 1
        errors.write_line(_error_line(error) if errors.path else f"error: {error.render()}")
    checkpoint.strangers = summary.strangers
    checkpoint.strangers_reported = True


def _open_seen(folder: Path, saved: cp.Checkpoint | None, kind: str, present: bool) -> Seen | None:
    """The learners seen so far (JSON Lines, or every file with `--exceptions`: `present`),
    in a private file of `folder`."""
    if kind != "jsonl" and not present:
        return None
    path = folder / cp.SEEN
    if not cp.check_file(path):
        if saved is not None and saved.next_ordinal > 1:
            raise ResumeRefused(
                f"the batch state file `{cp.shown(path)}` is missing; "
                "run without --resume to start again"
            )
        cp.create_file(path)
    seen = Seen(str(path))
    if present and not seen.had_present and saved is not None and saved.next_ordinal > 1:
        seen.close()
        raise ResumeRefused(
            f"the batch state file `{cp.shown(path)}` does not list the learners read "
            "(an earlier version wrote it); run without --resume to start again"
        )
    if saved is not None:
        seen.forget_from(saved.next_ordinal)
    return seen


def _header(job: Job) -> str | None:
    if job.fmt != "csv":
        return None
    return csv_line(COMPARE_HEADER) if job.baseline is not None else header_line()


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True


def _resume_point(state_dir: Path | None, settings: Settings) -> cp.Checkpoint | None:
    if state_dir is None:
        raise ResumeRefused("--resume needs --out FILE, a regular file (not a pipe or device)")
    saved = cp.load(state_dir)
    if saved is None:
        return None
    changed = cp.differences(saved.fingerprint, settings.fingerprint)
    if changed:
        raise ResumeRefused(
            "the interrupted run used other settings or inputs ("
            + ", ".join(changed)
            + " differ); run without --resume to start again"
        )
    assert settings.out is not None  # state_dir is only set with --out
    cp.verify_output(settings.out, saved.out_offset, saved.out_tail, "output")
    if settings.errors is not None:
        cp.verify_output(settings.errors, saved.errors_offset, saved.errors_tail, "errors")
    return saved


def _chunks(units: Iterator[Unit], size: int) -> Iterator[list[Unit]]:
    while True:
        chunk = list(itertools.islice(units, size))
        if not chunk:
            return
        yield chunk


def collect(engine: Engine, job: Job, units: list[Unit], pending: Any) -> list[Outcome]:
    """The chunk's outcomes, running it again (then learner by learner) if a worker dies."""
    try:
        return engine.wait(pending)
    except WorkerLost:
        pass
    try:
        return engine.wait(engine.submit(units))
    except WorkerLost:
        pass
    outcomes: list[Outcome] = []
    for unit in units:
        try:
            outcomes.extend(engine.wait(engine.submit([unit])))
            continue
        except WorkerLost:
            pass
        try:
            outcomes.extend(engine.wait(engine.submit([unit])))
        except WorkerLost:
            outcomes.append(_died(job, unit))
    return outcomes


def _died(job: Job, unit: Unit) -> Outcome:
    learner = read_unit(job, unit).learner
    outcome = died(job, unit)
    if learner is not None and outcome.errors:
        outcome.errors = [e.model_copy(update={"learner": learner}) for e in outcome.errors]
        outcome.learner = learner
    return outcome


def _write(
    outcomes: list[Outcome],
    file: str,
    out: _Sink,
    errors: _Sink,
    seen: Seen | None,
    summary: Summary,
    duplicates: bool = True,
    present: bool = False,
) -> None:
    """`duplicates`: a learner given twice is an error (JSON Lines; a CSV file's rows of one
    learner form one record wherever they are). `present`: every learner read, asked for or
    not, is kept in `seen` (`--exceptions`)."""
    for outcome in outcomes:
        if present and seen is not None and outcome.learner is not None:
            seen.note(outcome.learner, outcome.ordinal)
        if outcome.skipped:
            continue
        summary.read += 1
        if outcome.picked:
            summary.selected.add(str(outcome.learner))
        if not outcome.errors and duplicates and seen is not None and outcome.learner is not None:
            first = seen.first_line(outcome.learner, outcome.ordinal, outcome.position)
            if first is not None:
                message = (
                    f"learner `{outcome.learner}` already appeared at line {first} "
                    "(give each learner's achievements in one object)"
                )
                outcome.errors = [
                    RecordError(
                        file=file,
                        learner=outcome.learner,
                        line=outcome.position,
                        position_kind="line",
                        field=outcome.learner_field,
                        message=message,
                        record_index=outcome.ordinal,
                    )
                ]
        if outcome.errors:
            summary.in_error += 1
            for error in outcome.errors:
                errors.write_line(_error_line(error) if errors.path else f"error: {error.render()}")
            continue
        summary.reported += 1
        for line in outcome.lines:
            out.write_line(line)
        change = outcome.change
        if change is not None and change.changed:
            summary.changed += 1
            for name in change.gained:
                summary.gained[name] = summary.gained.get(name, 0) + 1
            for name in change.lost:
                summary.lost[name] = summary.lost.get(name, 0) + 1


def _advance(checkpoint: cp.Checkpoint, units: list[Unit]) -> None:
    last = units[-1]
    checkpoint.next_ordinal = last.ordinal + 1
    if last.kind == "jsonl":
        checkpoint.input_offset = last.end
        checkpoint.input_line = last.position


def _save(
    state_dir: Path | None,
    checkpoint: cp.Checkpoint,
    summary: Summary,
    out: _Sink,
    errors: _Sink,
    seen: Seen | None,
) -> None:
    checkpoint.out_offset = out.durable_offset()
    checkpoint.errors_offset = errors.durable_offset()
    checkpoint.out_tail = out.tail(checkpoint.out_offset)
    checkpoint.errors_tail = errors.tail(checkpoint.errors_offset)
    if seen is not None:
        seen.commit()
    if state_dir is None:
        return
    checkpoint.read, checkpoint.reported = summary.read, summary.reported
    checkpoint.in_error, checkpoint.changed = summary.in_error, summary.changed
    checkpoint.gained, checkpoint.lost = dict(summary.gained), dict(summary.lost)
    cp.save(state_dir, checkpoint)
