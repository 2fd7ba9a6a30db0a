"""What every check pass shares: the symbol table, precomputed name sets and tree walks.

Every set here is built once, so that each reference costs a few hash lookups whatever the
size of the rule set; suggestion lists are built only when a problem needs one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from stackrules import ast
from stackrules.check.suggest import IdentifierSuggester, Suggester
from stackrules.format import requirement_head
from stackrules.span import Span
from stackrules.symbols import Symbols


@dataclass(slots=True)
class Context:
    syntax: ast.RuleSetSyntax
    symbols: Symbols
    issuers: frozenset[str] = frozenset()
    catalog_issuers: frozenset[str] = frozenset()
    competency_issuers: frozenset[str] = frozenset()
    # identifiers an item requirement may name: items, credentials, granted items
    achievable: frozenset[str] = frozenset()
    granted: frozenset[str] = frozenset()
    scale: tuple[str, ...] = ast.DEFAULT_LEVELS
    scale_set: frozenset[str] = frozenset()
    _identifiers: IdentifierSuggester | None = None
    _competencies: IdentifierSuggester | None = None
    _issuers: Suggester | None = None

    @classmethod
    def build(cls, syntax: ast.RuleSetSyntax, symbols: Symbols) -> Context:
        scale = symbols.level_scale()
        return cls(
            syntax=syntax,
            symbols=symbols,
            issuers=frozenset(symbols.issuers),
            catalog_issuers=frozenset(symbols.catalog_issuers()),
            competency_issuers=frozenset(i.split(":", 1)[0] for i in symbols.competencies),
            achievable=frozenset((*symbols.items, *symbols.credentials, *symbols.implicit_items)),
            granted=frozenset(g.ref.id for g in symbols.all_grants()),
            scale=scale,
            scale_set=frozenset(scale),
        )

    # Suggestion indexes are built on the first problem that needs one.

    def suggest_issuer(self, issuer: str) -> str | None:
        if self._issuers is None:
            self._issuers = Suggester(self.issuers)
        close = self._issuers.closest(issuer)
        return f"did you mean `{close}`?" if close is not None else None

    def suggest_identifier(self, ident: str) -> str | None:
        """A did-you-mean among the identifiers of the same issuer (never the whole table)."""
        if self._identifiers is None:
            self._identifiers = IdentifierSuggester(self.achievable)
        return self._identifiers.help(ident)

    def suggest_competency(self, ident: str) -> str | None:
        if self._competencies is None:
            self._competencies = IdentifierSuggester(self.symbols.competencies)
        return self._competencies.help(ident)


def where(span: Span) -> str:
    """`file:line`, how a help text points at another place."""
    return span.short()


def walk(req: ast.Requirement) -> Iterator[ast.Requirement]:
    """Every requirement node beneath (and including) `req`, in source order."""
    stack = [req]
    while stack:
        node = stack.pop()
        yield node
        group = getattr(node, "group", None)
        if isinstance(group, ast.ListGroup):
            stack.extend(reversed(group.members))


def walk_filters(group: ast.Group | None) -> Iterator[ast.Filter]:
    if not isinstance(group, ast.Selector):
        return
    stack: list[ast.Filter] = list(reversed(group.filters))
    while stack:
        f = stack.pop()
        yield f
        if isinstance(f, ast.NotFilter):
            stack.append(f.inner)


def item_refs(req: ast.Requirement | None) -> Iterator[ast.Ref]:
    """The identifiers an item requirement (anywhere beneath `req`) names."""
    if req is None:
        return
    for node in walk(req):
        if isinstance(node, ast.ItemReq):
            yield node.ref


REQUIREMENT_TYPES = (ast.ItemReq, ast.AllOf, ast.AnyOf, ast.NOf, ast.Amount, ast.CompetencyReq)


def prerequisites(attrs: tuple[ast.Attr, ...]) -> Iterator[ast.Requirement]:
    for a in attrs:
        if a.name == "prerequisite" and isinstance(a.value, REQUIREMENT_TYPES):
            yield a.value


def teaches(attrs: tuple[ast.Attr, ...]) -> Iterator[ast.Teach]:
    for a in attrs:
        if a.name == "teaches" and isinstance(a.value, tuple):
            for teach in a.value:
                if isinstance(teach, ast.Teach):
                    yield teach


def requirement_roots(decl: ast.Declaration) -> Iterator[ast.Requirement]:
    """Every requirement tree `decl` holds: named requirements, limit list members,
    an equivalency's `from`, an item's prerequisite."""
    if isinstance(decl, ast.CredentialDecl):
        for named in decl.requirements:
            yield named.requirement
        for limit in decl.limits:
            if isinstance(limit.group, ast.ListGroup):
                yield from limit.group.members
    elif isinstance(decl, ast.EquivalencyDecl):
        if decl.source is not None:
            yield decl.source
    elif isinstance(decl, ast.ItemDecl):
        yield from prerequisites(decl.attrs)


def selectors(decl: ast.Declaration) -> Iterator[ast.Selector]:
    """Every selector anywhere in `decl` (requirement groups and limit groups)."""
    if isinstance(decl, ast.CredentialDecl):
        for limit in decl.limits:
            if isinstance(limit.group, ast.Selector):
                yield limit.group
    for root in requirement_roots(decl):
        for node in walk(root):
            group = getattr(node, "group", None)
            if isinstance(group, ast.Selector):
                yield group


def effective_window(cred: ast.CredentialDecl) -> ast.Window | None:
    for a in cred.attrs:
        if a.name == "effective" and isinstance(a.value, ast.Window):
            return a.value
    return None


def describe(req: ast.Requirement) -> str:
    """How a message names a requirement node: the words that start it."""
    if isinstance(req, ast.ItemReq):
        return f"`{req.ref.id}`"
    if isinstance(req, ast.CompetencyReq):
        return f"`competency {req.competency.id}`"
    return f"`{requirement_head(req).strip()}`"
