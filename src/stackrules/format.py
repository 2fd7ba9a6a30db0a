"""Formatter: syntax tree (and, when there is one, its source text) in, canonical rule text out.

`format_file` prints a :class:`~stackrules.ast.RuleFile`; `format_text` parses source text and
prints it with its comments. The layout:

- declarations separated by one blank line, except that consecutive declarations of the same
  sort that have no body (items, aliases, competencies, issuers) stay together, as a catalog
  reads, unless the source separates them with a blank line;
- an item on one line (past 100 columns, its attributes continue on indented lines),
  attributes in the order credits, hours, level, subject, tags, valid for, repeatable,
  teaches, prerequisite (attribute order carries no meaning; a repeated attribute
  keeps its relative order, so the first value still wins);
- bodies indented four spaces: a credential's attributes (kind, credits, hours, level, subject,
  tags, valid for, effective), then its limits, then its named requirements in source order;
  an equivalency's `from`, `grant`, `effective`; a transfer block's `effective`, then its lines;
- numbers exactly as written (`1.5`), strings re-escaped, a requirement list that would pass
  100 columns broken one member per line, a long selector continued on `and …` lines.

Parentheses are not kept: `( R ) MOD` and `R MOD` are the same tree, printed `R MOD`.

Comments are not in the tree, so `format_text` re-attaches them by position. A comment on a line
of its own goes before the printed line of the construct that follows it in the source
(declaration, body statement, transfer line, list member when a list is broken, closing
brace); a comment after code goes at the end of the printed line of the construct it trails.
A construct printed on one line that was written over several keeps its comments, but those
that were inside it move to just before it (a line holds one trailing comment; when several
trail the same printed line, all but the last move before it). A blank line after a standalone
comment is kept. Comments after the last declaration stay at the end of the file.

Two corners of the tree are handled from the source text: an issuer body that repeats a
setting (an error `check` reports) keeps every line with its own value, and an equivalency
that repeats `from` or `effective` (the tree keeps only the last) is refused rather than
silently shortened. A credential whose canonical order would make a requirement name read as
a keyword (a requirement called `min` after a limit) keeps its source statement order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from stackrules import ast
from stackrules.diagnostics import Diagnostic, diagnostic, has_errors
from stackrules.span import Span
from stackrules.syntax import TOP_LEVEL_WORDS, parse_text

WIDTH = 100
INDENT = "    "

ITEM_ATTR_ORDER = ast.ITEM_ATTRIBUTES
CREDENTIAL_ATTR_ORDER = (
    "kind",
    "credits",
    "hours",
    "level",
    "subject",
    "tags",
    "valid",
    "effective",
)
SETTING_ORDER = ("hours per credit", "passing grade", "repeats")

# Words the lexer may read as a keyword right after a credential statement (other than
# `kind NAME`), so a requirement of that name cannot follow it: what the statement could still
# take (modifiers, `and`, `from`, `until`) and, because the parser's states there are shared
# with item declarations and equivalency bodies, what starts a declaration, an item attribute
# or a `grant`.
_AFTER_STATEMENT = frozenset(
    (
        *("and", "min", "within", "completed", "from", "until", "grant"),
        *("repeatable", "teaches", "prerequisite"),
        *TOP_LEVEL_WORDS,
    )
)

Pos = tuple[int, int]


# ------------------------------------------------------------------ public API


def format_file(rule_file: ast.RuleFile) -> str:
    """The canonical text of a syntax tree (no comments: the tree holds none)."""
    return _Printer(None).file(rule_file)


def format_text(text: str, path: str = "<text>") -> tuple[str | None, list[Diagnostic]]:
    """Parse and print `text` keeping its comments.

    None when the text is not formatted: it has syntax errors or statements the tree does not
    keep (the diagnostics say which), or, with no diagnostics, the printed text would not read
    back as the same rules (a formatter limitation; the file should be left alone).
    """
    rule_file, diagnostics = parse_text(text, path)
    if has_errors(diagnostics):
        return None, diagnostics
    source = _Source(text)
    lost = _lost_statements(rule_file, source)
    if lost:
        return None, lost
    formatted = _Printer(source).file(rule_file)
    # The last guard: never hand back text that reads differently. Should it trip (a corner
    # of the grammar the printer does not know), the file is left as it is.
    again, problems = parse_text(formatted, path)
    if problems or again != canonical_tree(rule_file):
        return None, []
    return formatted, diagnostics


def canonical_tree(rule_file: ast.RuleFile) -> ast.RuleFile:
    """The tree the formatter's output parses back to: attributes and settings in print order.

    For every tree `t` built by the parser, `parse(format_file(t)) == canonical_tree(t)`;
    for a tree already in canonical order, `canonical_tree(t) == t`.
    """
    decls: list[ast.Declaration] = []
    for d in rule_file.declarations:
        if isinstance(d, ast.ItemDecl):
            d = replace(d, attrs=_sorted_attrs(d.attrs, ITEM_ATTR_ORDER))
        elif isinstance(d, ast.CredentialDecl):
            if not _keeps_source_order(d):
                d = replace(d, attrs=_sorted_attrs(d.attrs, CREDENTIAL_ATTR_ORDER))
        elif isinstance(d, ast.IssuerDecl):
            d = replace(d, settings=tuple(sorted(d.settings, key=SETTING_ORDER.index)))
        elif isinstance(d, ast.EquivalencyDecl):
            d = replace(d, grants=tuple(_canonical_grant(g) for g in d.grants))
        elif isinstance(d, ast.TransferBlock):
            lines = tuple(
                replace(ln, grants=tuple(_canonical_grant(g) for g in ln.grants)) for ln in d.lines
            )
            d = replace(d, lines=lines)
        decls.append(d)
    return replace(rule_file, declarations=tuple(decls))


# ------------------------------------------------------------------ small pieces of text


def number(value: Decimal) -> str:
    """A number as written: never exponent notation (`1E-7` would not parse back)."""
    return format(value, "f")


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _duration(d: ast.Duration) -> str:
    unit = d.unit[:-1] if d.amount == 1 else d.unit
    return f"{number(d.amount)} {unit}"


def window_text(w: ast.Window) -> str:
    """`effective DATE [until DATE]`, as the formatter writes it."""
    text = f"effective {w.start.isoformat()}"
    return text + (f" until {w.end.isoformat()}" if w.end is not None else "")


def modifier_text(m: ast.Modifier) -> str:
    """`min grade C`, `within 5 years`, …, as the formatter writes them."""
    if isinstance(m, ast.MinGrade):
        return f"min grade {m.grade}"
    if isinstance(m, ast.Within):
        return f"within {_duration(m.duration)}"
    if isinstance(m, ast.CompletedAfter):
        return f"completed after {m.on.isoformat()}"
    return f"completed before {m.on.isoformat()}"


def _modifiers(mods: Iterable[ast.Modifier]) -> str:
    return "".join(" " + modifier_text(m) for m in mods)


def _filter(f: ast.Filter) -> str:
    if isinstance(f, ast.SubjectFilter):
        return f"subject {f.subject}"
    if isinstance(f, ast.SubjectInFilter):
        return f"subject in ({', '.join(f.subjects)})"
    if isinstance(f, ast.TaggedFilter):
        return f"tagged {f.tag}"
    if isinstance(f, ast.IssuerFilter):
        return f"issuer {f.issuer}"
    if isinstance(f, ast.KindFilter):
        return f"kind {f.kind}"
    if isinstance(f, ast.LevelFilter):
        return f"level {f.op} {number(f.level)}"
    if isinstance(f, ast.TransferFilter):
        return "transfer"
    return f"not {_filter(f.inner)}"


def group_text(g: ast.Group) -> str:
    if isinstance(g, ast.ListGroup):
        return "(" + ", ".join(requirement_text(m) for m in g.members) + ")"
    return " and ".join(_filter(f) for f in g.filters)


def requirement_head(r: ast.Requirement) -> str:
    """The words before a requirement's group (empty for those without a group)."""
    if isinstance(r, ast.AllOf):
        return "all of "
    if isinstance(r, ast.AnyOf):
        return "any of "
    if isinstance(r, ast.NOf):
        return f"{number(r.count)} of "
    if isinstance(r, ast.Amount):
        return f"{number(r.amount)} {r.unit} from "
    return ""


def requirement_text(r: ast.Requirement) -> str:
    """A requirement on one line. Modifiers follow the core: the tree merges `( R ) MOD` into R."""
    if isinstance(r, ast.ItemReq):
        core = r.ref.id
    elif isinstance(r, ast.CompetencyReq):
        core = f"competency {r.competency.id} at {r.level}"
    else:
        core = requirement_head(r) + group_text(r.group)
    return core + _modifiers(r.modifiers)


def limit_text(lim: ast.Limit) -> str:
    """A `limit` line as `fmt` writes it, for reports."""
    text = f"limit {lim.bound} {number(lim.amount)} {lim.unit}"
    if lim.group is not None:
        text += " from " + group_text(lim.group)
    return text + _modifiers(lim.modifiers)


def _grant(g: ast.Grant) -> str:
    return " ".join([g.ref.id, *(_attr(a) for a in _sorted_attrs(g.attrs, ITEM_ATTR_ORDER))])


def _attr(a: ast.Attr) -> str:
    v = a.value
    if a.name in ("credits", "hours", "level") and isinstance(v, Decimal):
        return f"{a.name} {number(v)}"
    if a.name in ("subject", "kind") and isinstance(v, str):
        return f"{a.name} {v}"
    if a.name == "tags" and isinstance(v, tuple):
        return "tags " + ", ".join(str(t) for t in v)
    if a.name == "valid" and isinstance(v, ast.Duration):
        return f"valid for {_duration(v)}"
    if a.name == "repeatable":
        return "repeatable"
    if a.name == "teaches" and isinstance(v, tuple):
        teaches = [t for t in v if isinstance(t, ast.Teach)]
        return "teaches " + ", ".join(f"{t.competency.id} at {t.level}" for t in teaches)
    if a.name == "effective" and isinstance(v, ast.Window):
        return window_text(v)
    req = _requirement(v)
    if a.name == "prerequisite" and req is not None:
        return "prerequisite " + requirement_text(req)
    raise ValueError(f"cannot print attribute `{a.name}`")


_REQUIREMENTS = (ast.ItemReq, ast.AllOf, ast.AnyOf, ast.NOf, ast.Amount, ast.CompetencyReq)


def _requirement(value: object) -> ast.Requirement | None:
    return value if isinstance(value, _REQUIREMENTS) else None


def _sorted_attrs(attrs: tuple[ast.Attr, ...], order: Sequence[str]) -> tuple[ast.Attr, ...]:
    rank = {name: i for i, name in enumerate(order)}
    return tuple(sorted(attrs, key=lambda a: rank.get(a.name, len(order))))


def _canonical_grant(g: ast.Grant) -> ast.Grant:
    return replace(g, attrs=_sorted_attrs(g.attrs, ITEM_ATTR_ORDER))


# ------------------------------------------------------------------ credential statement order

_Stmt = ast.Attr | ast.Limit | ast.NamedRequirement


def _absorbs(stmt: _Stmt) -> frozenset[str]:
    return frozenset() if isinstance(stmt, ast.Attr) and stmt.name == "kind" else _AFTER_STATEMENT


def _canonical_statements(d: ast.CredentialDecl) -> list[_Stmt]:
    attrs = _sorted_attrs(d.attrs, CREDENTIAL_ATTR_ORDER)
    return [*attrs, *d.limits, *d.requirements]


def _has_hazard(stmts: Sequence[_Stmt]) -> bool:
    return any(
        isinstance(b, ast.NamedRequirement) and b.name in _absorbs(a)
        for a, b in itertools.pairwise(stmts)
    )


def _keeps_source_order(d: ast.CredentialDecl) -> bool:
    stmts = _canonical_statements(d)
    return _has_hazard(stmts) and all(s.span.line > 0 for s in stmts)


def _statements(d: ast.CredentialDecl) -> list[_Stmt]:
    stmts = _canonical_statements(d)
    if _keeps_source_order(d):
        return sorted(stmts, key=lambda s: (s.span.line, s.span.column))
    return stmts


# ------------------------------------------------------------------ source text and comments


@dataclass(frozen=True)
class _Comment:
    pos: Pos  # where `#` is
    text: str
    standalone: bool  # nothing but whitespace before it on its line
    after: Pos  # the last code character before it (trailing comments)
    blank_after: bool  # the next source line is blank


class _Source:
    """A parsed file's source: its comments, and its text with strings and comments blanked."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.comments: list[_Comment] = []
        masked: list[str] = []
        for n, line in enumerate(self.lines, start=1):
            out = list(line)
            in_string = False
            i = 0
            while i < len(line):
                ch = line[i]
                if in_string:
                    out[i] = " "
                    if ch == "\\" and i + 1 < len(line):
                        out[i + 1] = " "
                        i += 1
                    elif ch == '"':
                        in_string = False
                elif ch == '"':
                    in_string = True
                    out[i] = " "
                elif ch == "#":
                    before = line[:i].rstrip()
                    nxt = self.lines[n] if n < len(self.lines) else "x"
                    self.comments.append(
                        _Comment(
                            pos=(n, i + 1),
                            text=line[i:].rstrip(),
                            standalone=not before,
                            after=(n, len(before)),
                            blank_after=n < len(self.lines) and not nxt.strip(),
                        )
                    )
                    out[i:] = " " * (len(line) - i)
                    break
                i += 1
            masked.append("".join(out))
        self.masked = "\n".join(masked)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, pos: Pos) -> int:
        line, column = pos
        return self.starts[line - 1] + column - 1

    def pos(self, offset: int) -> Pos:
        line = max(i for i, s in enumerate(self.starts) if s <= offset)
        return (line + 1, offset - self.starts[line] + 1)

    def keyword_before(self, pos: Pos, word: str) -> Pos:
        """Where the last `word` before `pos` starts (the keyword of a statement), else `pos`."""
        found = [m.start() for m in re.finditer(rf"\b{word}\b", self.masked[: self.offset(pos)])]
        return self.pos(found[-1]) if found else pos

    def issuer_settings(self, d: ast.IssuerDecl) -> list[tuple[str, str, Pos]]:
        """Every setting of an issuer body as written: name, value text, position."""
        sp = d.span
        body = self.masked[
            self.offset((sp.line, sp.column)) : self.offset((sp.end_line, sp.end_column))
        ]
        base = self.offset((sp.line, sp.column))
        brace = body.find("{")
        if brace < 0:
            return []
        pattern = re.compile(
            r"\b(?:(hours)\s+per\s+credit\s+(\d+(?:\.\d+)?)|(passing)\s+grade\s+([A-DFP][+\-]?)"
            r"|(repeats)\s+(latest|best))"
        )
        found: list[tuple[str, str, Pos]] = []
        for m in pattern.finditer(body, brace):
            groups = m.groups()
            names = {0: "hours per credit", 2: "passing grade", 4: "repeats"}
            for i, name in names.items():
                if groups[i] is not None:
                    value = groups[i + 1]
                    assert value is not None
                    found.append((name, value, self.pos(base + m.start())))
        return found


def _lost_statements(rule_file: ast.RuleFile, source: _Source) -> list[Diagnostic]:
    """Equivalency statements the tree dropped (a second `from` or `effective`)."""
    found: list[Diagnostic] = []
    for d in rule_file.declarations:
        if not isinstance(d, ast.EquivalencyDecl):
            continue
        start = source.offset((d.span.line, d.span.column))
        end = source.offset((d.span.end_line, d.span.end_column))
        text = list(source.masked)
        kept: list[Span] = [g.span for g in d.grants]
        if d.source is not None:
            kept.append(d.source.span)
        if d.effective is not None:
            kept.append(d.effective.span)
        for sp in kept:
            a, b = source.offset((sp.line, sp.column)), source.offset((sp.end_line, sp.end_column))
            text[a:b] = " " * (b - a)
        body = "".join(text[start:end])
        body = body[body.find("{") :]
        words = re.findall(r"[A-Za-z_][A-Za-z0-9_\-]*", body)
        for word in ("from", "effective"):
            if words.count(word) > (1 if word == "from" and d.source is not None else 0):
                found.append(
                    diagnostic(
                        "SR211",
                        f"`{word}` given twice in equivalency `{d.ref.id}`",
                        d.span,
                        help="the later one replaces the earlier; `fmt` will not drop either, "
                        "so remove one first",
                    )
                )
    return found


# ------------------------------------------------------------------ printing


@dataclass
class _Line:
    depth: int
    text: str
    anchor: Pos | None = None  # where the construct this line starts begins in the source
    end: Pos | None = None  # where the source this line prints in full ends
    closing: bool = False  # a `}` or `)`: comments before it sit one level deeper
    pre: list[_Comment] = field(default_factory=list)
    trailing: list[_Comment] = field(default_factory=list)


def _start(sp: Span) -> Pos | None:
    return (sp.line, sp.column) if sp.line > 0 else None


def _end(sp: Span) -> Pos | None:
    return (sp.end_line, sp.end_column) if sp.line > 0 else None


def _last_char(sp: Span) -> Pos | None:
    return (sp.end_line, sp.end_column - 1) if sp.line > 0 else None


class _Printer:
    def __init__(self, source: _Source | None) -> None:
        self.source = source

    # -- requirements, broken over lines when too wide
    def group_lines(
        self,
        head: str,
        group: ast.Group | None,
        tail: str,
        depth: int,
        anchor: Pos | None,
        end: Pos | None,
    ) -> list[_Line]:
        flat = head + (group_text(group) if group is not None else "") + tail
        if group is None or len(INDENT * depth + flat) <= WIDTH:
            return [_Line(depth, flat, anchor, end)]
        if isinstance(group, ast.Selector):
            return self.selector_lines(head, group, tail, depth, anchor, end)
        lines = [_Line(depth, head + "(", anchor, _start(group.span))]
        last = len(group.members) - 1
        for i, m in enumerate(group.members):
            lines += self.req_lines(
                m, "", "," if i < last else "", depth + 1, _start(m.span), _end(m.span)
            )
        lines.append(_Line(depth, ")" + tail, _last_char(group.span), end, closing=True))
        return lines

    def selector_lines(
        self,
        head: str,
        group: ast.Selector,
        tail: str,
        depth: int,
        anchor: Pos | None,
        end: Pos | None,
    ) -> list[_Line]:
        """A long selector: filters filled greedily, continued on indented `and …` lines."""
        first, *rest = group.filters
        lines = [_Line(depth, head + _filter(first), anchor, end)]
        for i, f in enumerate(rest, start=1):
            text = _filter(f) + (tail if i == len(rest) else "")
            last = lines[-1]
            if len(INDENT * last.depth + last.text + " and " + text) <= WIDTH:
                last.text += " and " + text
            else:
                last.end = _start(f.span)
                lines.append(_Line(depth + 1, "and " + text, _start(f.span), end))
        if not rest:
            lines[0].text += tail
        return lines

    def req_lines(
        self,
        r: ast.Requirement,
        prefix: str,
        suffix: str,
        depth: int,
        anchor: Pos | None,
        end: Pos | None,
    ) -> list[_Line]:
        if isinstance(r, ast.ItemReq | ast.CompetencyReq):
            return [_Line(depth, prefix + requirement_text(r) + suffix, anchor, end)]
        head = prefix + requirement_head(r)
        return self.group_lines(head, r.group, _modifiers(r.modifiers) + suffix, depth, anchor, end)

    # -- declarations
    def file(self, rule_file: ast.RuleFile) -> str:
        blocks = [(self.declaration(d), _compact_sort(d)) for d in rule_file.declarations]
        lines: list[_Line | None] = []  # None: a blank line between declarations
        previous: str | None = None
        before: ast.Declaration | None = None
        for d, (block, sort) in zip(rule_file.declarations, blocks, strict=True):
            if lines and not (sort is not None and sort == previous and not self.apart(before, d)):
                lines.append(None)
            lines.extend(block)
            previous, before = sort, d
        return _render(lines, self.source.comments if self.source else [])

    def apart(self, before: ast.Declaration | None, d: ast.Declaration) -> bool:
        """Whether the source has a blank line between two declarations (a catalog's groups)."""
        if self.source is None or before is None or before.span.line <= 0 or d.span.line <= 0:
            return False
        between = self.source.lines[before.span.end_line : d.span.line - 1]
        return any(not line.strip() for line in between)

    def declaration(self, d: ast.Declaration) -> list[_Line]:
        anchor, end = _start(d.span), _end(d.span)
        if isinstance(d, ast.IssuerDecl):
            return self.issuer(d)
        if isinstance(d, ast.ItemDecl):
            return self.item(d)
        if isinstance(d, ast.CredentialDecl):
            return self.credential(d)
        if isinstance(d, ast.EquivalencyDecl):
            return self.equivalency(d)
        if isinstance(d, ast.TransferBlock):
            return self.transfer(d)
        if isinstance(d, ast.LevelsDecl):
            return [_Line(0, "levels " + " < ".join(d.levels), anchor, end)]
        if isinstance(d, ast.CompetencyDecl):
            return [_Line(0, _titled(f"competency {d.ref.id}", d.title), anchor, end)]
        return [_Line(0, f"alias {quoted(d.outside)} = {d.ref.id}", anchor, end)]

    def body(self, header: str, d: ast.Declaration, lines: list[_Line]) -> list[_Line]:
        return [
            _Line(0, header + " {", _start(d.span), None),
            *lines,
            _Line(0, "}", _last_char(d.span), _end(d.span), closing=True),
        ]

    def issuer(self, d: ast.IssuerDecl) -> list[_Line]:
        header = _titled(f"issuer {d.code}", d.title)
        if not d.settings:
            return [_Line(0, header, _start(d.span), _end(d.span))]
        values = {
            "hours per credit": number(d.hours_per_credit)
            if d.hours_per_credit is not None
            else "",
            "passing grade": d.passing_grade or "",
            "repeats": d.repeats or "",
        }
        written: list[tuple[str, str, Pos | None]] = [(s, values[s], None) for s in d.settings]
        if self.source is not None and d.span.line > 0:
            scanned = self.source.issuer_settings(d)
            if [s for s, _, _ in scanned] == list(d.settings):
                written = [(s, v, p) for s, v, p in scanned]
        ordered = sorted(written, key=lambda w: SETTING_ORDER.index(w[0]))
        lines = [_Line(1, f"{name} {value}", pos, None) for name, value, pos in ordered]
        return self.body(header, d, lines)

    def item(self, d: ast.ItemDecl) -> list[_Line]:
        """One line; past the width, attributes continue on indented lines, filled greedily."""
        attrs = _sorted_attrs(d.attrs, ITEM_ATTR_ORDER)
        lines = [_Line(0, _titled(f"{d.kind} {d.ref.id}", d.title), _start(d.span), _end(d.span))]
        for i, a in enumerate(attrs):
            text = _attr(a)
            last = lines[-1]
            if len(INDENT * last.depth + last.text + " " + text) <= WIDTH:
                last.text += " " + text
                continue
            prereq = _requirement(a.value) if a.name == "prerequisite" else None
            end = _end(d.span) if i == len(attrs) - 1 else _end(a.span)
            if prereq is None:
                lines.append(_Line(1, text, _start(a.span), end))
            else:
                lines += self.req_lines(prereq, "prerequisite ", "", 1, _start(a.span), end)
        if len(lines) > 1:  # the first line prints only the source up to the next line's start
            lines[0].end = lines[1].anchor
        return lines

    def credential(self, d: ast.CredentialDecl) -> list[_Line]:
        lines: list[_Line] = []
        for s in _statements(d):
            anchor, end = _start(s.span), _end(s.span)
            if isinstance(s, ast.Attr):
                lines.append(_Line(1, _attr(s), anchor, end))
            elif isinstance(s, ast.Limit):
                head = f"limit {s.bound} {number(s.amount)} {s.unit}"
                head += " from " if s.group is not None else ""
                lines += self.group_lines(head, s.group, _modifiers(s.modifiers), 1, anchor, end)
            else:
                label = f" {quoted(s.label)}" if s.label is not None else ""
                prefix = f"{s.name}{label}: "
                lines += self.req_lines(s.requirement, prefix, "", 1, anchor, end)
        return self.body(_titled(f"credential {d.ref.id}", d.title), d, lines)

    def equivalency(self, d: ast.EquivalencyDecl) -> list[_Line]:
        lines: list[_Line] = []
        if d.source is not None:
            anchor = self.keyword(d.source.span, "from")
            lines += self.req_lines(d.source, "from ", "", 1, anchor, _end(d.source.span))
        if d.grants:
            anchor = self.keyword(d.grants[0].span, "grant")
            text = "grant " + " + ".join(_grant(g) for g in d.grants)
            lines.append(_Line(1, text, anchor, _end(d.grants[-1].span)))
        if d.effective is not None:
            w = d.effective
            lines.append(_Line(1, window_text(w), _start(w.span), _end(w.span)))
        return self.body(_titled(f"equivalency {d.ref.id}", d.title), d, lines)

    def keyword(self, sp: Span, word: str) -> Pos | None:
        start = _start(sp)
        if start is None or self.source is None:
            return start
        return self.source.keyword_before(start, word)

    def transfer(self, d: ast.TransferBlock) -> list[_Line]:
        lines: list[_Line] = []
        if d.effective is not None:
            w = d.effective
            lines.append(_Line(1, window_text(w), _start(w.span), _end(w.span)))
        for ln in d.lines:
            lines.append(_Line(1, transfer_line_text(ln), _start(ln.span), _end(ln.span)))
        header = _titled(f"transfer {d.source_issuer} => {d.target_issuer}", d.title)
        return self.body(header, d, lines)


def transfer_line_text(ln: ast.TransferLine) -> str:
    text = " + ".join(r.id for r in ln.sources) + " => "
    if ln.none:
        text += "none"
    else:
        text += " + ".join(_grant(g) for g in ln.grants) + _modifiers(ln.modifiers)
    if ln.effective is not None:
        text += " " + window_text(ln.effective)
    return text


def _titled(head: str, title: str | None) -> str:
    return head if title is None else f"{head} {quoted(title)}"


def _compact_sort(d: ast.Declaration) -> str | None:
    """Declarations of the same sort printed without a blank line between: items, aliases, …"""
    if isinstance(d, ast.IssuerDecl):
        return None if d.settings else "issuer"
    if isinstance(d, ast.ItemDecl | ast.CompetencyDecl | ast.AliasDecl):
        return type(d).__name__
    return None


# ------------------------------------------------------------------ comments back in place


def _render(lines: list[_Line | None], comments: list[_Comment]) -> str:
    anchored = sorted(
        ((ln.anchor, i) for i, ln in enumerate(lines) if ln is not None and ln.anchor is not None),
    )
    at_end: list[_Comment] = []
    for c in comments:
        target = _home(c, lines, anchored)
        if target is None:
            at_end.append(c)
            continue
        line = lines[target]
        assert line is not None
        (line.pre if c.standalone else line.trailing).append(c)
    out: list[str] = []
    for ln in lines:
        if ln is None:
            out.append("")
            continue
        indent = INDENT * ln.depth
        moved = ln.trailing[:-1]
        for c in sorted(ln.pre + moved, key=lambda c: c.pos):
            out.append(INDENT * (ln.depth + ln.closing) + c.text)
            if c.blank_after and c.standalone:
                out.append("")
        text = indent + ln.text
        if ln.trailing:
            text += "  " + ln.trailing[-1].text
        out.append(text)
    if at_end:
        if out:
            out.append("")
        for c in at_end:
            out.append(c.text)
            if c.blank_after:
                out.append("")
    while out and not out[-1]:
        out.pop()
    # Two blank lines in a row can only come from a comment's blank line meeting a separator.
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text + "\n" if text else ""


def _home(c: _Comment, lines: list[_Line | None], anchored: list[tuple[Pos, int]]) -> int | None:
    """Which printed line a comment belongs to (None: the end of the file)."""
    if c.standalone:
        inside = [
            (ln.anchor, i)
            for i, ln in enumerate(lines)
            if ln is not None
            and ln.anchor is not None
            and ln.end is not None
            and ln.anchor < c.pos < ln.end
        ]
        if inside:
            return max(inside)[1]
        following = [i for anchor, i in anchored if anchor > c.pos]
        return following[0] if following else None
    preceding = [i for anchor, i in anchored if anchor <= c.after]
    if preceding:
        return preceding[-1]
    following = [i for anchor, i in anchored if anchor > c.pos]
    return following[0] if following else None
