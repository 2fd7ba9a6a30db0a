"""`stackrules check RULES...`: report every problem in a rule set.

Prints one diagnostic per line (`PATH:LINE:COLUMN: error|warning[CODE]: message`) and a
summary, or a JSON array with `--format json`. Exit status 0 when there is no error (warnings
allowed), 1 when there is at least one.
"""

from __future__ import annotations

import click

from stackrules.check import check_paths
from stackrules.cli.common import print_diagnostics
from stackrules.diagnostics import has_errors


@click.command("check")
@click.argument("rules", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Diagnostics as readable lines or as a JSON array.",
)
def check_command(rules: tuple[str, ...], fmt: str) -> None:
    """Check rule files or folders of .stack files, read as one rule set."""
    _, diagnostics = check_paths(rules)
    print_diagnostics(diagnostics, fmt)
    click.get_current_context().exit(1 if has_errors(diagnostics) else 0)
