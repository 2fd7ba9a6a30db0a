"""`stackrules plan` and `stackrules nearest`: the advisor's cheapest next steps.

`plan --rules R RECORD --target ID` prints, for each learner in RECORD and each target
(`--target` is repeatable), the cheapest set of catalog items whose completion earns it, in
terms (`--per-term 5` items or `--per-term 15cr` credits). `nearest --rules R RECORD` ranks
every credential (or one `--issuer`'s) by the work its cheapest completion leaves, started
ones first; a `--target` is always shown. Both take `--learner ID` (repeatable: only those
learners) and the what-if options `--add ITEM[:GRADE]` (repeatable) and `--catalog-date`.
Text by default, `--format json` for the `stackrules/plan/v1` documents. Exit status: 0, 1
rule-set errors, 2 usage (an unknown target, issuer, learner or `--add` item, with a
did-you-mean; a bad `--per-term`), 3 a record could not be read (the learners that could be
read are still planned).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import click

from stackrules import CompiledRules, load_rules
from stackrules.advisor.output import NearestOut, PlanOut, render_nearest, render_plan
from stackrules.advisor.plan import PerTerm, PlanError, Planner
from stackrules.advisor.whatif import Addition, WhatIfError, parse_addition
from stackrules.cli.common import (
    EXCEPTIONS_OPTION,
    EXIT_RECORD_ERRORS,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    RULES_OPTION,
    IsoDate,
    print_diagnostics,
)
from stackrules.diagnostics import did_you_mean_suffix
from stackrules.exceptions.files import Loaded, join_loaded
from stackrules.learner import nearest_for, plans_for
from stackrules.pursuit import unknown_credential, unknown_issuer
from stackrules.records import LearnerRecord, RecordError, read_records

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def what_if_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--add ITEM[:GRADE]` (repeatable) and `--catalog-date`, shared with `evaluate`."""
    f = click.option(
        "--catalog-date",
        "catalog_date",
        type=IsoDate(),
        default=None,
        help="What-if: evaluate under the catalog in force on this date (replaces the "
        "record's catalog_date).",
    )(f)
    return click.option(
        "--add",
        "adds",
        multiple=True,
        metavar="ITEM[:GRADE]",
        help="What-if: count ITEM as completed on the as-of date (no grade, which meets every "
        "`min grade`, unless GRADE is given). Repeatable. The record file is not changed.",
    )(f)


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            RULES_OPTION,
            click.argument("record", type=click.Path(path_type=str)),
            click.option(
                "--learner",
                "learner_ids",
                multiple=True,
                metavar="ID",
                help="Only this learner (repeatable). One not in RECORD is a usage error "
                "(exit 2, with a did-you-mean).",
            ),
            click.option(
                "--as-of", "as_of", type=IsoDate(), default=None, help="Date (default: today)."
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["text", "json"]),
                default="text",
                show_default=True,
                help="Advisor-readable text or JSON documents.",
            ),
            EXCEPTIONS_OPTION,
        ]
    ):
        f = option(f)
    return what_if_options(f)


def load_additions(compiled: CompiledRules, adds: tuple[str, ...]) -> list[Addition]:
    """Parse `--add` values; a bad one is a usage error (exit 2)."""
    try:
        return [parse_addition(a, compiled.model, compiled.aliases) for a in adds]
    except WhatIfError as err:
        raise click.BadParameter(str(err), param_hint="'--add'") from None


def check_targets(compiled: CompiledRules, targets: Iterable[str]) -> list[str]:
    """The `--target` values, each a credential of the rule set (else a usage error)."""
    found = list(dict.fromkeys(targets))
    for target in found:
        unknown = unknown_credential(target, compiled.model.credentials, fold_case=True)
        if unknown is not None:
            raise click.BadParameter(unknown, param_hint="'--target'")
    return found


def _learners(
    compiled: CompiledRules,
    record: str,
    errors: list[RecordError],
    only: tuple[str, ...] = (),
    exceptions: str | None = None,
) -> list[LearnerRecord]:
    """The learners of the record file, or only those of `only` (`--learner`, in file order).
    A `--learner` the file does not hold is a usage error with a did-you-mean (exit 2, as
    `graph --learner`), raised before anything is planned; one the file holds but could not
    read is a record error (exit 3). With `only`, other learners' record errors are left out.
    Each learner comes with its exceptions (`--exceptions`, and the record's own), checked:
    one with a bad exception is a record error, and so is a row of `--exceptions` for a
    learner the file does not hold (asked for or not)."""
    found: list[LearnerRecord] = []
    table = Loaded(exceptions) if exceptions is not None else None
    if table is not None:
        errors.extend(table.file_errors)
        if table.unreadable:
            _finish(errors)
    wanted = set(only)
    names: list[str] = []
    for entry in read_records(record, aliases=compiled.aliases):
        if isinstance(entry, RecordError):
            if not wanted or entry.learner is None or entry.learner in wanted:
                errors.append(entry)
            if entry.learner is not None:
                names.append(entry.learner)
        else:
            names.append(entry.learner)
            if not wanted or entry.learner in wanted:
                entry, problems = join_loaded(
                    entry, table, compiled.model, file=record, exceptions_file=exceptions
                )
                if problems:
                    errors.extend(problems)
                    continue
                found.append(entry)
    if table is not None and not any(e.whole_file and e.file == record for e in errors):
        errors.extend(table.strangers(set(names), record))  # (rows for nobody in the file)
    for ident in dict.fromkeys(only):
        if ident not in names and not any(e.learner is None for e in errors):
            raise click.BadParameter(
                f"no learner `{ident}` in `{record}`"
                + did_you_mean_suffix(ident, names, fold_case=True),
                param_hint="'--learner'",
            )
    return found


def _load(rules: tuple[str, ...]) -> CompiledRules:
    compiled, diagnostics = load_rules(rules)
    if compiled is None:
        print_diagnostics(diagnostics, err=True)
        click.get_current_context().exit(EXIT_RULE_ERRORS)
    assert compiled is not None
    return compiled


def _emit(docs: list[PlanOut] | list[NearestOut], fmt: str, text: Callable[[Any], str]) -> None:
    if fmt == "json":
        data = [d.model_dump(mode="json", by_alias=True) for d in docs]
        click.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(text(d) for d in docs), nl=False)


def _finish(errors: list[RecordError]) -> None:
    if errors:
        for e in errors:
            click.echo(f"error: {e.render()}", err=True)
        click.get_current_context().exit(EXIT_RECORD_ERRORS)


@click.command("plan")
@_common
@click.option(
    "--target",
    "targets",
    required=True,
    multiple=True,
    help="The credential to plan for (repeatable: one plan per learner and target).",
)
@click.option(
    "--per-term",
    "per_term",
    default=None,
    metavar="N|Ncr",
    help="At most N items (`5`) or N credits (`15cr`) in one term (default: no cap).",
)
def plan_command(
    rules: tuple[str, ...],
    record: str,
    as_of: date | None,
    fmt: str,
    learner_ids: tuple[str, ...],
    adds: tuple[str, ...],
    catalog_date: date | None,
    targets: tuple[str, ...],
    per_term: str | None,
    exceptions: str | None = None,
) -> None:
    """The cheapest set of catalog items whose completion earns TARGET, in terms."""
    compiled = _load(rules)
    day = as_of or date.today()
    additions = load_additions(compiled, adds)
    wanted = check_targets(compiled, targets)
    try:
        cap = PerTerm.parse(per_term) if per_term is not None else None
    except PlanError as err:
        raise click.BadParameter(str(err), param_hint="'--per-term'") from None
    planner = Planner(compiled.model, compiled.evaluator)
    errors: list[RecordError] = []
    docs: list[PlanOut] = []
    for learner in _learners(compiled, record, errors, learner_ids, exceptions):
        try:
            docs += plans_for(
                planner,
                learner,
                wanted,
                day,
                per_term=cap,
                additions=additions,
                catalog_date=catalog_date,
            )
        except PlanError as err:
            click.echo(f"error: learner {learner.learner}: {err}", err=True)
            click.get_current_context().exit(EXIT_USAGE)
    _emit(docs, fmt, render_plan)
    _finish(errors)


@click.command("nearest")
@_common
@click.option("--issuer", "issuer", default=None, help="Only this issuer's credentials.")
@click.option("--top", "top", type=click.IntRange(min=1), default=None, help="Only the N nearest.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Always show this credential, whatever its rank or status (repeatable).",
)
def nearest_command(
    rules: tuple[str, ...],
    record: str,
    learner_ids: tuple[str, ...],
    as_of: date | None,
    fmt: str,
    adds: tuple[str, ...],
    catalog_date: date | None,
    issuer: str | None,
    top: int | None,
    targets: tuple[str, ...],
    exceptions: str | None = None,
) -> None:
    """Credentials ranked by the work their cheapest completion leaves (started ones first),
    with what remains."""
    compiled = _load(rules)
    day = as_of or date.today()
    additions = load_additions(compiled, adds)
    unknown = unknown_issuer(issuer, compiled.model.issuers)
    if unknown is not None:
        raise click.BadParameter(unknown, param_hint="'--issuer'")
    always = check_targets(compiled, targets)
    planner = Planner(compiled.model, compiled.evaluator)
    errors: list[RecordError] = []
    docs: list[NearestOut] = []
    for learner in _learners(compiled, record, errors, learner_ids, exceptions):
        try:
            docs.append(
                nearest_for(
                    planner,
                    learner,
                    day,
                    issuer=issuer,
                    top=top,
                    always=always,
                    additions=additions,
                    catalog_date=catalog_date,
                )
            )
        except PlanError as err:
            click.echo(f"error: learner {learner.learner}: {err}", err=True)
            click.get_current_context().exit(EXIT_USAGE)
    _emit(docs, fmt, render_nearest)
    _finish(errors)
