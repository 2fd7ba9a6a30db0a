"""Earnability: a credential that no record can ever earn (SR308, a warning).

The test is sound: it warns only when a proof is at hand, and says nothing when in doubt.
A credential version is reported (once, at the first reason found) when

1. a requirement node can never hold, where a node can never hold when
   - it is an `N credits|hours from (…)` list whose distinct members' catalog values add up
     to less than N. Only when every member has a known value in that unit (its own
     `credits`/`hours`, or the other one converted by its issuer's `hours per credit`; a
     credential's declared `credits`/`hours`), none is `repeatable` and none is granted by any
     equivalency or transfer line (either would allow several achievements of it). The
     judgement uses catalog values: a record that gives an achievement a larger value than
     the catalog is outside what `check` can see;
   - `completed after D1` and `completed before D2` on the way to it leave no day between
     them, and it needs at least one achievement;
   - it is an `all of (…)` with a member that can never hold, an `any of (…)` none of whose
     members can, or an `N of (…)` of which fewer than N members can;
2. a `limit at most N items|credits|hours` without modifiers, whose group is absent or a
   list of identifiers, is below what the requirements need at the least: items are counted
   as identifier leaves (an amount counts one item, a competency none; with a list group,
   only leaves naming a listed identifier), credits and hours as the amounts of `N credits`
   and `N hours` nodes (distinct leaves never share an achievement within one credential);
3. a `limit at least N items|credits|hours from (…)` asks for more than the listed
   identifiers can supply, judged as in 1 (items: one per identifier).

Not reported here: what another code already reports (`N of` a list shorter than N,
`all of` a selector, non-whole numbers, an empty `effective` window: the credential's version
is then skipped), and a credential that requires an unearnable credential: a record may hold
that credential (awarded elsewhere), which satisfies the requirement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from stackrules import ast
from stackrules.check.context import Context, describe, effective_window
from stackrules.diagnostics import Diagnostic, diagnostic
from stackrules.span import Span

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class _Never:
    span: Span
    reason: str


@dataclass(frozen=True, slots=True)
class _Dates:
    after: date | None = None
    before: date | None = None

    def narrow(self, mods: tuple[ast.Modifier, ...]) -> _Dates:
        after, before = self.after, self.before
        for m in mods:
            if isinstance(m, ast.CompletedAfter):
                after = m.on if after is None else max(after, m.on)
            elif isinstance(m, ast.CompletedBefore):
                before = m.on if before is None else min(before, m.on)
        return _Dates(after, before)

    def empty(self) -> bool:
        if self.after is None or self.before is None:
            return False
        if self.after == date.min or self.before == date.min or self.after == date.max:
            return False  # a date SR104 already reported
        return self.before - self.after <= timedelta(days=1)


def check_earnable(ctx: Context, broken: set[int]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    values = _Values(ctx)
    for decl in ctx.syntax.declarations():
        if not isinstance(decl, ast.CredentialDecl) or id(decl) in broken:
            continue
        window = effective_window(decl)
        if window is not None and window.end is not None and window.end < window.start:
            continue
        never = _credential(decl, values)
        if never is not None:
            out.append(
                diagnostic(
                    "SR308",
                    f"credential `{decl.ref.id}` can never be earned: {never.reason}",
                    never.span,
                )
            )
    return out


def _credential(cred: ast.CredentialDecl, values: _Values) -> _Never | None:
    for named in cred.requirements:
        never = _never(named.requirement, _Dates(), values)
        if never is not None:
            return _Never(never.span, f"requirement `{named.name}`: {never.reason}")
    roots = [n.requirement for n in cred.requirements]
    for limit in cred.limits:
        never = _limit(limit, roots, values)
        if never is not None:
            return never
    return None


# ------------------------------------------------------------------ catalog values


class _Values:
    """The most one achievement of an identifier can be worth, from the catalog."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def unbounded(self, ident: str) -> bool:
        """Whether a record may hold several counting achievements of `ident`."""
        if ident in self.ctx.granted:
            return True
        items = self.ctx.symbols.items.get(ident, ())
        return any(a.name == "repeatable" for d in items for a in d.attrs)

    def value(self, ident: str, unit: str) -> Decimal | None:
        sym = self.ctx.symbols
        decls: list[tuple[ast.Attr, ...]] = [d.attrs for d in sym.items.get(ident, ())]
        decls += [d.attrs for d in sym.credentials.get(ident, ())]
        if not decls:
            return None
        best: Decimal | None = None
        for attrs in decls:
            v = self._one(ident, attrs, unit)
            if v is None:
                return None
            best = v if best is None else max(best, v)
        return best

    def _one(self, ident: str, attrs: tuple[ast.Attr, ...], unit: str) -> Decimal | None:
        given = ast.attr_value(attrs, unit)
        if isinstance(given, Decimal):
            return given
        other = ast.attr_value(attrs, "hours" if unit == "credits" else "credits")
        if not isinstance(other, Decimal):
            return None
        issuers = self.ctx.symbols.issuers.get(ident.split(":", 1)[0], ())
        rate = issuers[0].hours_per_credit if issuers else None
        if rate is None or rate <= 0:
            return None
        return other / rate if unit == "credits" else other * rate

    def supply(self, group: ast.ListGroup, unit: str) -> Decimal | None:
        """The most the listed identifiers can add up to in `unit`; None when unbounded or
        unknown."""
        total = ZERO
        for ident in dict.fromkeys(m.ref.id for m in group.members if isinstance(m, ast.ItemReq)):
            if self.unbounded(ident):
                return None
            if unit == "items":
                total += 1
                continue
            v = self.value(ident, unit)
            if v is None:
                return None
            total += v
        return total


# ------------------------------------------------------------------ requirement nodes


def _never(req: ast.Requirement, dates: _Dates, values: _Values) -> _Never | None:
    inner = dates.narrow(req.modifiers)
    if inner.empty() and not dates.empty() and _min_items(req, None) > 0:
        assert inner.after is not None and inner.before is not None
        return _Never(
            req.span,
            f"no day is after {inner.after.isoformat()} and before "
            f"{inner.before.isoformat()}, so {describe(req)} can never hold",
        )
    group = getattr(req, "group", None)
    if isinstance(req, ast.Amount) and isinstance(group, ast.ListGroup):
        most = values.supply(group, req.unit)
        if most is not None and most < req.amount:
            return _Never(
                req.span,
                f"{describe(req)} a list whose items add up to at most {most.normalize():f} "
                f"{req.unit} in the catalog",
            )
        return None
    if not isinstance(group, ast.ListGroup) or isinstance(req, ast.Amount):
        return None
    found = [_never(m, inner, values) for m in group.members]
    failing = [f for f in found if f is not None]
    if isinstance(req, ast.AllOf):
        return failing[0] if failing else None
    if isinstance(req, ast.AnyOf):
        if failing and len(failing) == len(found):
            return _Never(req.span, f"no member of `any of` can hold ({failing[0].reason})")
        return None
    if isinstance(req, ast.NOf):
        holding = len(found) - len(failing)
        if failing and holding < req.count:
            return _Never(
                req.span,
                f"only {holding} member{'s' if holding != 1 else ''} of {describe(req)} "
                f"can hold ({failing[0].reason})",
            )
    return None


def _min_items(req: ast.Requirement, listed: frozenset[str] | None) -> Decimal:
    """The fewest achievements `req` can hold with (with `listed`: of those identifiers)."""
    group = getattr(req, "group", None)
    if isinstance(req, ast.ItemReq):
        return Decimal(1) if listed is None or req.ref.id in listed else ZERO
    if isinstance(req, ast.CompetencyReq):
        return ZERO
    if isinstance(req, ast.Amount):
        if req.amount <= 0:
            return ZERO
        if listed is None:
            return Decimal(1)
        if isinstance(group, ast.ListGroup) and all(
            isinstance(m, ast.ItemReq) and m.ref.id in listed for m in group.members
        ):
            return Decimal(1)
        return ZERO
    count = Decimal(1) if isinstance(req, ast.AnyOf) else getattr(req, "count", None)
    if isinstance(group, ast.Selector):
        if listed is not None or count is None:
            return ZERO
        return max(count, ZERO)
    if not isinstance(group, ast.ListGroup):
        return ZERO
    return _combine(req, [_min_items(m, listed) for m in group.members])


def _min_amount(req: ast.Requirement, unit: str) -> Decimal:
    """The least `req` needs in `unit`, from its `N credits`/`N hours` nodes."""
    group = getattr(req, "group", None)
    if isinstance(req, ast.Amount):
        return max(req.amount, ZERO) if req.unit == unit else ZERO
    if not isinstance(group, ast.ListGroup):
        return ZERO
    return _combine(req, [_min_amount(m, unit) for m in group.members])


def _combine(req: ast.Requirement, parts: list[Decimal]) -> Decimal:
    if not parts:
        return ZERO
    if isinstance(req, ast.AllOf):
        return sum(parts, ZERO)
    if isinstance(req, ast.AnyOf):
        return min(parts)
    if isinstance(req, ast.NOf):
        n = int(req.count)
        if n <= 0 or n != req.count or n > len(parts):
            return ZERO
        return sum(sorted(parts)[:n], ZERO)
    return ZERO


# ------------------------------------------------------------------ limits


def _limit(limit: ast.Limit, roots: list[ast.Requirement], values: _Values) -> _Never | None:
    group = limit.group
    if limit.bound == "at least":
        if not isinstance(group, ast.ListGroup):
            return None
        most = values.supply(group, limit.unit)
        if most is not None and most < limit.amount:
            return _Never(
                limit.span,
                f"the limit asks for at least {limit.amount} {limit.unit} from a list that can "
                f"supply at most {most.normalize():f}",
            )
        return None
    if limit.modifiers or isinstance(group, ast.Selector):
        return None
    if limit.unit == "items":
        listed = None
        if isinstance(group, ast.ListGroup):
            listed = frozenset(m.ref.id for m in group.members if isinstance(m, ast.ItemReq))
        need = sum((_min_items(r, listed) for r in roots), ZERO)
    elif group is None:
        need = sum((_min_amount(r, limit.unit) for r in roots), ZERO)
    else:
        return None
    if need > limit.amount:
        return _Never(
            limit.span,
            f"the limit allows at most {limit.amount} {limit.unit}"
            f"{' from its list' if group is not None else ''} but the requirements need at "
            f"least {need.normalize():f}",
        )
    return None
