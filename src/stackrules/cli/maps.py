"""The advisor's map commands: `where`, `graph`, `suggest` and `credit-loss`.

Each loads the rule set (diagnostics and exit 1 when it has errors), checks its options
(a message and exit 2 for an unknown identifier, issuer or learner), runs one function of
:mod:`stackrules.maps` and prints what it returns. A record that cannot be read exits 3.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any, NoReturn

import click

from stackrules import CompiledRules, load_rules
from stackrules import evaluate as evaluate_record
from stackrules.cli.common import (
    AS_OF_OPTION,
    EXIT_RECORD_ERRORS,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    RULES_OPTION,
    print_diagnostics,
)
from stackrules.diagnostics import did_you_mean as closest
from stackrules.graph import RuleGraph
from stackrules.maps.creditloss import learner_losses, loss_csv, loss_json, loss_text
from stackrules.maps.flowchart import build_flowchart
from stackrules.maps.render_dot import render_dot
from stackrules.maps.render_html import render_html
from stackrules.maps.render_mermaid import render_mermaid
from stackrules.maps.suggest import MAX_LINKS, suggest, suggestions_text
from stackrules.maps.where import where, where_json, where_text
from stackrules.records import LearnerRecord, RecordError, read_records


def _usage_error(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    click.get_current_context().exit(EXIT_USAGE)
    raise AssertionError("unreachable")  # pragma: no cover


def _load(rules: tuple[str, ...]) -> CompiledRules:
    compiled, diagnostics = load_rules(rules)
    if compiled is None:
        print_diagnostics(diagnostics, err=True)
        click.get_current_context().exit(EXIT_RULE_ERRORS)
        raise AssertionError("unreachable")  # pragma: no cover
    return compiled


def _known_id(compiled: CompiledRules, ident: str, what: str = "item or credential") -> str:
    """The rule identifier for `ident` (an alias is followed); exit 2 when there is none."""
    ident = compiled.aliases.get(ident, ident)
    if ident not in compiled.model.items:
        _usage_error(
            f"unknown {what} `{ident}` in these rules" + did_you_mean(ident, compiled.model.items)
        )
    return ident


def _records(compiled: CompiledRules, path: str) -> list[LearnerRecord]:
    """Every learner in the file; exit 3 (after the messages) when any could not be read."""
    learners: list[LearnerRecord] = []
    errors: list[RecordError] = []
    for entry in read_records(path, aliases=compiled.aliases):
        if isinstance(entry, RecordError):
            errors.append(entry)
        else:
            learners.append(entry)
    if errors:
        for e in errors:
            click.echo(f"error: {e.render()}", err=True)
        click.get_current_context().exit(EXIT_RECORD_ERRORS)
    return learners


def _echo_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@click.command("where")
@RULES_OPTION
@click.argument("ident", metavar="ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A readable list of paths, or one JSON document.",
)
def where_command(rules: tuple[str, ...], ident: str, fmt: str) -> None:
    """Everything item or credential ID can count toward, with the path for each."""
    compiled = _load(rules)
    ident = _known_id(compiled, ident)
    reaches = where(RuleGraph(compiled.model), ident)
    if fmt == "json":
        _echo_json(where_json(compiled.model, ident, reaches))
    else:
        click.echo(where_text(compiled.model, ident, reaches), nl=False)


def _one_learner(compiled: CompiledRules, record: str, learner: str | None) -> LearnerRecord:
    learners = _records(compiled, record)
    if learner is None:
        if len(learners) != 1:
            names = ", ".join(r.learner for r in learners[:10])
            _usage_error(
                f"`{record}` holds {len(learners)} learners; choose one with --learner ({names})"
            )
        return learners[0]
    for r in learners:
        if r.learner == learner:
            return r
    _usage_error(
        f"no learner `{learner}` in `{record}`"
        + did_you_mean(learner, [r.learner for r in learners])
    )


@click.command("graph")
@RULES_OPTION
@click.option(
    "--credential",
    "credentials",
    multiple=True,
    help="Chart this credential: what flows into it and what it flows on to (repeatable).",
)
@click.option(
    "--issuer",
    "issuers",
    multiple=True,
    help="Chart this issuer's credentials and the transfer into it (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "dot", "mermaid"]),
    default="html",
    show_default=True,
    help="One self-contained HTML page (inline SVG), Graphviz DOT, or Mermaid.",
)
@click.option(
    "--record",
    type=click.Path(path_type=str),
    default=None,
    help="A record file: colour what the learner holds, has earned, has started and has left.",
)
@click.option("--learner", default=None, help="Which learner of --record (when it holds several).")
@AS_OF_OPTION
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=str, dir_okay=False),
    default=None,
    help="Write to this file instead of standard output.",
)
def graph_command(
    rules: tuple[str, ...],
    credentials: tuple[str, ...],
    issuers: tuple[str, ...],
    fmt: str,
    record: str | None,
    learner: str | None,
    as_of: date | None,
    out: str | None,
) -> None:
    """The laddering and transfer flowchart of a rule set, a credential or an issuer."""
    if record is None and (learner is not None or as_of is not None):
        _usage_error("--learner and --as-of need --record")
    compiled = _load(rules)
    model = compiled.model
    chosen = []
    for c in credentials:
        ident = compiled.aliases.get(c, c)
        if ident not in model.credentials:
            _usage_error(f"unknown credential `{c}`" + did_you_mean(ident, model.credentials))
        chosen.append(ident)
    known_issuers = set(model.mentioned_issuers)
    for i in issuers:
        if i not in known_issuers:
            _usage_error(f"unknown issuer `{i}`" + did_you_mean(i, known_issuers))
    evaluated = None
    if record is not None:
        learner_record = _one_learner(compiled, record, learner)
        report = evaluate_record(compiled, learner_record, as_of or date.today())
        evaluated = (learner_record, report)
    chart = build_flowchart(
        RuleGraph(model), credentials=chosen, issuers=issuers, learner=evaluated
    )
    if fmt == "dot":
        text = render_dot(chart)
    elif fmt == "mermaid":
        text = render_mermaid(chart)
    else:
        text = render_html(chart, ", ".join(rules))
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        _usage_error(f"cannot write `{out}`: {e.strerror}")


@click.command("suggest")
@RULES_OPTION
@click.option(
    "--max-links",
    type=click.IntRange(2, 6),
    default=MAX_LINKS,
    show_default=True,
    help="Follow chains of at most this many equivalencies.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["stack", "json"]),
    default="stack",
    show_default=True,
    help="Reviewable .stack transfer blocks, or one JSON document.",
)
def suggest_command(rules: tuple[str, ...], max_links: int, fmt: str) -> None:
    """Equivalencies implied by chains across issuers, for review (never applied)."""
    compiled = _load(rules)
    result = suggest(compiled.model, max_links)
    if fmt == "json":
        _echo_json(
            {
                "proposals": [p.to_json() for p in result.proposals],
                "already_in_rules": result.existing,
                "no_common_dates": result.no_dates,
            }
        )
    else:
        click.echo(suggestions_text(result), nl=False)


@click.command("credit-loss")
@RULES_OPTION
@click.argument("records", type=click.Path(path_type=str))
@click.option(
    "--target",
    default=None,
    help="The credential transfer learners are working toward (default: for each learner and "
    "source, the credential elsewhere that applies the most from it).",
)
@AS_OF_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="Tables, one JSON document (per source and per learner), or CSV per source.",
)
def credit_loss_command(
    rules: tuple[str, ...], records: str, target: str | None, as_of: date | None, fmt: str
) -> None:
    """Credits earned at each source, granted by transfer and applied to the target."""
    compiled = _load(rules)
    if target is not None:
        target = compiled.aliases.get(target, target)
        if target not in compiled.model.credentials:
            _usage_error(
                f"unknown credential `{target}`" + did_you_mean(target, compiled.model.credentials)
            )
    day = as_of or date.today()
    rows = []
    for record in _records(compiled, records):
        report = evaluate_record(compiled, record, day)
        rows += learner_losses(compiled.model, record, report, target)
    if fmt == "json":
        _echo_json(loss_json(rows, target, day.isoformat()))
    elif fmt == "csv":
        click.echo(loss_csv(rows), nl=False)
    else:
        click.echo(loss_text(rows, target, day.isoformat()), nl=False)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """` (did you mean …?)` after a usage error's message, or nothing
    (`diagnostics.did_you_mean`: its answer does not depend on the names' order)."""
    hint = closest(name, known)
    return f" ({hint})" if hint else ""
