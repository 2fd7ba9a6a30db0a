"""Structure: requirement shapes, numbers and windows (SR302–SR306, SR309, SR310).

Returns the diagnostics and the credential declarations that have a structural error, so
that the earnability pass (SR308) does not report the same mistake a second time.
"""

from __future__ import annotations

from decimal import Decimal

from stackrules import ast
from stackrules.check.context import Context, describe, requirement_roots, walk
from stackrules.check.numbers import shown
from stackrules.diagnostics import Diagnostic, diagnostic

_SET_NOT_REQUIREMENTS = (
    "such a list is a set of identifiers to match achievements against, "
    "not a list of sub-requirements"
)


def check_structure(ctx: Context) -> tuple[list[Diagnostic], set[int]]:
    out: list[Diagnostic] = []
    broken: set[int] = set()
    for decl in ctx.syntax.declarations():
        before = len(out)
        if isinstance(decl, ast.CredentialDecl):
            _credential(decl, out)
        elif isinstance(decl, ast.EquivalencyDecl):
            _equivalency(decl, out)
        elif isinstance(decl, ast.TransferBlock):
            _window(decl.effective, out)
            for line in decl.lines:
                _window(line.effective, out)
            continue
        for root in requirement_roots(decl):
            _requirement(root, out)
        if isinstance(decl, ast.CredentialDecl) and len(out) > before:
            broken.add(id(decl))
    return out, broken


def _credential(cred: ast.CredentialDecl, out: list[Diagnostic]) -> None:
    if not cred.requirements:
        out.append(
            diagnostic(
                "SR309",
                f"credential `{cred.ref.id}` has no requirements",
                cred.ref.span,
                "add a named requirement, such as `core: all of (…)`",
            )
        )
    for a in cred.attrs:
        if a.name == "effective" and isinstance(a.value, ast.Window):
            _window(a.value, out)
    for limit in cred.limits:
        if limit.unit == "items" and not _whole(limit.amount):
            # Beyond a million items SR311 speaks, and the help would be unreadable digits.
            below = int(limit.amount) if limit.amount < 10**6 else None
            out.append(
                diagnostic(
                    "SR306",
                    f"a limit counts whole items, not `{shown(limit.amount)}`",
                    limit.span,
                    f"write `{below}` or `{below + 1}` items" if below is not None else None,
                )
            )
        if isinstance(limit.group, ast.ListGroup):
            _identifier_list(limit.group, "the list of a limit", out)


def _equivalency(eq: ast.EquivalencyDecl, out: list[Diagnostic]) -> None:
    if eq.source is None:
        out.append(
            diagnostic(
                "SR310",
                f"equivalency `{eq.ref.id}` has no `from`: nothing can make it apply",
                eq.ref.span,
                "add what it recognises, such as `from all of (…)`",
            )
        )
    if not eq.grants:
        out.append(
            diagnostic(
                "SR310",
                f"equivalency `{eq.ref.id}` has no `grant`: it would give nothing",
                eq.ref.span,
                "add what it gives, such as `grant UFV:GD157`",
            )
        )
    _window(eq.effective, out)


def _window(window: ast.Window | None, out: list[Diagnostic]) -> None:
    if window is None or window.end is None:
        return
    # SR104 already reported a date that does not exist (the tree holds date.min for it)
    if window.start == window.start.min or window.end == window.end.min:
        return
    if window.end < window.start:
        out.append(
            diagnostic(
                "SR305",
                f"`until {window.end.isoformat()}` is before "
                f"`effective {window.start.isoformat()}`: the window is empty",
                window.span,
            )
        )


def _whole(n: Decimal) -> bool:
    return n == n.to_integral_value()


def _requirement(root: ast.Requirement, out: list[Diagnostic]) -> None:
    for node in walk(root):
        if isinstance(node, ast.NOf):
            if not _whole(node.count):
                out.append(
                    diagnostic(
                        "SR306",
                        f"`{shown(node.count)} of` needs a whole number of members",
                        node.span,
                    )
                )
            elif isinstance(node.group, ast.ListGroup) and node.count > len(node.group.members):
                size = len(node.group.members)
                out.append(
                    diagnostic(
                        "SR302",
                        f"`{shown(node.count)} of` a list of {size} "
                        f"member{'s' if size != 1 else ''} can never hold",
                        node.span,
                        "lower the number or add members to the list",
                    )
                )
        elif isinstance(node, ast.AllOf) and isinstance(node.group, ast.Selector):
            out.append(
                diagnostic(
                    "SR303",
                    "`all of` a selector: a selector has no fixed set of members to hold",
                    node.span,
                    "use `N of`, `any of` or `N credits from` with a selector, "
                    "or list the identifiers: `all of (…)`",
                )
            )
        elif isinstance(node, ast.Amount) and isinstance(node.group, ast.ListGroup):
            _identifier_list(node.group, f"the list of {describe(node)}", out)


def _identifier_list(group: ast.ListGroup, what: str, out: list[Diagnostic]) -> None:
    for member in group.members:
        if isinstance(member, ast.ItemReq):
            if member.modifiers:
                out.append(
                    diagnostic(
                        "SR304",
                        f"a member of {what} cannot carry modifiers: {_SET_NOT_REQUIREMENTS}",
                        member.span,
                        "put the modifier after the list, where it applies to every member",
                    )
                )
            continue
        out.append(
            diagnostic(
                "SR304",
                f"{describe(member)} cannot be a member of {what}: {_SET_NOT_REQUIREMENTS}",
                member.span,
                "list identifiers only, or make it a requirement of its own",
            )
        )
