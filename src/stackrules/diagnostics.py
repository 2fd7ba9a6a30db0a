"""Diagnostics: the one type every stage reports problems with.

Parse, check and record-reading problems all become :class:`Diagnostic` values with a stable
code, a severity, a one-line message, optional help and a source position. Stages collect them
and carry on; nothing here raises.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from stackrules.span import Span, printable


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# The stable code table. Codes never change meaning once published; new ones are appended.
CODES: dict[str, tuple[Severity, str]] = {
    # SR1xx: reading and syntax
    "SR100": (Severity.ERROR, "a rule file or folder could not be read"),
    "SR101": (Severity.ERROR, "syntax error: unexpected input"),
    "SR102": (Severity.ERROR, "syntax error: the file ends in the middle of a statement"),
    "SR103": (Severity.ERROR, "syntax error: a character or string that cannot start any token"),
    "SR104": (Severity.ERROR, "an invalid value (a date that does not exist, a bad number)"),
    "SR105": (Severity.ERROR, "requirements nested more deeply than the language allows"),
    # SR2xx: names
    "SR201": (Severity.ERROR, "an identifier whose issuer is not declared"),
    "SR202": (Severity.ERROR, "a requirement name declared twice in one credential"),
    "SR203": (Severity.ERROR, "an identifier declared twice"),
    "SR204": (Severity.ERROR, "an identifier declared as different things"),
    "SR205": (Severity.ERROR, "two versions of a credential with overlapping effective windows"),
    "SR206": (Severity.WARNING, "a reference to an undeclared item of a declared catalog"),
    "SR207": (Severity.ERROR, "a competency level that is not on the `levels` scale"),
    "SR208": (Severity.ERROR, "an issuer declared twice"),
    "SR209": (Severity.ERROR, "an alias mapped to two different identifiers"),
    "SR210": (Severity.ERROR, "more than one `levels` scale, or a scale that repeats a level"),
    "SR211": (Severity.ERROR, "an attribute given twice in one declaration"),
    # SR3xx: structure
    "SR301": (Severity.ERROR, "a cycle among credentials"),
    "SR302": (Severity.ERROR, "`N of` a list shorter than N"),
    "SR303": (Severity.ERROR, "`all of` a selector"),
    "SR304": (Severity.ERROR, "an amount or limit list with a member that is not an identifier"),
    "SR305": (Severity.ERROR, "`until` before `effective`"),
    "SR306": (Severity.ERROR, "a number that must be whole is not"),
    "SR307": (Severity.WARNING, "a cycle among equivalencies (mutual recognition)"),
    "SR308": (Severity.WARNING, "a credential that no record can ever earn"),
    "SR309": (Severity.ERROR, "a credential with no requirements"),
    "SR310": (Severity.ERROR, "an equivalency without `from` or without `grant`"),
    "SR311": (Severity.ERROR, "a number outside the bounds of the language"),
}

Code = str


class Diagnostic(BaseModel):
    """One problem, at one place. Immutable; sorts by position."""

    model_config = ConfigDict(frozen=True)

    code: Code
    severity: Literal["error", "warning"]
    message: str
    span: Span | None = None
    help: str | None = None

    def render(self) -> str:
        where = self.span.location() if self.span is not None else "<rules>"
        text = f"{where}: {self.severity}[{self.code}]: {self.message}"
        if self.help:
            text += f" ({self.help})"
        return printable(text)  # a message may quote a file name that is not UTF-8

    def sort_key(self) -> tuple[str, int, int, str, str]:
        if self.span is None:
            return ("", 0, 0, self.code, self.message)
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)


def diagnostic(
    code: Code, message: str, span: Span | None = None, help: str | None = None
) -> Diagnostic:
    """Make a diagnostic whose severity comes from the code table."""
    severity, _ = CODES[code]
    return Diagnostic(code=code, severity=severity.value, message=message, span=span, help=help)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def did_you_mean(word: str, candidates: Iterable[str], *, fold_case: bool = False) -> str | None:
    """A help text naming the closest candidate, or None when nothing is close. With
    `fold_case`, case is ignored (`dsgn` finds `DSGN`), as the advisor commands read names."""
    if not fold_case:
        close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
        return f"did you mean `{close[0]}`?" if close else None
    folded = {n.casefold(): n for n in sorted(candidates)}
    found = [word.casefold()] if word.casefold() in folded else []
    found = found or difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f"did you mean `{folded[found[0]]}`?" if found else None


def did_you_mean_suffix(word: str, candidates: Iterable[str], *, fold_case: bool = False) -> str:
    """`; did you mean `X`?` to end a message with (:func:`did_you_mean`), or "" when nothing
    is close."""
    hint = did_you_mean(word, candidates, fold_case=fold_case)
    return f"; {hint}" if hint else ""


def summary(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    errors = sum(1 for d in items if d.severity == "error")
    warnings = len(items) - errors
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
