"""Declarations: names declared twice or as different things (SR202–SR205, SR208–SR211).

Duplicates are reported at the second (and every later) declaration, with a help text that
points at the first. "First" is source order: file path, then position in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import chain

from stackrules import ast
from stackrules.check.context import Context, effective_window, where
from stackrules.diagnostics import Diagnostic, diagnostic
from stackrules.span import Span

_ATTR_WORDS = {"valid": "valid for", "effective": "effective"}


def check_declarations(ctx: Context) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    sym = ctx.symbols
    _twice(out, "item", sym.items)
    _twice(out, "equivalency", sym.equivalencies)
    _twice(out, "competency", sym.competencies)
    _different_things(ctx, out)
    for versions in sym.credentials.values():
        for cred in versions:
            _requirement_names(cred, out)
        if len(versions) > 1:
            _overlapping_versions(versions, out)
    for code, issuers in sym.issuers.items():
        for later in issuers[1:]:
            out.append(
                diagnostic(
                    "SR208",
                    f"issuer `{code}` is declared twice",
                    later.span,
                    f"first declared at {where(issuers[0].span)}",
                )
            )
    for outside, aliases in sym.aliases.items():
        first = aliases[0]
        for alias in aliases[1:]:
            if alias.ref.id != first.ref.id:
                out.append(
                    diagnostic(
                        "SR209",
                        f'alias `"{outside}"` maps to `{first.ref.id}` and to `{alias.ref.id}`',
                        alias.span,
                        f"first mapped at {where(first.span)}",
                    )
                )
    _levels(ctx, out)
    _attributes(ctx, out)
    return out


def _twice(
    out: list[Diagnostic],
    kind: str,
    table: dict[str, list[ast.ItemDecl]]
    | dict[str, list[ast.EquivalencyDecl]]
    | dict[str, list[ast.CompetencyDecl]],
) -> None:
    for ident, decls in table.items():
        first: ast.ItemDecl | ast.EquivalencyDecl | ast.CompetencyDecl = decls[0]
        for later in decls[1:]:
            out.append(
                diagnostic(
                    "SR203",
                    f"{kind} `{ident}` is declared twice",
                    later.ref.span,
                    f"first declared at {where(first.ref.span)}",
                )
            )


def _requirement_names(cred: ast.CredentialDecl, out: list[Diagnostic]) -> None:
    first: dict[str, ast.NamedRequirement] = {}
    for named in cred.requirements:
        if named.name in first:
            out.append(
                diagnostic(
                    "SR202",
                    f"requirement `{named.name}` is declared twice in `{cred.ref.id}`",
                    named.span,
                    f"first declared at {where(first[named.name].span)}",
                )
            )
        else:
            first[named.name] = named


def _position(span: Span) -> tuple[str, int, int]:
    return (span.file, span.line, span.column)


def _different_things(ctx: Context, out: list[Diagnostic]) -> None:
    sym = ctx.symbols
    tables: list[tuple[str, Sequence[str]]] = [
        ("item", list(sym.items)),
        ("credential", list(sym.credentials)),
        ("equivalency", list(sym.equivalencies)),
        ("competency", list(sym.competencies)),
    ]
    seen: dict[str, int] = {}
    for _, idents in tables:
        for ident in idents:
            seen[ident] = seen.get(ident, 0) + 1
    for ident in sorted(i for i, n in seen.items() if n > 1):
        decls: list[tuple[str, ast.Ref]] = [
            *(("item", d.ref) for d in sym.items.get(ident, ())),
            *(("credential", d.ref) for d in sym.credentials.get(ident, ())),
            *(("equivalency", d.ref) for d in sym.equivalencies.get(ident, ())),
            *(("competency", d.ref) for d in sym.competencies.get(ident, ())),
        ]
        decls.sort(key=lambda kr: _position(kr[1].span))
        first_kind, first_ref = decls[0]
        reported = {first_kind}
        for kind, ref in decls[1:]:
            if kind in reported:
                continue
            reported.add(kind)
            out.append(
                diagnostic(
                    "SR204",
                    f"`{ident}` is declared as {_a(first_kind)} and as {_a(kind)}",
                    ref.span,
                    f"first declared as {_a(first_kind)} at {where(first_ref.span)}",
                )
            )


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _describe_window(window: ast.Window | None) -> str:
    if window is None:
        return "at all times (no `effective`)"
    if window.end is None:
        return f"from {window.start.isoformat()} on"
    return f"from {window.start.isoformat()} until {window.end.isoformat()}"


def _overlapping_versions(versions: list[ast.CredentialDecl], out: list[Diagnostic]) -> None:
    """Sweep the versions by start date; each one that starts before an earlier one ends
    overlaps it. Empty windows (`until` before `effective`, SR305) overlap nothing."""
    spans: list[tuple[date, date, int, ast.CredentialDecl, ast.Window | None]] = []
    for index, cred in enumerate(versions):
        window = effective_window(cred)
        start = window.start if window is not None else date.min
        end = (window.end or date.max) if window is not None else date.max
        if end < start:
            continue
        spans.append((start, end, index, cred, window))
    spans.sort(key=lambda s: (s[0], s[2]))
    latest: tuple[date, ast.CredentialDecl, ast.Window | None] | None = None
    for start, end, _, cred, window in spans:
        if latest is not None and start <= latest[0]:
            other, other_window = latest[1], latest[2]
            out.append(
                diagnostic(
                    "SR205",
                    f"versions of credential `{cred.ref.id}` overlap: this one applies "
                    f"{_describe_window(window)}, the one at {where(other.ref.span)} "
                    f"{_describe_window(other_window)}",
                    cred.ref.span,
                    "give each version an `effective … until …` window that ends before the "
                    "next one starts",
                )
            )
        if latest is None or end > latest[0]:
            latest = (end, cred, window)


def _levels(ctx: Context, out: list[Diagnostic]) -> None:
    scales = ctx.symbols.levels
    for later in scales[1:]:
        out.append(
            diagnostic(
                "SR210",
                "a rule set has one `levels` scale and this is a second one",
                later.span,
                f"the first is at {where(scales[0].span)}",
            )
        )
    for scale in scales:
        seen: set[str] = set()
        for level in scale.levels:
            if level in seen:
                out.append(
                    diagnostic("SR210", f"level `{level}` appears twice on the scale", scale.span)
                )
            seen.add(level)


def _attributes(ctx: Context, out: list[Diagnostic]) -> None:
    for decl in ctx.syntax.declarations():
        if isinstance(decl, ast.ItemDecl | ast.CredentialDecl):
            _repeated_attrs(decl.attrs, f"`{decl.ref.id}`", out)
        elif isinstance(decl, ast.IssuerDecl):
            seen: set[str] = set()
            for setting in decl.settings:
                if setting in seen:
                    out.append(
                        diagnostic(
                            "SR211",
                            f"`{setting}` is given twice for issuer `{decl.code}`",
                            decl.span,
                        )
                    )
                seen.add(setting)
        if isinstance(decl, ast.EquivalencyDecl):
            grants: tuple[ast.Grant, ...] = decl.grants
        elif isinstance(decl, ast.TransferBlock):
            grants = tuple(chain.from_iterable(line.grants for line in decl.lines))
        else:
            continue
        for grant in grants:
            if len(grant.attrs) > 1:
                _repeated_attrs(grant.attrs, f"the grant of `{grant.ref.id}`", out)


def _repeated_attrs(attrs: tuple[ast.Attr, ...], owner: str, out: list[Diagnostic]) -> None:
    first: dict[str, ast.Attr] = {}
    for a in attrs:
        if a.name in first:
            word = _ATTR_WORDS.get(a.name, a.name)
            out.append(
                diagnostic(
                    "SR211",
                    f"`{word}` is given twice for {owner}",
                    a.span,
                    f"first given at {where(first[a.name].span)}",
                )
            )
        else:
            first[a.name] = a
