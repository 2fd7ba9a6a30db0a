"""Numbers: every number a rule writes is within the language's bounds (SR311).

The grammar reads any run of digits; this pass bounds what they mean, so that no later stage
meets a 400-digit credit value, a duration that carries a date past the year 9999 or a level
with forty decimals. The bounds (docs/language.md, "Limits") are far above any real catalog:

- credits (`credits N`, `N credits from`, `limit … N credits`): 0 to 10,000;
- hours (`hours N`, `N hours from`, `limit … N hours`): 0 to 100,000;
- `hours per credit`: more than 0, at most 1,000;
- levels (`level N`, `level >= N`): 0 to 10,000;
- counts (`N of`, `limit … N items`): 0 to 10,000 (whole: SR306);
- durations (`valid for`, `within`): at most 200 years or 2,400 months;
- every number: at most 6 decimal places.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from stackrules import ast
from stackrules.check.context import Context, requirement_roots, walk, walk_filters
from stackrules.diagnostics import Diagnostic, diagnostic
from stackrules.span import Span

MAX_DECIMALS = 6
MAX_CREDITS = Decimal(10_000)
MAX_HOURS = Decimal(100_000)
MAX_HOURS_PER_CREDIT = Decimal(1_000)
MAX_LEVEL = Decimal(10_000)
MAX_COUNT = Decimal(10_000)
MAX_YEARS = Decimal(200)
MAX_MONTHS = MAX_YEARS * 12

_AMOUNT_BOUNDS = {"credits": MAX_CREDITS, "hours": MAX_HOURS, "items": MAX_COUNT}


def check_numbers(ctx: Context) -> tuple[list[Diagnostic], set[int]]:
    """The diagnostics, and the credential declarations that have one (as `id`s), which the
    earnability pass then leaves alone."""
    out: list[Diagnostic] = []
    broken: set[int] = set()
    for decl in ctx.syntax.declarations():
        for written, value, most, span in _numbers(decl):
            message, help_text = _problem(written, value, most)
            if message:
                out.append(diagnostic("SR311", message, span, help_text))
                broken.add(id(decl))
    return out, broken


# (the words as written, the value, the largest value allowed with its unit, where)
_Number = tuple[str, Decimal, tuple[Decimal, str], Span]


def _numbers(decl: ast.Declaration) -> Iterator[_Number]:
    if isinstance(decl, ast.IssuerDecl):
        if decl.hours_per_credit is not None:
            value = decl.hours_per_credit
            bound = (MAX_HOURS_PER_CREDIT, "hours per credit")
            yield f"hours per credit {shown(value)}", value, bound, decl.span
    elif isinstance(decl, ast.ItemDecl | ast.CredentialDecl):
        yield from _attrs(decl.attrs)
    elif isinstance(decl, ast.EquivalencyDecl):
        for grant in decl.grants:
            yield from _attrs(grant.attrs)
    elif isinstance(decl, ast.TransferBlock):
        for line in decl.lines:
            for grant in line.grants:
                yield from _attrs(grant.attrs)
            yield from _modifiers(line.modifiers)
    if isinstance(decl, ast.CredentialDecl):
        for limit in decl.limits:
            bound = (_AMOUNT_BOUNDS[limit.unit], limit.unit)
            written = f"limit at {limit.bound[3:]} {shown(limit.amount)} {limit.unit}"
            yield written, limit.amount, bound, limit.span
            yield from _levels(limit.group)
            yield from _modifiers(limit.modifiers)
    for root in requirement_roots(decl):
        for node in walk(root):
            yield from _requirement(node)


def _attrs(attrs: Iterable[ast.Attr]) -> Iterator[_Number]:
    for a in attrs:
        if a.name in ("credits", "hours") and isinstance(a.value, Decimal):
            yield f"{a.name} {shown(a.value)}", a.value, (_AMOUNT_BOUNDS[a.name], a.name), a.span
        elif a.name == "level" and isinstance(a.value, Decimal):
            yield f"level {shown(a.value)}", a.value, (MAX_LEVEL, "level"), a.span
        elif a.name == "valid" and isinstance(a.value, ast.Duration):
            yield _duration("valid for", a.value, a.span)


def _requirement(node: ast.Requirement) -> Iterator[_Number]:
    if isinstance(node, ast.NOf):
        yield f"{shown(node.count)} of", node.count, (MAX_COUNT, "items"), node.span
    elif isinstance(node, ast.Amount):
        bound = (_AMOUNT_BOUNDS[node.unit], node.unit)
        yield f"{shown(node.amount)} {node.unit} from", node.amount, bound, node.span
    if isinstance(node, ast.NOf | ast.Amount | ast.AllOf | ast.AnyOf):
        yield from _levels(node.group)
    yield from _modifiers(node.modifiers)


def _levels(group: ast.Group | None) -> Iterator[_Number]:
    for f in walk_filters(group):
        if isinstance(f, ast.LevelFilter):
            yield f"level {f.op} {shown(f.level)}", f.level, (MAX_LEVEL, "level"), f.span


def _modifiers(mods: Iterable[ast.Modifier]) -> Iterator[_Number]:
    for m in mods:
        if isinstance(m, ast.Within):
            yield _duration("within", m.duration, m.span)


def _duration(word: str, d: ast.Duration, span: Span) -> _Number:
    most = MAX_YEARS if d.unit == "years" else MAX_MONTHS
    return f"{word} {shown(d.amount)} {d.unit}", d.amount, (most, d.unit), span


_RANGES = {
    "credits": "credits go up to",
    "hours": "hours go up to",
    "items": "counts go up to",
    "hours per credit": "hours per credit go up to",
    "level": "levels go up to",
}

_LONGER = {
    "valid for": "leave `valid for` out for an achievement that never lapses",
    "within": "leave `within` out to accept achievements of any age",
}


def _problem(written: str, value: Decimal, bound: tuple[Decimal, str]) -> tuple[str, str | None]:
    """What is wrong with `value` (an empty message when nothing is) and a help text."""
    most, unit = bound
    if value > most:
        if unit in ("years", "months"):
            allowed = f"durations go up to {MAX_YEARS:,} years ({MAX_MONTHS:,} months)"
            word = "within" if written.startswith("within") else "valid for"
            return f"`{written}` is longer than the language allows: {allowed}", _LONGER[word]
        return f"`{written}` is more than the language allows: {_RANGES[unit]} {most:,}", None
    if unit == "hours per credit" and value == 0:
        return f"`{written}` must be more than 0", None
    if decimals(value) > MAX_DECIMALS:
        return f"`{written}` has more than {MAX_DECIMALS} decimal places", None
    return "", None


def decimals(value: Decimal) -> int:
    """Decimal places as written, not counting trailing zeros (`1.50` has one)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # the grammar writes finite numbers only
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing))


def shown(value: Decimal) -> str:
    """A number for a message: as written, cut short when it is very long."""
    text = format(value, "f")
    if len(text) <= 24:
        return text
    return f"{text[:12]}…({len(text)} characters)"
