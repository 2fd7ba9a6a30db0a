"""`stackrules export ctdl RULES…` and `stackrules import ctdl FILE`: CTDL out and in.

`export ctdl` writes the rule set as CTDL JSON-LD (exit 1, with the diagnostics, when the
rules have errors). `import ctdl` writes a formatted `.stack` transfer block for the
TransferValueProfiles of a CTDL document, warnings on standard error (exit 3 when the document
cannot be read or holds nothing to import; with `--rules`, exit 1 when those rules have
errors). Both write to standard output unless `--out` names a file (exit 2 when it cannot be
written).
"""

from __future__ import annotations

from pathlib import Path

import click

from stackrules import load_rules
from stackrules.cli.common import (
    EXIT_RECORD_ERRORS,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    print_diagnostics,
)
from stackrules.interop.ctdl_export import DEFAULT_BASE, export_ctdl, render
from stackrules.interop.ctdl_import import CtdlError, import_ctdl
from stackrules.records import jsonsafe
from stackrules.span import printable

_OUT = click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Write to this file instead of standard output.",
)


def _write(text: str, out: str | None) -> None:
    text = printable(text)  # a rule file name that is not UTF-8 is cited with U+FFFD
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as failure:
        click.echo(f"error: {out}: cannot write the file: {failure.strerror or failure}", err=True)
        click.get_current_context().exit(EXIT_USAGE)


@click.group("export")
def export_group() -> None:
    """Publish a rule set in another format."""


@export_group.command("ctdl")
@click.argument("rules", nargs=-1, required=True, type=click.Path(path_type=str))
@_OUT
@click.option(
    "--base",
    default=DEFAULT_BASE,
    show_default=True,
    help="URI prefix of every node's @id (the CTID follows it).",
)
def export_ctdl_command(rules: tuple[str, ...], out: str | None, base: str) -> None:
    """Write RULES (files or folders of .stack files) as CTDL JSON-LD (a lossy projection)."""
    document, diagnostics = export_ctdl(rules, base=base)
    if document is None:
        print_diagnostics(diagnostics, err=True)
        click.get_current_context().exit(EXIT_RULE_ERRORS)
    _write(render(document), out)


@click.group("import")
def import_group() -> None:
    """Turn documents in other formats into rules."""


@import_group.command("ctdl")
@click.argument("file", type=click.Path(path_type=str))
@_OUT
@click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(path_type=str),
    help="The rule set the block is for: its aliases name CTIDs, its issuers are not redeclared.",
)
def import_ctdl_command(file: str, out: str | None, rules: tuple[str, ...]) -> None:
    """Write the TransferValueProfiles of the CTDL document FILE as a .stack transfer block."""
    ctx = click.get_current_context()
    aliases: dict[str, str] = {}
    issuers: dict[str, str] = {}
    if rules:
        compiled, diagnostics = load_rules(rules)
        if compiled is None:
            print_diagnostics(diagnostics, err=True)
            ctx.exit(EXIT_RULE_ERRORS)
        aliases = compiled.aliases
        issuers = {code: issuer.title for code, issuer in compiled.model.issuers.items()}
    try:
        with open(file, encoding="utf-8-sig") as handle:
            document = jsonsafe.loads(handle.read())
    except OSError as failure:
        click.echo(f"error: {file}: cannot open the file: {failure.strerror or failure}", err=True)
        ctx.exit(EXIT_RECORD_ERRORS)
    except UnicodeDecodeError as failure:
        click.echo(f"error: {file}: the file is not UTF-8 text ({failure.reason})", err=True)
        ctx.exit(EXIT_RECORD_ERRORS)
    except jsonsafe.JsonError as failure:
        where = file
        if failure.line is not None:
            where += f":line {failure.line}, column {failure.column}"
        if failure.loc is not None:
            where += f": field `{jsonsafe.json_path(failure.loc)}`"
        click.echo(f"error: {where}: {failure.message}", err=True)
        ctx.exit(EXIT_RECORD_ERRORS)
    try:
        imported = import_ctdl(document, aliases=aliases, issuers=issuers, source=file)
    except CtdlError as problem:
        click.echo(f"error: {file}: field `{problem.path}`: {problem.message}", err=True)
        ctx.exit(EXIT_RECORD_ERRORS)
    for warning in imported.warnings:
        click.echo(f"warning: {file}: {warning}", err=True)
    _write(imported.text, out)
