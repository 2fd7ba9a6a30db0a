"""Syntax stage: source text in, syntax tree (:mod:`stackrules.ast`) and diagnostics out.

The grammar is `grammar/stackrules.lark`, shipped inside the package and loaded from there.
Lark trees and tokens never leave this module. A syntax error does not end the file: the
parser keeps the declarations before the broken one, skips to the next line that starts a
declaration and carries on, so one pass reports every broken declaration.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta

from stackrules import ast, parsecache
from stackrules.diagnostics import Diagnostic, diagnostic
from stackrules.grammarfile import grammar_text
from stackrules.span import Span

MAX_ERRORS_PER_FILE = 50

# How deeply requirements and selectors may nest (SR105): every parenthesised list or
# requirement and every `not` is one level. The later stages (formatter, model, graph,
# evaluator, advisor) walk rules recursively. Measured under Python's default recursion limit,
# the first of them to give out is `fmt` at 139 levels of `all of (…)`, then `evaluate`,
# `nearest` and `credit-loss` at 163; selector `not`s last to about 323. The limit leaves more
# than twice that margin, for callers that are themselves deep in a stack. docs/language.md
# ("Bounds") states it.
MAX_NESTING = 64

# The grammar rules that nest: each one met on the way down is one level deeper.
_NESTING_RULES = frozenset(("list_group", "paren_req", "not_filter"))

TOP_LEVEL_WORDS = (
    "issuer",
    "credential",
    "equivalency",
    "transfer",
    "levels",
    "competency",
    "alias",
    *ast.ITEM_KINDS,
)
_DECL_START = re.compile(
    r"^[ \t]*(?:" + "|".join(re.escape(w) for w in TOP_LEVEL_WORDS) + r")(?=[ \t])", re.MULTILINE
)


@functools.cache
def _parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )


# ------------------------------------------------------------------ tree -> AST


def _unquote(text: str) -> str:
    return re.sub(r"\\([\"\\])", r"\1", text[1:-1])


class _TooDeep(Exception):
    """Nesting went past MAX_NESTING at `meta`: the declaration is left out."""

    def __init__(self, meta: Meta) -> None:
        super().__init__()
        self.meta = meta


class _ToAst:
    """Builds AST nodes bottom-up; every node gets the span of the text it came from.

    A direct walk over the Lark tree: one method per grammar rule, called with the rule's
    position and its already-built children (Lark's own Transformer wraps every call, which
    costs more than the building itself on large rule sets).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self._handlers: dict[str, Any] = {}

    def file(self, tree: Tree[Token]) -> list[ast.Declaration]:
        """The declarations of a whole file; one nested too deeply is left out, with SR105."""
        declarations: list[ast.Declaration] = []
        for child in tree.children:
            assert isinstance(child, Tree)
            try:
                declarations.append(self.transform(child, 0))
            except _TooDeep as err:
                self.diagnostics.append(
                    diagnostic(
                        "SR105",
                        f"nested more than {MAX_NESTING} levels deep",
                        self._span(err.meta),
                        help="every list, parenthesis and `not` is a level: "
                        "name the inner parts as separate requirements",
                    )
                )
        return declarations

    def transform(self, tree: Tree[Token], depth: int) -> Any:
        handlers = self._handlers
        name = str(tree.data)
        handler = handlers.get(name)
        if handler is None:
            handler = handlers[name] = getattr(self, name)
        if name in _NESTING_RULES:
            # Checked on the way down, so the walk never goes deeper than the limit allows.
            depth += 1
            if depth > MAX_NESTING:
                raise _TooDeep(tree.meta)
        children = [self.transform(c, depth) if isinstance(c, Tree) else c for c in tree.children]
        return handler(tree.meta, children)

    # -- helpers
    def _span(self, meta: Meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.path, 0, 0, 0, 0)
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, tok: Token) -> Span:
        return Span(
            self.path,
            tok.line or 0,
            tok.column or 0,
            tok.end_line or tok.line or 0,
            tok.end_column or tok.column or 0,
        )

    def _ref(self, tok: Token) -> ast.Ref:
        return ast.Ref(str(tok), self._tspan(tok))

    def _repeated(self, what: str, span: Span) -> None:
        self.diagnostics.append(
            diagnostic(
                "SR211",
                f"`{what}` is given twice in this equivalency",
                span,
                help="an equivalency has one `from` and one `effective` window",
            )
        )

    def _date(self, tok: Token) -> date:
        try:
            return date.fromisoformat(str(tok))
        except ValueError:
            # Reported here; the tree keeps a stand-in so parsing can go on.
            self.diagnostics.append(
                diagnostic("SR104", f"`{tok}` is not a date that exists", self._tspan(tok))
            )
            return date.min

    @staticmethod
    def _num(tok: Token) -> Decimal:
        return Decimal(str(tok))

    @staticmethod
    def _split(children: list[Any]) -> tuple[list[Token], list[Any]]:
        toks = [c for c in children if isinstance(c, Token)]
        rest = [c for c in children if not isinstance(c, Token)]
        return toks, rest

    # -- top level
    def title(self, meta: Meta, children: list[Token]) -> str:
        return _unquote(str(children[0]))

    def issuer_decl(self, meta: Meta, children: list[Any]) -> ast.IssuerDecl:
        code = children[0]
        title = next(
            (c for c in children[1:] if isinstance(c, str) and not isinstance(c, Token)), None
        )
        settings: list[tuple[str, Any]] = next((c for c in children[1:] if isinstance(c, list)), [])
        values: dict[str, Any] = {}
        for name, value in settings:
            values.setdefault(name, value)
        return ast.IssuerDecl(
            code=str(code),
            title=title,
            hours_per_credit=values.get("hours per credit"),
            passing_grade=values.get("passing grade"),
            repeats=values.get("repeats"),
            settings=tuple(name for name, _ in settings),
            span=self._span(meta),
        )

    def issuer_body(self, meta: Meta, children: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return children

    def hours_per_credit(self, meta: Meta, children: list[Token]) -> tuple[str, Any]:
        return ("hours per credit", self._num(children[0]))

    def passing_grade(self, meta: Meta, children: list[Token]) -> tuple[str, Any]:
        return ("passing grade", str(children[0]))

    def repeats(self, meta: Meta, children: list[Token]) -> tuple[str, Any]:
        return ("repeats", str(children[0]))

    # -- items
    def item_kind(self, meta: Meta, children: list[Token]) -> Token:
        return children[0]

    def item_decl(self, meta: Meta, children: list[Any]) -> ast.ItemDecl:
        kind, ref = children[0], children[1]
        rest = children[2:]
        title = rest.pop(0) if rest and isinstance(rest[0], str) else None
        return ast.ItemDecl(
            kind=str(kind),
            ref=self._ref(ref),
            title=title,
            attrs=tuple(rest),
            span=self._span(meta),
        )

    def _attr(self, meta: Meta, name: str, value: Any) -> ast.Attr:
        return ast.Attr(name, value, self._span(meta))

    def credits_attr(self, meta: Meta, c: list[Token]) -> ast.Attr:
        return self._attr(meta, "credits", self._num(c[0]))

    def hours_attr(self, meta: Meta, c: list[Token]) -> ast.Attr:
        return self._attr(meta, "hours", self._num(c[0]))

    def level_attr(self, meta: Meta, c: list[Token]) -> ast.Attr:
        return self._attr(meta, "level", self._num(c[0]))

    def subject_attr(self, meta: Meta, c: list[Token]) -> ast.Attr:
        return self._attr(meta, "subject", str(c[0]))

    def tags_attr(self, meta: Meta, c: list[Token]) -> ast.Attr:
        return self._attr(meta, "tags", tuple(str(t) for t in c))

    def time_unit(self, meta: Meta, c: list[Token]) -> str:
        word = str(c[0])
        return word if word.endswith("s") else word + "s"

    def valid_attr(self, meta: Meta, c: list[Any]) -> ast.Attr:
        return self._attr(meta, "valid", ast.Duration(self._num(c[0]), c[1], self._span(meta)))

    def repeatable_attr(self, meta: Meta, c: list[Any]) -> ast.Attr:
        return self._attr(meta, "repeatable", True)

    def teach(self, meta: Meta, c: list[Token]) -> ast.Teach:
        return ast.Teach(self._ref(c[0]), str(c[1]), self._span(meta))

    def teaches_attr(self, meta: Meta, c: list[ast.Teach]) -> ast.Attr:
        return self._attr(meta, "teaches", tuple(c))

    def prerequisite_attr(self, meta: Meta, c: list[ast.Requirement]) -> ast.Attr:
        return self._attr(meta, "prerequisite", c[0])

    def kind_attr(self, meta: Meta, c: list[Token]) -> ast.Attr:
        return self._attr(meta, "kind", str(c[0]))

    def window(self, meta: Meta, c: list[Token]) -> ast.Window:
        start = self._date(c[0])
        end = self._date(c[1]) if len(c) > 1 else None
        return ast.Window(start, end, self._span(meta))

    # -- credentials
    def credential_decl(self, meta: Meta, children: list[Any]) -> ast.CredentialDecl:
        ref = self._ref(children[0])
        rest = children[1:]
        title = rest.pop(0) if rest and isinstance(rest[0], str) else None
        attrs: list[ast.Attr] = []
        limits: list[ast.Limit] = []
        reqs: list[ast.NamedRequirement] = []
        for c in rest:
            if isinstance(c, ast.Window):
                attrs.append(ast.Attr("effective", c, c.span))
            elif isinstance(c, ast.Attr):
                attrs.append(c)
            elif isinstance(c, ast.Limit):
                limits.append(c)
            else:
                reqs.append(c)
        return ast.CredentialDecl(
            ref, title, tuple(attrs), tuple(limits), tuple(reqs), self._span(meta)
        )

    def limit_unit(self, meta: Meta, c: list[Token]) -> str:
        return str(c[0])

    def amount_unit(self, meta: Meta, c: list[Token]) -> str:
        return str(c[0])

    def limit(self, meta: Meta, c: list[Any]) -> ast.Limit:
        bound = "at most" if str(c[0]) == "most" else "at least"
        amount = self._num(c[1])
        unit = c[2]
        group = None
        mods: list[ast.Modifier] = []
        for x in c[3:]:
            if isinstance(x, ast.ListGroup | ast.Selector):
                group = x
            else:
                mods.append(x)
        return ast.Limit(cast(Any, bound), amount, unit, group, tuple(mods), self._span(meta))

    def named_requirement(self, meta: Meta, c: list[Any]) -> ast.NamedRequirement:
        name = str(c[0])
        label = c[1] if len(c) == 3 else None
        return ast.NamedRequirement(name, label, c[-1], self._span(meta))

    # -- requirements
    def requirement(self, meta: Meta, c: list[Any]) -> ast.Requirement:
        core: ast.Requirement = c[0]
        mods = tuple(c[1:])
        if not mods:
            return core
        # `( R ) MOD…` and `R MOD…` are one node: modifiers accumulate on it.
        return _with_modifiers(core, core.modifiers + mods, self._span(meta))

    def item_req(self, meta: Meta, c: list[Token]) -> ast.ItemReq:
        return ast.ItemReq(self._ref(c[0]), (), self._span(meta))

    def all_of(self, meta: Meta, c: list[Any]) -> ast.AllOf:
        return ast.AllOf(c[0], (), self._span(meta))

    def any_of(self, meta: Meta, c: list[Any]) -> ast.AnyOf:
        return ast.AnyOf(c[0], (), self._span(meta))

    def n_of(self, meta: Meta, c: list[Any]) -> ast.NOf:
        return ast.NOf(self._num(c[0]), c[1], (), self._span(meta))

    def amount(self, meta: Meta, c: list[Any]) -> ast.Amount:
        return ast.Amount(self._num(c[0]), c[1], c[2], (), self._span(meta))

    def competency_req(self, meta: Meta, c: list[Token]) -> ast.CompetencyReq:
        return ast.CompetencyReq(
            self._ref(c[0]), str(c[1]), (), self._span(meta), level_span=self._tspan(c[1])
        )

    def paren_req(self, meta: Meta, c: list[ast.Requirement]) -> ast.Requirement:
        return c[0]

    def list_group(self, meta: Meta, c: list[ast.Requirement]) -> ast.ListGroup:
        return ast.ListGroup(tuple(c), self._span(meta))

    def selector(self, meta: Meta, c: list[ast.Filter]) -> ast.Selector:
        return ast.Selector(tuple(c), self._span(meta))

    def subject_filter(self, meta: Meta, c: list[Token]) -> ast.SubjectFilter:
        return ast.SubjectFilter(str(c[0]), self._span(meta))

    def subject_in_filter(self, meta: Meta, c: list[Token]) -> ast.SubjectInFilter:
        return ast.SubjectInFilter(tuple(str(t) for t in c), self._span(meta))

    def tagged_filter(self, meta: Meta, c: list[Token]) -> ast.TaggedFilter:
        return ast.TaggedFilter(str(c[0]), self._span(meta))

    def issuer_filter(self, meta: Meta, c: list[Token]) -> ast.IssuerFilter:
        return ast.IssuerFilter(str(c[0]), self._span(meta))

    def kind_filter(self, meta: Meta, c: list[Token]) -> ast.KindFilter:
        return ast.KindFilter(str(c[0]), self._span(meta))

    def level_filter(self, meta: Meta, c: list[Token]) -> ast.LevelFilter:
        return ast.LevelFilter(cast(Any, str(c[0])), self._num(c[1]), self._span(meta))

    def transfer_filter(self, meta: Meta, c: list[Token]) -> ast.TransferFilter:
        return ast.TransferFilter(self._span(meta))

    def not_filter(self, meta: Meta, c: list[ast.Filter]) -> ast.NotFilter:
        return ast.NotFilter(c[0], self._span(meta))

    def min_grade(self, meta: Meta, c: list[Token]) -> ast.MinGrade:
        return ast.MinGrade(str(c[0]), self._span(meta))

    def within(self, meta: Meta, c: list[Any]) -> ast.Within:
        span = self._span(meta)
        return ast.Within(ast.Duration(self._num(c[0]), c[1], span), span)

    def completed_after(self, meta: Meta, c: list[Token]) -> ast.CompletedAfter:
        return ast.CompletedAfter(self._date(c[0]), self._span(meta))

    def completed_before(self, meta: Meta, c: list[Token]) -> ast.CompletedBefore:
        return ast.CompletedBefore(self._date(c[0]), self._span(meta))

    # -- equivalencies and transfer tables
    def grant(self, meta: Meta, c: list[Any]) -> ast.Grant:
        return ast.Grant(self._ref(c[0]), tuple(c[1:]), self._span(meta))

    def eq_from(self, meta: Meta, c: list[ast.Requirement]) -> tuple[str, Any]:
        return ("from", c[0])

    def eq_grant(self, meta: Meta, c: list[ast.Grant]) -> tuple[str, Any]:
        return ("grant", tuple(c))

    def equivalency_decl(self, meta: Meta, children: list[Any]) -> ast.EquivalencyDecl:
        ref = self._ref(children[0])
        rest = children[1:]
        title = rest.pop(0) if rest and isinstance(rest[0], str) else None
        source: ast.Requirement | None = None
        grants: list[ast.Grant] = []
        window: ast.Window | None = None
        for c in rest:
            if isinstance(c, ast.Window):
                if window is not None:
                    self._repeated("effective", c.span)
                window = c
            elif c[0] == "from":
                if source is not None:
                    self._repeated("from", c[1].span)
                source = c[1]
            else:
                grants.extend(c[1])
        return ast.EquivalencyDecl(ref, title, source, tuple(grants), window, self._span(meta))

    def none_target(self, meta: Meta, c: list[Any]) -> tuple[Any, ...]:
        window = c[1] if len(c) > 1 else None
        return ((), True, (), window)

    def grant_target(self, meta: Meta, c: list[Any]) -> tuple[Any, ...]:
        grants = tuple(x for x in c if isinstance(x, ast.Grant))
        window = next((x for x in c if isinstance(x, ast.Window)), None)
        mods = tuple(x for x in c if not isinstance(x, ast.Grant | ast.Window))
        return (grants, False, mods, window)

    def transfer_line(self, meta: Meta, c: list[Any]) -> ast.TransferLine:
        sources = tuple(self._ref(t) for t in c[:-1])
        grants, none, mods, window = c[-1]
        return ast.TransferLine(sources, grants, none, mods, window, self._span(meta))

    def transfer_block(self, meta: Meta, c: list[Any]) -> ast.TransferBlock:
        src, dst = c[0], c[1]
        rest = c[2:]
        title = rest.pop(0) if rest and isinstance(rest[0], str) else None
        window = rest.pop(0) if rest and isinstance(rest[0], ast.Window) else None
        return ast.TransferBlock(
            str(src),
            str(dst),
            title,
            window,
            tuple(rest),
            self._span(meta),
            self._tspan(src),
            self._tspan(dst),
        )

    # -- competencies and aliases
    def levels_decl(self, meta: Meta, c: list[Token]) -> ast.LevelsDecl:
        return ast.LevelsDecl(tuple(str(t) for t in c), self._span(meta))

    def competency_decl(self, meta: Meta, c: list[Any]) -> ast.CompetencyDecl:
        title = c[1] if len(c) > 1 else None
        return ast.CompetencyDecl(self._ref(c[0]), title, self._span(meta))

    def alias_decl(self, meta: Meta, c: list[Token]) -> ast.AliasDecl:
        return ast.AliasDecl(_unquote(str(c[0])), self._ref(c[1]), self._span(meta))


def _with_modifiers(
    req: ast.Requirement, mods: tuple[ast.Modifier, ...], span: Span
) -> ast.Requirement:
    if isinstance(req, ast.ItemReq):
        return ast.ItemReq(req.ref, mods, span)
    if isinstance(req, ast.AllOf):
        return ast.AllOf(req.group, mods, span)
    if isinstance(req, ast.AnyOf):
        return ast.AnyOf(req.group, mods, span)
    if isinstance(req, ast.NOf):
        return ast.NOf(req.count, req.group, mods, span)
    if isinstance(req, ast.Amount):
        return ast.Amount(req.amount, req.unit, req.group, mods, span)
    return ast.CompetencyReq(req.competency, req.level, mods, span, req.level_span)


# ------------------------------------------------------------------ errors in words

_TOKEN_WORDS = {
    "ID": "an identifier such as `UFV:GD157`",
    "NAME": "a name",
    "REQUIREMENT_NAME": "a requirement name",
    "NUMBER": "a number",
    "DATE": "a date (YYYY-MM-DD)",
    "STRING": "a quoted title",
    "GRADE": "a letter grade (A+ … D-, F or P)",
    "LEVEL_OP": "a comparison (=, >=, >, <=, <)",
    "LIMIT_BOUND": "`most` or `least`",
    "REPEAT_POLICY": "`latest` or `best`",
    "NONE": "`none`",
    "$END": "the end of the file",
}


_ATTRIBUTE_WORDS = frozenset(ast.ITEM_ATTRIBUTES)
_MODIFIER_WORDS = frozenset(("min", "within", "completed"))


def _describe_expected(names: Iterable[str]) -> str:
    words: set[str] = set()
    keywords: set[str] = set()
    for name in names:
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            keywords.add(str(pattern.value))
    groups = (
        (frozenset(TOP_LEVEL_WORDS), "the start of a declaration"),
        (_ATTRIBUTE_WORDS, "an attribute"),
        (_MODIFIER_WORDS, "a modifier (`min grade`, `within`, `completed`)"),
    )
    grouped: set[str] = set()
    for members, word in groups:
        if len(members & keywords) >= 3:
            words.add(word)
            grouped |= members
    for name in names:
        if name in _TOKEN_WORDS:
            words.add(_TOKEN_WORDS[name])
            continue
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            words.add(name.lower())
            continue
        if pattern.type == "str":
            if pattern.value not in grouped:
                words.add(f"`{pattern.value}`")
        else:
            words.add(name.lower())
    ordered = sorted(words, key=lambda w: (not w.startswith("`"), w))
    if len(ordered) > 8:
        ordered = [*ordered[:8], "…"]
    if len(ordered) == 1:
        return ordered[0]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "ID":
        return f"identifier `{tok}`"
    if tok.type == "NUMBER":
        return f"number `{tok}`"
    if tok.type == "DATE":
        return f"date `{tok}`"
    if tok.type == "STRING":
        return f"title {tok}"
    return f"`{tok}`"


def _error_diagnostic(err: UnexpectedInput, path: str, text: str) -> Diagnostic:
    line = getattr(err, "line", 0) or 0
    column = getattr(err, "column", 0) or 0
    if (isinstance(err, UnexpectedToken) and err.token.type == "$END") or isinstance(
        err, UnexpectedEOF
    ):
        last = text.rstrip()
        line = last.count("\n") + 1
        column = len(last) - (last.rfind("\n") + 1) + 1
        span = Span(path, line, column, line, column)
        expected = _describe_expected(err.expected)
        return diagnostic(
            "SR102",
            "the file ends in the middle of a statement",
            span,
            help=f"expected {expected}",
        )
    span = Span(path, line, column, line, column + 1)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        span = Span(path, line, column, tok.end_line or line, tok.end_column or column + 1)
        expected = _describe_expected(err.accepts or err.expected)
        help_text = None
        if tok.type == "ID" and "REQUIREMENT_NAME" in (err.accepts or err.expected):
            help_text = "write a space after the colon of a named requirement: `name: all of …`"
        return diagnostic(
            "SR101", f"unexpected {_describe_token(tok)}: expected {expected}", span, help_text
        )
    assert isinstance(err, UnexpectedCharacters)
    pos = err.pos_in_stream or 0
    char = text[pos] if pos < len(text) else ""
    if char == '"':
        return diagnostic(
            "SR103", "a title is not closed", span, help='end the title with `"` on the same line'
        )
    # A character error knows only which tokens the lexer state allows, and LALR shares states
    # between contexts, so listing them would mislead: name the character alone.
    shown = char if char.strip() else repr(char)
    return diagnostic(
        "SR103",
        f"unexpected character `{shown}`",
        span,
        help="no token starts with it; inside a title it would need quotes",
    )


# ------------------------------------------------------------------ entry points


def _blank_before(text: str, offset: int) -> str:
    """Text with everything before `offset` blanked, keeping lines and columns."""
    head = re.sub(r"[^\n]", " ", text[:offset])
    return head + text[offset:]


def _parse_all(text: str, path: str) -> tuple[list[ast.Declaration], list[Diagnostic]]:
    # Lark's LALR parser keeps its stack in a list, so any depth parses; the walk that builds
    # the syntax tree stops at MAX_NESTING.
    tree = _parser().parse(text)
    builder = _ToAst(path)
    return builder.file(tree), builder.diagnostics


def parse_text(text: str, path: str = "<text>") -> tuple[ast.RuleFile, list[Diagnostic]]:
    """Parse one file's text. Never raises for bad input: problems become diagnostics."""
    diagnostics: list[Diagnostic] = []
    declarations: list[ast.Declaration] = []
    resume_at = 0
    for _ in range(MAX_ERRORS_PER_FILE):
        current = _blank_before(text, resume_at) if resume_at else text
        try:
            decls, diags = _parse_all(current, path)
        except UnexpectedInput as err:
            diagnostics.append(_error_diagnostic(err, path, current))
            error_offset = _error_offset(err, current)
            decls, diags = _recover_prefix(current, resume_at, error_offset, path)
            declarations.extend(decls)
            diagnostics.extend(diags)
            resume = _next_decl_start(text, error_offset, resume_at)
            if resume is None:
                break
            resume_at = resume
            continue
        declarations.extend(decls)
        diagnostics.extend(diags)
        break
    return ast.RuleFile(path, tuple(declarations)), diagnostics


def _error_offset(err: UnexpectedInput, text: str) -> int:
    if (isinstance(err, UnexpectedToken) and err.token.type == "$END") or isinstance(
        err, UnexpectedEOF
    ):
        return len(text)
    pos = getattr(err, "pos_in_stream", None)
    if pos is None and isinstance(err, UnexpectedToken):
        pos = err.token.start_pos
    return int(pos or 0)


def _next_decl_start(text: str, offset: int, after: int) -> int | None:
    """Where to resume after an error at `offset`: the declaration whose keyword is the
    unexpected token itself, else the next line that starts a declaration."""
    line_start = text.rfind("\n", 0, offset) + 1
    here = _DECL_START.match(text, line_start)
    if here and here.start() > after and offset < here.end():
        return here.start()
    nl = text.find("\n", offset)
    if nl < 0:
        return None
    m = _DECL_START.search(text, nl + 1)
    return m.start() if m else None


def _recover_prefix(
    text: str, begin: int, error_offset: int, path: str
) -> tuple[list[ast.Declaration], list[Diagnostic]]:
    """Declarations that end before the broken one: parse up to a declaration start."""
    starts = [m.start() for m in _DECL_START.finditer(text, begin, error_offset)]
    for start in reversed(starts):
        prefix = text[:start]
        if not prefix.strip():
            break
        try:
            return _parse_all(prefix, path)
        except UnexpectedInput:  # not a real boundary: try the previous one
            continue
    return [], []


@dataclass(frozen=True)
class RuleSource:
    """One rule file as read: its name as diagnostics cite it, and its bytes (None: it could
    not be read, and `reason` says why)."""

    name: str
    data: bytes | None
    reason: str = ""


def read_source(path: Path, display: str | None = None) -> RuleSource:
    name = display or str(path)
    try:
        return RuleSource(name, path.read_bytes())
    except OSError as err:
        return RuleSource(name, None, (err.strerror or "cannot be read").lower())


def parse_source(source: RuleSource) -> tuple[ast.RuleFile, list[Diagnostic]]:
    """Parse one rule file's bytes (UTF-8; line ends read as a text file reads them)."""
    name = source.name
    reason = source.reason
    text = ""
    if source.data is not None:
        try:
            text = source.data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            reason = "not utf-8 text"
    if source.data is None or reason:
        span = Span(name, 1, 1, 1, 1)
        return ast.RuleFile(name, ()), [
            diagnostic("SR100", f"cannot read `{name}`: {reason}", span)
        ]
    cached = parsecache.load(name, text)
    if cached is not None:
        rule_file, diagnostics = cached
        return rule_file, list(diagnostics)
    parsed = parse_text(text, name)
    parsecache.store(name, text, parsed)
    return parsed


def parse_file(path: Path, display: str | None = None) -> tuple[ast.RuleFile, list[Diagnostic]]:
    return parse_source(read_source(path, display))


def rule_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Expand files and folders into the sorted list of `.stack` files they hold."""
    found: list[Path] = []
    diagnostics: list[Diagnostic] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*.stack") if q.is_file()))
        elif p.is_file():
            found.append(p)
        else:
            span = Span(str(p), 1, 1, 1, 1)
            diagnostics.append(diagnostic("SR100", f"no such file or folder `{p}`", span))
    unique = sorted(set(found), key=lambda q: q.as_posix())
    return unique, diagnostics


def read_sources(paths: Iterable[str | Path]) -> tuple[list[RuleSource], list[Diagnostic]]:
    """The bytes of every rule file under `paths`, in name order, each read once: what a
    rule set is compiled from and hashed over (`parse_sources`)."""
    files, diagnostics = rule_files(paths)
    return [read_source(f, f.as_posix()) for f in files], diagnostics


def parse_sources(
    sources: Iterable[RuleSource],
) -> tuple[ast.RuleSetSyntax, list[Diagnostic]]:
    """Parse rule files already read as one rule set."""
    parsed: list[ast.RuleFile] = []
    diagnostics: list[Diagnostic] = []
    for source in sources:
        rule_file, diags = parse_source(source)
        parsed.append(rule_file)
        diagnostics.extend(diags)
    return ast.RuleSetSyntax(tuple(parsed)), diagnostics


def parse_paths(paths: Iterable[str | Path]) -> tuple[ast.RuleSetSyntax, list[Diagnostic]]:
    """Parse every rule file under `paths` as one rule set (the parse stage alone, as
    `benchmarks/bench_parse.py` times it)."""
    sources, diagnostics = read_sources(paths)
    syntax, found = parse_sources(sources)
    return syntax, diagnostics + found
