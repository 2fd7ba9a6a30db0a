"""`stackrules fmt PATHS…`: rewrite rule files in the canonical layout, comments kept.

Exit status 0 when every file is (or, with `--check`, already was) formatted; 1 when a file
could not be read or parsed (it is left untouched, the others are still formatted) or, with
`--check`, when some file would be reformatted.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from stackrules.cli.common import EXIT_RULE_ERRORS
from stackrules.diagnostics import Diagnostic
from stackrules.format import format_text
from stackrules.span import printable
from stackrules.syntax import rule_files


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Rewrite nothing; exit 1 if a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff instead of writing.")
def fmt_command(paths: tuple[Path, ...], check: bool, show_diff: bool) -> None:
    """Format rule files (or folders of .stack files) in place."""
    files, problems = rule_files(paths)
    changed: list[Path] = []
    failed = len(problems)
    for path in files:
        name = printable(path.as_posix())  # a name that is not UTF-8 cannot be printed as is
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else "not UTF-8 text"
            click.echo(f"{name}:1:1: error[SR100]: cannot read `{name}`: {reason.lower()}")
            failed += 1
            continue
        formatted, diagnostics = format_text(text, name)
        if formatted is None:
            failed += 1
            _report(name, diagnostics)
            continue
        if formatted == text:
            continue
        changed.append(path)
        if show_diff:
            click.echo(_diff(name, text, formatted), nl=False)
        elif check:
            click.echo(f"would reformat {name}")
        else:
            path.write_text(formatted, "utf-8")
            click.echo(f"reformatted {name}")
    for d in sorted(problems, key=Diagnostic.sort_key):
        click.echo(d.render())
    unchanged = len(files) - len(changed) - (failed - len(problems))
    click.echo(_summary(len(changed), unchanged, failed, check or show_diff))
    if failed or (check and changed):
        raise SystemExit(EXIT_RULE_ERRORS)


def _report(name: str, diagnostics: list[Diagnostic]) -> None:
    if not diagnostics:
        click.echo(
            f"{name}: error: cannot be formatted without changing how it reads; left as it is "
            "(please report this)"
        )
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        click.echo(d.render())


def _diff(name: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{name} (original)",
        tofile=f"{name} (formatted)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _summary(changed: int, unchanged: int, failed: int, dry_run: bool) -> str:
    verb = "would be reformatted" if dry_run else "reformatted"
    text = f"{changed} file{'s' if changed != 1 else ''} {verb}, {unchanged} left unchanged"
    return text + (f", {failed} with errors" if failed else "")
