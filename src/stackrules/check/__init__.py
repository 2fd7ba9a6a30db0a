"""Check stage: a syntax tree in, every semantic problem with it out, as diagnostics.

Takes the :class:`~stackrules.ast.RuleSetSyntax` the syntax stage produced (however broken)
and returns diagnostics; it never raises and never stops at the first problem. The passes:

- :mod:`.references` — SR201 an identifier (or transfer block issuer, `issuer X` filter)
  whose issuer is not declared; SR206 (warning) a reference to an identifier that is not
  declared although its issuer's catalog is (or that names a competency or equivalency), and
  a competency not declared although its issuer declares competencies; SR207 a competency
  level not on the `levels` scale.
- :mod:`.declarations` — SR202 a requirement name twice in one credential; SR203 an item,
  equivalency or competency declared twice; SR204 an identifier declared as different things;
  SR205 credential versions with overlapping `effective` windows; SR208 an issuer declared
  twice; SR209 an alias mapped to two identifiers; SR210 a second `levels` scale or a
  repeated level; SR211 an attribute given twice in one declaration or grant.
- :mod:`.structure` — SR302 `N of` a shorter list; SR303 `all of` a selector; SR304 an
  amount or limit list member that is not a plain identifier; SR305 `until` before
  `effective`; SR306 a non-whole `N of` (or `limit … N items`); SR309 a credential with no
  requirements; SR310 an equivalency without `from` or `grant`.
- :mod:`.numbers` — SR311 a number outside the bounds of the language (credits, hours,
  levels, counts, durations, decimal places).
- :mod:`.cycles` — SR301 a cycle among credentials; SR307 (warning) a cycle among
  equivalencies.
- :mod:`.earnable` — SR308 (warning) a credential that no record can ever earn (see there
  for exactly which cases are detected).

Did-you-mean suggestions (:mod:`.suggest`) compare an identifier only with its own issuer's
identifiers, through a bigram shortlist when there are many.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from stackrules import ast
from stackrules.check.context import Context
from stackrules.check.cycles import credential_cycles, equivalency_cycles
from stackrules.check.declarations import check_declarations
from stackrules.check.earnable import check_earnable
from stackrules.check.numbers import check_numbers
from stackrules.check.references import check_references
from stackrules.check.structure import check_structure
from stackrules.diagnostics import Diagnostic
from stackrules.symbols import collect
from stackrules.syntax import RuleSource, parse_sources, read_sources

__all__ = ["check", "check_paths", "check_sources"]


def check(syntax: ast.RuleSetSyntax) -> list[Diagnostic]:
    """Every semantic diagnostic for `syntax`, sorted by position."""
    ctx = Context.build(syntax, collect(syntax))
    out: list[Diagnostic] = []
    out += check_references(ctx)
    out += check_declarations(ctx)
    structural, broken = check_structure(ctx)
    out += structural
    numeric, out_of_bounds = check_numbers(ctx)
    out += numeric
    out += credential_cycles(ctx)[0]
    out += equivalency_cycles(ctx)
    out += _guarded(lambda: check_earnable(ctx, broken | out_of_bounds))
    return sorted(out, key=Diagnostic.sort_key)


def check_paths(paths: Iterable[str | Path]) -> tuple[ast.RuleSetSyntax, list[Diagnostic]]:
    """Parse every rule file under `paths` as one rule set and check it."""
    sources, diagnostics = read_sources(paths)
    return check_sources(sources, diagnostics)


def check_sources(
    sources: Iterable[RuleSource], found: Sequence[Diagnostic] = ()
) -> tuple[ast.RuleSetSyntax, list[Diagnostic]]:
    """Parse rule files already read as one rule set and check it (`found`: diagnostics from
    finding the files, reported with the rest)."""
    syntax, diagnostics = parse_sources(sources)
    diagnostics = [*found, *diagnostics, *check(syntax)]
    return syntax, sorted(diagnostics, key=Diagnostic.sort_key)


def _guarded(run: Callable[[], list[Diagnostic]]) -> list[Diagnostic]:
    # The earnability pass recurses over requirement trees (every other pass walks them
    # with an explicit stack). The syntax stage never builds one deeper than
    # syntax.MAX_NESTING (SR105); a tree built by hand may be, and SR308 is a warning that
    # may then stay silent.
    try:
        return run()
    except RecursionError:
        return []
