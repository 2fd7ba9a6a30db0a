"""Helpers shared by the subcommands: loading rules and printing diagnostics."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from stackrules.diagnostics import Diagnostic, summary


def print_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str = "text") -> None:
    """Diagnostics to standard output, sorted by position, then a summary line (text only)."""
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    if fmt == "json":
        click.echo(json.dumps([d.model_dump(mode="json") for d in ordered], indent=2))
        return
    for d in ordered:
        click.echo(d.render())
    click.echo(summary(ordered))
