"""`stackrules plan` and `stackrules nearest`: the advisor's cheapest next steps.

`plan --rules R RECORD --target ID` prints, for each learner in RECORD, the cheapest set of
catalog items whose completion earns the target, in terms (`--per-term 5` items or
`--per-term 15cr` credits). `nearest --rules R RECORD` ranks every credential (or one
`--issuer`'s) by the cost of its cheapest completion. Both take the what-if options
`--add ITEM[:GRADE]` (repeatable) and `--catalog-date`. Text by default, `--format json`
for the `stackrules/plan/v1` documents. Exit status: 0, 1 rule-set errors, 2 usage (an
unknown target, issuer or `--add` item, a bad `--per-term`), 3 a record could not be read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import click

from stackrules import CompiledRules, load_rules
from stackrules.advisor.nearest import nearest
from stackrules.advisor.output import (
    NearestOut,
    PlanOut,
    plan_out,
    render_nearest,
    render_plan,
)
from stackrules.advisor.plan import PerTerm, PlanError, Planner
from stackrules.advisor.whatif import Addition, WhatIfError, apply_what_if, parse_addition
from stackrules.cli.common import (
    EXIT_RECORD_ERRORS,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    RULES_OPTION,
    IsoDate,
    print_diagnostics,
)
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


def _learners(
    compiled: CompiledRules, record: str, errors: list[RecordError]
) -> list[LearnerRecord]:
    found: list[LearnerRecord] = []
    for entry in read_records(record, aliases=compiled.aliases):
        if isinstance(entry, RecordError):
            errors.append(entry)
        else:
            found.append(entry)
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
@click.option("--target", "target", required=True, help="The credential to plan for.")
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
    adds: tuple[str, ...],
    catalog_date: date | None,
    target: str,
    per_term: str | None,
) -> None:
    """The cheapest set of catalog items whose completion earns TARGET, in terms."""
    compiled = _load(rules)
    day = as_of or date.today()
    additions = load_additions(compiled, adds)
    if target not in compiled.model.credentials:
        raise click.BadParameter(
            f"`{target}` is not a credential of the rule set", param_hint="'--target'"
        )
    try:
        cap = PerTerm.parse(per_term) if per_term is not None else None
    except PlanError as err:
        raise click.BadParameter(str(err), param_hint="'--per-term'") from None
    planner = Planner(compiled.model, compiled.evaluator)
    errors: list[RecordError] = []
    docs: list[PlanOut] = []
    for learner in _learners(compiled, record, errors):
        trial = apply_what_if(learner, additions, day, catalog_date)
        try:
            result = planner.plan(trial, target, day, cap)
        except PlanError as err:
            click.echo(f"error: learner {learner.learner}: {err}", err=True)
            click.get_current_context().exit(EXIT_USAGE)
        docs.append(
            plan_out(
                planner,
                result,
                learner.learner,
                day,
                trial.catalog_date,
                [a.text() for a in additions],
            )
        )
    _emit(docs, fmt, render_plan)
    _finish(errors)


@click.command("nearest")
@_common
@click.option("--issuer", "issuer", default=None, help="Only this issuer's credentials.")
@click.option("--top", "top", type=click.IntRange(min=1), default=None, help="Only the N nearest.")
def nearest_command(
    rules: tuple[str, ...],
    record: str,
    as_of: date | None,
    fmt: str,
    adds: tuple[str, ...],
    catalog_date: date | None,
    issuer: str | None,
    top: int | None,
) -> None:
    """Every credential ranked by the cost of its cheapest completion, with what remains."""
    compiled = _load(rules)
    day = as_of or date.today()
    additions = load_additions(compiled, adds)
    if issuer is not None and issuer not in compiled.model.issuers:
        raise click.BadParameter(f"`{issuer}` is not a declared issuer", param_hint="'--issuer'")
    planner = Planner(compiled.model, compiled.evaluator)
    errors: list[RecordError] = []
    docs: list[NearestOut] = []
    for learner in _learners(compiled, record, errors):
        trial = apply_what_if(learner, additions, day, catalog_date)
        try:
            ranked = nearest(planner, trial, day, issuer, top)
        except PlanError as err:
            click.echo(f"error: learner {learner.learner}: {err}", err=True)
            click.get_current_context().exit(EXIT_USAGE)
        added = [a.text() for a in additions]
        docs.append(
            NearestOut(
                learner=learner.learner,
                as_of=day,
                catalog_date=trial.catalog_date,
                added=added,
                issuer=issuer,
                credentials=[
                    plan_out(planner, r, learner.learner, day, trial.catalog_date, added)
                    for r in ranked
                ],
            )
        )
    _emit(docs, fmt, render_nearest)
    _finish(errors)
