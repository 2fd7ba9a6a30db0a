"""The advisor's map commands: `where`, `graph`, `suggest` and `credit-loss`.

Each loads the rule set (diagnostics and exit 1 when it has errors), checks its options
(a message and exit 2 for an unknown identifier, issuer or learner), runs one function of
:mod:`stackrules.maps` and prints what it returns. A record that cannot be read exits 3.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click

from stackrules import CompiledRules, load_rules
from stackrules.cli.common import (
    EXIT_RECORD_ERRORS,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    print_diagnostics,
)
from stackrules.graph import RuleGraph
from stackrules.maps.text import did_you_mean
from stackrules.maps.where import where, where_json, where_text
from stackrules.records import LearnerRecord, RecordError, read_records

RULES_OPTION = click.option(
    "--rules",
    "rules",
    multiple=True,
    required=True,
    type=click.Path(path_type=str),
    help="A rule file or folder of .stack files (repeatable; read as one rule set).",
)


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
