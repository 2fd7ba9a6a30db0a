"""References: undeclared issuers (SR201), undeclared catalog items (SR206), levels (SR207).

One pass over every declaration visits every identifier in one of four roles: a declaration
(the identifier being declared), a grant (an implicit declaration), a reference (an item or
credential that a requirement, alias or transfer source names) or a competency.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

from stackrules import ast
from stackrules.check.context import (
    Context,
    requirement_roots,
    selectors,
    teaches,
    walk,
    walk_filters,
)
from stackrules.diagnostics import Diagnostic, diagnostic, did_you_mean
from stackrules.span import Span


class Role(Enum):
    DECLARATION = "declaration"
    GRANT = "grant"
    REFERENCE = "reference"
    COMPETENCY = "competency"


def check_references(ctx: Context) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for decl in ctx.syntax.declarations():
        for ref, role in _refs(decl):
            _check_ref(ctx, ref, role, out)
        for name, span in _issuer_names(decl):
            if name not in ctx.issuers:
                out.append(_undeclared_issuer(ctx, name, span, f"issuer `{name}` is not declared"))
        for level, span in _levels(decl):
            if level not in ctx.scale_set:
                out.append(
                    diagnostic(
                        "SR207",
                        f"`{level}` is not a level on the scale `{' < '.join(ctx.scale)}`",
                        span,
                        did_you_mean(level, ctx.scale),
                    )
                )
    return out


def _check_ref(ctx: Context, ref: ast.Ref, role: Role, out: list[Diagnostic]) -> None:
    issuer = ref.issuer
    if issuer not in ctx.issuers:
        message = f"issuer `{issuer}` of `{ref.id}` is not declared"
        out.append(_undeclared_issuer(ctx, issuer, ref.span, message))
        return
    ident = ref.id
    if role is Role.REFERENCE:
        if ident in ctx.achievable:
            return
        kinds = ctx.symbols.kinds_of(ident)
        if kinds:
            message = f"`{ident}` is declared as {_a(kinds[0])}, not as an item or a credential"
            out.append(diagnostic("SR206", message, ref.span))
        elif issuer in ctx.catalog_issuers:
            out.append(
                diagnostic(
                    "SR206",
                    f"`{ident}` is not declared in the catalog of `{issuer}`",
                    ref.span,
                    ctx.suggest_identifier(ident),
                )
            )
    elif role is Role.COMPETENCY:
        if ident in ctx.symbols.competencies or issuer not in ctx.competency_issuers:
            return
        out.append(
            diagnostic(
                "SR206",
                f"competency `{ident}` is not declared",
                ref.span,
                ctx.suggest_competency(ident),
            )
        )


def _undeclared_issuer(ctx: Context, issuer: str, span: Span, message: str) -> Diagnostic:
    help_text = ctx.suggest_issuer(issuer) or f'declare it: `issuer {issuer} "…"`'
    return diagnostic("SR201", message, span, help_text)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


_DECLARES_AN_IDENTIFIER = (
    ast.ItemDecl,
    ast.CredentialDecl,
    ast.EquivalencyDecl,
    ast.CompetencyDecl,
)


def _refs(decl: ast.Declaration) -> Iterator[tuple[ast.Ref, Role]]:
    if isinstance(decl, _DECLARES_AN_IDENTIFIER):
        yield decl.ref, Role.DECLARATION
    elif isinstance(decl, ast.TransferBlock):
        for line in decl.lines:
            for src in line.sources:
                yield src, Role.REFERENCE
            for grant in line.grants:
                yield grant.ref, Role.GRANT
        return
    elif isinstance(decl, ast.AliasDecl):
        yield decl.ref, Role.REFERENCE
        return
    if isinstance(decl, ast.ItemDecl):
        for teach in teaches(decl.attrs):
            yield teach.competency, Role.COMPETENCY
    for root in requirement_roots(decl):
        for node in walk(root):
            if isinstance(node, ast.ItemReq):
                yield node.ref, Role.REFERENCE
            elif isinstance(node, ast.CompetencyReq):
                yield node.competency, Role.COMPETENCY
    if isinstance(decl, ast.EquivalencyDecl):
        for grant in decl.grants:
            yield grant.ref, Role.GRANT


def _issuer_names(decl: ast.Declaration) -> Iterator[tuple[str, Span]]:
    if isinstance(decl, ast.TransferBlock):
        yield decl.source_issuer, decl.source_span
        yield decl.target_issuer, decl.target_span
        return
    for selector in selectors(decl):
        for f in walk_filters(selector):
            if isinstance(f, ast.IssuerFilter):
                yield f.issuer, last_word_span(f.span, f.issuer)


def _levels(decl: ast.Declaration) -> Iterator[tuple[str, Span]]:
    if isinstance(decl, ast.ItemDecl):
        for teach in teaches(decl.attrs):
            yield teach.level, last_word_span(teach.span, teach.level)
    for root in requirement_roots(decl):
        for node in walk(root):
            if isinstance(node, ast.CompetencyReq):
                yield node.level, node.level_span


def last_word_span(span: Span, word: str) -> Span:
    """The span of `word` where it ends the construct at `span` (a filter, a `teaches`)."""
    if span.end_line <= 0 or span.end_column - len(word) < 1:
        return span
    start = span.end_column - len(word)
    return Span(span.file, span.end_line, start, span.end_line, span.end_column)
