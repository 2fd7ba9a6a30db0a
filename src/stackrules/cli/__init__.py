"""The `stackrules` command: a thin shell over the public API, one module per subcommand.

Exit status for every command: 0 success; 1 the rule set has errors; 2 wrong usage; 3 a
record could not be read.
"""

from __future__ import annotations

import click

from stackrules.cli.batch import batch_command
from stackrules.cli.check import check_command
from stackrules.cli.evaluate import evaluate_command
from stackrules.cli.fmt import fmt_command
from stackrules.cli.interop import export_group, import_group
from stackrules.cli.maps import (
    credit_loss_command,
    graph_command,
    suggest_command,
    where_command,
)
from stackrules.cli.plan import nearest_command, plan_command
from stackrules.cli.serve import serve_command
from stackrules.runtime import tune_gc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stackrules")
def cli() -> None:
    """Credit transfer and credential stacking: check rules, evaluate learner records."""
    tune_gc()


cli.add_command(check_command)
cli.add_command(fmt_command)
cli.add_command(evaluate_command)
cli.add_command(batch_command)
cli.add_command(where_command)
cli.add_command(graph_command)
cli.add_command(suggest_command)
cli.add_command(credit_loss_command)
cli.add_command(export_group)
cli.add_command(import_group)
cli.add_command(plan_command)
cli.add_command(nearest_command)
cli.add_command(serve_command)


def main() -> None:
    cli(prog_name="stackrules")
