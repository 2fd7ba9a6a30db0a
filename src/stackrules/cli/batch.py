"""`stackrules batch`: evaluate a record file of any size, for SIS jobs.

Exit status: 0 every learner reported; 1 the rule set (or the `--compare` rule set) has
errors; 2 wrong usage: bad options, `--resume` refused, or an output, errors or temporary
file that cannot be written (the interfaces spec fixes the codes, so this environment problem
shares usage's code; a run stopped by it can be resumed from its last checkpoint); 3 at least
one learner in error, a row of `--exceptions` for a learner the record file does not hold
(reported after every learner, in the errors file), or the record file could not be read at
all. The summary on standard error always says how many learners were read, reported and in
error (read = reported + in error), and how many exceptions were for learners not in the file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from datetime import date
from typing import Any

import click

from stackrules import load_rules
from stackrules.batch import ResumeRefused, StateError, Summary, run_file
from stackrules.batch.source import Source, Unit, open_source
from stackrules.batch.work import Job
from stackrules.cli.common import (
    AS_OF_OPTION,
    EXCEPTIONS_OPTION,
    EXIT_RECORD_ERRORS,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    IN_PROGRESS_OPTION,
    LEARNER_OPTION,
    RULES_OPTION,
    TARGET_OPTION,
    check_targets,
    missing_learners,
    print_diagnostics,
    stderr_is_terminal,
)
from stackrules.exceptions.files import ExceptionIndex
from stackrules.records import RecordError
from stackrules.records.csvfile import CsvLines
from stackrules.span import printable


@click.command("batch")
@RULES_OPTION
@click.option(
    "--records",
    required=True,
    type=click.Path(path_type=str),
    help="The learners: a .jsonl or .csv record file of any size.",
)
@click.option("--out", type=click.Path(path_type=str), help="Output file (default: stdout).")
@click.option(
    "--errors",
    "errors_path",
    type=click.Path(path_type=str),
    help="JSON Lines file for malformed learners (default: readable lines on stderr).",
)
@AS_OF_OPTION
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (or Dask workers of a local cluster).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="One report per line, or one CSV row per learner and credential.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Worker processes on this machine, or a Dask cluster (needs the `dask` extra).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="With --engine dask: the scheduler of an existing cluster (default: a local one).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run with the same options from its last checkpoint.",
)
@click.option(
    "--compare",
    "compare",
    multiple=True,
    type=click.Path(path_type=str),
    help="Old rules (repeatable): report what --rules gains or loses for each learner.",
)
@click.option(
    "--validate-only",
    is_flag=True,
    help="Read and validate the records without evaluating them.",
)
@click.option(
    "--tmp-dir",
    type=click.Path(path_type=str, file_okay=False),
    help="Where to group large CSV files by learner (default: the system's temporary folder).",
)
@click.option(
    "--sort-rows",
    type=click.IntRange(min=100),
    default=50_000,
    show_default=True,
    help="CSV rows held in memory before grouping spills to disk.",
)
@click.option(
    "--checkpoint-every",
    "checkpoint_every",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="How often (with --out) to flush the output and write a checkpoint for --resume.",
)
@click.option(
    "--learner-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop a learner's evaluation after this long and report it in the errors "
    "(default: no limit).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: when stderr is a terminal).",
)
@TARGET_OPTION
@IN_PROGRESS_OPTION
@LEARNER_OPTION
@EXCEPTIONS_OPTION
def batch_command(
    rules: tuple[str, ...],
    records: str,
    out: str | None,
    errors_path: str | None,
    as_of: date | None,
    workers: int,
    fmt: str,
    engine: str,
    scheduler: str | None,
    resume: bool,
    compare: tuple[str, ...],
    validate_only: bool,
    tmp_dir: str | None,
    sort_rows: int,
    checkpoint_every: float,
    learner_timeout: float | None,
    progress: bool | None,
    targets: tuple[str, ...] = (),
    in_progress: int | None = 5,
    learners: tuple[str, ...] = (),
    exceptions: str | None = None,
) -> None:
    """Evaluate every learner of a .jsonl or .csv record file, streaming, in input order."""
    ctx = click.get_current_context()
    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    if resume and out is None:
        raise click.UsageError("--resume needs --out FILE (standard output cannot be resumed)")
    if validate_only and compare:
        raise click.UsageError("--validate-only and --compare cannot be used together")
    if engine == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise click.UsageError(
                "--engine dask needs Dask: pip install 'stackrules[dask]'"
            ) from None
    compiled, diagnostics = load_rules(rules)
    if compiled is None:
        print_diagnostics(diagnostics, err=True)
        ctx.exit(EXIT_RULE_ERRORS)
    check_targets(targets, compiled.model.credentials)
    baseline = None
    if compare:
        baseline, old_diagnostics = load_rules(compare)
        if baseline is None:
            print_diagnostics(old_diagnostics, err=True)
            ctx.exit(EXIT_RULE_ERRORS)
    opened = open_source(records, max_rows=sort_rows, tmp_dir=tmp_dir)
    if isinstance(opened, RecordError):
        click.echo(f"error: {opened.render()}", err=True)
        _print_summary(Summary(), validate_only, compare=False)
        ctx.exit(EXIT_RECORD_ERRORS)
    assert compiled is not None
    index = _exception_index(ctx, exceptions, tmp_dir) if exceptions is not None else None
    job = Job(
        rules=compiled,
        as_of=as_of or date.today(),
        fmt="csv" if fmt == "csv" else "jsonl",
        file=records,
        baseline=baseline,
        validate_only=validate_only,
        learner_timeout=learner_timeout,
        targets=targets,
        in_progress=in_progress,
        learners=frozenset(learners),
        exceptions_file=exceptions,
        exceptions_index=index.path if index is not None else None,
    )
    show = stderr_is_terminal() if progress is None else progress
    bar = _Bar(opened) if show else None
    try:
        summary = run_file(
            job,
            opened,
            rule_paths=rules,
            compare_paths=compare,
            out=out,
            errors=errors_path,
            workers=workers,
            engine="dask" if engine == "dask" else "local",
            scheduler=scheduler,
            resume=resume,
            checkpoint_seconds=checkpoint_every,
            progress=bar,
        )
    except ResumeRefused as refused:
        raise click.UsageError(f"cannot resume: {refused}") from None
    except StateError as unsafe:
        # A symbolic link or another user's folder where the batch state should be.
        click.echo(f"error: {unsafe}", err=True)
        ctx.exit(EXIT_USAGE)
    except OSError as failure:
        # An output, errors or temporary file that cannot be written (a missing folder, no
        # permission, a full disk). What was checkpointed so far can be resumed.
        where = f" `{printable(str(failure.filename))}`" if failure.filename else ""
        click.echo(f"error: cannot write{where}: {failure.strerror or failure}", err=True)
        ctx.exit(EXIT_USAGE)
    except sqlite3.Error as failure:
        # The batch state's learner table failed mid-run (a full disk, an I/O error).
        click.echo(f"error: cannot write the batch state: {str(failure).lower()}", err=True)
        ctx.exit(EXIT_USAGE)
    finally:
        if bar is not None:
            bar.close()
    for error in summary.file_errors:
        click.echo(f"error: {error.render()}", err=True)
    _print_summary(summary, validate_only, compare=bool(compare))
    missing = (
        [] if summary.resumed_at > 1 else missing_learners(learners, summary.selected, records)
    )
    for line in missing:
        click.echo(line, err=True)
    if not summary.ok or (index is not None and index.errors):
        ctx.exit(EXIT_RECORD_ERRORS)
    if missing:
        ctx.exit(EXIT_USAGE)  # as `plan`, `nearest` and `graph` say of a `--learner` not there


def _exception_index(ctx: click.Context, path: str, tmp_dir: str | None) -> ExceptionIndex:
    """`--exceptions FILE` loaded into a private on-disk index by learner (in a folder only
    this user can open, removed when the command ends), so that the batch joins a large,
    unordered table to its learners in bounded memory; rows that name no learner are
    reported now."""
    folder = tempfile.mkdtemp(prefix="stackrules-exceptions-", dir=tmp_dir)  # mode 0700
    ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    index = ExceptionIndex(path, os.path.join(folder, "exceptions.sqlite"))
    for error in index.errors:
        click.echo(f"error: {error.render()}", err=True)
    if any(e.line is None or e.line == 1 for e in index.errors):  # the file, or its header
        ctx.exit(EXIT_RECORD_ERRORS)
    return index


def _print_summary(summary: Summary, validate_only: bool, *, compare: bool) -> None:
    done = "valid" if validate_only else "compared" if compare else "reported"
    line = (
        f"batch: {summary.read} learners read, {summary.reported} {done}, "
        f"{summary.in_error} in error"
    )
    if summary.resumed_at > 1:
        line += f" (resumed at learner {summary.resumed_at})"
    if summary.seconds > 0:
        line += f"; {summary.seconds:.1f} s"
    click.echo(line, err=True)
    if summary.strangers:
        rows = "exception is" if summary.strangers == 1 else "exceptions are"
        click.echo(
            f"batch: {summary.strangers} {rows} for learners not in the record file "
            "(record errors)",
            err=True,
        )
    if compare:
        click.echo(f"compare: {summary.changed} of {summary.reported} learners changed", err=True)
        for label, counts in (("gained", summary.gained), ("lost", summary.lost)):
            for credential, count in sorted(counts.items()):
                click.echo(f"  {label} {credential}: {count} learners", err=True)


class _Bar:
    """A progress bar on stderr (click's): input bytes for JSON Lines, rows for CSV.

    CSV files are grouped by learner before the first learner is evaluated, so the bar appears when
    evaluation starts and counts rows of the file.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.bar: Any = None
        self.done = 0
        self.learners = 0

    def __call__(self, units: list[Unit]) -> None:
        if self.bar is None:
            length = self.source.size if self.source.kind == "jsonl" else self.source.rows_read
            self.bar = click.progressbar(
                length=max(length, 1),
                label="evaluating",
                file=sys.stderr,
                show_pos=False,
                item_show_func=self._learners,
            )
            self.bar.__enter__()
            if self.source.kind == "jsonl" and units:
                self.done = units[0].end - len(_raw(units[0]))
                self.bar.update(self.done)
        self.learners += len(units)
        if self.source.kind == "jsonl":
            step = units[-1].end - self.done
            self.done = units[-1].end
        else:
            step = sum(len(u.data.lines) for u in units if isinstance(u.data, CsvLines))
        self.bar.update(step, current_item=self.learners)

    def _learners(self, count: int | None) -> str:
        return f"{count} learners" if count else ""

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _raw(unit: Unit) -> bytes:
    return unit.data if isinstance(unit.data, bytes) else b""
