"""`stackrules evaluate --rules RULES RECORD`: the report for each learner in a record file.

`--format json` (default) prints one JSON object for one learner and an array for several;
`jsonl` one object per line; `text` a readable audit. `--add ITEM[:GRADE]` (repeatable) and
`--catalog-date` evaluate a what-if without editing the record; `--target` (repeatable) adds a
pursued credential to every learner, `--in-progress K|all` says how many other credentials in
progress to show (`semantics.md` §6), `--learner ID` (repeatable) picks learners.

A rule set with errors prints its diagnostics and exits 1; an unknown `--target` is a usage
error (exit 2), and so is a `--learner` not in the file (named after the others are
reported); a record that cannot be read, an unknown identifier in a record's `pursuing`, or a
row of `--exceptions` for a learner the record file does not hold exits 3 after reporting
every learner that could be read.
"""

from __future__ import annotations

import json
from datetime import date

import click

from stackrules import load_rules
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
)
from stackrules.cli.plan import load_additions, what_if_options
from stackrules.exceptions.files import Loaded
from stackrules.learner import prepare, report_for
from stackrules.records import LearnerRecord, RecordError, read_records
from stackrules.report import Report, dumps, report_to_json
from stackrules.textreport import render_text


def internal_error(record: LearnerRecord, file: str, failure: Exception) -> RecordError:
    """A learner the engine failed on: reported like bad data, so the others still are."""
    where = record.position
    return RecordError(
        file=file,
        learner=record.learner,
        line=where.number if where is not None else None,
        position_kind=where.kind if where is not None else None,
        message=(
            "internal error while evaluating this learner "
            f"({type(failure).__name__}: {failure}); please report it"
        ),
    )


@click.command("evaluate")
@RULES_OPTION
@click.argument("record", type=click.Path(path_type=str))
@AS_OF_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "jsonl", "text"]),
    default="json",
    show_default=True,
    help="One JSON document, JSON Lines, or a readable audit.",
)
@TARGET_OPTION
@IN_PROGRESS_OPTION
@LEARNER_OPTION
@EXCEPTIONS_OPTION
@what_if_options
def evaluate_command(
    rules: tuple[str, ...],
    record: str,
    as_of: date | None,
    fmt: str,
    targets: tuple[str, ...] = (),
    in_progress: int | None = 5,
    learners: tuple[str, ...] = (),
    exceptions: str | None = None,
    adds: tuple[str, ...] = (),
    catalog_date: date | None = None,
) -> None:
    """Evaluate the learners in RECORD against a rule set.

    RECORD is a file of learner records (.json, .jsonl or .csv), of Open Badges 3.0 / CLR 2.0
    credentials (.json or .jsonl), or of compact VC-JWTs, one per line (.jwt or .txt).
    """
    ctx = click.get_current_context()
    compiled, diagnostics = load_rules(rules)
    if compiled is None:
        print_diagnostics(diagnostics, err=True)
        ctx.exit(EXIT_RULE_ERRORS)
    credentials = compiled.model.credentials
    check_targets(targets, credentials)
    day = as_of or date.today()
    additions = load_additions(compiled, adds)
    wanted = set(learners)
    seen: set[str] = set()
    reports: list[Report] = []
    errors: list[RecordError] = []
    table = Loaded(exceptions) if exceptions is not None else None
    if table is not None:
        errors.extend(table.file_errors)
        if table.unreadable:
            for e in errors:
                click.echo(f"error: {e.render()}", err=True)
            ctx.exit(EXIT_RECORD_ERRORS)
    for entry in read_records(record, aliases=compiled.aliases):
        learner = entry.learner
        if learner is not None:
            seen.add(learner)
        if (
            wanted
            and learner not in wanted
            and not (isinstance(entry, RecordError) and entry.whole_file)
        ):
            continue
        if isinstance(entry, RecordError):
            errors.append(entry)
            continue
        assert isinstance(entry, LearnerRecord)
        extra, extra_errors = table.lookup(entry.learner) if table is not None else ([], [])
        entry, problems = prepare(
            entry,
            compiled,
            file=record,
            extra=extra,
            extra_errors=extra_errors,
            exceptions_file=exceptions,
        )
        if problems:
            errors.extend(problems)
            continue
        try:
            result = report_for(
                compiled,
                entry,
                day,
                targets=targets,
                in_progress=in_progress,
                additions=additions,
                catalog_date=catalog_date,
            )
        except Exception as failure:  # a defect, never bad data: this learner's error
            errors.append(internal_error(entry, record, failure))
            continue
        if fmt == "jsonl":
            click.echo(dumps(result))
        elif fmt == "text":
            click.echo(render_text(result))
        else:
            reports.append(result)
    if table is not None and not any(e.whole_file and e.file == record for e in errors):
        # rows for learners the record file does not hold (asked for or not): after every
        # learner, never silently dropped
        errors.extend(table.strangers(seen, record))
    missing = missing_learners(learners, seen, record)
    for line in missing:
        click.echo(line, err=True)
    if errors:
        for e in errors:
            click.echo(f"error: {e.render()}", err=True)
        ctx.exit(EXIT_RECORD_ERRORS)
    if fmt == "json":
        docs = [report_to_json(r) for r in reports]
        click.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, ensure_ascii=False))
    if missing:
        ctx.exit(EXIT_USAGE)  # as `plan`, `nearest` and `graph` say of a `--learner` not there
