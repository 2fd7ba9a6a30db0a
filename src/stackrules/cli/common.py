"""Helpers shared by the subcommands: options, loading rules, printing diagnostics."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

import click

from stackrules.diagnostics import Diagnostic, did_you_mean_suffix, summary
from stackrules.evaluation.evaluator import DEFAULT_IN_PROGRESS
from stackrules.pursuit import unknown_targets
from stackrules.span import printable

EXIT_OK = 0
EXIT_RULE_ERRORS = 1
EXIT_USAGE = 2
EXIT_RECORD_ERRORS = 3


def print_diagnostics(
    diagnostics: Sequence[Diagnostic], fmt: str = "text", err: bool = False
) -> None:
    """Diagnostics sorted by position, then a summary line (text), or a JSON array."""
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    if fmt == "json":
        docs = [printable_tree(d.model_dump(mode="json")) for d in ordered]
        click.echo(json.dumps(docs, indent=2), err=err)
        return
    for d in ordered:
        click.echo(d.render(), err=err)
    click.echo(summary(ordered), err=err)


def printable_tree(value: Any) -> Any:
    """A JSON value with every string made `printable` (a rule file name may not be UTF-8)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_tree(v) for v in value]
    return value


class IsoDate(click.ParamType):  # type: ignore[type-arg]
    """A `YYYY-MM-DD` option value; anything else is a usage error (exit 2)."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"`{value}` is not a date as YYYY-MM-DD", param, ctx)


RULES_OPTION = click.option(
    "--rules",
    "rules",
    multiple=True,
    required=True,
    type=click.Path(path_type=str),
    help="A rule file or folder of .stack files (repeatable; read as one rule set).",
)

AS_OF_OPTION = click.option(
    "--as-of", "as_of", type=IsoDate(), default=None, help="Evaluation date (default: today)."
)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


class InProgressCount(click.ParamType):  # type: ignore[type-arg]
    """`--in-progress K|all`: a whole number of credentials, or `all` (None)."""

    name = "K|all"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text == "all":
            return None
        if text.isdigit():
            return int(text)
        self.fail(f"`{value}` is not a whole number of credentials or `all`", param, ctx)


TARGET_OPTION = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="CREDENTIAL",
    help="A credential every learner pursues (repeatable): always reported in full, "
    "a what-if audit against a programme.",
)

LEARNER_OPTION = click.option(
    "--learner",
    "learners",
    multiple=True,
    metavar="ID",
    help="Only this learner (repeatable); one that is not in the file is reported as an error.",
)

IN_PROGRESS_OPTION = click.option(
    "--in-progress",
    "in_progress",
    type=InProgressCount(),
    default=str(DEFAULT_IN_PROGRESS),
    show_default=True,
    help="How many credentials in progress to report besides the pursued ones, nearest "
    "first, or `all`.",
)


EXCEPTIONS_OPTION = click.option(
    "--exceptions",
    "exceptions",
    default=None,
    type=click.Path(path_type=str),
    metavar="FILE",
    help="Registrar exceptions (JSON Lines or CSV, one per line or row, with a `learner` "
    "field), applied with each learner's own.",
)


def check_targets(targets: Sequence[str], credentials: Collection[str]) -> None:
    """A usage error (exit 2) naming each `--target` that is not a credential."""
    problems = unknown_targets(targets, credentials)
    if problems:
        raise click.UsageError("--target: " + "; ".join(problems))


def missing_learners(wanted: Sequence[str], seen: Collection[str], file: str) -> list[str]:
    """An error line for each `--learner` that the record file does not hold."""
    return [
        f"error: {file}: learner `{ident}` (--learner) is not in the file"
        + did_you_mean_suffix(ident, seen)
        for ident in dict.fromkeys(wanted)
        if ident not in seen
    ]
